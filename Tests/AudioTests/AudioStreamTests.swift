// Tests for streaming audio: block reads equal whole-file reads, NaN refusal, output formats, pipes and devices.
import Foundation
import XCTest
@testable import Audio

final class AudioStreamTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws { tmp = try makeTempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// Reading in small blocks through the streaming resampler gives exactly what one whole-file `src_simple` call
    /// gives, and the length librosa gives.
    func testStreamInBlocksEqualsWholeFileResampling() throws {
        let url = fixture("stereo_44k1_1khz.wav")
        let whole = try AudioIO.resample(AudioIO.read(url).mono(), from: 44100, to: 16000)
        for block in [100, 1000, 65536] {
            let s = try MonoAudioStream(url: url, sampleRate: 16000, blockFrames: block)
            var out: [Float] = []
            while let b = try s.next() { out += b }
            XCTAssertEqual(out.count, 800, "ceil(2205 * 16000 / 44100)")
            let diff = zip(out, whole).map { abs($0 - $1) }.max() ?? 0
            XCTAssertEqual(diff, 0, "block \(block): largest difference \(diff)")
        }
        XCTAssertEqual(try AudioIO.readMono(url, sampleRate: 16000), whole)
    }

    func testNaNSamplesAreRefusedWithTheirTime() throws {
        var x = [Float](repeating: 0.1, count: 1600)
        x[800] = .nan
        let url = tmp.appendingPathComponent("nan.wav")
        var d = AudioWriter.wavHeader(encoding: .float, sampleRate: 16000, frames: x.count)
        x.withUnsafeBytes { d.append(contentsOf: $0) }
        try d.write(to: url)
        XCTAssertThrowsError(try AudioIO.readMono(url, sampleRate: 16000)) { e in
            XCTAssertEqual(e as? AudioError, .nonFiniteSamples(path: url.path, frame: 800, sampleRate: 16000))
            XCTAssertTrue("\(e)".contains("nan.wav: audio holds NaN or infinite samples (the first at 0.050 s, sample 800)"), "\(e)")
        }
    }

    func testEveryFormatRoundTrips() throws {
        let x = (0..<8000).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / 16000)) }
        for (name, format, tolerance) in [("a.wav", "wav16", 1.0 / 32768), ("b.wav", "pcm24", 1.0 / 8_388_608), ("c.wav", "float", 0),
                                          ("d.flac", "", 1.0 / 32768), ("e.ogg", "", 0.05), ("f.mp3", "", 0.1), ("g.aiff", "", 1.0 / 32768)] {
            let url = tmp.appendingPathComponent(name)
            let f = try AudioFileFormat.resolve(path: url.path, subtype: ["pcm24", "float"].contains(format) ? format : nil)
            try AudioIO.write(x, sampleRate: 16000, to: url, format: f)
            let y = try AudioIO.read(url)
            XCTAssertEqual(y.sampleRate, 16000, name)
            if f.encoding == .vorbis || f.encoding == .mp3 {
                // Lossy: the decoder may add priming samples; compare the level.
                let rms = { (v: [Float]) in (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot() }
                XCTAssertEqual(Double(rms(y.samples)), Double(rms(x)), accuracy: tolerance, name)
            } else {
                XCTAssertEqual(y.samples.count, x.count, name)
                let err = zip(x, y.samples).map { Double(abs($0 - $1)) }.max() ?? 1
                XCTAssertLessThanOrEqual(err, tolerance, "\(name) (\(f)): largest error \(err)")
            }
        }
        XCTAssertEqual(try dirListing(tmp), ["a.wav", "b.wav", "c.wav", "d.flac", "e.ogg", "f.mp3", "g.aiff"])
    }

    func testFormatsByExtensionAndByName() throws {
        XCTAssertEqual(try AudioFileFormat.resolve(path: "x.wav"), .wav16)
        XCTAssertEqual(try AudioFileFormat.resolve(path: "x.FLAC").container, .flac)
        XCTAssertEqual(try AudioFileFormat.resolve(path: "-"), .wav16)
        XCTAssertEqual(try AudioFileFormat.resolve(path: "/dev/stdout"), .wav16)
        XCTAssertEqual(try AudioFileFormat.resolve(path: "x.bin", format: "flac", subtype: "pcm24"), try AudioFileFormat(.flac, .pcm24))
        XCTAssertThrowsError(try AudioFileFormat.resolve(path: "out/x.m4a")) { e in
            XCTAssertEqual("\(e)", "out/x.m4a has the extension .m4a, which names no format synth writes; use one of .wav, .wave, .flac, .ogg, .oga, .mp3, .aif, .aiff or give --format")
        }
        XCTAssertThrowsError(try AudioFileFormat.resolve(path: "x.flac", subtype: "float")) { e in
            XCTAssertEqual("\(e)", "--subtype float is not available for flac; flac takes pcm16, pcm24")
        }
        XCTAssertThrowsError(try AudioFileFormat.resolve(path: "x", format: "mp4"))
    }

    /// A WAV streamed to a pipe (header written first from the announced length) has the bytes libsndfile writes
    /// to a file, for every encoding and an odd 24-bit data size (padded).
    func testWAVToAPipeEqualsTheFile() throws {
        for (encoding, frames) in [(AudioFileFormat.Encoding.pcm16, 1001), (.pcm24, 1001), (.float, 1000)] {
            let x = (0..<frames).map { Float(sin(Double($0) * 0.05) * 0.7) }
            let format = try AudioFileFormat(.wav, encoding)
            let file = tmp.appendingPathComponent("file-\(encoding).wav")
            try AudioIO.write(x, sampleRate: 22050, to: file, format: format)
            let fifo = tmp.appendingPathComponent("fifo-\(encoding)")
            XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
            let received = readInBackground(fifo)
            try AudioIO.write(x, sampleRate: 22050, to: fifo, format: format)
            XCTAssertEqual(received(), try Data(contentsOf: file), "\(encoding)")
        }
        // The FIFOs are still FIFOs (written in place, never replaced).
        var st = stat()
        XCTAssertEqual(stat(tmp.appendingPathComponent("fifo-pcm16").path, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
    }

    func testFLACAndOggGoThroughAPipe() throws {
        let x = (0..<4000).map { Float(sin(Double($0) * 0.05) * 0.5) }
        for ext in ["flac", "ogg"] {
            let fifo = tmp.appendingPathComponent("fifo-\(ext)")
            XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
            let received = readInBackground(fifo)
            try AudioIO.write(x, sampleRate: 16000, to: fifo, format: try AudioFileFormat.resolve(path: "x.\(ext)"))
            let copy = tmp.appendingPathComponent("copy.\(ext)")
            try received().write(to: copy)
            let y = try AudioIO.read(copy)
            XCTAssertEqual(y.sampleRate, 16000)
            if ext == "flac" { XCTAssertEqual(y.samples.count, 4000) }
        }
    }

    /// Devices and symlinks: /dev/null and a link to it are written in place; a link to a regular file keeps the
    /// link and replaces its target; a folder is refused.
    func testDestinationsAreClassified() throws {
        XCTAssertEqual(try OutputDestination.of(URL(fileURLWithPath: "/dev/stdout")), .standardOutput)
        XCTAssertEqual(try OutputDestination.of(URL(fileURLWithPath: "/dev/null")), .direct(URL(fileURLWithPath: "/dev/null")))
        let link = tmp.appendingPathComponent("null-link.wav")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "/dev/null")
        XCTAssertEqual(try OutputDestination.of(link), .direct(link))
        try AudioIO.writeWAV([0.1, 0.2], sampleRate: 16000, to: link)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), "/dev/null")
        try AudioIO.writeWAV([0.1, 0.2], sampleRate: 16000, to: URL(fileURLWithPath: "/dev/null"))

        let target = tmp.appendingPathComponent("target.wav")
        try Data("old".utf8).write(to: target)
        let fileLink = tmp.appendingPathComponent("file-link.wav")
        try FileManager.default.createSymbolicLink(atPath: fileLink.path, withDestinationPath: target.path)
        try AudioIO.writeWAV([0.1, 0.2], sampleRate: 16000, to: fileLink)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: fileLink.path), target.path)
        XCTAssertEqual(try AudioIO.read(target).frameCount, 2)
        XCTAssertEqual(try dirListing(tmp), ["file-link.wav", "null-link.wav", "target.wav"])
        XCTAssertThrowsError(try AudioIO.writeWAV([0.1], sampleRate: 16000, to: tmp)) { e in
            XCTAssertTrue("\(e)".contains("is a folder"), "\(e)")
        }
    }

    /// Standard input and pipes are copied to a temporary file that libsndfile can read (FLAC cannot be read from
    /// a pipe), named .npy when it holds one; the copy goes away with the object.
    func testSpoolingAPipe() throws {
        let fifo = tmp.appendingPathComponent("in-fifo")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        let flac = try Data(contentsOf: fixture("mono_16k_440hz.flac"))
        let writer = Thread { try? flac.write(to: fifo) }
        writer.start()
        var copy: URL?
        do {
            let spooled = try SpooledInput(fifo, temporaryDirectory: tmp)
            XCTAssertTrue(spooled.isCopy)
            copy = spooled.url
            XCTAssertEqual(try AudioIO.readMono(spooled.url, sampleRate: 16000), try AudioIO.readMono(fixture("mono_16k_440hz.flac"), sampleRate: 16000))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: copy!.path))
        let plain = try SpooledInput(fixture("mono_16k_440hz.flac"))
        XCTAssertFalse(plain.isCopy)
        XCTAssertThrowsError(try SpooledInput(tmp.appendingPathComponent("missing.wav")))
    }

    /// Reads a FIFO to its end on another thread; the returned closure waits for the data.
    func readInBackground(_ url: URL) -> () -> Data {
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var data = Data() }
        let box = Box()
        let t = Thread {
            if let h = FileHandle(forReadingAtPath: url.path) { box.data = h.readDataToEndOfFile() }
            done.signal()
        }
        t.start()
        return {
            done.wait()
            return box.data
        }
    }
}
