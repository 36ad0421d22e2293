// Helpers for end-to-end tests that run the real `synth` binary on real files.
import DSP
import Foundation
import NNCore
import WaveNet
import XCTest

enum CLI {
    /// The `synth` binary built beside the test bundle (see `synthBinary()` in Support.swift).
    static var binary: URL? { synthBinary() }

    /// Runs synth with arguments and extra environment, waiting for it to exit.
    @discardableResult
    static func run(_ args: [String], env: [String: String] = [:], cwd: URL? = nil) throws -> RunResult {
        guard let bin = binary else { throw XCTSkip("synth binary not built next to the tests; run `swift build --build-tests`") }
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        e["SYNTH_VOICES"] = nil
        for (k, v) in env { e[k] = v }
        p.environment = e
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let r = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: r, as: UTF8.self))
    }

    static func fixture(_ path: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(path)
    }

    /// The repository's samples/ folder (tests run from the package root or from the bundle's location).
    static var repoRoot: URL {
        var u = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { u = u.deletingLastPathComponent() }
        return u
    }
}

/// A fresh temporary folder, removed by the caller's defer.
func temporaryFolder(_ tag: String) throws -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

/// Writes a tiny randomly initialised voice (16 kHz, librosa-default features) into `dir/name`.
@discardableResult
func writeTinyVoice(in dir: URL, name: String = "tiny", speakers: [String] = ["alice", "bob"]) throws -> URL {
    let c = WaveNetConfig(dilations: [1, 2, 4, 8], residualChannels: 8, gateChannels: 16, skipChannels: 8,
                          condChannels: 8, speakerEmbeddingDim: 4, speakers: speakers)
    let m = WaveNetModel(config: c)
    m.initialize(seed: 7)
    let url = dir.appendingPathComponent(name)
    try Voice.save(m, to: url)
    return url
}

/// Files in a folder (names only), to check nothing partial was left.
func listing(_ dir: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
}
