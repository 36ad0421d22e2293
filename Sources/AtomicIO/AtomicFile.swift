// Crash-safe file writes: write a temp sibling, fsync, rename(2) over the destination, remove the temp on failure;
// devices, pipes and standard output are written in place, never replaced.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that readers see either the old content or the complete new content, never a partial file.
///
/// Only a new path or a regular file is written atomically: the data goes to a hidden temporary file in the
/// destination's directory (`.<name>.tmp-<pid>-<random>`), which is fsync'ed, closed and then `rename(2)`d over the
/// destination; the directory is fsync'ed afterwards (best effort). On any failure the temporary file is removed and
/// the destination is left untouched. A symlink to a regular file is followed: its target is replaced, the link kept.
///
/// Anything else (`OutputDestination`) is opened and written in place, because renaming over it would replace the
/// device or pipe with a regular file: a character device (`/dev/null`, a terminal), a FIFO, a socket, a symlink to
/// one, every path under `/dev` and `/proc` (so `/dev/stdout` is never replaced, even as root), and standard output
/// itself (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`), which is written through descriptor 1.
public enum AtomicFile {
    /// Why an atomic write failed: the destination and the reason (errno text).
    public struct WriteError: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let reason: String
        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
        public var description: String { "\(path): cannot write (\(reason))" }
    }

    /// Atomically replaces (or creates) `url` with `data` (written in place for a device, pipe or standard output).
    /// - Throws: `AtomicFile.WriteError` if the directory does not exist or is not writable,
    ///   if writing/syncing fails (e.g. disk full) or if the rename fails (e.g. `url` is a directory).
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { fd, _ in
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                try writeAll(fd: fd, raw.baseAddress, count: raw.count, path: url.path)
            }
        }
    }

    /// Core of the write: opens the destination (`Output.open`), hands its descriptor and the path being written
    /// (the temporary file's, or the destination's when written in place) to `body` (which must not close it),
    /// then commits. `body` may throw to abort; the temp file is then removed and the error rethrown unchanged.
    public static func write(to url: URL, _ body: (_ fd: Int32, _ tempPath: String) throws -> Void) throws {
        let out = try Output.open(url)
        do { try body(out.fd, out.writingPath) } catch {
            out.abort()
            throw error
        }
        try out.commit()
    }

    /// Writes `count` bytes from `base` to `fd`, retrying short writes and EINTR.
    /// - Throws: `WriteError` naming `path` with errno's text.
    public static func writeAll(fd: Int32, _ base: UnsafeRawPointer?, count: Int, path: String) throws {
        guard let base, count > 0 else { return }
        var offset = 0
        while offset < count {
            let n = Glibc.write(fd, base + offset, count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw WriteError(path: path, reason: "write failed: \(errnoDescription())")
            }
            offset += n
        }
    }

    /// An output opened for writing, committed when complete (`commit`) or discarded (`abort`, or on deinit).
    /// For streaming writers that cannot hand all their data to `write(to:)` in one closure.
    public final class Output {
        /// The descriptor to write to.
        public let fd: Int32
        public let destination: OutputDestination
        /// The path named by the caller (for messages).
        public let path: String
        /// The temporary file for an atomic write, else the destination's path.
        public let writingPath: String
        /// True when `fd` is a regular file (it can seek back, e.g. to finish a WAV header).
        public let isSeekable: Bool
        private var done = false

        private init(fd: Int32, destination: OutputDestination, path: String, writingPath: String) {
            self.fd = fd
            self.destination = destination
            self.path = path
            self.writingPath = writingPath
            var st = stat()
            isSeekable = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }

        /// Opens `url` for writing as `OutputDestination.of(url)` says: a temporary sibling for an atomic write,
        /// the device or pipe itself, or a duplicate of descriptor 1.
        /// - Throws: `WriteError` if the path is a folder, or the temporary file or the destination cannot be opened.
        public static func open(_ url: URL) throws -> Output {
            let dest = try OutputDestination.of(url)
            switch dest {
            case .atomic(let target):
                let dir = target.deletingLastPathComponent().path
                let tempPath = (dir as NSString).appendingPathComponent(
                    ".\(target.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                let fd = Glibc.open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                if fd < 0 {
                    throw WriteError(path: url.path, reason: "cannot create temporary file in \(dir): \(errnoDescription())")
                }
                return Output(fd: fd, destination: dest, path: url.path, writingPath: tempPath)
            case .direct(let target):
                var st = stat()
                let regular = stat(target.path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
                let fd = Glibc.open(target.path, O_WRONLY | O_CLOEXEC | (regular ? O_TRUNC : 0))
                if fd < 0 { throw WriteError(path: url.path, reason: "cannot open for writing: \(errnoDescription())") }
                return Output(fd: fd, destination: dest, path: url.path, writingPath: target.path)
            case .standardOutput:
                let fd = dup(1)
                if fd < 0 { throw WriteError(path: url.path, reason: "standard output is closed: \(errnoDescription())") }
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                return Output(fd: fd, destination: dest, path: url.path, writingPath: url.path)
            }
        }

        /// Makes the write visible: for an atomic write fsync, close and rename over the destination (then fsync the
        /// folder, best effort); otherwise close the descriptor (fsync'ed when it is a regular file).
        /// - Throws: `WriteError`; the temporary file is then removed.
        public func commit() throws {
            precondition(!done, "AtomicFile.Output committed or aborted twice")
            done = true
            switch destination {
            case .atomic(let target):
                let syncError = fsync(fd) == 0 ? nil : "fsync failed: \(errnoDescription())"
                let closeError = close(fd) == 0 ? nil : "close failed: \(errnoDescription())"
                if let reason = syncError ?? closeError {
                    unlink(writingPath)
                    throw WriteError(path: path, reason: reason)
                }
                if rename(writingPath, target.path) != 0 {
                    let reason = errnoDescription()
                    unlink(writingPath)
                    throw WriteError(path: path, reason: "rename failed: \(reason)")
                }
                // Persist the directory entry; failure here does not undo the (already visible) write.
                let dfd = Glibc.open(target.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if dfd >= 0 { _ = fsync(dfd); close(dfd) }
            case .direct, .standardOutput:
                if isSeekable { _ = fsync(fd) }
                if close(fd) != 0 { throw WriteError(path: path, reason: "close failed: \(errnoDescription())") }
            }
        }

        /// Discards the write: closes the descriptor and removes the temporary file (a device or pipe keeps what
        /// was already written to it).
        public func abort() {
            guard !done else { return }
            done = true
            close(fd)
            if case .atomic = destination { unlink(writingPath) }
        }

        deinit { abort() }
    }
}

/// How an output path is written (see `AtomicFile`).
public enum OutputDestination: Equatable, Sendable {
    /// A new path or a regular file (for a symlink to a regular file: its target), replaced atomically.
    case atomic(URL)
    /// A character device, FIFO or socket, a symlink to one, or a path under `/dev` or `/proc`: written in place.
    case direct(URL)
    /// Standard output, named `/dev/stdout`, `/dev/fd/1` or `/proc/self/fd/1`: written through descriptor 1.
    case standardOutput

    /// The paths that name standard output itself.
    public static let standardOutputPaths: Set<String> = ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]

    /// Classifies `url` without changing anything.
    /// - Throws: `AtomicFile.WriteError` when the path is a folder.
    public static func of(_ url: URL) throws -> OutputDestination {
        let path = url.standardizedFileURL.path
        if standardOutputPaths.contains(path) { return .standardOutput }
        var st = stat()
        if lstat(path, &st) != 0 {
            // A new path (or a broken symlink, replaced by a new file).
            return isUnderSystemFolder(path) ? .direct(URL(fileURLWithPath: path)) : .atomic(URL(fileURLWithPath: path))
        }
        let kind = st.st_mode & S_IFMT
        if kind == S_IFDIR { throw AtomicFile.WriteError(path: url.path, reason: "is a folder") }
        if isUnderSystemFolder(path) { return .direct(URL(fileURLWithPath: path)) }
        if kind == S_IFREG { return .atomic(URL(fileURLWithPath: path)) }
        if kind == S_IFLNK {
            var target = stat()
            guard stat(path, &target) == 0 else { return .atomic(URL(fileURLWithPath: path)) }
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath()
            switch target.st_mode & S_IFMT {
            case S_IFDIR: throw AtomicFile.WriteError(path: url.path, reason: "is a folder")
            case S_IFREG where !isUnderSystemFolder(resolved.path): return .atomic(resolved)
            default: return .direct(URL(fileURLWithPath: path))
            }
        }
        return .direct(URL(fileURLWithPath: path))
    }

    /// `/dev` and `/proc` hold devices and the kernel's views of open files, never outputs to replace.
    static func isUnderSystemFolder(_ path: String) -> Bool {
        path.hasPrefix("/dev/") || path.hasPrefix("/proc/")
    }
}

/// `strerror(errno)` as a Swift string.
func errnoDescription(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
