// Crash-safe folder writes: the files go into a fresh sibling folder, which then takes the destination's place at once.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes whole folders (a model folder: config.json, model.safetensors and its extras) so that readers see the old
/// folder or the complete new one, never a mix of the two.
///
/// The files are written (each with `AtomicFile`, so each is fsync'ed) into a hidden sibling folder
/// (`.<name>.tmp-<pid>-<random>`), which then replaces the destination: by `rename(2)` when the destination does not
/// exist, otherwise by exchanging the two in one step (Linux `renameat2(RENAME_EXCHANGE)`, macOS
/// `renamex_np(RENAME_SWAP)`), after which the old folder, now at the sibling's name, is removed. Where the exchange
/// is not available the old folder is moved aside first, so for a moment the destination is missing (never mixed).
/// The whole folder is replaced: files in the old one that are not written are gone.
public enum AtomicDirectory {
    /// Writes `files` (name, bytes) as the content of folder `url`, creating its parent folders if needed.
    /// - Throws: `AtomicFile.WriteError` naming the folder or file that could not be written.
    public static func write(_ files: [(name: String, data: Data)], to url: URL) throws {
        let dest = url.standardizedFileURL
        let parent = dest.deletingLastPathComponent()
        let fm = FileManager.default
        do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw AtomicFile.WriteError(path: url.path, reason: "cannot create folder \(parent.path)")
        }
        let staged = parent.appendingPathComponent(".\(dest.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard mkdir(staged.path, 0o755) == 0 else {
            throw AtomicFile.WriteError(path: url.path, reason: "cannot create a temporary folder in \(parent.path): \(errnoDescription())")
        }
        var committed = false
        defer { if !committed { try? fm.removeItem(at: staged) } }
        for f in files { try AtomicFile.write(f.data, to: staged.appendingPathComponent(f.name)) }
        var isDir: ObjCBool = false
        if !fm.fileExists(atPath: dest.path, isDirectory: &isDir) {
            guard rename(staged.path, dest.path) == 0 else {
                throw AtomicFile.WriteError(path: url.path, reason: "rename failed: \(errnoDescription())")
            }
        } else {
            guard isDir.boolValue else { throw AtomicFile.WriteError(path: url.path, reason: "it is a file, not a folder") }
            try replace(dest, with: staged)
            try? fm.removeItem(at: staged)  // the old folder, swapped into the staged name
        }
        committed = true
        let dfd = open(parent.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Puts `staged` in `dest`'s place and `dest`'s old folder at `staged`'s name.
    static func replace(_ dest: URL, with staged: URL) throws {
        if exchange(staged.path, dest.path) { return }
        // No atomic exchange: move the old folder aside, then the new one in.
        let aside = staged.path + ".old"
        guard rename(dest.path, aside) == 0 else {
            throw AtomicFile.WriteError(path: dest.path, reason: "rename failed: \(errnoDescription())")
        }
        guard rename(staged.path, dest.path) == 0 else {
            let reason = errnoDescription()
            _ = rename(aside, dest.path)
            throw AtomicFile.WriteError(path: dest.path, reason: "rename failed: \(reason)")
        }
        _ = rename(aside, staged.path)
    }

    #if os(Linux)
    /// `renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)`, looked up at run time (Glibc's module map does not
    /// export it); false when the C library or the file system does not offer it.
    static func exchange(_ a: String, _ b: String) -> Bool {
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return false }
        let renameat2 = unsafeBitCast(sym, to: RenameAt2.self)
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, 1 << 1 /* RENAME_EXCHANGE */) == 0
    }
    #elseif canImport(Darwin)
    static func exchange(_ a: String, _ b: String) -> Bool { renamex_np(a, b, UInt32(RENAME_SWAP)) == 0 }
    #else
    static func exchange(_ a: String, _ b: String) -> Bool { false }
    #endif
}
