// Typed errors for audio and file I/O in the Audio module; each message is one user-facing line naming the path.
import Foundation
@_exported import AtomicIO

/// Errors thrown by `AudioIO` and `NPY`.
public enum AudioError: Error, CustomStringConvertible, Equatable {
    /// The input path does not exist.
    case fileNotFound(path: String)
    /// libsndfile could not open or decode the file; `reason` is libsndfile's `sf_strerror` text.
    case unreadable(path: String, reason: String)
    /// The file decoded fine but holds 0 frames.
    case empty(path: String)
    /// The destination (or its temporary sibling) could not be created, written, synced or renamed.
    case unwritable(path: String, reason: String)
    /// libsamplerate failed while converting `path` between the given rates.
    case resampleFailed(path: String, fromRate: Int, toRate: Int, reason: String)
    /// A caller passed a value the function cannot work with (e.g. a non-positive sample rate).
    case invalidArgument(path: String, reason: String)
    /// The file decodes to a NaN or infinite sample (first at `frame`, at the file's `sampleRate`).
    case nonFiniteSamples(path: String, frame: Int, sampleRate: Int)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): audio file not found"
        case .unreadable(let path, let reason):
            return "\(path): cannot read audio file (libsndfile: \(reason))"
        case .empty(let path):
            return "\(path): audio file contains no samples (0 frames)"
        case .unwritable(let path, let reason):
            return "\(path): cannot write file (\(reason))"
        case .resampleFailed(let path, let from, let to, let reason):
            return "\(path): resampling from \(from) Hz to \(to) Hz failed (libsamplerate: \(reason))"
        case .invalidArgument(let path, let reason):
            return "\(path): \(reason)"
        case .nonFiniteSamples(let path, let frame, let rate):
            return String(format: "%@: audio holds NaN or infinite samples (the first at %.3f s, sample %d); nothing was computed from it",
                          path, Double(frame) / Double(max(rate, 1)), frame)
        }
    }
}


/// Runs an atomic write, reporting its failure as `AudioError.unwritable`.
func writingAtomically<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as AtomicFile.WriteError {
        throw AudioError.unwritable(path: e.path, reason: e.reason)
    }
}
