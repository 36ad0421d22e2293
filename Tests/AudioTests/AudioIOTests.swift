// Tests for AudioIO reading (WAV, WAVEX, FLAC, OGG, resampling) and atomic WAV/file writing.
import Foundation
import XCTest
@testable import Audio

func fixture(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
}

func makeTempDir() throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("AudioTests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

func dirListing(_ dir: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
}

/// Max |x[i] - ref(i)| over `range`.
func maxError(_ x: [Float], _ range: Range<Int>, _ ref: (Int) -> Double) -> Double {
    range.map { abs(Double(x[$0]) - ref($0)) }.max() ?? 0
}

final class AudioIOTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws { tmp = try makeTempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func testWriteReadRoundTripWithin1LSB() throws {
        var x = (0..<4000).map { Float(sin(Double($0) * 0.01) * 0.9) }
        x += [1.0, -1.0, 0.0, 0.5, -0.5, 1.0 / 32768, 0.99999]
        let url = tmp.appendingPathComponent("rt.wav")
        try AudioIO.writeWAV(x, sampleRate: 16000, to: url)
        let buf = try AudioIO.read(url)
        XCTAssertEqual(buf.sampleRate, 16000)
        XCTAssertEqual(buf.channels, 1)
        XCTAssertEqual(buf.samples.count, x.count)
        let err = zip(x, buf.samples).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(err, 1.0 / 32768, "max round-trip error \(err)")
        XCTAssertEqual(try dirListing(tmp), ["rt.wav"])
    }

    func testWriteClipsAndHandlesNaN() throws {
        let url = tmp.appendingPathComponent("clip.wav")
        try AudioIO.writeWAV([1.5, -1.5, .infinity, -.infinity, .nan], sampleRate: 8000, to: url)
        let s = try AudioIO.read(url).samples
        XCTAssertEqual(s, [32767.0 / 32768, -1, 32767.0 / 32768, -1, 0])
    }

    func testStereo44k1ToMono16k() throws {
        let buf = try AudioIO.read(fixture("stereo_44k1_1khz.wav"))
        XCTAssertEqual(buf.channels, 2)
        XCTAssertEqual(buf.sampleRate, 44100)
        XCTAssertEqual(buf.frameCount, 2205)
        XCTAssertEqual(Double(buf.samples[2 * 10]), 0.5 * sin(2 * .pi * 1000 * 10 / 44100), accuracy: 1e-4)
        XCTAssertEqual(Double(buf.samples[2 * 10 + 1]), 0.3 * sin(2 * .pi * 1000 * 10 / 44100), accuracy: 1e-4)

        let mono = try AudioIO.readMono(fixture("stereo_44k1_1khz.wav"), sampleRate: 16000)
        XCTAssertEqual(mono.count, 800) // ceil(2205 * 16000 / 44100)
        // Mono mix is a 0.4-amplitude 1 kHz sine; skip the resampler's edge transients.
        let err = maxError(mono, 64..<736) { 0.4 * sin(2 * .pi * 1000 * Double($0) / 16000) }
        XCTAssertLessThan(err, 2e-3, "max deviation from 0.4*sin(2π·1kHz·t): \(err)")
    }

    func testReadMonoWithoutResampling() throws {
        let mono = try AudioIO.readMono(fixture("wavex_16k_stereo.wav"), sampleRate: 16000)
        XCTAssertEqual(mono.count, 400)
        let err = maxError(mono, 0..<400) { 0.5 * sin(2 * .pi * 500 * Double($0) / 16000) }
        XCTAssertLessThan(err, 1e-4, "WAVEX mono mix error \(err)")
    }

    func testFLAC() throws {
        let buf = try AudioIO.read(fixture("mono_16k_440hz.flac"))
        XCTAssertEqual(buf.sampleRate, 16000)
        XCTAssertEqual(buf.channels, 1)
        XCTAssertEqual(buf.frameCount, 800)
        let err = maxError(buf.samples, 0..<800) { 0.6 * sin(2 * .pi * 440 * Double($0) / 16000) }
        XCTAssertLessThan(err, 1e-4, "FLAC error \(err)")
    }

    func testOggVorbis() throws {
        let buf = try AudioIO.read(fixture("mono_22k05_1khz.ogg"))
        XCTAssertEqual(buf.sampleRate, 22050)
        XCTAssertEqual(buf.channels, 1)
        XCTAssertEqual(buf.frameCount, 5512)
        let mono = try AudioIO.readMono(fixture("mono_22k05_1khz.ogg"), sampleRate: 16000)
        XCTAssertEqual(mono.count, 4000) // ceil(5512 * 16000 / 22050)
        let peak = mono[500..<3500].map { abs($0) }.max()!
        XCTAssertEqual(peak, 0.5, accuracy: 0.05) // lossy codec: loose
    }

    /// `read(data:path:)` (libsndfile's virtual I/O, what FuzzAudio drives) decodes exactly as reading the file does.
    func testReadingFromMemoryEqualsReadingTheFile() throws {
        for name in ["stereo_44k1_1khz.wav", "wavex_16k_stereo.wav", "mono_16k_440hz.flac", "mono_22k05_1khz.ogg"] {
            let url = fixture(name)
            XCTAssertEqual(try AudioIO.read(data: Data(contentsOf: url), path: name), try AudioIO.read(url), name)
        }
        XCTAssertThrowsError(try AudioIO.read(data: Data(), path: "empty")) { XCTAssertEqual("\($0)", "empty: cannot read audio file (libsndfile: Format not recognised.)") }
    }

    /// A WAV header may claim any number of frames: the count is only a hint, what decodes is what the file holds.
    func testAHeaderClaimingBillionsOfFramesReadsWhatIsThere() throws {
        var wav = try Data(contentsOf: fixture("wavex_16k_stereo.wav"))
        guard let data = wav.range(of: Data("data".utf8)) else { return XCTFail("no data chunk") }
        wav.replaceSubrange(data.upperBound..<(data.upperBound + 4), with: [0xF0, 0xFF, 0xFF, 0xFF])  // 4 GB of frames
        let url = tmp.appendingPathComponent("claims.wav")
        try wav.write(to: url)
        let buf = try AudioIO.read(url)
        XCTAssertEqual(buf.frameCount, 400)
        XCTAssertEqual(buf.samples, try AudioIO.read(fixture("wavex_16k_stereo.wav")).samples)
    }

    /// Conversion factors outside libsamplerate's 1/256...256 are refused before the output is allocated.
    func testResamplingFactorsAreBounded() {
        XCTAssertThrowsError(try AudioIO.resample([0, 1, 0], from: 1, to: 16000, path: "x.wav")) {
            XCTAssertEqual("\($0)", "x.wav: resampling from 1 Hz to 16000 Hz failed (libsamplerate: conversion factor 16000.0 outside 1/256...256)")
        }
        XCTAssertEqual(try AudioIO.resample([Float](repeating: 0.5, count: 10), from: 16000, to: 4_096_000).count, 2560)
    }

    func testMissingFile() {
        let url = tmp.appendingPathComponent("nope.wav")
        XCTAssertThrowsError(try AudioIO.read(url)) { e in
            XCTAssertEqual(e as? AudioError, .fileNotFound(path: url.path))
            XCTAssertTrue("\(e)".contains("nope.wav"))
        }
    }

    func testCorruptFile() throws {
        let url = tmp.appendingPathComponent("garbage.wav")
        var rng = SystemRandomNumberGenerator()
        try Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(to: url)
        XCTAssertThrowsError(try AudioIO.read(url)) { e in
            guard case .unreadable(let path, let reason)? = e as? AudioError else { return XCTFail("got \(e)") }
            XCTAssertEqual(path, url.path)
            XCTAssertFalse(reason.isEmpty)
            XCTAssertTrue("\(e)".contains("libsndfile"), "\(e)")
        }
        let zero = tmp.appendingPathComponent("zero.wav")
        try Data().write(to: zero)
        XCTAssertThrowsError(try AudioIO.read(zero)) { e in
            guard case .unreadable? = e as? AudioError else { return XCTFail("got \(e)") }
        }
    }

    func testEmptyFile() {
        let url = fixture("empty.wav")
        XCTAssertThrowsError(try AudioIO.readMono(url, sampleRate: 16000)) { e in
            XCTAssertEqual(e as? AudioError, .empty(path: url.path))
        }
    }

    func testUnwritableDestination() {
        let url = tmp.appendingPathComponent("missing-dir/out.wav")
        XCTAssertThrowsError(try AudioIO.writeWAV([0, 0.1], sampleRate: 16000, to: url)) { e in
            guard case .unwritable(let path, _)? = e as? AudioError else { return XCTFail("got \(e)") }
            XCTAssertEqual(path, url.path)
        }
    }

    func testAtomicWriteReplacesAndLeavesNoTempFiles() throws {
        let url = tmp.appendingPathComponent("data.bin")
        try AtomicFile.write(Data("old".utf8), to: url)
        try AtomicFile.write(Data("new content".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("new content".utf8))
        XCTAssertEqual(try dirListing(tmp), ["data.bin"])
    }

    func testInterruptedWriteKeepsOldDestinationAndRemovesTemp() throws {
        struct Boom: Error {}
        let url = tmp.appendingPathComponent("keep.wav")
        try AudioIO.writeWAV([0.25, -0.25], sampleRate: 16000, to: url)
        let before = try Data(contentsOf: url)
        var sawTemp = false
        XCTAssertThrowsError(try AtomicFile.write(to: url) { fd, tempPath in
            _ = "partial".withCString { Glibc.write(fd, $0, 7) }
            sawTemp = FileManager.default.fileExists(atPath: tempPath)
            XCTAssertTrue(URL(fileURLWithPath: tempPath).lastPathComponent.hasPrefix(".keep.wav.tmp-"))
            throw Boom()
        }) { e in XCTAssertTrue(e is Boom) }
        XCTAssertTrue(sawTemp)
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try dirListing(tmp), ["keep.wav"])
    }

    func testRenameFailureRemovesTemp() throws {
        // Destination is a non-empty directory: rename(2) fails, the temp file must vanish.
        let url = tmp.appendingPathComponent("out.wav")
        try FileManager.default.createDirectory(at: url.appendingPathComponent("x"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try AudioIO.writeWAV([0.1], sampleRate: 16000, to: url)) { e in
            guard case .unwritable? = e as? AudioError else { return XCTFail("got \(e)") }
        }
        XCTAssertEqual(try dirListing(tmp), ["out.wav"])
    }
}
