// End-to-end: `synth text train/generate/eval` through the real binary, on the shipped model and a piece of the KJV.
import Foundation
import XCTest

final class TextCLITests: XCTestCase {
    var dir: URL!
    let corpus = CLI.fixture("text")
    let shippedModel = CLI.repoRoot.appendingPathComponent("voices/text")

    override func setUpWithError() throws { dir = try temporaryFolder("text") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The done-when check of issue 20: the shipped model continues a KJV phrase with words of the KJV.
    func testShippedModelWritesKJVLikeText() throws {
        let r = try CLI.run(["text", "generate", "--model", shippedModel.path, "--prompt", "And it came to pass", "--tokens", "400", "--seed", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("And it came to pass"), r.stdout)
        XCTAssertGreaterThan(r.stdout.utf8.count, 300, r.stdout)
        let words = r.stdout.lowercased().split { !$0.isLetter }.map(String.init)
        let common: Set = ["and", "the", "of", "unto", "he", "that", "to", "in", "shall", "his", "for", "lord", "they", "i", "be", "is", "him", "not"]
        XCTAssertGreaterThan(Double(words.filter(common.contains).count) / Double(words.count), 0.2, r.stdout)
        // The same seed gives the same text.
        let again = try CLI.run(["text", "generate", "--model", shippedModel.path, "--prompt", "And it came to pass", "--tokens", "400", "--seed", "1"])
        XCTAssertEqual(again.stdout, r.stdout)
    }

    /// A model folder's generation_config.json sets the sampling options not given (the shipped model's: min_p 0.1),
    /// with a note naming the keys used; an option given wins; a bad file is refused in one line naming file and key.
    func testGenerationConfigSetsTheSamplingDefaults() throws {
        let bare = dir.appendingPathComponent("bare"), tuned = dir.appendingPathComponent("tuned")
        for d in [bare, tuned] {
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            for f in ["config.json", "model.safetensors"] {
                try FileManager.default.copyItem(at: shippedModel.appendingPathComponent(f), to: d.appendingPathComponent(f))
            }
        }
        let genConfig = tuned.appendingPathComponent("generation_config.json")
        // Hugging Face's names; keys this synth does not use (do_sample, bos_token_id) are ignored.
        try Data(#"{"temperature": 0.7, "min_p": 0.2, "do_sample": true, "bos_token_id": 256}"#.utf8).write(to: genConfig)
        func generate(_ model: URL, _ extra: [String]) throws -> RunResult {
            let r = try CLI.run(["text", "generate", "--model", model.path, "--prompt", "And it came to pass", "--tokens", "300",
                                 "--seed", "3", "--no-echo"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return r
        }
        let fromFile = try generate(tuned, [])
        XCTAssertTrue(fromFile.stderr.contains("note: sampling min_p 0.2, temperature 0.7 from \(genConfig.path) (options given win)"), fromFile.stderr)
        XCTAssertEqual(fromFile.stdout, try generate(bare, ["--temperature", "0.7", "--min-p", "0.2"]).stdout)
        XCTAssertNotEqual(fromFile.stdout, try generate(bare, []).stdout)
        // An option given wins over the file's key; the other key still applies.
        let overridden = try generate(tuned, ["--min-p", "0"])
        XCTAssertTrue(overridden.stderr.contains("note: sampling temperature 0.7 from"), overridden.stderr)
        XCTAssertEqual(overridden.stdout, try generate(bare, ["--temperature", "0.7"]).stdout)
        // The shipped model's file: min_p 0.1.
        XCTAssertEqual(try generate(shippedModel, []).stdout, try generate(bare, ["--min-p", "0.1"]).stdout)
        // Bad files: one line naming the file and the key, before any output.
        for (json, needle) in [(#"{"top_p": 1.5}"#, "key 'top_p': must be in (0, 1], got 1.5"),
                               (#"{"min_p": "high"}"#, "key 'min_p': expected a number"),
                               (#"{"repetition_penalty": 0}"#, "key 'repetition_penalty': must be finite and > 0, got 0.0"),
                               ("[1, 2]", "generation_config.json: not valid JSON")] {
            try Data(json.utf8).write(to: genConfig)
            let r = try CLI.run(["text", "generate", "--model", tuned.path, "--prompt", "And", "--tokens", "5"])
            assertFails(r, needle)
            XCTAssertTrue(r.stderr.contains(genConfig.path), r.stderr)
            XCTAssertEqual(r.stdout, "", "nothing is generated before the file is checked")
        }
    }

    func testPromptsAndOptions() throws {
        let m = shippedModel.path
        // An empty prompt starts from BOS.
        var r = try CLI.run(["text", "generate", "--model", m, "--tokens", "50", "--seed", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.isEmpty)
        // Beam search.
        r = try CLI.run(["text", "generate", "--model", m, "--prompt", "In the beginning", "--tokens", "12", "--beam", "2", "--no-echo"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.hasPrefix("In the beginning"))
        // Invalid sampling options: the errors of synth music.
        r = try CLI.run(["text", "generate", "--model", m, "--top-p", "1.5"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("top-p"), r.stderr)
        // A music model is not a text model.
        r = try CLI.run(["text", "generate", "--model", CLI.repoRoot.appendingPathComponent("voices/music").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not a text model"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        // Nor is the PixelCNN (a token model over grey levels): the one line names the command that uses it.
        r = try CLI.run(["text", "generate", "--model", CLI.repoRoot.appendingPathComponent("voices/digits").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("holds a PixelCNN over images (model_type pixelcnn), not a text model; use it with `synth image sample --model`"), r.stderr)
        // And the text model is not a music model.
        r = try CLI.run(["music", "generate", "--model", m, "--tokens", "5", "-o", dir.appendingPathComponent("x.mid").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not a music model; use it with `synth text generate --model`"), r.stderr)
    }

    /// Out-of-range numbers are usage errors (exit 64) found before any model or corpus is read: one line naming the
    /// option, its range and the value; sizes in range whose model would pass the parameter limit are refused as well.
    func testOutOfRangeOptionsAreUsageErrors() throws {
        let run = dir.appendingPathComponent("run")
        let cases: [([String], String)] = [
            (["train", "--data", corpus.path, "--out", run.path, "--steps", "0"], "--steps must be in 1...10000000, got 0"),
            (["train", "--data", corpus.path, "--out", run.path, "--batch", "0"], "--batch must be in 1...4096, got 0"),
            (["train", "--data", corpus.path, "--out", run.path, "--hidden", "0"], "--hidden must be in 1...8192, got 0"),
            (["train", "--data", corpus.path, "--out", run.path, "--embedding", "9000"], "--embedding must be in 1...8192, got 9000"),
            (["train", "--data", corpus.path, "--out", run.path, "--d-ff", "-1"], "--d-ff must be in 0...65536, got -1"),
            (["train", "--data", corpus.path, "--out", run.path, "--stacks", "0"], "--stacks must be in 1...64, got 0"),
            (["train", "--data", corpus.path, "--out", run.path, "--residual", "4096"], "--residual must be in 1...2048, got 4096"),
            (["train", "--data", corpus.path, "--out", run.path, "--valid-windows", "0"], "--valid-windows must be in 1...100000, got 0"),
            (["train", "--data", corpus.path, "--out", run.path, "--clip", "-1"], "--clip must be finite and >= 0, got -1.0"),
            (["train", "--data", corpus.path, "--out", run.path, "--model", "transformer", "--d-model", "8192", "--layers", "64"],
             "the --model transformer flags: invalid model config: the model would have"),
            (["eval", "--data", corpus.path, "--context", "1"], "--context must be in 2...65536, got 1"),
            (["eval", "--data", corpus.path, "--order", "15"], "--order must be in 1...14, got 15"),
            (["eval", "--data", corpus.path, "--ngram-only", "--interpolate"], "--interpolate scores a model with the n-gram: drop --ngram-only"),
            (["eval", "--data", corpus.path, "--dynamic-lr", "1e-4", "--segment", "0"], "--segment must be in 1...65536, got 0"),
            (["eval", "--data", corpus.path, "--dynamic-lr", "1e-4", "--dynamic-decay", "2"], "--dynamic-decay must be in 0...1, got 2.0"),
            (["eval", "--data", corpus.path, "--dynamic-lr", "-1"], "--dynamic-lr must be in 0...100, got -1.0"),
            (["eval", "--data", corpus.path, "--segment", "20"], "--dynamic-rule, --dynamic-decay and --segment set dynamic evaluation: give --dynamic-lr too"),
            (["eval", "--data", corpus.path, "--ngram-only", "--dynamic-lr", "1e-4"], "--dynamic-lr scores a model: drop --ngram-only"),
            (["generate", "--tokens", "0"], "--tokens must be in 1...10000000, got 0"),
            (["generate", "--beam", "0"], "--beam must be in 1...256, got 0"),
            (["generate", "--top-k", "-1"], "--top-k: top-k must be >= 0 (0 = off), got -1"),
            (["generate", "--repetition-penalty", "0"], "--repetition-penalty: repetition penalty must be finite and > 0, got 0.0"),
            (["generate", "--ngram-data", corpus.path, "--ngram-order", "15"], "--ngram-order must be in 1...14, got 15"),
            (["generate", "--ngram-data", corpus.path, "--beam", "2"], "--ngram-data mixes the n-gram into sampling: drop --beam"),
            (["generate", "--ngram-data", dir.appendingPathComponent("none").path], "--ngram-data: no such file: "),
            (["generate", "--ngram-order", "8"], "--ngram-order sets the --ngram-data n-gram: give --ngram-data too"),
        ]
        for (args, message) in cases {
            let r = try CLI.run(["text"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            assertFails(r, message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "a refused run creates no folder")
    }

    func testBadCorporaAreRefusedInOneLine() throws {
        let only = dir.appendingPathComponent("only")
        try FileManager.default.createDirectory(at: only, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: corpus.appendingPathComponent("kjv.train.txt"), to: only.appendingPathComponent("kjv.train.txt"))
        var r = try CLI.run(["text", "eval", "--data", only.path, "--ngram-only"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("no valid text"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]).write(to: only.appendingPathComponent("kjv.valid.txt"))
        r = try CLI.run(["text", "train", "--data", only.path, "--out", dir.appendingPathComponent("run").path, "--steps", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not a text file"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/checkpoints").path))
        try Data().write(to: only.appendingPathComponent("kjv.valid.txt"))
        r = try CLI.run(["text", "eval", "--data", only.path, "--ngram-only"])
        XCTAssertTrue(r.stderr.contains("empty text file"), r.stderr)
    }

    /// Each family trains a few steps from the CLI, resumes, and its best/ folder generates and evaluates.
    func testTinyTrainingRunsOfEveryFamily() throws {
        let sizes: [String: [String]] = [
            "lstm": ["--hidden", "16", "--embedding", "8"], "gru": ["--hidden", "16", "--embedding", "8", "--layers", "2"],
            "transformer": ["--d-model", "16", "--heads", "2", "--layers", "1"],
            "wavenet": ["--residual", "8", "--dilation-cycle", "3", "--stacks", "1"],
        ]
        for (family, flags) in sizes.sorted(by: { $0.key < $1.key }) {
            let run = dir.appendingPathComponent(family).path
            let args = ["text", "train", "--data", corpus.path, "--out", run, "--model", family, "--batch", "4", "--context", "32",
                        "--warmup", "0", "--validate-every", "3", "--valid-windows", "8"] + flags
            var r = try CLI.run(args + ["--steps", "3"])
            XCTAssertEqual(r.status, 0, "\(family): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("bits/byte"), r.stderr)
            r = try CLI.run(args + ["--steps", "4", "--resume"])
            XCTAssertEqual(r.status, 0, "\(family): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("resumed from"), r.stderr)
            r = try CLI.run(["text", "generate", "--model", run + "/best", "--prompt", "And", "--tokens", "20"])
            XCTAssertEqual(r.status, 0, "\(family): \(r.stderr)")
            XCTAssertTrue(r.stdout.hasPrefix("And"))
            r = try CLI.run(["text", "eval", "--data", corpus.path, "--model", run + "/best", "--order", "3"])
            XCTAssertEqual(r.status, 0, "\(family): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("bits/byte"), r.stdout)
            XCTAssertTrue(r.stdout.contains("Kneser-Ney 3-gram"), r.stdout)
            // Dynamic evaluation at rate 0 scores every byte as static evaluation does.
            r = try CLI.run(["text", "eval", "--data", corpus.path, "--model", run + "/best", "--order", "1", "--json",
                             "--dynamic-lr", "0", "--segment", "32", "--context", "32"])
            XCTAssertEqual(r.status, 0, "\(family): \(r.stderr)")
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let dyn = try XCTUnwrap((json["dynamic"] as? [String: Any])?["nats_per_byte"] as? Double)
            // The transformer and the WaveNet read windows of 32 (the transformer's context) from their start; the recurrent
            // families carry the state through the file, as one window over it reads.
            let recurrent = family == "lstm" || family == "gru"
            r = try CLI.run(["text", "eval", "--data", corpus.path, "--model", run + "/best", "--order", "1", "--json",
                             "--context", recurrent ? "65536" : "32"])
            let whole = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(dyn, try XCTUnwrap((whole["model"] as? [String: Any])?["nats_per_byte"] as? Double), accuracy: 1e-5, family)
        }
    }

    /// On the shipped model and the KJV fixture, dynamic evaluation (its defaults) beats the static score.
    func testDynamicEvaluationOfTheShippedModel() throws {
        let r = try CLI.run(["text", "eval", "--data", corpus.path, "--model", shippedModel.path, "--order", "1", "--json", "--dynamic-lr", "3e-4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let stat = try XCTUnwrap((json["model"] as? [String: Any])?["bits_per_byte"] as? Double)
        let dynamic = try XCTUnwrap(json["dynamic"] as? [String: Any])
        XCTAssertEqual(dynamic["rule"] as? String, "rms")
        XCTAssertEqual(dynamic["segment"] as? Int, 50)
        XCTAssertLessThan(try XCTUnwrap(dynamic["bits_per_byte"] as? Double), stat - 0.01)
    }

    /// A corpus of KJV sentences (the fixture's, in slices of 196 bytes) each after the same random string of 200
    /// letters, in both splits: a text half of which only an n-gram can remember. Returns its folder and the string.
    func mixedCorpus() throws -> (URL, String) {
        var x: UInt64 = 12345  // a fixed LCG: the same string every run
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        let random = String((0..<200).map { _ -> Character in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return letters[Int(x >> 33) % 26]
        })
        func interleaved(_ file: String) throws -> String {
            let bytes = Array(try String(contentsOf: corpus.appendingPathComponent(file), encoding: .utf8).utf8)
            return stride(from: 0, to: bytes.count - 196, by: 196)
                .map { random + " " + String(decoding: bytes[$0..<($0 + 196)], as: UTF8.self) }.joined()
        }
        let mixed = dir.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: mixed, withIntermediateDirectories: true)
        try interleaved("kjv.train.txt").write(to: mixed.appendingPathComponent("m.train.txt"), atomically: true, encoding: .utf8)
        try interleaved("kjv.valid.txt").write(to: mixed.appendingPathComponent("m.valid.txt"), atomically: true, encoding: .utf8)
        return (mixed, random)
    }

    /// The shipped model interpolated with a 5-gram on a corpus where each knows what the other does not: KJV
    /// sentences (which the model predicts and a 5-gram of a few kilobytes does not) and a random string of letters
    /// before every few sentences of both splits (which the n-gram remembers and the model cannot guess). One weight per
    /// matched order and history count class, each in 0...1, and the mixture scores the valid text (both kinds) better than
    /// either alone; so does the adapting n-gram's with dynamic evaluation.
    func testInterpolationWithTheNGram() throws {
        let (mixed, _) = try mixedCorpus()
        let r = try CLI.run(["text", "eval", "--data", mixed.path, "--model", shippedModel.path, "--order", "5", "--json", "--interpolate"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let model = try XCTUnwrap((json["model"] as? [String: Any])?["bits_per_byte"] as? Double)
        let ngram = try XCTUnwrap((json["ngram"] as? [String: Any])?["bits_per_byte"] as? Double)
        let interpolated = try XCTUnwrap(json["interpolated"] as? [String: Any])
        let weights = try XCTUnwrap(interpolated["weights"] as? [Double])
        XCTAssertEqual(weights.count, 5 * 8)
        XCTAssertTrue(weights.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(weights)")
        XCTAssertGreaterThan(try XCTUnwrap(interpolated["held_out_tokens"] as? Int), 300)
        let bits = try XCTUnwrap(interpolated["bits_per_byte"] as? Double)
        XCTAssertLessThan(bits, min(model, ngram) - 0.1, "model \(model), n-gram \(ngram), interpolated \(bits)")
        // Adapting, the n-gram learns the valid text's own repeats; with dynamic evaluation the model is mixed too.
        let a = try CLI.run(["text", "eval", "--data", mixed.path, "--model", shippedModel.path, "--order", "5", "--json", "--interpolate",
                             "--adapt-ngram", "--dynamic-lr", "3e-4"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let adapted = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as? [String: Any])
        let adaptedNGram = try XCTUnwrap(adapted["ngram"] as? [String: Any])
        XCTAssertEqual(adaptedNGram["adapting"] as? Bool, true)
        XCTAssertLessThan(try XCTUnwrap(adaptedNGram["bits_per_byte"] as? Double), ngram - 0.05)
        let dynamic = try XCTUnwrap((adapted["dynamic"] as? [String: Any])?["bits_per_byte"] as? Double)
        let mixedDynamic = try XCTUnwrap((adapted["interpolated_dynamic"] as? [String: Any])?["bits_per_byte"] as? Double)
        XCTAssertLessThan(mixedDynamic, min(dynamic, try XCTUnwrap(adaptedNGram["bits_per_byte"] as? Double)) - 0.05)
        // Text output: the interpolated line follows the n-gram's.
        let text = try CLI.run(["text", "eval", "--data", mixed.path, "--model", shippedModel.path, "--order", "5", "--interpolate"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("model \(shippedModel.path) + Kneser-Ney 5-gram, interpolated (40 weights fitted on "), text.stdout)
    }

    /// Generating from the mixture: after the first 20 letters of the string that only the n-gram remembers, greedy
    /// decoding writes its next 40 letters; the model alone does not. Bad --ngram-data is refused in one line, with no output.
    func testGenerationMixedWithTheNGram() throws {
        let (mixed, random) = try mixedCorpus()
        let prompt = String(random.prefix(20)), expected = String(random.dropFirst(20).prefix(40))
        let r = try CLI.run(["text", "generate", "--model", shippedModel.path, "--prompt", prompt, "--tokens", "40", "--temperature", "0",
                             "--no-echo", "--ngram-data", mixed.path, "--ngram-order", "6"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, expected)
        XCTAssertTrue(r.stderr.contains("note: mixing the model with a Kneser-Ney 6-gram of "), r.stderr)
        let alone = try CLI.run(["text", "generate", "--model", shippedModel.path, "--prompt", prompt, "--tokens", "40", "--temperature", "0", "--no-echo"])
        XCTAssertEqual(alone.status, 0, alone.stderr)
        XCTAssertNotEqual(alone.stdout, expected)
        // A corpus without a train split.
        let onlyValid = dir.appendingPathComponent("only")
        try FileManager.default.createDirectory(at: onlyValid, withIntermediateDirectories: true)
        try "Some text.\n".write(to: onlyValid.appendingPathComponent("a.valid.txt"), atomically: true, encoding: .utf8)
        let bad = try CLI.run(["text", "generate", "--model", shippedModel.path, "--prompt", "And", "--ngram-data", onlyValid.path])
        XCTAssertEqual(bad.status, 1, bad.stderr)
        XCTAssertEqual(bad.stdout, "")
        XCTAssertTrue(bad.stderr.hasPrefix("Error: --ngram-data: \(onlyValid.path): no train text: "), bad.stderr)  // before the sampling note
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
    }
}
