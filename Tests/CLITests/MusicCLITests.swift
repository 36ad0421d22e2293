// End-to-end: `synth music generate/eval/train` through the real binary, on the shipped model and real MIDI files.
import Audio
import Foundation
import MIDI
import XCTest

final class MusicCLITests: XCTestCase {
    var dir: URL!
    /// Chorales and wild MIDI files committed as MIDI test fixtures (see Tests/MIDITests/Fixtures/README.md).
    let midiFixtures = CLI.repoRoot.appendingPathComponent("Tests/MIDITests/Fixtures")
    let shippedModel = CLI.repoRoot.appendingPathComponent("voices/music")

    override func setUpWithError() throws {
        dir = try temporaryFolder("music")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func testContinueAChoraleOpeningAndRenderIt() throws {
        let prime = midiFixtures.appendingPathComponent("bwv1.6.mid")
        let mid = dir.appendingPathComponent("out.mid"), wav = dir.appendingPathComponent("out.wav")
        let r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", prime.path, "--prime-seconds", "6",
                             "--seconds", "4", "--seed", "5", "-o", mid.path, "--wav", wav.path, "--sample-rate", "16000"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let primeNotes = try MIDIFile.read(url: prime).notes().filter { $0.start < 6 }
        let notes = try MIDIFile.read(url: mid).notes()
        XCTAssertGreaterThan(notes.count, primeNotes.count, "no continuation")
        let last = notes.map(\.end).max() ?? 0
        XCTAssertGreaterThan(last, 6 + 2, "continuation shorter than 2 s: ends at \(last) s")
        let audio = try AudioIO.read(wav)
        XCTAssertEqual(audio.sampleRate, 16000)
        let rms = (audio.samples.reduce(0) { $0 + $1 * $1 } / Float(audio.samples.count)).squareRoot()
        XCTAssertGreaterThan(rms, 0.005, "rendered WAV is (nearly) silent")
        // The same seed gives the same MIDI bytes.
        let again = dir.appendingPathComponent("again.mid")
        XCTAssertEqual(try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", prime.path, "--prime-seconds", "6",
                                    "--seconds", "4", "--seed", "5", "-o", again.path]).status, 0)
        XCTAssertEqual(try Data(contentsOf: mid), try Data(contentsOf: again))
        XCTAssertEqual(listing(dir).filter { $0.hasPrefix(".") }, [])
    }

    /// The shipped model's generation_config.json sets the continuation's processors: with a prime, its output is
    /// the bare weights' with the five options given; options given win; without a prime (or with --beam) the keys
    /// are skipped; a bad file is refused in one line before anything is written.
    func testGenerationConfigSetsTheContinuationDefaults() throws {
        let bare = dir.appendingPathComponent("bare")
        try FileManager.default.createDirectory(at: bare, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: shippedModel.appendingPathComponent(f), to: bare.appendingPathComponent(f))
        }
        let prime = midiFixtures.appendingPathComponent("bwv1.6.mid")
        func generate(_ model: URL, _ extra: [String], primed: Bool = true) throws -> (midi: Data, stderr: String) {
            let out = dir.appendingPathComponent("o-\(UUID().uuidString).mid")
            let r = try CLI.run(["music", "generate", "--model", model.path, "--seconds", "6", "--seed", "2", "-o", out.path]
                                + (primed ? ["--prime", prime.path, "--prime-seconds", "7.3"] : []) + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return (try Data(contentsOf: out), r.stderr)
        }
        let all = ["--prime-cut", "beat", "--max-note-seconds", "prime+1", "--max-polyphony", "prime+1", "--key-profile-bias", "2.5", "--snap-to-prime-grid"]
        let shipped = try generate(shippedModel, [])
        XCTAssertTrue(shipped.stderr.contains("note: key_profile_bias 2.5, max_note_seconds prime+1, max_polyphony prime+1, prime_cut beat, snap_to_prime_grid true from \(shippedModel.path)/generation_config.json"), shipped.stderr)
        XCTAssertEqual(shipped.midi, try generate(bare, all).midi)
        XCTAssertNotEqual(shipped.midi, try generate(bare, []).midi)
        // Every key turned off by its option: the bare model's output, and no note.
        let off = try generate(shippedModel, ["--prime-cut", "exact", "--max-note-seconds", "off", "--max-polyphony", "off",
                                              "--key-profile-bias", "0", "--no-snap-to-prime-grid"])
        XCTAssertEqual(off.midi, try generate(bare, []).midi)
        XCTAssertFalse(off.stderr.contains("generation_config.json"), off.stderr)
        // One option given: the file gives the other four.
        XCTAssertEqual(try generate(shippedModel, ["--key-profile-bias", "1"]).midi,
                       try generate(bare, Array(all.prefix(6)) + ["--key-profile-bias", "1", "--snap-to-prime-grid"]).midi)
        // --key-bias is not in the file: given, it joins the file's profile bias.
        XCTAssertEqual(try generate(shippedModel, ["--key-bias", "1"]).midi, try generate(bare, all + ["--key-bias", "1"]).midi)
        XCTAssertNotEqual(try generate(bare, all + ["--key-bias", "1"]).midi, shipped.midi)
        // No prime: every key reads the prime, so none applies.
        let unprimed = try generate(shippedModel, [], primed: false)
        XCTAssertEqual(unprimed.midi, try generate(bare, [], primed: false).midi)
        XCTAssertFalse(unprimed.stderr.contains("generation_config.json"), unprimed.stderr)
        // A bad file: one line naming the file and the key, no output.
        let broken = dir.appendingPathComponent("broken")
        try FileManager.default.copyItem(at: bare, to: broken)
        try Data(#"{"max_polyphony": 0}"#.utf8).write(to: broken.appendingPathComponent("generation_config.json"))
        let out = dir.appendingPathComponent("x.mid")
        let r = try CLI.run(["music", "generate", "--model", broken.path, "--prime", prime.path, "--seconds", "2", "-o", out.path])
        assertFails(r, "\(broken.path)/generation_config.json: key 'max_polyphony': must be N or prime+N with N a whole number in 1...128, or off, got 0", output: out)
    }

    func testBadPrimesAndOptionsFailWithOneLine() throws {
        let out = dir.appendingPathComponent("o.mid")
        let garbage = dir.appendingPathComponent("garbage.mid")
        try Data((0..<500).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: garbage)
        var r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", garbage.path, "--seconds", "1", "-o", out.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("not a Standard MIDI File"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        // A valid file with no notes: header + one track holding only end-of-track.
        let empty = dir.appendingPathComponent("nonotes.mid")
        try Data([0x4D, 0x54, 0x68, 0x64, 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xE0,
                  0x4D, 0x54, 0x72, 0x6B, 0, 0, 0, 4, 0x00, 0xFF, 0x2F, 0x00]).write(to: empty)
        r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", empty.path, "--seconds", "1", "-o", out.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.lowercased().contains("no notes"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--seconds", "1", "--top-p", "1.5", "-o", out.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("top-p must be in (0, 1], got 1.5"), r.stderr)
        r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--seconds", "1", "--min-p", "1", "-o", out.path])
        XCTAssertNotEqual(r.status, 0)
        r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--seconds", "1", "--key-profile-bias", "2", "-o", out.path])
        assertFails(r, "--key-profile-bias needs --prime (the key is the prime's)", output: out)
        r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", midiFixtures.appendingPathComponent("bwv1.6.mid").path,
                         "--seconds", "1", "--key-profile-bias", "-1", "-o", out.path])
        assertFails(r, "--key-profile-bias must be in [0, 100], got -1.0", output: out)
        r = try CLI.run(["music", "generate", "--model", dir.appendingPathComponent("nomodel").path, "--seconds", "1", "-o", out.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown music model '\(dir.appendingPathComponent("nomodel").path)' (looked in "), r.stderr)
        XCTAssertTrue(r.stderr.contains("available: music, music-programs; or give the path of a model folder"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        // A speech voice named as the music model: one line naming both kinds and the command to use.
        r = try CLI.run(["music", "generate", "--model", CLI.repoRoot.appendingPathComponent("voices/default").path, "--seconds", "1", "-o", out.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("voices/default/config.json: this folder holds a WaveNet vocoder voice (model_type wavenet), not a music model; use it with `synth vocode --voice`"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        // A file that is not a SoundFont, and a SoundFont header over a truncated body: one line of ours (with
        // FluidSynth's reason), none of FluidSynth's own four, before any generation, and nothing written.
        let wav = dir.appendingPathComponent("o.wav")
        for (name, bytes, error) in [
            ("not.sf2", Data(repeating: 7, count: 3000), "not a SoundFont 2 file (no RIFF 'sfbk' header); give a General MIDI .sf2"),
            ("truncated.sf2", Data("RIFF\u{10}\0\0\0sfbkLIST".utf8), "FluidSynth cannot load this SoundFont: SoundFont file size mismatch"),
        ] {
            let sf2 = dir.appendingPathComponent(name)
            try bytes.write(to: sf2)
            r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--seconds", "1", "-o", out.path, "--wav", wav.path,
                             "--soundfont", sf2.path])
            XCTAssertEqual(r.status, 1)
            XCTAssertEqual(r.stderr, "Error: \(sf2.path): \(error)\n")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
            XCTAssertFalse(FileManager.default.fileExists(atPath: wav.path))
        }
    }

    /// A piano-stream model (encoding `performance`) primed with several instruments and drums says, in one note, that
    /// it plays them as one piano stream, and that --new-instruments does nothing for it; a one-instrument chorale
    /// gets no such note.
    func testPerformanceModelNotesTheInstrumentsItFlattens() throws {
        let wild = midiFixtures.appendingPathComponent("planetblupi-music000.mid")
        let r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", wild.path, "--prime-seconds", "15",
                             "--seconds", "0.5", "--new-instruments", "-o", dir.appendingPathComponent("w.mid").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("has 2 instruments (drums too); this model's encoding (performance) plays every note as one piano stream"), r.stderr)
        XCTAssertTrue(r.stderr.contains("note: --new-instruments is ignored"), r.stderr)
        let c = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", midiFixtures.appendingPathComponent("bwv1.6.mid").path,
                             "--prime-seconds", "4", "--seconds", "0.5", "-o", dir.appendingPathComponent("c.mid").path])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertFalse(c.stderr.contains("instruments"), c.stderr)
    }

    func testBeamSearchFromTheCLI() throws {
        let prime = midiFixtures.appendingPathComponent("bwv1.6.mid").path
        func generate(_ name: String, _ extra: [String]) throws -> (RunResult, URL) {
            let out = dir.appendingPathComponent(name)
            let r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", prime, "--prime-seconds", "4",
                                 "--tokens", "24", "-o", out.path] + extra)
            return (r, out)
        }
        // One beam is greedy decoding: the same MIDI bytes as --temperature 0 (without the decoding processors the
        // model's generation_config.json sets, which beam search does not run).
        let (b1, beamOne) = try generate("beam1.mid", ["--beam", "1"])
        XCTAssertEqual(b1.status, 0, b1.stderr)
        let (g, greedy) = try generate("greedy.mid", ["--temperature", "0", "--max-note-seconds", "off", "--max-polyphony", "off", "--key-profile-bias", "0"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(try Data(contentsOf: beamOne), try Data(contentsOf: greedy))
        // Beam search ignores the seed, and its continuation keeps the prime and adds to it.
        let (b3, beamThree) = try generate("beam3.mid", ["--beam", "3", "--seed", "1"])
        XCTAssertEqual(b3.status, 0, b3.stderr)
        XCTAssertTrue(b3.stderr.contains("24 generated"), b3.stderr)
        let (b3again, beamThreeAgain) = try generate("beam3again.mid", ["--beam", "3", "--seed", "2"])
        XCTAssertEqual(b3again.status, 0, b3again.stderr)
        XCTAssertEqual(try Data(contentsOf: beamThree), try Data(contentsOf: beamThreeAgain))
        let primeNotes = try MIDIFile.read(url: URL(fileURLWithPath: prime)).notes().filter { $0.start < 4 }.count
        XCTAssertGreaterThanOrEqual(try MIDIFile.read(url: beamThree).notes().count, primeNotes)
        // Beam search counts tokens: with --seconds it is refused before any work.
        let out = dir.appendingPathComponent("refused.mid")
        let r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--beam", "3", "--seconds", "2", "-o", out.path])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.hasPrefix("Error: --beam needs --tokens (beam search counts tokens, not seconds)\n"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }

    func testPrimeLongerThanContextFallsBackToItsEnd() throws {
        let prime = midiFixtures.appendingPathComponent("planetblupi-music000.mid")
        let out = dir.appendingPathComponent("long.mid")
        let r = try CLI.run(["music", "generate", "--model", shippedModel.path, "--prime", prime.path, "--tokens", "20", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("more than the model's context"), r.stderr)
        // The whole prime is kept (as tokenised: unisons of one pitch merge, so allow a few percent fewer notes).
        let kept = try MIDIFile.read(url: out).notes().count, original = try MIDIFile.read(url: prime).notes().count
        XCTAssertGreaterThan(Double(kept), 0.85 * Double(original), "output holds \(kept) notes, prime \(original)")
    }

    func testEvalAndTinyTrainingRun() throws {
        let manifest = dir.appendingPathComponent("MANIFEST.tsv")
        let a = midiFixtures.appendingPathComponent("bwv1.6.mid").path, b = midiFixtures.appendingPathComponent("bwv10.7.mid").path
        let c = midiFixtures.appendingPathComponent("bwv101.7.mid").path
        try "path\tcollection\tsplit\n\(a)\tbach\ttrain\n\(b)\tbach\ttrain\n\(c)\tbach\tvalid\n".write(to: manifest, atomically: true, encoding: .utf8)
        let e = try CLI.run(["music", "eval", "--data", manifest.path, "--model", shippedModel.path])
        XCTAssertEqual(e.status, 0, e.stderr)
        let text = e.stdout + e.stderr
        XCTAssertTrue(text.contains("nats/token") && text.contains("bits/token") && text.contains("Kneser-Ney"), text)
        // What the key processors cost as a likelihood: the model scored with them, beside its own figure.
        let k = try CLI.json(try CLI.run(["music", "eval", "--data", manifest.path, "--model", shippedModel.path,
                                          "--key-profile-bias", "2.5", "--json"]))
        let own = try XCTUnwrap((k["model"] as? [String: Any])?["nats_per_token"] as? Double)
        let biased = try XCTUnwrap(k["model_key_bias"] as? [String: Any])
        XCTAssertEqual(biased["profile_weight"] as? Double, 2.5)
        XCTAssertEqual(biased["penalty"] as? Double, 0)
        XCTAssertNotEqual(try XCTUnwrap(biased["nats_per_token"] as? Double), own, accuracy: 1e-4)
        assertFails(try CLI.run(["music", "eval", "--data", manifest.path, "--model", shippedModel.path, "--key-profile-bias", "-2"]),
                    "--key-profile-bias must be in [0, 100], got -2.0")
        let run = dir.appendingPathComponent("run")
        let t = try CLI.run(["music", "train", "--data", manifest.path, "--out", run.path, "--steps", "3", "--batch", "2", "--context", "32",
                             "--d-model", "16", "--heads", "2", "--layers", "1", "--validate-every", "3", "--checkpoint-every", "3", "--log-every", "1"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let out = dir.appendingPathComponent("tiny.mid")
        let g = try CLI.run(["music", "generate", "--model", run.appendingPathComponent("best").path, "--tokens", "30", "-o", out.path])
        XCTAssertEqual(g.status, 0, g.stderr)
    }

    /// Every folder shipped in voices/ loads (`synth voices` loads each as its command would, and exits 1 if one
    /// fails), and the listing names every kind; old folders load too: a voice saved before `model_type` existed, and
    /// a token WaveNet in the layout before it had its own config (a 2848381 binary's folder).
    func testEveryFolderLoadsAndVoicesListsEveryKind() throws {
        let voices = CLI.repoRoot.appendingPathComponent("voices")
        var r = try CLI.run(["voices"], env: ["SYNTH_VOICES": voices.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in try FileManager.default.contentsOfDirectory(atPath: voices.path) where !name.hasPrefix(".") {
            XCTAssertTrue(r.stdout.contains("\(name)  ("), "\(name) not listed: \(r.stdout)")
        }
        XCTAssertTrue(r.stdout.contains("  WaveNet vocoder voice: 16000 Hz, 20 layers"), r.stdout)
        XCTAssertTrue(r.stdout.contains("  music transformer: transformer: 4 layers"), r.stdout)
        XCTAssertTrue(r.stdout.contains("  use with: synth music generate --model music"), r.stdout)
        // Each music model names its token encoding (the text models, over bytes, have none).
        XCTAssertTrue(r.stdout.contains("music  (\(voices.path)/music)\n  music transformer: transformer: 4 layers, d_model 128, 4 heads, d_ff 512, context 256, 926342 parameters, 3.7 MB\n  token encoding: performance (390 tokens: one piano stream, one voice per pitch)\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\n  token encoding: performance_programs (519 tokens: instruments and drums, every note kept)\n  continuation defaults"), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "token encoding:").count - 1, 2, r.stdout)
        let old = dir.appendingPathComponent("old")
        let untyped = old.appendingPathComponent("untyped"), tokens = old.appendingPathComponent("tokens")
        try FileManager.default.createDirectory(at: untyped, withIntermediateDirectories: true)
        let config = try String(contentsOf: voices.appendingPathComponent("default/config.json"), encoding: .utf8)
        try config.replacingOccurrences(of: "  \"model_type\" : \"wavenet\",\n", with: "")
            .write(to: untyped.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: untyped.appendingPathComponent("model.safetensors"),
                                                   withDestinationURL: voices.appendingPathComponent("default/model.safetensors"))
        try FileManager.default.copyItem(at: CLI.repoRoot.appendingPathComponent("Tests/MusicTests/Fixtures/legacy_wavenet_tokens"), to: tokens)
        r = try CLI.run(["voices"], env: ["SYNTH_VOICES": old.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("  WaveNet vocoder voice: 16000 Hz"), r.stdout)
        XCTAssertTrue(r.stdout.contains("  music WaveNet over tokens: wavenet over tokens: 4 layers, receptive field 7 tokens"), r.stdout)
        let out = dir.appendingPathComponent("t.mid")
        r = try CLI.run(["music", "generate", "--model", tokens.path, "--tokens", "20", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        // A folder of an unknown family is one line, and `synth voices` lists the others and exits 1.
        let unknown = old.appendingPathComponent("lstm")
        try FileManager.default.createDirectory(at: unknown, withIntermediateDirectories: true)
        try "{\"model_type\": \"lstm\"}".write(to: unknown.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        r = try CLI.run(["voices"], env: ["SYNTH_VOICES": old.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "lstm: cannot load: \(unknown.path)/config.json: unknown model_type 'lstm' (this synth knows wavenet, transformer, wavenet_tokens, pixelcnn, forecast_wavenet, recurrent_lm)\n")
        XCTAssertTrue(r.stdout.contains("tokens  ("), r.stdout)
    }
}
