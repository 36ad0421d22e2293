// Mel-envelope correction against an independent numpy/librosa implementation (scripts/fixtures/mel_correction_fixtures.py),
// and its streaming, identity and floor rules.
import Foundation
import XCTest
import Audio
@testable import DSP

final class MelEnvelopeCorrectionTests: XCTestCase {
    let input = (try! NPY.read(fixture("mc_input.npy"))).data
    let target = try! NPY.read(fixture("mc_target_logmel.npy"))

    /// The log-mel distance (dB RMS of 10 log10 of the floored mel power) of `y` to `target`, as scripts/eval_vocoder.py.
    func distance(_ y: [Float]) throws -> Double {
        let logMel = try MelSpectrogram(config: .default).logMel(y)
        var s = 0.0
        for (a, b) in zip(logMel, target.data) { s += Double(a - b) * Double(a - b) }
        return 10 / log(10) * (s / Double(target.data.count)).squareRoot()
    }

    /// Three rounds on a tilted, noisy copy of a speech excerpt give numpy/librosa's waveform (float32 against
    /// float64), and take its log-mel distance to the clean excerpt's mels from 10.6 to 1.57 dB.
    func testMatchesTheNumpyImplementation() throws {
        XCTAssertEqual(target.shape, [61, 80])
        let expected = (try NPY.read(fixture("mc_expected.npy"))).data
        let out = try MelEnvelopeCorrection.apply(input, features: .default, targetLogMel: target.data, frames: 61, iterations: 3)
        XCTAssertEqual(out.count, expected.count)
        let peak = expected.map(abs).max()!
        let worst = zip(out, expected).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-4 * peak, "max |swift - numpy| = \(worst), peak \(peak)")
        XCTAssertEqual(try distance(input), 10.63, accuracy: 0.01)
        XCTAssertEqual(try distance(out), 1.572, accuracy: 0.01)
        // More rounds come closer.
        let six = try MelEnvelopeCorrection.apply(input, features: .default, targetLogMel: target.data, frames: 61, iterations: 6)
        XCTAssertLessThan(try distance(six), 1.2, "six rounds: about 1.08 dB")
    }

    /// With momentum 0.9 (the fast Griffin-Lim algorithm's), three rounds give numpy's waveform too, and come closer
    /// to the target than three plain rounds (1.37 against 1.57 dB).
    func testMomentumMatchesTheNumpyImplementation() throws {
        let expected = (try NPY.read(fixture("mc_expected_momentum.npy"))).data
        let out = try MelEnvelopeCorrection.apply(input, features: .default, targetLogMel: target.data, frames: 61, iterations: 3,
                                                  momentum: 0.9)
        XCTAssertEqual(out.count, expected.count)
        let peak = expected.map(abs).max()!
        let worst = zip(out, expected).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-4 * peak, "max |swift - numpy| = \(worst), peak \(peak)")
        XCTAssertEqual(try distance(out), 1.374, accuracy: 0.01)
        // One round has no previous round to push on from: momentum changes nothing.
        let one = try MelEnvelopeCorrection.apply(input, features: .default, targetLogMel: target.data, frames: 61, iterations: 1)
        XCTAssertEqual(try MelEnvelopeCorrection.apply(input, features: .default, targetLogMel: target.data, frames: 61, iterations: 1,
                                                       momentum: 0.9), one)
        for bad: Float in [-0.1, 1, .nan] {
            XCTAssertThrowsError(try MelEnvelopeCorrection(features: .default, targetLogMel: target.data, frames: 61, sampleCount: 10,
                                                           momentum: bad), "momentum \(bad)")
        }
    }

    /// Streamed in chunks of any size, in blocks of several sizes, the output is the whole-signal output bit for bit
    /// (with and without momentum).
    func testStreamingEqualsTheWholeSignal() throws {
        for momentum: Float in [0, 0.9] {
            try checkStreaming(momentum: momentum)
        }
    }

    func checkStreaming(momentum: Float) throws {
        let whole = try MelEnvelopeCorrection.apply(input, features: .default, targetLogMel: target.data, frames: 61, iterations: 3,
                                                    momentum: momentum)
        for (block, chunk) in [(200, 1), (800, 37), (1000, 999), (4000, 4000), (16_000, 123)] {
            var c = try MelEnvelopeCorrection(features: .default, targetLogMel: target.data, frames: 61, sampleCount: input.count,
                                              iterations: 3, momentum: momentum, blockSize: block)
            XCTAssertEqual(c.margin, 3200, "(3 + 1) x 800 samples")
            var out: [Float] = []
            var i = 0
            while i < input.count {
                let n = min(chunk, input.count - i)
                input.withUnsafeBufferPointer { c.process(UnsafeBufferPointer(rebasing: $0[i..<(i + n)]), into: &out) }
                i += n
                // Nothing is handed out before its right margin has arrived.
                XCTAssertLessThanOrEqual(out.count, max(0, i - c.margin))
            }
            c.finish(into: &out)
            XCTAssertEqual(out, whole, "block \(block), chunks of \(chunk), momentum \(momentum)")
        }
    }

    /// A signal corrected toward its own mels stays itself (the STFT round trip and gains of 1).
    func testASignalAtItsTargetIsUnchanged() throws {
        let clean = Array((try NPY.read(fixture("speech_arctic.npy"))).data.prefix(12_000))
        let out = try MelEnvelopeCorrection.apply(clean, features: .default, targetLogMel: target.data, frames: 61, iterations: 3)
        let worst = zip(out, clean).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-4, "max change \(worst)")
    }

    /// Where the target sits at the log floor, the correction only attenuates: noise against a silent target comes out
    /// quieter, never louder; frames past the target's end, and a target longer than the signal, are handled.
    func testAFlooredTargetIsNeverRaised() throws {
        var rng = SystemRandomNumberGenerator()
        let noise = (0..<8000).map { _ in Float.random(in: -1e-4...1e-4, using: &rng) }
        let frames = 41, floorLog = Float(log(FeatureConfig.default.logFloor))
        let silent = [Float](repeating: floorLog, count: frames * 80)
        let out = try MelEnvelopeCorrection.apply(noise, features: .default, targetLogMel: silent, frames: frames, iterations: 4)
        let energy = { (x: [Float]) in x.reduce(0) { $0 + Double($1 * $1) } }
        XCTAssertLessThanOrEqual(energy(out), energy(noise) * 1.0001)
        // A target of 20 frames for 41 frames of signal: the last 21 frames' samples are left as they were.
        let short = try MelEnvelopeCorrection.apply(noise, features: .default, targetLogMel: Array(silent.prefix(20 * 80)), frames: 20,
                                                    iterations: 2)
        XCTAssertEqual(Array(short[5200...]), Array(noise[5200...]).map { $0 }, accuracy: 1e-7)
        XCTAssertThrowsError(try MelEnvelopeCorrection(features: .default, targetLogMel: [1, 2, 3], frames: 1, sampleCount: 10))
        XCTAssertThrowsError(try MelEnvelopeCorrection(features: .default, targetLogMel: silent, frames: frames, sampleCount: 10, iterations: 0))
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst, accuracy, "max difference \(worst)", file: file, line: line)
}
