// Helpers for end-to-end tests of the built `synth` binary: locating it, running it, tiny voices and inputs.
import Audio
import DSP
import Foundation
import NNCore
import WaveNet
import XCTest

/// The `synth` executable next to the test bundle (built by `swift build --build-tests`), or nil.
func synthBinary() -> URL? {
    let bundle = Bundle(for: CLITestCase.self).bundleURL
    let candidates = [bundle.deletingLastPathComponent(), bundle,
                      URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()]
    return candidates.map { $0.appendingPathComponent("synth") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) && !$0.hasDirectoryPath }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

class CLITestCase: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("synth-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        _ = try binary()
    }

    override func tearDownWithError() throws {
        if ProcessInfo.processInfo.environment["SYNTH_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: tmp) }
    }

    func binary() throws -> URL {
        guard let b = synthBinary() else {
            throw XCTSkip("synth binary not found next to the test bundle; run `swift build --build-tests` first")
        }
        return b
    }

    /// Starts `synth args` with stdout/stderr going to files `tag.out` / `tag.err`; returns the process.
    func launch(_ args: [String], env: [String: String] = [:], tag: String) throws -> Process {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        for k in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "JOB_COMPLETION_INDEX", "SYNTH_SHARDS"] {
            e[k] = nil
        }
        for (k, v) in env { e[k] = v }
        p.environment = e
        let logs = tmp.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: logs.appendingPathComponent("\(tag).out").path, contents: nil)
        FileManager.default.createFile(atPath: logs.appendingPathComponent("\(tag).err").path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: logs.appendingPathComponent("\(tag).out"))
        p.standardError = try FileHandle(forWritingTo: logs.appendingPathComponent("\(tag).err"))
        try p.run()
        return p
    }

    func output(_ tag: String) -> (String, String) {
        let logs = tmp.appendingPathComponent("logs")
        let o = (try? String(contentsOf: logs.appendingPathComponent("\(tag).out"), encoding: .utf8)) ?? ""
        let e = (try? String(contentsOf: logs.appendingPathComponent("\(tag).err"), encoding: .utf8)) ?? ""
        return (o, e)
    }

    /// Runs `synth args` to completion.
    @discardableResult
    func run(_ args: [String], env: [String: String] = [:]) throws -> RunResult {
        let tag = "run-\(UUID().uuidString.prefix(8))"
        let p = try launch(args, env: env, tag: tag)
        p.waitUntilExit()
        let (o, e) = output(tag)
        return RunResult(status: p.terminationStatus, stdout: o, stderr: e)
    }

    /// A tiny random voice (hop 4, 3 mel bins, speakers a, b, c) saved as a voice folder.
    func makeVoice(seed: UInt64 = 7) throws -> URL {
        var f = FeatureConfig.default
        f.hopLength = 4
        f.nMels = 3
        let c = WaveNetConfig(dilations: [1, 2, 4, 8, 1, 2], residualChannels: 8, gateChannels: 8, skipChannels: 8, classes: 16,
                              condChannels: 4, speakerEmbeddingDim: 2, speakers: ["a", "b", "c"], features: f)
        let m = WaveNetModel(config: c)
        m.initialize(seed: seed)
        let dir = tmp.appendingPathComponent("voice")
        try Voice.save(m, to: dir)
        return dir
    }

    /// Random normalised log-mels `[frames, bins]` written as .npy.
    @discardableResult
    func writeMels(_ name: String, frames: Int, seed: UInt64, bins: Int = 3) throws -> URL {
        var rng = Xoshiro256(seed: seed)
        let url = tmp.appendingPathComponent(name)
        try NPY.write(NPYArray(shape: [frames, bins], data: (0..<(frames * bins)).map { _ in rng.nextGaussian() }), to: url)
        return url
    }

    @discardableResult
    func write(_ text: String, to name: String) throws -> URL {
        let url = tmp.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// File names and contents of a folder (hidden files included).
    func contents(of dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for n in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            out[n] = try Data(contentsOf: dir.appendingPathComponent(n))
        }
        return out
    }
}
