// Helpers for end-to-end tests that run the real `synth` binary on real files.
import DSP
import Foundation
import NNCore
import WaveNet
import XCTest

enum CLI {
    /// The `synth` binary built beside the test bundle (see `synthBinary()` in Support.swift).
    static var binary: URL? { synthBinary() }

    /// The synth process for `args`: the caller's environment without SYNTH_VOICES, plus `env`.
    /// - Throws: `XCTSkip` when the binary is not built next to the tests.
    static func process(_ args: [String], env: [String: String]) throws -> Process {
        guard let bin = binary else { throw XCTSkip("synth binary not built next to the tests; run `swift build --build-tests`") }
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        e["SYNTH_VOICES"] = nil
        for (k, v) in env { e[k] = v }
        p.environment = e
        return p
    }

    /// Runs synth with arguments and extra environment, waiting for it to exit.
    @discardableResult
    static func run(_ args: [String], env: [String: String] = [:], cwd: URL? = nil) throws -> RunResult {
        let p = try process(args, env: env)
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

    /// Runs synth with binary standard output (e.g. `-o -`), optionally feeding `stdin`, with stderr read
    /// concurrently so neither pipe can fill up.
    static func runBinary(_ args: [String], env: [String: String] = [:], stdin: Data? = nil) throws -> BinaryResult {
        let p = try process(args, env: env)
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        if stdin != nil { p.standardInput = inp }
        try p.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box(), done = DispatchSemaphore(value: 0)
        Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }.start()
        if let stdin {
            Thread {
                inp.fileHandleForWriting.write(stdin)
                try? inp.fileHandleForWriting.close()
            }.start()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        p.waitUntilExit()
        return BinaryResult(status: p.terminationStatus, stdout: o, stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Runs a shell command line (`/bin/sh -c`) in which `$SYNTH` is the synth binary.
    static func shell(_ command: String, cwd: URL? = nil) throws -> RunResult {
        guard let bin = binary else { throw XCTSkip("synth binary not built next to the tests; run `swift build --build-tests`") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        var e = ProcessInfo.processInfo.environment
        e["SYNTH_VOICES"] = nil
        e["SYNTH"] = bin.path
        p.environment = e
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box(), done = DispatchSemaphore(value: 0)
        Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        p.waitUntilExit()
        return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// The one JSON object a `--json` run printed on stdout.
    static func json(_ r: RunResult, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "stdout must hold one JSON object: \(r.stdout)", file: file, line: line)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return try XCTUnwrap(obj, "not a JSON object: \(r.stdout)", file: file, line: line)
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

/// A run whose standard output is binary.
struct BinaryResult {
    var status: Int32
    var stdout: Data
    var stderr: String
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

extension XCTestCase {
    /// Asserts a failed run: non-zero exit, a one-line error mentioning `needle`, and no output file.
    func assertFails(_ r: RunResult, _ needle: String, output: URL? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "expected failure, stderr: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty && !$0.hasPrefix("Usage:") && !$0.hasPrefix("  See") }
        XCTAssertEqual(lines.count, 1, "expected one error line, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "stderr lacks '\(needle)': \(r.stderr)", file: file, line: line)
        if let output { XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "partial output left", file: file, line: line) }
    }
}
