// End-to-end: --json on every command with a result, --version, completions, help texts, progress lines, recipes,
// .npy checks and NaN refusal, through the real binary.
import Audio
import Foundation
import NNCore
import WaveNet
import XCTest

final class InterfaceCLITests: XCTestCase {
    var dir: URL!
    var voice: URL!
    let input = CLI.fixture("speech/alpha_30cf3d7d.flac")

    override func setUpWithError() throws {
        dir = try temporaryFolder("interface")
        voice = try writeTinyVoice(in: dir)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Every command that reports a result prints one JSON object on stdout with --json, holding the figures it prints.
    func testJSONOnEveryCommandWithAResult() throws {
        let out = dir.appendingPathComponent("o.wav")
        let v = try CLI.json(try CLI.run(["vocode", input.path, "-o", out.path, "--voice", voice.path, "--speaker", "bob", "--json"]))
        XCTAssertEqual(v["samples"] as? Int, 32136)
        XCTAssertEqual(v["sample_rate"] as? Int, 16000)
        XCTAssertEqual(v["speaker"] as? String, "bob")
        XCTAssertEqual(v["audio_seconds"] as? Double ?? 0, 2.0085, accuracy: 1e-9)
        XCTAssertGreaterThan(v["real_time_factor"] as? Double ?? 0, 0)
        XCTAssertEqual(v["format"] as? String, "16-bit PCM WAV")

        let g = try CLI.json(try CLI.run(["generate", "-o", out.path, "--voice", voice.path, "--seconds", "0.25", "--json"]))
        XCTAssertEqual(g["samples"] as? Int, 4000)
        XCTAssertEqual(g["speaker"] as? String, "alice")

        let f = try CLI.json(try CLI.run(["features", input.path, "-o", dir.appendingPathComponent("f.npy").path, "--voice", voice.path, "--json"]))
        XCTAssertEqual(f["frames"] as? Int, 161)
        XCTAssertEqual(f["columns"] as? Int, 80)

        let voices = try CLI.json(try CLI.run(["voices", "--json"], env: ["SYNTH_VOICES": dir.path]))
        let list = try XCTUnwrap(voices["voices"] as? [[String: Any]])
        let tiny = try XCTUnwrap(list.first { $0["name"] as? String == "tiny" })
        XCTAssertEqual(tiny["speakers"] as? [String], ["alice", "bob"])
        XCTAssertEqual(tiny["receptive_field_samples"] as? Int, 17)
        XCTAssertEqual(((voices["searched"] as? [[String: Any]])?.first?["path"] as? String), dir.path)

        let manifest = CLI.fixture("speech/MANIFEST.tsv")
        let evalVoice = try writeTinyVoice(in: dir, name: "evalvoice", speakers: ["klettres-cs", "klettres-en"])
        let e = try CLI.json(try CLI.run(["eval", "--data", manifest.path, "--voice", evalVoice.path, "--json"]))
        XCTAssertEqual(e["files"] as? Int, 2)
        XCTAssertEqual(e["threads"] as? Int, ProcessInfo.processInfo.activeProcessorCount, "eval --threads defaults to the cores")
        let all = try XCTUnwrap(e["all"] as? [String: Any])
        XCTAssertEqual(all["samples"] as? Int, 26976)
        let nats = try XCTUnwrap(all["nats_per_sample"] as? Double)
        XCTAssertEqual(try XCTUnwrap(all["bits_per_sample"] as? Double), nats / log(2.0), accuracy: 1e-9)
        XCTAssertEqual((e["speakers"] as? [String: Any])?.count, 2)

        let midi = CLI.repoRoot.appendingPathComponent("Tests/MIDITests/Fixtures")
        let midiManifest = dir.appendingPathComponent("midi.tsv")
        try "path\tcollection\tsplit\n\(midi.path)/bwv1.6.mid\tbach\ttrain\n\(midi.path)/bwv10.7.mid\tbach\tvalid\n"
            .write(to: midiManifest, atomically: true, encoding: .utf8)
        let m = try CLI.json(try CLI.run(["music", "eval", "--data", midiManifest.path, "--ngram-only", "--json"]))
        XCTAssertGreaterThan(m["scored_tokens"] as? Int ?? 0, 0)
        XCTAssertGreaterThan((m["ngram"] as? [String: Any])?["nats_per_token"] as? Double ?? 0, 0)

        let b = try CLI.run(["bench", "--voice", voice.path, "--seconds", "0.05", "--train-steps", "1", "--no-reference", "--json"])
        let bj = try CLI.json(b)
        XCTAssertEqual((bj["models"] as? [[String: Any]])?.count, 1)
        XCTAssertGreaterThan(bj["peak_rss_mb"] as? Double ?? 0, 1)
        // Progress with ETA on stderr while it runs (it used to be silent for 35 s).
        XCTAssertTrue(b.stderr.contains("bench ") && b.stderr.contains("measurements") && b.stderr.contains("ETA"), b.stderr)

        let lines = dir.appendingPathComponent("lines.tsv")
        try "input\tspeaker\n\(input.path)\tbob\n".write(to: lines, atomically: true, encoding: .utf8)
        let r = try CLI.json(try CLI.run(["render", lines.path, "--out", dir.appendingPathComponent("r").path, "--voice", voice.path, "--json"]))
        XCTAssertEqual(r["rendered"] as? Int, 1)
        XCTAssertEqual(r["failed"] as? Int, 0)
        XCTAssertEqual(r["audio_seconds"] as? Double ?? 0, 2.0085, accuracy: 1e-9)
    }

    func testVersionAndCompletionScripts() throws {
        let v = try CLI.run(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertTrue(v.stdout.hasPrefix("synth 0."), v.stdout)
        for shell in ["bash", "zsh", "fish"] {
            let c = try CLI.run(["--generate-completion-script", shell])
            XCTAssertEqual(c.status, 0, c.stderr)
            for word in ["vocode", "render", "plot", "speakers"] { XCTAssertTrue(c.stdout.contains(word), "\(shell) completion lacks \(word)") }
        }
        // The bash script loads in bash and completes a subcommand.
        if FileManager.default.isExecutableFile(atPath: "/bin/bash") {
            let script = dir.appendingPathComponent("synth.bash")
            try CLI.run(["--generate-completion-script", "bash"]).stdout.write(to: script, atomically: true, encoding: .utf8)
            let r = try CLI.shell("bash -c 'source \(script.path) && COMP_WORDS=(synth vo) && COMP_CWORD=1 && _synth && echo \"${COMPREPLY[*]}\"'")
            XCTAssertTrue(r.stdout.contains("vocode") && r.stdout.contains("voices"), r.stdout + r.stderr)
        }
    }

    /// Help texts: `generate` and `bench` do not offer `--speaker auto`, `render` has --top-p and --min-p (which change
    /// what it draws), every `music generate` option states its default, and no value name repeats its option.
    func testHelpTexts() throws {
        XCTAssertFalse(try CLI.run(["generate", "--help"]).stdout.contains("auto"))
        XCTAssertFalse(try CLI.run(["bench", "--help"]).stdout.contains("--speaker"))
        let bad = try CLI.run(["bench", "--voice", "nobody", "--seconds", "0.05", "--train-steps", "1"])
        XCTAssertEqual(bad.status, 1, "an unknown --voice is an error, not a note")
        assertFails(bad, "unknown voice 'nobody'")
        let render = try CLI.run(["render", "--help"]).stdout
        XCTAssertTrue(render.contains("--top-p <P>") && render.contains("--min-p <P>"), render)
        // ... and they change what is drawn, as in vocode.
        let lines = dir.appendingPathComponent("p.tsv")
        let short = CLI.fixture("speech/alpha_8f6fb8eb.flac")  // 0.55 s
        try "input\tspeaker\n\(short.path)\tbob\n".write(to: lines, atomically: true, encoding: .utf8)
        var outputs: [Data] = []
        for extra in [[], ["--top-p", "0.5"], ["--min-p", "0.5"]] {
            let folder = dir.appendingPathComponent("p\(outputs.count)")
            let r = try CLI.run(["render", lines.path, "--out", folder.path, "--voice", voice.path] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            outputs.append(try Data(contentsOf: folder.appendingPathComponent("alpha_8f6fb8eb.wav")))
        }
        XCTAssertNotEqual(outputs[0], outputs[1])
        XCTAssertNotEqual(outputs[0], outputs[2])
        assertFails(try CLI.run(["render", lines.path, "--out", dir.appendingPathComponent("bad").path, "--top-p", "1.5"]),
                    "top-p must be in (0, 1], got 1.5")
        let help = try CLI.run(["music", "generate", "--help"]).stdout
        // Each option's entry (from its name to the next option) states a default.
        let entries = help.components(separatedBy: "\n  -").dropFirst().filter { !$0.hasPrefix("h, --help") && !$0.hasPrefix("-help") }
        for entry in entries where !["-wav-continuation-only", "o, --output", "-json", "-version"].contains(where: { entry.hasPrefix($0) }) {
            XCTAssertTrue(entry.contains("default"), "music generate option without a default: \(entry)")
        }
        let commands = [["vocode"], ["render"], ["features"], ["generate"], ["voices"], ["speakers"], ["train"], ["eval"],
                        ["music", "train"], ["music", "generate"], ["music", "eval"], ["plot", "spectrogram"], ["plot", "training"], ["bench"]]
        for c in commands {
            let text = try CLI.run(c + ["--help"]).stdout
            let regex = try NSRegularExpression(pattern: "--([a-z-]+) <([a-z-]+)>")
            for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let r1 = Range(m.range(at: 1), in: text)!, r2 = Range(m.range(at: 2), in: text)!
                XCTAssertNotEqual(text[r1], text[r2], "\(c.joined(separator: " ")): --\(text[r1]) <\(text[r2])> repeats the option")
            }
        }
        let eval = try CLI.run(["eval", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(eval.contains("The default is the number of cores. (default: \(ProcessInfo.processInfo.activeProcessorCount))"), eval)
    }

    /// Every option of the forecast, image and text commands that takes a value states its default, the Optional ones
    /// (kept Optional to tell whether they were given) in their help text; only the required options have none.
    func testForecastImageTextOptionsStateTheirDefaults() throws {
        let required: [(command: [String], options: [String])] = [
            (["forecast"], ["-data", "-column", "o, --output"]),
            (["image", "train"], ["-train", "-out"]), (["image", "sample"], ["o, --output"]), (["image", "eval"], ["-data", "-train"]),
            (["text", "train"], ["-data", "-out"]), (["text", "generate"], []), (["text", "eval"], ["-data"]),
        ]
        for (command, options) in required {
            let help = try CLI.run(command + ["--help"]).stdout
            let entries = help.components(separatedBy: "OPTIONS:").last!.components(separatedBy: "\n  -").dropFirst()
            XCTAssertGreaterThan(entries.count, 3, help)
            for entry in entries where entry.prefix(while: { $0 != "\n" }).contains("<") && !options.contains(where: { entry.hasPrefix($0 + " ") }) {
                XCTAssertTrue(entry.contains("default"), "\(command.joined(separator: " ")) option without a default: \(entry)")
            }
        }
        let forecast = try CLI.run(["forecast", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in ["(1...1000000; default: 400)", "(2...4096; default: 64)", "1...14; default: 7)", "1...512; default: 16)", "0...1; default: 0.1)"] {
            XCTAssertTrue(forecast.contains(text), "forecast --help lacks '\(text)': \(forecast)")
        }
    }

    /// Progress: generate prints its real-time factor; train logs its first step at once (not after --log-every
    /// steps) and the step it stops at; render counts what it renders and shows no real-time factor before any audio.
    func testProgressLines() throws {
        let g = try CLI.run(["generate", "-o", dir.appendingPathComponent("g.wav").path, "--voice", voice.path, "--seconds", "0.25"])
        XCTAssertTrue(g.stderr.contains("real-time factor"), g.stderr)
        let manifest = CLI.fixture("speech/MANIFEST.tsv")
        let t = try CLI.run(["train", "--data", manifest.path, "--out", dir.appendingPathComponent("run").path, "--steps", "3",
                             "--log-every", "100", "--validate-every", "100", "--segment", "800", "--batch", "1",
                             "--dilation-cycle", "2", "--stacks", "1", "--residual", "4", "--gate", "4", "--skip", "4",
                             "--cond-channels", "4", "--speaker-dim", "2", "--valid-segments", "1", "--json"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let tj = try CLI.json(t)
        XCTAssertEqual(tj["step"] as? Int, 3)
        XCTAssertEqual(tj["stopped_by"] as? String, "steps")
        XCTAssertGreaterThan(tj["best_valid_loss"] as? Double ?? 0, 1)
        XCTAssertTrue(t.stderr.contains("step 1/3  train "), t.stderr)
        XCTAssertTrue(t.stderr.contains("step 3/3  train "), t.stderr)
        XCTAssertTrue(t.stderr.contains("speaker statistics for --speaker auto: 2 speakers"), t.stderr)
        // The trained voice carries its speaker statistics.
        let best = dir.appendingPathComponent("run/best")
        XCTAssertNotNil(SpeakerStatistics.read(voice: try Voice.load(best)))
        let lines = dir.appendingPathComponent("lines.tsv")
        try "input\tspeaker\toutput\n\(input.path)\tbob\ta\n\(input.path)\tnobody\tb\n\(input.path)\talice\tc\n".write(to: lines, atomically: true, encoding: .utf8)
        let r = try CLI.run(["render", lines.path, "--out", dir.appendingPathComponent("r").path, "--voice", voice.path])
        XCTAssertTrue(r.stderr.contains("3 lines: 0 already done, 1 refused, 2 to render"), r.stderr)
        XCTAssertTrue(r.stderr.contains("render 2/2 lines"), r.stderr)
        XCTAssertFalse(r.stderr.contains("RTF 0.000"), r.stderr)
        XCTAssertFalse(r.stderr.contains("/3 lines"), r.stderr)
    }

    /// `--recipe default` fills the flags left out with the shipped voice's configuration; flags given win.
    func testRecipeFillsTheFlagsLeftOut() throws {
        let run = dir.appendingPathComponent("recipe")
        let r = try CLI.run(["train", "--recipe", "default", "--data", CLI.fixture("speech/MANIFEST.tsv").path, "--out", run.path,
                             "--steps", "1", "--batch", "1", "--segment", "800", "--valid-segments", "1", "--warmup", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("recipe default: --dilation-cycle 10 --stacks 2 --residual 64"), r.stderr)
        XCTAssertTrue(r.stderr.contains("model: 20 layers, receptive field 2048 samples"), r.stderr)
        XCTAssertTrue(r.stderr.contains("conditioning on 11 mel frames (4 residual blocks)"), r.stderr)
        let c = try Voice.load(run.appendingPathComponent("best")).config
        XCTAssertEqual([c.residualChannels, c.gateChannels, c.skipChannels, c.condChannels, c.condLayers, c.speakerEmbeddingDim],
                       [64, 128, 128, 64, 4, 16])
        XCTAssertEqual(c.preemphasis, 0.85)
        let settings = try String(contentsOf: run.appendingPathComponent("settings.json"), encoding: .utf8)
        XCTAssertTrue(settings.contains("\"--batch\" : \"1\""), settings)
        XCTAssertTrue(try CLI.run(["train", "--help"]).stdout.contains("--recipe <NAME>"))
        assertFails(try CLI.run(["train", "--recipe", "huge", "--data", CLI.fixture("speech/MANIFEST.tsv").path, "--out", run.path]),
                    "--recipe: unknown recipe 'huge'; the recipes are default, pitch-lpc")
    }

    /// A .npy far from the voice's normalisation is vocoded with a warning naming its mean and spread; audio with NaN
    /// samples is refused by `features` and `vocode` alike, in one line, writing nothing.
    func testNPYWarningsAndNaNAudio() throws {
        let shipped = CLI.repoRoot.appendingPathComponent("voices/default")
        let good = dir.appendingPathComponent("good.npy")
        XCTAssertEqual(try CLI.run(["features", input.path, "-o", good.path, "--voice", shipped.path]).status, 0)
        // The same frames as raw log10 mels: x * std + mean, divided by ln 10.
        let c = try Voice.load(shipped).config
        // Frames 60-139 (0.6-1.4 s, the spoken letter and some silence) are enough, and quick to vocode.
        let whole = try NPY.read(good)
        let a = NPYArray(shape: [80, 80], data: Array(whole.data[(60 * 80)..<(140 * 80)]))
        try NPY.write(a, to: good)
        var raw = a.data
        for i in raw.indices { raw[i] = (raw[i] * c.featureStd[i % 80] + c.featureMean[i % 80]) / Float(log(10.0)) }
        let log10 = dir.appendingPathComponent("log10.npy")
        try NPY.write(NPYArray(shape: a.shape, data: raw), to: log10)
        let out = dir.appendingPathComponent("o.wav")
        let w = try CLI.run(["vocode", log10.path, "-o", out.path, "--voice", shipped.path, "--speaker", "klettres-en"])
        XCTAssertEqual(w.status, 0, w.stderr)
        let mean = raw.reduce(0.0) { $0 + Double($1) } / Double(raw.count)
        let std = (raw.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(raw.count) - mean * mean).squareRoot()
        XCTAssertTrue(w.stderr.contains(String(format: "warning: %@: its log-mels have mean %.2f and spread (standard deviation) %.2f, far from",
                                               log10.path, mean, std)), w.stderr)
        XCTAssertTrue(w.stderr.contains("they look like base-10 log mels"), w.stderr)
        let ok = try CLI.run(["vocode", good.path, "-o", out.path, "--voice", shipped.path, "--speaker", "klettres-en"])
        XCTAssertFalse(ok.stderr.contains("warning"), ok.stderr)

        var x = (0..<8000).map { Float(0.3 * sin(Double($0) * 0.05)) }
        x[4000] = .nan
        let nan = dir.appendingPathComponent("nan.wav")
        var d = Data()
        func u32(_ v: Int) { var le = UInt32(v).littleEndian; withUnsafeBytes(of: &le) { d.append(contentsOf: $0) } }
        func u16(_ v: Int) { var le = UInt16(v).littleEndian; withUnsafeBytes(of: &le) { d.append(contentsOf: $0) } }
        d.append(contentsOf: Array("RIFF".utf8)); u32(36 + 4 * x.count); d.append(contentsOf: Array("WAVEfmt ".utf8))
        u32(16); u16(3); u16(1); u32(16000); u32(64000); u16(4); u16(32); d.append(contentsOf: Array("data".utf8)); u32(4 * x.count)
        x.withUnsafeBytes { d.append(contentsOf: $0) }
        try d.write(to: nan)
        let npyOut = dir.appendingPathComponent("nan.npy")
        let fr = try CLI.run(["features", nan.path, "-o", npyOut.path, "--voice", voice.path])
        XCTAssertEqual(fr.status, 1)
        assertFails(fr, "nan.wav: audio holds NaN or infinite samples (the first at 0.250 s, sample 4000)", output: npyOut)
        let vr = try CLI.run(["vocode", nan.path, "-o", out.path + "2.wav", "--voice", voice.path])
        XCTAssertEqual(vr.status, 1)
        assertFails(vr, "nan.wav: audio holds NaN or infinite samples (the first at 0.250 s, sample 4000)")
    }

    /// The README's examples write into out/ (git-ignored), never into the checkout's root.
    func testReadmeExamplesWriteIntoOut() throws {
        let readme = try String(contentsOf: CLI.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let ignore = try String(contentsOf: CLI.repoRoot.appendingPathComponent(".gitignore"), encoding: .utf8)
        XCTAssertTrue(ignore.split(separator: "\n").contains("/out/"))
        let regex = try NSRegularExpression(pattern: "(?:-o|--wav|--out) ([^ `]+)")
        var outputs: [String] = []
        for m in regex.matches(in: readme, range: NSRange(readme.startIndex..., in: readme)) {
            outputs.append(String(readme[Range(m.range(at: 1), in: readme)!]))
        }
        XCTAssertGreaterThan(outputs.count, 10)
        for o in outputs where o != "-" {
            XCTAssertTrue(o.hasPrefix("out/") || o.hasPrefix("runs/"), "README example writes \(o) outside out/ and runs/ (both git-ignored)")
        }
    }
}
