// End-to-end (issue 22): a performance_programs model continues a multi-instrument prime in one track per
// instrument; the huge_delta prime fails before generating; eval scores a split without a train split; the n-gram
// cache of a piece is fitted, saved, scored and played.
import Foundation
import MIDI
import XCTest

final class MusicInstrumentCLITests: XCTestCase {
    var dir: URL!
    let instruments = CLI.repoRoot.appendingPathComponent("Tests/MIDITests/Fixtures/instruments")
    let chorales = CLI.repoRoot.appendingPathComponent("Tests/MIDITests/Fixtures")
    let shippedModel = CLI.repoRoot.appendingPathComponent("voices/music")

    override func setUpWithError() throws { dir = try temporaryFolder("music-instruments") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testMultiInstrumentPrimeComesBackOneTrackPerInstrument() throws {
        let prime = instruments.appendingPathComponent("sixteen_channels.mid")
        let manifest = dir.appendingPathComponent("m.tsv")
        try "path\tsplit\n\(prime.path)\ttrain\n\(instruments.appendingPathComponent("program_changes.mid").path)\tvalid\n"
            .write(to: manifest, atomically: true, encoding: .utf8)
        let run = dir.appendingPathComponent("run")
        let t = try CLI.run(["music", "train", "--data", manifest.path, "--out", run.path, "--encoding", "performance_programs",
                             "--random-programs", "--steps", "2", "--batch", "2", "--context", "32", "--d-model", "16", "--heads", "2",
                             "--layers", "1", "--validate-every", "2", "--checkpoint-every", "2"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let model = run.appendingPathComponent("best")
        let config = try String(contentsOf: model.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertTrue(config.contains("\"encoding\" : \"performance_programs\"") && config.contains("\"vocab_size\" : 519"), config)
        let out = dir.appendingPathComponent("out.mid")
        let g = try CLI.run(["music", "generate", "--model", model.path, "--prime", prime.path, "--tokens", "40", "--seed", "1", "-o", out.path])
        XCTAssertEqual(g.status, 0, g.stderr)
        let file = try MIDIFile.read(url: out)
        var programs = Set<Int>(), drums = 0
        for track in file.tracks {
            for e in track.events {
                if case .programChange(_, let p) = e.event { programs.insert(p) }
                if case .noteOn(9, _, let v) = e.event, v > 0 { drums += 1 }
            }
        }
        // Every instrument of the prime has its track and program; the drums play on channel 10 (index 9).
        XCTAssertTrue(Set((0..<16).filter { $0 != 9 }.map { 8 * $0 }).subtracting([0]).isSubset(of: programs), "\(programs.sorted())")
        XCTAssertGreaterThanOrEqual(drums, 4)
        XCTAssertGreaterThanOrEqual(file.tracks.count, 17)
        // The shipped performance model reads the same prime as one piano stream and writes one track.
        let piano = dir.appendingPathComponent("piano.mid")
        XCTAssertEqual(try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", prime.path, "--tokens", "20",
                                    "-o", piano.path]).status, 0)
        XCTAssertEqual(try MIDIFile.read(url: piano).tracks.count, 2)
    }

    /// The shipped performance_programs model, primed with music21's test04 (five orchestral instruments, programs 60,
    /// 68, 70, 71 and 73, in its first 8 s), continues with several of the prime's instruments and no other, each on a
    /// track of its own with its program.
    func testShippedProgramsModelKeepsThePrimesInstruments() throws {
        let model = CLI.repoRoot.appendingPathComponent("voices/music-programs")
        let prime = chorales.appendingPathComponent("music21-test04.mid")
        let out = dir.appendingPathComponent("test04.mid")
        let g = try CLI.run(["music", "generate", "--model", model.path, "--prime", prime.path, "--prime-seconds", "8",
                             "--seconds", "10", "--seed", "1", "-o", out.path, "--json"])
        XCTAssertEqual(g.status, 0, g.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(g.stdout.utf8)) as? [String: Any], g.stdout)
        let primeEnd = try XCTUnwrap(json["prime_seconds"] as? Double, g.stdout)
        let notes = try MIDIFile.read(url: out).notes()
        let continuation = notes.filter { $0.start > primeEnd + 1e-6 }
        let programs = Set(continuation.map(\.program))
        XCTAssertGreaterThanOrEqual(continuation.count, 10, "\(continuation.count) new notes")
        XCTAssertTrue(programs.isSubset(of: [60, 68, 70, 71, 73]), "\(programs.sorted())")
        XCTAssertGreaterThanOrEqual(programs.count, 3, "\(programs.sorted())")
    }

    /// With no --model, a prime of several instruments goes to `music-programs` (a note says so) and comes back with
    /// its instruments; a one-instrument prime stays with `music`, and `--model music` plays any prime as piano.
    func testNoModelGivenPicksTheInstrumentModelForSeveralInstruments() throws {
        let multi = chorales.appendingPathComponent("music21-test04.mid")
        let out = dir.appendingPathComponent("auto.mid")
        let g = try CLI.run(["music", "generate", "--prime", multi.path, "--prime-seconds", "8", "--seconds", "4", "--seed", "1",
                             "-o", out.path], cwd: CLI.repoRoot)
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertTrue(g.stderr.contains("note: \(multi.path) has 5 instruments: continuing with the model music-programs, which keeps them"), g.stderr)
        XCTAssertEqual(Set(try MIDIFile.read(url: out).notes().map(\.program)), [60, 68, 70, 71, 73])
        let chorale = chorales.appendingPathComponent("bwv1.6.mid")
        let one = try CLI.run(["music", "generate", "--prime", chorale.path, "--seconds", "2", "-o", out.path], cwd: CLI.repoRoot)
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertFalse(one.stderr.contains("music-programs"), one.stderr)
        XCTAssertTrue(one.stderr.contains("voices/music/generation_config.json"), one.stderr)
        let piano = try CLI.run(["music", "generate", "--model", "music", "--prime", multi.path, "--prime-seconds", "8", "--seconds", "2",
                                 "-o", out.path], cwd: CLI.repoRoot)
        XCTAssertEqual(piano.status, 0, piano.stderr)
        XCTAssertTrue(piano.stderr.contains("such as `--model music-programs` keeps them"), piano.stderr)
        XCTAssertEqual(try MIDIFile.read(url: out).tracks.count, 2)
    }

    /// `--random-program-share` out of range, and random programs for an encoding without instruments, are refused in one
    /// line before any data is read or any folder made.
    func testRandomProgramOptionsAreChecked() throws {
        let manifest = dir.appendingPathComponent("m.tsv")
        try "path\tsplit\n\(chorales.appendingPathComponent("bwv1.6.mid").path)\ttrain\n".write(to: manifest, atomically: true, encoding: .utf8)
        let run = dir.appendingPathComponent("run")
        for (extra, message) in [(["--random-program-share", "0"], "Error: --random-program-share must be in (0, 1], got 0.0"),
                                 (["--random-program-share", "1.5"], "Error: --random-program-share must be in (0, 1], got 1.5"),
                                 (["--random-programs"], "Error: --random-programs needs --encoding performance_programs")] {
            let r = try CLI.run(["music", "train", "--data", manifest.path, "--out", run.path, "--steps", "1"] + extra)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.hasPrefix(message), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
        }
    }

    /// The prime's notes reach 3,590 s (within the one-hour limit): 20 s more and the tail cannot be rendered. Refused
    /// in one line naming the file, before generating (no progress line), with nothing written.
    func testHugeDeltaFailsBeforeGeneration() throws {
        let prime = instruments.appendingPathComponent("huge_delta.mid")
        let mid = dir.appendingPathComponent("o.mid"), wav = dir.appendingPathComponent("o.wav")
        let r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", prime.path, "--seconds", "20",
                             "-o", mid.path, "--wav", wav.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("Error: \(prime.path): the prime's music runs to 3590 s; with 20 s more"), r.stderr)
        XCTAssertFalse(r.stderr.contains("generating"), r.stderr)
        XCTAssertEqual(listing(dir), [])
        // Without --wav nothing limits it: the MIDI is written.
        XCTAssertEqual(try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", prime.path, "--tokens", "10",
                                    "-o", mid.path]).status, 0)
    }

    /// A transformer whose context is longer than `--context`'s default (256) is scored in windows of its own context,
    /// as training validates it: the two figures agree.
    func testEvalReadsWindowsOfTheModelsOwnContext() throws {
        let manifest = dir.appendingPathComponent("m.tsv")
        let piece = chorales.appendingPathComponent("bwv10.7.mid").path
        try "path\tsplit\n\(piece)\ttrain\n\(piece)\tvalid\n".write(to: manifest, atomically: true, encoding: .utf8)
        let run = dir.appendingPathComponent("run")
        let t = try CLI.run(["music", "train", "--data", manifest.path, "--out", run.path, "--context", "400", "--steps", "1",
                             "--batch", "1", "--d-model", "16", "--heads", "2", "--layers", "1", "--validate-every", "1"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let log = try String(contentsOf: run.appendingPathComponent("train.log"), encoding: .utf8)
        let validLine = try XCTUnwrap(log.split(separator: "\n").first { $0.hasPrefix("step 1  valid ") }, log)
        let trained = try XCTUnwrap(Double(validLine.split(separator: " ")[3]))
        let e = try CLI.run(["music", "eval", "--data", manifest.path, "--model", run.appendingPathComponent("best").path, "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        let model = try XCTUnwrap(json["model"] as? [String: Any])
        let nats = try XCTUnwrap(model["nats_per_token"] as? Double)
        XCTAssertEqual(nats, trained, accuracy: 6e-5)
    }

    func testEvalWithoutATrainSplit() throws {
        let manifest = dir.appendingPathComponent("m.tsv")
        try "path\tsplit\n\(chorales.appendingPathComponent("bwv10.7.mid").path)\ttest\n".write(to: manifest, atomically: true, encoding: .utf8)
        let e = try CLI.run(["music", "eval", "--data", manifest.path, "--split", "test", "--model", shippedModel.path, "--order", "8"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("split test: 1 pieces"), e.stdout)
        XCTAssertTrue(e.stdout.contains("nats/token") && e.stdout.contains("nats/note") && e.stdout.contains("nats/s"), e.stdout)
        XCTAssertTrue(e.stdout.contains("n-gram baseline: not fitted (the manifest has no train split)"), e.stdout)
        let n = try CLI.run(["music", "eval", "--data", manifest.path, "--split", "test", "--ngram-only"])
        XCTAssertEqual(n.status, 1)
        XCTAssertTrue(n.stderr.contains("--ngram-only needs a train split"), n.stderr)
        let o = try CLI.run(["music", "eval", "--data", manifest.path, "--order", "13"])
        XCTAssertEqual(o.status, 64, o.stderr)
    }

    /// The shipped performance_programs model carries an n-gram cache (generation_config.json ngram_cache): on a
    /// chorale that repeats its first lines (bwv1.6: 1.457 bits/token alone, 1.252 with it; on bwv10.7, which does not,
    /// the cache costs 1 %), eval scores the model with it below the model alone. --fit-ngram-cache
    /// fits weights for a copy, --save-ngram-cache writes them beside the folder's other keys, eval then reads them
    /// back to the same figure, and generate plays the cache (or not, with --no-ngram-cache).
    func testNGramCacheFittedSavedScoredAndPlayed() throws {
        let shipped = CLI.repoRoot.appendingPathComponent("voices/music-programs")
        let manifest = dir.appendingPathComponent("m.tsv")
        let train = ["bwv10.7.mid", "bwv101.7.mid", "music21-test04.mid"].map { chorales.appendingPathComponent($0).path }
        try ("path\tsplit\n" + train.map { "\($0)\ttrain\n" }.joined() + "\(chorales.appendingPathComponent("bwv1.6.mid").path)\tvalid\n")
            .write(to: manifest, atomically: true, encoding: .utf8)
        let e = try CLI.json(try CLI.run(["music", "eval", "--data", manifest.path, "--model", shipped.path, "--json"]))
        let alone = try XCTUnwrap((e["model"] as? [String: Any])?["nats_per_token"] as? Double)
        let cached = try XCTUnwrap(e["ngram_cache"] as? [String: Any])
        XCTAssertEqual(cached["order"] as? Int, 12)
        XCTAssertEqual(cached["source"] as? String, "of its generation_config.json")
        XCTAssertEqual(alone, 1.4568 * log(2.0), accuracy: 2e-4)
        XCTAssertEqual(try XCTUnwrap(cached["nats_per_token"] as? Double), 1.2518 * log(2.0), accuracy: 2e-4)

        let model = dir.appendingPathComponent("model")
        try FileManager.default.copyItem(at: shipped, to: model)
        let f = try CLI.run(["music", "eval", "--data", manifest.path, "--model", model.path, "--fit-ngram-cache", "6",
                             "--save-ngram-cache", "--json"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(f.stderr.contains("wrote ngram_cache (order 6) into \(model.path)/generation_config.json"), f.stderr)
        let fitted = try XCTUnwrap(try CLI.json(f)["ngram_cache"] as? [String: Any])
        XCTAssertEqual(fitted["source"] as? String, "fitted on 1 held-out train pieces")
        XCTAssertEqual((fitted["weights"] as? [Double])?.count, 48)
        let saved = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: model.appendingPathComponent("generation_config.json"))) as? [String: Any])
        XCTAssertEqual(saved["key_profile_bias"] as? Double, 3.5, "the folder's other keys are kept")
        XCTAssertEqual((saved["ngram_cache"] as? [String: Any])?["order"] as? Int, 6)
        let again = try XCTUnwrap(try CLI.json(try CLI.run(["music", "eval", "--data", manifest.path, "--model", model.path, "--json"]))["ngram_cache"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(again["nats_per_token"] as? Double), try XCTUnwrap(fitted["nats_per_token"] as? Double), accuracy: 1e-9)

        let prime = chorales.appendingPathComponent("bwv1.6.mid").path, out = dir.appendingPathComponent("out.mid")
        let g = try CLI.run(["music", "generate", "--model", model.path, "--prime", prime, "--prime-seconds", "8", "--seconds", "4",
                             "--seed", "1", "-o", out.path, "--json"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertTrue(g.stderr.contains("ngram_cache order 6 from"), g.stderr)
        XCTAssertEqual(try CLI.json(g)["ngram_cache_order"] as? Int, 6)
        let n = try CLI.json(try CLI.run(["music", "generate", "--model", model.path, "--prime", prime, "--prime-seconds", "8", "--seconds", "4",
                                          "--seed", "1", "-o", out.path, "--json", "--no-ngram-cache"]))
        XCTAssertTrue(n["ngram_cache_order"] is NSNull)

        assertFails(try CLI.run(["music", "eval", "--data", manifest.path, "--model", model.path, "--save-ngram-cache"]),
                    "--save-ngram-cache writes the weights of --fit-ngram-cache N: give it too")
        assertFails(try CLI.run(["music", "eval", "--data", manifest.path, "--model", model.path, "--fit-ngram-cache", "13"]),
                    "--fit-ngram-cache must be in 1...12, got 13")
        let noTrain = dir.appendingPathComponent("valid-only.tsv")
        try "path\tsplit\n\(prime)\tvalid\n".write(to: noTrain, atomically: true, encoding: .utf8)
        assertFails(try CLI.run(["music", "eval", "--data", noTrain.path, "--model", model.path, "--fit-ngram-cache", "6"]),
                    "--fit-ngram-cache needs a train split to fit the cache's weights, and the manifest has none")
        try "{\"ngram_cache\": {\"order\": 2, \"weights\": [0.5]}}".write(to: model.appendingPathComponent("generation_config.json"), atomically: true, encoding: .utf8)
        assertFails(try CLI.run(["music", "generate", "--model", model.path, "--prime", prime, "--seconds", "2", "-o", out.path]),
                    "key 'ngram_cache': order 2 needs 16 weights, got 1")
    }
}
