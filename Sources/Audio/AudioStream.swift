// Reading audio block by block: libsndfile decoding, mono mix-down and libsamplerate's streaming resampler, so memory
// does not grow with the length of the input; and a spool that turns stdin or a pipe into a file libsndfile can read.
import CSampleRate
import CSndFile
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The mono samples of an audio file at a chosen sample rate, one block at a time (`next()`).
///
/// Each block of the file (`blockFrames` frames) is mixed to mono by averaging its channels and, when the file's rate
/// differs, fed to libsamplerate's `SRC_SINC_MEDIUM_QUALITY` converter in streaming mode. The whole stream is
/// `ceil(frames * sampleRate / fileRate)` samples long (the length `librosa.resample` gives), zero-padded or cut at
/// the end to that; without resampling it is the file's frames. `AudioIO.readMono` is this stream concatenated, so a
/// command that streams and one that reads whole files see the same samples.
public final class MonoAudioStream {
    public let path: String
    /// The file's sample rate and channel count.
    public let fileRate: Int
    public let channels: Int
    /// The rate of the samples `next()` returns, in Hz.
    public let sampleRate: Int
    /// The frame count the file's header reports (approximate for some containers).
    public let reportedFrames: Int
    let handle: OpaquePointer
    var converter: OpaquePointer?
    let blockFrames: Int
    var interleaved: [Float]
    var pending: [Float] = []       // mono input not yet consumed by the converter
    var framesRead = 0
    var emitted = 0
    var endOfFile = false
    var finished = false

    /// The stream's length as the header predicts it (exact once the file is read: see `next()`).
    public var expectedCount: Int {
        fileRate == sampleRate ? reportedFrames : Int((Double(reportedFrames) * Double(sampleRate) / Double(fileRate)).rounded(.up))
    }

    /// Opens `url` (any format libsndfile reads from a file; see `SpooledInput` for pipes) to be read at
    /// `sampleRate` Hz (nil: the file's own rate).
    /// - Throws: `AudioError.fileNotFound`, `.unreadable` (with libsndfile's message, or "is a directory"),
    ///   `.invalidArgument` if `sampleRate <= 0`, `.resampleFailed` if libsamplerate cannot start.
    public init(url: URL, sampleRate requested: Int?, blockFrames: Int = 16384) throws {
        path = url.path
        if let sampleRate = requested, sampleRate <= 0 {
            throw AudioError.invalidArgument(path: path, reason: "target sample rate must be positive, got \(sampleRate)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw AudioError.fileNotFound(path: path) }
        if isDir.boolValue { throw AudioError.unreadable(path: path, reason: "is a directory") }
        var info = SF_INFO()
        guard let h = sf_open(path, Int32(SFM_READ), &info) else {
            throw AudioError.unreadable(path: path, reason: String(cString: sf_strerror(nil)))
        }
        guard info.channels >= 1, info.samplerate > 0 else {
            sf_close(h)
            throw AudioError.unreadable(path: path, reason: "invalid header (channels \(info.channels), rate \(info.samplerate))")
        }
        handle = h
        fileRate = Int(info.samplerate)
        channels = Int(info.channels)
        reportedFrames = max(0, Int(info.frames))
        let sampleRate = requested ?? fileRate
        self.sampleRate = sampleRate
        self.blockFrames = blockFrames
        interleaved = [Float](repeating: 0, count: blockFrames * channels)
        if fileRate != sampleRate {
            var error: Int32 = 0
            converter = src_new(Int32(SRC_SINC_MEDIUM_QUALITY), 1, &error)
            if converter == nil {
                sf_close(h)
                throw AudioError.resampleFailed(path: path, fromRate: fileRate, toRate: sampleRate, reason: String(cString: src_strerror(error)))
            }
        }
    }

    deinit {
        sf_close(handle)
        if let converter { src_delete(converter) }
    }

    /// Reads one block of the file, mixed to mono. Nil at the end of the file.
    func readBlock() throws -> [Float]? {
        let got = interleaved.withUnsafeMutableBufferPointer { sf_readf_float(handle, $0.baseAddress, sf_count_t(blockFrames)) }
        if got <= 0 {
            if got == 0, sf_error(handle) != 0 { throw AudioError.unreadable(path: path, reason: String(cString: sf_strerror(handle))) }
            return nil
        }
        let n = Int(got), C = channels
        var mono = [Float](repeating: 0, count: n)
        interleaved.withUnsafeBufferPointer { s in
            if C == 1 {
                for f in 0..<n { mono[f] = s[f] }
            } else {
                let scale = 1 / Float(C)
                for f in 0..<n {
                    var acc: Float = 0
                    for c in 0..<C { acc += s[f * C + c] }
                    mono[f] = acc * scale
                }
            }
        }
        if let bad = mono.firstIndex(where: { !$0.isFinite }) {
            throw AudioError.nonFiniteSamples(path: path, frame: framesRead + bad, sampleRate: fileRate)
        }
        framesRead += n
        return mono
    }

    /// The next block of mono samples at `sampleRate` (up to about `blockFrames` of them), or nil at the end.
    /// - Throws: `AudioError.unreadable` for a decoding error, `.empty` for a file of 0 frames,
    ///   `.nonFiniteSamples` at the first NaN or infinite sample, `.resampleFailed` with libsamplerate's message.
    public func next() throws -> [Float]? {
        if finished { return nil }
        guard let converter else {
            if let block = try readBlock() { emitted += block.count; return block }
            finished = true
            if framesRead == 0 { throw AudioError.empty(path: path) }
            return nil
        }
        let ratio = Double(sampleRate) / Double(fileRate)
        var out = [Float](repeating: 0, count: Int(Double(blockFrames) * ratio) + 64)
        while true {
            if !endOfFile && pending.count < blockFrames {
                if let block = try readBlock() { pending += block } else { endOfFile = true }
            }
            if endOfFile && framesRead == 0 { finished = true; throw AudioError.empty(path: path) }
            var used = 0, produced = 0
            let status = sampleRateConversion(pending, into: &out, ratio: ratio, endOfInput: endOfFile) { data in
                let rc = src_process(converter, &data)
                used = Int(data.input_frames_used)
                produced = Int(data.output_frames_gen)
                return rc
            }
            if status != 0 {
                throw AudioError.resampleFailed(path: path, fromRate: fileRate, toRate: sampleRate, reason: String(cString: src_strerror(status)))
            }
            pending.removeFirst(used)
            if endOfFile {
                // The stream ends at ceil(frames * ratio) samples: cut what goes beyond, pad what falls short.
                let total = Int((Double(framesRead) * ratio).rounded(.up))
                if produced == 0 && used > 0 { continue }
                if produced > 0 && emitted < total {
                    let keep = min(produced, total - emitted)
                    emitted += keep
                    return Array(out[0..<keep])
                }
                finished = true
                if emitted < total {
                    let pad = total - emitted
                    emitted = total
                    return [Float](repeating: 0, count: pad)
                }
                return nil
            }
            if produced > 0 {
                emitted += produced
                return Array(out[0..<produced])
            }
        }
    }
}

/// An input made readable by libsndfile: a regular file as it is, or standard input, a pipe or a device copied to a
/// temporary file first (libsndfile cannot read FLAC, for one, from a pipe). The copy is made block by block and
/// removed when this object goes away. A copy of a `.npy` (by its magic bytes) is named `.npy`.
public final class SpooledInput {
    /// The file to read.
    public let url: URL
    /// True when `url` is a temporary copy.
    public let isCopy: Bool

    /// The paths that name standard input.
    public static let standardInputPaths: Set<String> = ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"]

    /// - Parameter url: the input; `/dev/stdin` reads descriptor 0.
    /// - Throws: `AudioError.fileNotFound` for a missing path, `.unreadable` if standard input is a terminal or the
    ///   copy fails.
    public init(_ url: URL, temporaryDirectory: URL = FileManager.default.temporaryDirectory) throws {
        let path = url.standardizedFileURL.path
        let fd: Int32
        if SpooledInput.standardInputPaths.contains(path) {
            if isatty(0) != 0 {
                throw AudioError.unreadable(path: "-", reason: "standard input is a terminal; pipe audio into it, e.g. `cat speech.flac | synth ...`")
            }
            fd = dup(0)
        } else {
            var st = stat()
            guard stat(path, &st) == 0 else { throw AudioError.fileNotFound(path: url.path) }
            let kind = st.st_mode & S_IFMT
            if kind == S_IFREG || kind == S_IFDIR {
                self.url = url
                isCopy = false
                return
            }
            fd = open(path, O_RDONLY | O_CLOEXEC)
        }
        guard fd >= 0 else { throw AudioError.unreadable(path: url.path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let temp = temporaryDirectory.appendingPathComponent("synth-input-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let out = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw AudioError.unreadable(path: url.path, reason: "cannot create \(temp.path): \(String(cString: strerror(errno)))") }
        var head = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var failure: String?
        while failure == nil {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; failure = String(cString: strerror(errno)); break }
            if n == 0 { break }
            if head.count < 6 { head += buffer[0..<min(n, 6 - head.count)] }
            do { try buffer.withUnsafeBytes { try AtomicFile.writeAll(fd: out, $0.baseAddress, count: n, path: temp.path) } } catch {
                failure = "\(error)"
            }
        }
        close(out)
        if let failure {
            unlink(temp.path)
            throw AudioError.unreadable(path: url.path, reason: "copying it to a temporary file failed: \(failure)")
        }
        var named = temp
        if head == [0x93] + Array("NUMPY".utf8) {
            named = temp.appendingPathExtension("npy")
            rename(temp.path, named.path)
        }
        self.url = named
        isCopy = true
    }

    deinit {
        if isCopy { unlink(url.path) }
    }
}
