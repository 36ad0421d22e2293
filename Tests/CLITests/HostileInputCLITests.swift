// End-to-end: the hostile files of issue 17 (and every fuzz finding that reaches a command) give one line, a
// non-zero exit and no output file, through the real binary.
import Foundation
import XCTest

final class HostileInputCLITests: XCTestCase {
    var dir: URL!
    var voice: URL!
    let npyFixtures = CLI.repoRoot.appendingPathComponent("Tests/AudioTests/Fixtures/npy")
    let shippedMusic = CLI.repoRoot.appendingPathComponent("voices/music")

    override func setUpWithError() throws {
        dir = try temporaryFolder("hostile")
        voice = try writeTinyVoice(in: dir, name: "tiny")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A failed run: exit status `status`, exactly one line on stderr holding `needle`, no file at `output`.
    func assertFails(_ r: RunResult, _ needle: String, status: Int32 = 1, output: URL? = nil,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, "stderr: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, "expected one error line, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "stderr lacks '\(needle)': \(r.stderr)", file: file, line: line)
        if let output {
            XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "output left behind", file: file, line: line)
            XCTAssertEqual(listing(output.deletingLastPathComponent()).filter { $0.hasPrefix(".") }, [], "temporary file left", file: file, line: line)
        }
    }

    /// Rewrites one key of a folder's config.json (a key path such as "features.sample_rate").
    func patchConfig(_ folder: URL, _ path: String, _ value: Any) throws {
        let url = folder.appendingPathComponent("config.json")
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let keys = path.split(separator: ".").map(String.init)
        if keys.count == 1 { root[keys[0]] = value } else {
            var inner = root[keys[0]] as! [String: Any]
            inner[keys[1]] = value
            root[keys[0]] = inner
        }
        try JSONSerialization.data(withJSONObject: root).write(to: url)
    }

    /// A safetensors file whose one tensor claims data_offsets [0, 2^63 - 1].
    func writeHugeOffsets(to url: URL, tensor: String) throws {
        let header = "{\"\(tensor)\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9223372036854775807]}}"
        var d = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(count: 8))
        try d.write(to: url)
    }

    /// Issue 17's .npy files crashed `synth vocode X.npy` (SIGSEGV in NPY.read and WaveNetGenerator.start).
    func testVocodeRefusesNpyShapesWhoseSizeOverflows() throws {
        let out = dir.appendingPathComponent("out.wav")
        for name in ["shape_2p62p1_x80_320_bytes", "shape_2p62_x80_no_data", "shape_2p61p1_x80", "shape_1_x_2p62p1_4_bytes",
                     "shape_3074457345618258603_x3_4_bytes"] {
            let input = npyFixtures.appendingPathComponent("hostile/\(name).npy")
            let r = try CLI.run(["vocode", input.path, "-o", out.path, "--voice", voice.path])
            assertFails(r, "\(input.path): .npy shape (", output: out)
            XCTAssertTrue(r.stderr.contains("holds more elements than any file can (its size overflows 64 bits)"), r.stderr)
        }
        // And a header numpy refuses, which the old reader took.
        let braces = npyFixtures.appendingPathComponent("headers/no_braces.npy")
        assertFails(try CLI.run(["vocode", braces.path, "-o", out.path, "--voice", voice.path]), "malformed .npy header", output: out)
    }

    /// Issue 17: features.sample_rate 2^62 corrupted memory; residual_channels 2^20 and 100,000 dilations allocated
    /// gigabytes before any check. Now `vocode` and `voices` refuse the folder in one line.
    func testVoiceFoldersWithHostileConfigsAreRefused() throws {
        let input = CLI.fixture("speech/alpha_8f6fb8eb.flac"), out = dir.appendingPathComponent("out.wav")
        let cases: [(String, Any, String)] = [
            ("features.sample_rate", 1 << 62, "invalid voice config: features: feature config: invalid 'sample_rate': must be in 1000...768000, got 4611686018427387904"),
            ("residual_channels", 1 << 20, "invalid voice config: residual_channels must be in 1...4096, got 1048576"),
            ("dilations", [Int](repeating: 1, count: 100_000), "invalid voice config: dilations must list 1...1024 layers, got 100000"),
        ]
        let original = try Data(contentsOf: voice.appendingPathComponent("config.json"))
        for (key, value, message) in cases {
            try original.write(to: voice.appendingPathComponent("config.json"))
            try patchConfig(voice, key, value)
            let t0 = Date()
            assertFails(try CLI.run(["vocode", input.path, "-o", out.path, "--voice", voice.path]), message, output: out)
            let v = try CLI.run(["voices"], env: ["SYNTH_VOICES": dir.path])
            XCTAssertLessThan(Date().timeIntervalSince(t0), 10, "\(key): refusing took long")
            assertFails(v, "tiny: cannot load: \(voice.path)/config.json: \(message)")
        }
        try original.write(to: voice.appendingPathComponent("config.json"))
        try writeHugeOffsets(to: voice.appendingPathComponent("model.safetensors"), tensor: "input_embedding")
        assertFails(try CLI.run(["vocode", input.path, "-o", out.path, "--voice", voice.path]),
                    "model.safetensors: not a valid safetensors file (tensor 'input_embedding' has shape [2] but data_offsets [0, 9223372036854775807] hold 9223372036854775807 bytes)", output: out)
    }

    /// `synth voices` lists the good folders on stdout, reports each bad one in one line on stderr, exits 1.
    func testVoicesReportsABadFolderAndListsTheOthers() throws {
        let good = try writeTinyVoice(in: dir, name: "good")
        try patchConfig(voice, "residual_channels", 1 << 20)
        let r = try CLI.run(["voices"], env: ["SYNTH_VOICES": dir.path])
        assertFails(r, "tiny: cannot load: \(voice.path)/config.json: invalid voice config: residual_channels must be in 1...4096, got 1048576")
        XCTAssertTrue(r.stdout.contains("good  (\(good.path))"), r.stdout)
        XCTAssertTrue(r.stdout.contains("speakers: alice, bob"), r.stdout)
        XCTAssertFalse(r.stdout.contains("tiny"), r.stdout)
        try FileManager.default.removeItem(at: voice)
        let ok = try CLI.run(["voices"], env: ["SYNTH_VOICES": dir.path])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stderr, "")
    }

    /// Issue 17: vocab_size 2^20 and d_ff 65,536 over 256 layers allocated gigabytes; data_offsets ending at
    /// 2^63 - 1 crashed `music generate` (SIGILL). One line each, exit 1, no MIDI written.
    func testMusicModelFoldersWithHostileFilesAreRefused() throws {
        let model = dir.appendingPathComponent("music")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("out.mid")
        func reset() throws {
            for f in ["config.json", "model.safetensors"] {
                try? FileManager.default.removeItem(at: model.appendingPathComponent(f))
                try FileManager.default.copyItem(at: shippedMusic.appendingPathComponent(f), to: model.appendingPathComponent(f))
            }
        }
        let generate = ["music", "generate", "--model", model.path, "--tokens", "8", "-o", out.path]
        try reset()
        try patchConfig(model, "vocab_size", 1 << 20)
        assertFails(try CLI.run(generate), "config.json: invalid model config: vocab_size must be in 2...65536, got 1048576", output: out)
        try reset()
        try patchConfig(model, "d_ff", 65536)
        try patchConfig(model, "n_layers", 256)
        assertFails(try CLI.run(generate), "config.json: invalid model config: the model would have 4328949894 parameters, more than the limit of 268435456", output: out)
        try reset()
        try writeHugeOffsets(to: model.appendingPathComponent("model.safetensors"), tensor: "tok_embedding.weight")
        assertFails(try CLI.run(generate), "model.safetensors: not a valid safetensors file (tensor 'tok_embedding.weight' has shape [2] but data_offsets [0, 9223372036854775807] hold 9223372036854775807 bytes)", output: out)
        let v = try CLI.run(["voices"], env: ["SYNTH_VOICES": dir.path])
        assertFails(v, "music: cannot load: \(model.path)/model.safetensors: not a valid safetensors file")
        XCTAssertTrue(v.stdout.contains("tiny  ("), v.stdout)
    }

    /// Found while fuzzing (FuzzMIDI's slowest inputs): a 37-byte MIDI file whose one note lasts 2^28 ticks at one
    /// tick per quarter note asked for 1.3 x 10^8 prime tokens (gigabytes). Refused in one line.
    func testPrimeOfAnAstronomicalLengthIsRefused() throws {
        let prime = CLI.repoRoot.appendingPathComponent("Tests/MIDITests/Fixtures/fuzz/FuzzMIDI/slow-note-of-2p28-ticks.mid")
        let out = dir.appendingPathComponent("out.mid")
        let t0 = Date()
        let r = try CLI.run(["music", "generate", "--model", shippedMusic.path, "--prime", prime.path, "--tokens", "8", "-o", out.path])
        assertFails(r, "\(prime.path): the MIDI file's notes run to 134217728 s; a piece may last at most 3600 s", output: out)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10)
    }
}
