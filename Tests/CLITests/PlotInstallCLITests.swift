// End-to-end: pictures (`synth plot`), an installed binary that finds its voices, and music WAV contents.
import Audio
import Foundation
import MIDI
import XCTest

final class PlotInstallCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try temporaryFolder("plot")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Width and height from a PNG's IHDR chunk.
    func pngSize(_ url: URL) throws -> (Int, Int) {
        let b = Array(try Data(contentsOf: url))
        XCTAssertEqual(Array(b.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "not a PNG")
        func u32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (u32(16), u32(20))
    }

    func testSpectrogramsStackedOnTheSameScales() throws {
        let a = CLI.repoRoot.appendingPathComponent("samples/arctic_a0009.wav"), b = CLI.fixture("speech/alpha_30cf3d7d.flac")
        let png = dir.appendingPathComponent("spec.png")
        let r = try CLI.run(["plot", "spectrogram", a.path, b.path, "-o", png.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try pngSize(png).0, 1200)
        XCTAssertEqual(try pngSize(png).1, 8 + 2 * (26 + 240) + 34 + 52)
        let j = try CLI.json(r)
        let inputs = try XCTUnwrap(j["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.map { $0["sample_rate"] as? Int }, [16000, 16000])
        XCTAssertEqual(inputs[0]["seconds"] as? Double ?? 0, 3.095, accuracy: 1e-9)
        // From standard input to standard output.
        let piped = try CLI.runBinary(["plot", "spectrogram", "-", "-o", "-"], stdin: try Data(contentsOf: b))
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(Array(piped.stdout.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        assertFails(try CLI.run(["plot", "spectrogram", a.path, "-o", dir.appendingPathComponent("x.jpg").path]), "is not a .png file name")
        assertFails(try CLI.run(["plot", "spectrogram", dir.appendingPathComponent("none.wav").path, "-o", png.path + "2.png"]),
                    "none.wav: audio file not found")
    }

    /// A real (tiny) training run, stopped and resumed, plotted: both panels from its train.log.
    func testTrainingCurvesOfARun() throws {
        let run = dir.appendingPathComponent("run")
        let args = ["train", "--data", CLI.fixture("speech/MANIFEST.tsv").path, "--out", run.path, "--segment", "800", "--batch", "1",
                    "--dilation-cycle", "2", "--stacks", "1", "--residual", "4", "--gate", "4", "--skip", "4", "--cond-channels", "4",
                    "--speaker-dim", "2", "--valid-segments", "2", "--log-every", "2", "--validate-every", "2", "--checkpoint-every", "2"]
        XCTAssertEqual(try CLI.run(args + ["--steps", "4"]).status, 0)
        XCTAssertEqual(try CLI.run(args + ["--steps", "6", "--resume"]).status, 0)
        let png = dir.appendingPathComponent("loss.png")
        let r = try CLI.run(["plot", "training", run.path, "-o", png.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try CLI.json(r)
        XCTAssertEqual(j["train_points"] as? Int, 5, "steps 1, 2, 4 and (resumed) 5, 6")
        XCTAssertEqual(j["valid_points"] as? Int, 3)
        XCTAssertEqual(j["last_step"] as? Int, 6)
        XCTAssertEqual(try pngSize(png).0, 1000)
        assertFails(try CLI.run(["plot", "training", dir.path, "-o", png.path]), "train.log: cannot read the training log")
    }

    /// The installed layout (`make install-files PREFIX=...` with the test build's binary): PREFIX/bin/synth finds
    /// PREFIX/share/synth/voices from any folder and says where it looked; completions and man pages are installed when
    /// generated.
    func testInstalledBinaryFindsItsVoices() throws {
        guard let bin = CLI.binary else { throw XCTSkip("no synth binary") }
        let prefix = dir.appendingPathComponent("prefix")
        let make = try CLI.shell("make -s -C \(CLI.repoRoot.path) install-files PREFIX=\(prefix.path) BIN=\(bin.path) GEN=\(dir.appendingPathComponent("gen").path)")
        XCTAssertEqual(make.status, 0, make.stderr)
        let installed = prefix.appendingPathComponent("bin/synth")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: installed.path))
        let elsewhere = try temporaryFolder("elsewhere")
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let p = Process()
        p.executableURL = installed
        p.arguments = ["voices"]
        p.currentDirectoryURL = elsewhere
        var env = ProcessInfo.processInfo.environment
        env["SYNTH_VOICES"] = nil
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let share = prefix.appendingPathComponent("share/synth/voices").standardizedFileURL.path
        XCTAssertTrue(text.hasPrefix("searched: \(elsewhere.standardizedFileURL.path)/voices (missing), \(share),"), text)
        XCTAssertTrue(text.contains("default  (\(share)/default)"), text)
        XCTAssertTrue(text.contains("music  (\(share)/music)"), text)
        // A model's generation_config.json is installed with it.
        XCTAssertTrue(text.contains("text  (\(share)/text)"), text)
        XCTAssertTrue(text.contains("  sampling defaults (generation_config.json): min_p 0.1"), text)
        // With no voices anywhere, the error names the folders searched (it used to say "looked in " and nothing).
        let empty = dir.appendingPathComponent("empty/bin")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: installed, to: empty.appendingPathComponent("synth"))
        let q = try CLI.shell("cd \(elsewhere.path) && \(empty.path)/synth vocode \(CLI.fixture("speech/alpha_30cf3d7d.flac").path) -o x.wav")
        XCTAssertEqual(q.status, 1)
        XCTAssertTrue(q.stderr.contains("unknown voice 'default' (looked in \(elsewhere.standardizedFileURL.path)/voices, "), q.stderr)
        XCTAssertTrue(q.stderr.contains("no voices installed"), q.stderr)
    }

    /// `--wav` renders what `-o` holds (prime and continuation); `--wav-continuation-only` only the continuation; the
    /// progress counts seconds of music.
    func testMusicWAVHoldsWhatTheMIDIHolds() throws {
        let prime = CLI.repoRoot.appendingPathComponent("Tests/MIDITests/Fixtures/bwv1.6.mid")
        let mid = dir.appendingPathComponent("o.mid"), wav = dir.appendingPathComponent("o.wav"), cont = dir.appendingPathComponent("c.flac")
        let common = ["music", "generate", "--model", CLI.repoRoot.appendingPathComponent("voices/music").path, "--prime", prime.path,
                      "--prime-seconds", "4", "--seconds", "3", "--seed", "2", "--sample-rate", "16000", "-o", mid.path]
        let a = try CLI.run(common + ["--wav", wav.path, "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stderr.contains("s of music"), a.stderr)
        XCTAssertFalse(a.stderr.contains("centiseconds"), a.stderr)
        let j = try CLI.json(a)
        XCTAssertEqual(j["wav_holds"] as? String, "prime and continuation")
        let b = try CLI.run(common + ["--wav", cont.path, "--wav-continuation-only"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stderr.contains("the continuation only"), b.stderr)
        let notes = try MIDIFile.read(url: mid).notes()
        let end = notes.map(\.end).max() ?? 0
        let whole = try AudioIO.read(wav).duration, part = try AudioIO.read(cont).duration
        let primeEnd = try XCTUnwrap(j["prime_seconds"] as? Double)
        // FluidSynth renders to the last note's end plus its release tail.
        XCTAssertGreaterThanOrEqual(whole, end)
        XCTAssertLessThan(whole, end + 3)
        XCTAssertGreaterThanOrEqual(part, end - primeEnd - 0.5)
        XCTAssertLessThan(part, whole - primeEnd + 0.5)
        XCTAssertEqual(String(decoding: try Data(contentsOf: cont).prefix(4), as: UTF8.self), "fLaC")
        // MIDI to standard output.
        let piped = try CLI.runBinary(["music", "generate", "--model", CLI.repoRoot.appendingPathComponent("voices/music").path,
                                       "--tokens", "20", "-o", "-"])
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(String(decoding: piped.stdout.prefix(4), as: UTF8.self), "MThd")
    }
}
