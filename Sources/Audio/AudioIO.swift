// Reading any libsndfile-supported audio file, mono mix-down + libsamplerate resampling, and atomic 16-bit WAV writing.
import Foundation
import CSndFile
import CSampleRate
#if canImport(Glibc)
import Glibc
#endif

/// Decoded audio. `samples` holds `frames * channels` floats in [-1, 1]; for `channels > 1`
/// they are interleaved frame-major (`[frames, channels]`, row-major).
public struct AudioBuffer: Equatable {
    /// Interleaved samples, `[frames, channels]` row-major (plain mono when `channels == 1`).
    public var samples: [Float]
    /// Sample rate in Hz.
    public var sampleRate: Int
    /// Number of interleaved channels (>= 1).
    public var channels: Int

    public init(samples: [Float], sampleRate: Int, channels: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// Number of frames (samples per channel).
    public var frameCount: Int { channels > 0 ? samples.count / channels : 0 }

    /// Duration in seconds.
    public var duration: Double { sampleRate > 0 ? Double(frameCount) / Double(sampleRate) : 0 }

    /// Mono mix-down by averaging the channels; `[frames]`.
    public func mono() -> [Float] {
        if channels == 1 { return samples }
        let n = frameCount
        var out = [Float](repeating: 0, count: n)
        let scale = 1 / Float(channels)
        samples.withUnsafeBufferPointer { s in
            for f in 0..<n {
                var acc: Float = 0
                let base = f * channels
                for c in 0..<channels { acc += s[base + c] }
                out[f] = acc * scale
            }
        }
        return out
    }
}

/// Audio file input/output through libsndfile (read: WAV incl. WAVE_FORMAT_EXTENSIBLE, FLAC,
/// OGG/Vorbis, AIFF and everything else libsndfile decodes; write: 16-bit PCM mono WAV).
public enum AudioIO {
    /// Most channels a file may have (libsndfile's own limit for most formats).
    public static let maxChannels = 1024

    /// Reads the whole file at its native sample rate and channel count.
    /// Samples are floats in [-1, 1] (libsndfile's normalised float read).
    /// - Throws: `AudioError.fileNotFound` if `url` does not exist,
    ///   `AudioError.unreadable` (with libsndfile's message) if it is not a decodable audio file or its header
    ///   gives 0 or more than `maxChannels` channels or a sample rate outside 1...2^31-1,
    ///   `AudioError.empty` if it decodes to 0 frames.
    public static func read(_ url: URL) throws -> AudioBuffer {
        let path = url.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw AudioError.fileNotFound(path: path)
        }
        if isDir.boolValue { throw AudioError.unreadable(path: path, reason: "is a directory") }

        var info = SF_INFO()
        guard let handle = sf_open(path, Int32(SFM_READ), &info) else {
            throw AudioError.unreadable(path: path, reason: String(cString: sf_strerror(nil)))
        }
        defer { sf_close(handle) }
        return try decode(handle, info, path: path)
    }

    /// Reads audio file bytes held in memory, through libsndfile's virtual I/O and the same decoding as
    /// `read(_:)`; `path` only names the input in errors.
    /// - Throws: what `read(_:)` throws, except `fileNotFound`.
    public static func read(data: Data, path: String) throws -> AudioBuffer {
        let source = MemorySource(bytes: [UInt8](data))
        var io = SF_VIRTUAL_IO(
            get_filelen: { user in MemorySource.from(user).length },
            seek: { offset, whence, user in MemorySource.from(user).seek(offset, whence) },
            read: { ptr, count, user in MemorySource.from(user).read(ptr, count) },
            write: { _, _, _ in 0 },
            tell: { user in MemorySource.from(user).tell })
        var info = SF_INFO()
        let unmanaged = Unmanaged.passRetained(source)
        defer { unmanaged.release() }
        guard let handle = sf_open_virtual(&io, Int32(SFM_READ), &info, unmanaged.toOpaque()) else {
            throw AudioError.unreadable(path: path, reason: String(cString: sf_strerror(nil)))
        }
        defer { sf_close(handle) }
        return try decode(handle, info, path: path)
    }

    /// Decodes every frame of an open handle. The header's frame count is only a hint (some containers report an
    /// approximate or absurd one): samples are read in chunks until EOF, and at most 16M samples are reserved
    /// ahead of reading them.
    private static func decode(_ handle: OpaquePointer, _ info: SF_INFO, path: String) throws -> AudioBuffer {
        let channels = Int(info.channels)
        guard (1...maxChannels).contains(channels), info.samplerate > 0 else {
            throw AudioError.unreadable(path: path, reason: "invalid header (channels \(channels), rate \(info.samplerate))")
        }
        var samples: [Float] = []
        let (hint, overflow) = Int(info.frames).multipliedReportingOverflow(by: channels)
        if info.frames > 0, !overflow { samples.reserveCapacity(min(hint, 1 << 24)) }
        let chunkFrames = max(1, 65536 / channels)
        var chunk = [Float](repeating: 0, count: chunkFrames * channels)
        while true {
            let got = chunk.withUnsafeMutableBufferPointer {
                sf_readf_float(handle, $0.baseAddress, sf_count_t(chunkFrames))
            }
            if got < 0 { break }
            if got == 0 {
                let err = sf_error(handle)
                if err != 0 {
                    throw AudioError.unreadable(path: path, reason: String(cString: sf_strerror(handle)))
                }
                break
            }
            samples.append(contentsOf: chunk[0..<(min(Int(got), chunkFrames) * channels)])
        }
        if samples.isEmpty { throw AudioError.empty(path: path) }
        return AudioBuffer(samples: samples, sampleRate: Int(info.samplerate), channels: channels)
    }

    /// Reads `url`, averages all channels to mono and resamples to `sampleRate` Hz with
    /// libsamplerate (`SRC_SINC_MEDIUM_QUALITY`) when the file's rate differs.
    /// - Returns: `[n]` mono samples where `n = ceil(frames * sampleRate / fileRate)`
    ///   (the same length `librosa.resample` produces); equal to `frames` without resampling.
    /// - Throws: everything `read` throws; `AudioError.invalidArgument` if `sampleRate <= 0`;
    ///   `AudioError.resampleFailed` if libsamplerate reports an error.
    public static func readMono(_ url: URL, sampleRate: Int) throws -> [Float] {
        let stream = try MonoAudioStream(url: url, sampleRate: sampleRate)
        var out: [Float] = []
        out.reserveCapacity(stream.expectedCount)
        while let block = try stream.next() { out.append(contentsOf: block) }
        return out
    }

    /// Resamples mono `samples` from `fromRate` to `toRate` Hz with libsamplerate's
    /// `SRC_SINC_MEDIUM_QUALITY` converter. Output length is `ceil(count * toRate / fromRate)`
    /// (zero-padded at the end if the converter delivers fewer samples).
    /// - Throws: `AudioError.invalidArgument` for non-positive rates,
    ///   `AudioError.resampleFailed` with libsamplerate's message; `path` only labels the error.
    public static func resample(_ samples: [Float], from fromRate: Int, to toRate: Int, path: String = "<memory>") throws -> [Float] {
        guard fromRate > 0, toRate > 0 else {
            throw AudioError.invalidArgument(path: path, reason: "sample rates must be positive, got \(fromRate) -> \(toRate)")
        }
        if fromRate == toRate || samples.isEmpty { return samples }
        let ratio = Double(toRate) / Double(fromRate)
        // libsamplerate converts by factors in 1/256...256; checked before the output is allocated.
        guard src_is_valid_ratio(ratio) != 0 else {
            throw AudioError.resampleFailed(path: path, fromRate: fromRate, toRate: toRate,
                                            reason: "conversion factor \(ratio) outside 1/256...256")
        }
        let expected = Int((Double(samples.count) * Double(toRate) / Double(fromRate)).rounded(.up))
        var out = [Float](repeating: 0, count: expected + 16)
        var generated = 0
        let status = sampleRateConversion(samples, into: &out, ratio: ratio, endOfInput: true) { data in
            let rc = src_simple(&data, Int32(SRC_SINC_MEDIUM_QUALITY), 1)
            generated = Int(data.output_frames_gen)
            return rc
        }
        if status != 0 {
            throw AudioError.resampleFailed(path: path, fromRate: fromRate, toRate: toRate,
                                            reason: String(cString: src_strerror(status)))
        }
        if generated < expected {
            for i in generated..<expected { out[i] = 0 }
        }
        out.removeLast(out.count - expected)
        return out
    }

    /// Writes mono `samples` as a 16-bit PCM WAV file at `sampleRate` Hz, atomically
    /// (temp file in the same directory, fsync, rename; see `AtomicFile`).
    /// Samples are clipped to [-1, 1] and quantised as `round(x * 32768)` clamped to
    /// [-32768, 32767], so reading back (x / 32768) is within 1/32768 of the input; NaN is written as 0.
    /// - Throws: `AudioError.invalidArgument` if `sampleRate <= 0`;
    ///   `AudioError.unwritable` if the destination directory is missing/not writable,
    ///   libsndfile fails, or the rename fails. The destination is never left half-written.
    public static func writeWAV(_ samples: [Float], sampleRate: Int, to url: URL) throws {
        try write(samples, sampleRate: sampleRate, to: url, format: .wav16)
    }
}

/// One libsamplerate call (`convert`: `src_simple` or `src_process`) on mono `input` into `output` at `ratio`
/// (output rate / input rate), with the `SRC_DATA` it reads filled in; returns libsamplerate's status.
func sampleRateConversion(_ input: [Float], into output: inout [Float], ratio: Double, endOfInput: Bool,
                          _ convert: (inout SRC_DATA) -> Int32) -> Int32 {
    input.withUnsafeBufferPointer { inp in
        output.withUnsafeMutableBufferPointer { outp in
            var data = SRC_DATA()
            data.data_in = inp.baseAddress
            data.input_frames = inp.count
            data.data_out = outp.baseAddress
            data.output_frames = outp.count
            data.end_of_input = endOfInput ? 1 : 0
            data.src_ratio = ratio
            return convert(&data)
        }
    }
}

/// The bytes behind `AudioIO.read(data:path:)`: libsndfile's virtual I/O callbacks read from here.
private final class MemorySource {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    static func from(_ user: UnsafeMutableRawPointer?) -> MemorySource {
        Unmanaged<MemorySource>.fromOpaque(user!).takeUnretainedValue()
    }

    var length: sf_count_t { sf_count_t(bytes.count) }
    var tell: sf_count_t { sf_count_t(position) }

    /// Moves to `offset` from the start, the current position or the end; a target outside the data is refused
    /// (returns -1) and the position stays.
    func seek(_ offset: sf_count_t, _ whence: Int32) -> sf_count_t {
        let base: Int
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = position
        case SEEK_END: base = bytes.count
        default: return -1
        }
        let (target, overflow) = base.addingReportingOverflow(Int(offset))
        guard !overflow, target >= 0, target <= bytes.count else { return -1 }
        position = target
        return sf_count_t(position)
    }

    func read(_ ptr: UnsafeMutableRawPointer?, _ count: sf_count_t) -> sf_count_t {
        guard let ptr, count > 0 else { return 0 }
        let n = min(Int(count), bytes.count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { ptr.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
        position += n
        return sf_count_t(n)
    }
}
