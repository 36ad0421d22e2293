// Helpers shared by the fuzz targets: the input as Data, a scratch folder, and the one-line-error check.
import Foundation

/// The fuzzer's input bytes (`data` may be nil when `size` is 0).
public func input(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Data {
    guard let data, size > 0 else { return Data() }
    return Data(bytes: data, count: size)
}

/// Every error a reader throws must be the one line the CLI prints: a crash otherwise, so libFuzzer keeps the input.
public func checkOneLine(_ error: Error, _ target: String) {
    let text = "\(error)"
    if text.isEmpty || text.contains("\n") || text.contains("\r") {
        fatalError("\(target): error is not one line: \(text.debugDescription)")
    }
}

/// A folder of this process's own under /dev/shm (or the temporary folder), created once.
public let scratch: URL = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
    let u = base.appendingPathComponent("synth-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: scratch) }
    return u
}()

/// Writes `files` (name -> bytes) into a fresh sub-folder of `scratch` and returns it.
public func folder(_ files: [String: Data]) -> URL {
    let dir = scratch.appendingPathComponent("case")
    try? FileManager.default.removeItem(at: dir)
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, bytes) in files { try? bytes.write(to: dir.appendingPathComponent(name)) }
    return dir
}

/// The folder named by `SYNTH_FUZZ_SEEDS` (set by `make fuzz` for targets that write their own seeds), if any.
public var seedFolder: URL? {
    guard let p = ProcessInfo.processInfo.environment["SYNTH_FUZZ_SEEDS"], !p.isEmpty else { return nil }
    let u = URL(fileURLWithPath: p)
    try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}
