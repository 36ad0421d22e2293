// Streaming mono audio output through libsndfile: block by block into a file (atomically), a device, a pipe or stdout.
import CSndFile
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes mono audio block by block, so memory does not grow with the length of the output.
///
/// The destination is opened as `AtomicFile.Output` says: a regular file or new path goes to a temporary sibling
/// renamed by `finish()` (a failed or abandoned write leaves nothing), a device, pipe or standard output is written
/// in place. libsndfile encodes every format; a WAV header cannot be rewritten on a pipe, so there the header is
/// written first from the length given up front (`frameCount`), the same bytes libsndfile writes to a file, and the
/// samples follow as libsndfile's raw encoding of them.
///
/// Quantisation: samples are clipped to [-1, 1]; 16-bit PCM stores `round(x * 32768)` clamped to [-32768, 32767]
/// (as `AudioIO.writeWAV` always has), 24-bit `round(x * 8388608)` clamped likewise; float and the lossy encoders
/// get the clipped values. NaN is written as 0.
public final class AudioWriter {
    public let url: URL
    public let format: AudioFileFormat
    public let sampleRate: Int
    /// The length promised up front (needed for WAV on a pipe), or nil.
    public let frameCount: Int?
    public private(set) var framesWritten = 0
    let output: AtomicFile.Output
    var handle: OpaquePointer?
    var shorts: [Int16] = []
    var ints: [Int32] = []
    var floats: [Float] = []
    var finished = false

    /// Opens `url` for writing `format` at `sampleRate` Hz, mono.
    /// - Parameter frameCount: the number of frames that will be written; required for WAV to a pipe or standard
    ///   output (the header holds the length), checked by `finish()` when given.
    /// - Throws: `AudioError.invalidArgument` for a bad rate, `AudioError.unwritable` when the destination cannot be
    ///   opened, or libsndfile refuses it (AIFF to a pipe, WAV to a pipe without `frameCount`).
    public init(url: URL, format: AudioFileFormat, sampleRate: Int, frameCount: Int? = nil) throws {
        guard sampleRate > 0, sampleRate <= Int(Int32.max) else {
            throw AudioError.invalidArgument(path: url.path, reason: "sample rate must be positive, got \(sampleRate)")
        }
        self.url = url
        self.format = format
        self.sampleRate = sampleRate
        self.frameCount = frameCount
        output = try writingAtomically { try AtomicFile.Output.open(url) }
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = 1
        info.format = format.sndfileFormat
        if !output.isSeekable && format.container == .wav {
            guard let n = frameCount else {
                throw AudioError.unwritable(path: url.path, reason: "a WAV written to a pipe needs its length before the first sample")
            }
            let header = AudioWriter.wavHeader(encoding: format.encoding, sampleRate: sampleRate, frames: n)
            try writingAtomically {
                try header.withUnsafeBytes { try AtomicFile.writeAll(fd: output.fd, $0.baseAddress, count: $0.count, path: url.path) }
            }
            info.format = Int32(SF_FORMAT_RAW | SF_ENDIAN_LITTLE) | (format.sndfileFormat & Int32(SF_FORMAT_SUBMASK))
        } else if !output.isSeekable && format.container == .aiff {
            throw AudioError.unwritable(path: url.path, reason: "libsndfile cannot write AIFF to a pipe; use WAV, FLAC or Ogg there")
        }
        guard let h = sf_open_fd(output.fd, Int32(SFM_WRITE), &info, 0) else {
            throw AudioError.unwritable(path: url.path, reason: "libsndfile: \(String(cString: sf_strerror(nil)))")
        }
        handle = h
        if format.encoding == .float {
            // No PEAK chunk: its maximum is not known before the end, and on a pipe the header is already written.
            sf_command(h, Int32(SFC_SET_ADD_PEAK_CHUNK), nil, Int32(SF_FALSE))
        }
    }

    deinit {
        if !finished {
            if let handle { sf_close(handle) }
            output.abort()
        }
    }

    /// Appends `samples` (mono, nominally in [-1, 1]).
    /// - Throws: `AudioError.unwritable` with libsndfile's reason (disk full, closed pipe...).
    public func write(_ samples: UnsafeBufferPointer<Float>) throws {
        guard let h = handle, !samples.isEmpty else { return }
        let n = samples.count
        let written: sf_count_t
        switch format.encoding {
        case .pcm16:
            if shorts.count < n { shorts = [Int16](repeating: 0, count: n) }
            for i in 0..<n {
                let x = samples[i]
                shorts[i] = x.isNaN ? 0 : Int16(min(max((min(max(x, -1), 1) * 32768).rounded(), -32768), 32767))
            }
            written = shorts.withUnsafeBufferPointer { sf_writef_short(h, $0.baseAddress, sf_count_t(n)) }
        case .pcm24:
            // libsndfile's int input is 32-bit; a 24-bit file keeps its top 24 bits.
            if ints.count < n { ints = [Int32](repeating: 0, count: n) }
            for i in 0..<n {
                let x = samples[i]
                let v = x.isNaN ? 0 : Int32(min(max((min(max(x, -1), 1) * 8_388_608).rounded(), -8_388_608), 8_388_607))
                ints[i] = v << 8
            }
            written = ints.withUnsafeBufferPointer { sf_writef_int(h, $0.baseAddress, sf_count_t(n)) }
        case .float, .vorbis, .mp3:
            if floats.count < n { floats = [Float](repeating: 0, count: n) }
            for i in 0..<n { let x = samples[i]; floats[i] = x.isNaN ? 0 : min(max(x, -1), 1) }
            written = floats.withUnsafeBufferPointer { sf_writef_float(h, $0.baseAddress, sf_count_t(n)) }
        }
        if written != sf_count_t(n) || sf_error(h) != 0 {
            let reason = sf_error(h) != 0 ? String(cString: sf_strerror(h)) : "short write (\(written) of \(n) frames)"
            throw AudioError.unwritable(path: url.path, reason: "libsndfile: \(reason)")
        }
        framesWritten += n
    }

    public func write(_ samples: [Float]) throws {
        try samples.withUnsafeBufferPointer { try write($0) }
    }

    /// Completes the file: libsndfile finishes its header, then the output is committed (renamed into place).
    /// - Throws: `AudioError.unwritable` if libsndfile or the commit fails, or fewer or more frames than
    ///   `frameCount` were written; the destination is then left as it was (a file) or incomplete (a pipe).
    public func finish() throws {
        precondition(!finished, "AudioWriter.finish called twice")
        finished = true
        guard let h = handle else { return }
        handle = nil
        let rc = sf_close(h)
        if rc != 0 {
            output.abort()
            throw AudioError.unwritable(path: url.path, reason: "libsndfile: close failed (\(rc))")
        }
        if let n = frameCount, n != framesWritten {
            output.abort()
            throw AudioError.unwritable(path: url.path, reason: "wrote \(framesWritten) frames, \(n) announced")
        }
        // An empty WAV keeps its pad byte rule: nothing to add, libsndfile or the header wrote it.
        try writingAtomically {
            if !output.isSeekable, format.container == .wav, format.encoding == .pcm24, framesWritten % 2 == 1 {
                var pad: UInt8 = 0
                try AtomicFile.writeAll(fd: output.fd, &pad, count: 1, path: url.path)
            }
            try output.commit()
        }
    }

    /// The header libsndfile writes for a mono WAV of `frames` frames (no PEAK chunk): RIFF, `fmt ` (PCM tag 1, or
    /// IEEE float tag 3 followed by `fact` and a 16-byte `PAD ` chunk), then the `data` chunk's header. The RIFF size
    /// counts the pad byte that follows odd-sized data.
    static func wavHeader(encoding: AudioFileFormat.Encoding, sampleRate: Int, frames: Int) -> Data {
        let bytesPerSample = encoding == .pcm16 ? 2 : encoding == .pcm24 ? 3 : 4
        let dataBytes = frames * bytesPerSample
        var d = Data()
        func u32(_ v: Int) { var x = UInt32(truncatingIfNeeded: v).littleEndian; withUnsafeBytes(of: &x) { d.append(contentsOf: $0) } }
        func u16(_ v: Int) { var x = UInt16(truncatingIfNeeded: v).littleEndian; withUnsafeBytes(of: &x) { d.append(contentsOf: $0) } }
        func tag(_ s: String) { d.append(contentsOf: Array(s.utf8)) }
        let isFloat = encoding == .float
        let headerBytes = isFloat ? 80 : 44
        tag("RIFF"); u32(headerBytes - 8 + dataBytes + dataBytes % 2); tag("WAVE")
        tag("fmt "); u32(16); u16(isFloat ? 3 : 1); u16(1); u32(sampleRate); u32(sampleRate * bytesPerSample)
        u16(bytesPerSample); u16(8 * bytesPerSample)
        if isFloat {
            tag("fact"); u32(4); u32(frames)
            tag("PAD "); u32(16); d.append(Data(count: 16))
        }
        tag("data"); u32(dataBytes)
        return d
    }
}

extension AudioIO {
    /// Writes mono `samples` at `sampleRate` Hz in `format` (atomically for a file; see `AudioWriter`).
    /// - Throws: `AudioError.invalidArgument` for a bad rate, `AudioError.unwritable` when the destination or
    ///   libsndfile fails; a file destination is then left untouched.
    public static func write(_ samples: [Float], sampleRate: Int, to url: URL, format: AudioFileFormat) throws {
        let w = try AudioWriter(url: url, format: format, sampleRate: sampleRate, frameCount: samples.count)
        try w.write(samples)
        try w.finish()
    }
}
