// Reading a whole input file with a size bound: regular files only, never more than the caller allows.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads input files whose size decides how much is allocated: the file must be a regular file (after following
/// symbolic links, so a `config.json` linked to `/dev/zero` or a FIFO is refused instead of read forever) and at
/// most `limit` bytes.
public enum BoundedRead {
    /// Why a file was not read. `description` is the reason only; callers prefix the path and their field.
    public enum Problem: Error, CustomStringConvertible, Equatable {
        case missing
        case notRegularFile
        case tooLarge(size: Int, limit: Int)
        case unreadable(String)

        public var description: String {
            switch self {
            case .missing: return "no such file"
            case .notRegularFile: return "not a regular file"
            case .tooLarge(let size, let limit): return "\(size) bytes, more than the \(limit) this file may hold"
            case .unreadable(let reason): return "cannot read (\(reason))"
            }
        }
    }

    /// The whole content of `url`. - Throws: `Problem`.
    public static func contents(of url: URL, limit: Int) throws -> Data {
        var st = stat()
        guard stat(url.path, &st) == 0 else {
            throw errno == ENOENT || errno == ENOTDIR ? Problem.missing : Problem.unreadable(String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw Problem.notRegularFile }
        guard Int(st.st_size) <= limit else { throw Problem.tooLarge(size: Int(st.st_size), limit: limit) }
        do {
            let h = try FileHandle(forReadingFrom: url)
            defer { try? h.close() }
            // The file may grow between stat and read: read in chunks and never keep more than the limit.
            var data = Data(capacity: Int(st.st_size))
            while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty {
                data.append(chunk)
                guard data.count <= limit else { throw Problem.tooLarge(size: data.count, limit: limit) }
            }
            return data
        } catch let p as Problem {
            throw p
        } catch {
            throw Problem.unreadable(error.localizedDescription)
        }
    }
}
