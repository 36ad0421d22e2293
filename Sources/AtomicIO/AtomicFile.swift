// Crash-safe file writes: write a temp sibling, fsync, rename(2) over the destination, remove the temp on failure.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that readers see either the old content or the complete new content, never a partial file.
///
/// The data goes to a hidden temporary file in the destination's directory
/// (`.<name>.tmp-<pid>-<random>`), which is fsync'ed, closed and then `rename(2)`d over the
/// destination; the directory is fsync'ed afterwards (best effort). On any failure the
/// temporary file is removed and the destination is left untouched.
public enum AtomicFile {
    /// Why an atomic write failed: the destination and the reason (errno text).
    public struct WriteError: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let reason: String
        public var description: String { "\(path): cannot write (\(reason))" }
    }

    /// Atomically replaces (or creates) `url` with `data`.
    /// - Throws: `AtomicFile.WriteError` if the directory does not exist or is not writable,
    ///   if writing/syncing fails (e.g. disk full) or if the rename fails (e.g. `url` is a directory).
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { fd, tempPath in
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw WriteError(path: url.path, reason: "write failed: \(errnoDescription())")
                    }
                    offset += n
                }
            }
        }
    }

    /// Core of the atomic write: creates the temp file, hands its descriptor and path to `body`
    /// (which must not close it), then fsyncs, closes and renames. `body` may throw to abort;
    /// the temp file is then removed and the error rethrown unchanged.
    public static func write(to url: URL, _ body: (_ fd: Int32, _ tempPath: String) throws -> Void) throws {
        let dest = url.standardizedFileURL
        let dir = dest.deletingLastPathComponent().path
        let name = dest.lastPathComponent
        let tempPath = (dir as NSString).appendingPathComponent(
            ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")

        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw WriteError(path: url.path, reason: "cannot create temporary file in \(dir): \(errnoDescription())")
        }
        var fdOpen = true
        var committed = false
        defer {
            if fdOpen { close(fd) }
            if !committed { unlink(tempPath) }
        }
        try body(fd, tempPath)
        if fsync(fd) != 0 {
            throw WriteError(path: url.path, reason: "fsync failed: \(errnoDescription())")
        }
        fdOpen = false
        if close(fd) != 0 {
            throw WriteError(path: url.path, reason: "close failed: \(errnoDescription())")
        }
        if rename(tempPath, dest.path) != 0 {
            throw WriteError(path: url.path, reason: "rename failed: \(errnoDescription())")
        }
        committed = true
        // Persist the directory entry; failure here does not undo the (already visible) write.
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}

/// `strerror(errno)` as a Swift string.
func errnoDescription(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
