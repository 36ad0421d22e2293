// The long-term postfilter: unity gain at the harmonics of F0, (1 - g) / (1 + g) halfway between them, nothing in
// unvoiced frames, and the same output however the input is split into blocks.
import DSP
import Foundation
import XCTest

final class PitchPostfilterTests: XCTestCase {
    let sr = 16000, hop = 200

    func tone(_ hz: Double, count: Int) -> [Float] {
        (0..<count).map { Float(0.5 * sin(2 * Double.pi * hz * Double($0) / 16000)) }
    }

    func rms(_ x: ArraySlice<Float>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
    }

    /// A voiced F0 of 125 Hz (period 128 samples): its 3rd harmonic (375 Hz) passes unchanged, the tone halfway
    /// between the 3rd and 4th (437.5 Hz) is scaled by (1 - g) / (1 + g) = 0.5385 at g = 0.3 (away from the edges).
    func testGainAtAndBetweenHarmonics() {
        let n = 8000, frames = n / hop + 1
        let f0 = [Float](repeating: 125, count: frames), voiced = [Float](repeating: 1, count: frames)
        for (hz, expected) in [(375.0, 1.0), (437.5, 0.7 / 1.3)] {
            let x = tone(hz, count: n)
            let y = PitchPostfilter.apply(x, strength: 0.3, f0: f0, voicing: voiced, sampleRate: sr, hopLength: hop)
            XCTAssertEqual(y.count, n)
            XCTAssertEqual(rms(y[1000..<7000]) / rms(x[1000..<7000]), expected, accuracy: 1e-3, "\(hz) Hz")
        }
    }

    /// A fractional period is read by linear interpolation: with P = 2.5 samples (F0 = 6,400 Hz) an impulse at
    /// sample 10 gives 1 / (1 + g) there and g/4 / (1 + g) at samples 7, 8, 12 and 13 (each tap reads half of it), 0
    /// elsewhere, worked by hand from the formula.
    func testFractionalPeriodByHand() {
        var x = [Float](repeating: 0, count: 40)
        x[10] = 1
        let g: Float = 0.6, frames = 40 / hop + 1
        let y = PitchPostfilter.apply(x, strength: g, f0: [Float](repeating: 6400, count: frames),
                                      voicing: [Float](repeating: 1, count: frames), sampleRate: sr, hopLength: hop)
        var expected = [Float](repeating: 0, count: 40)
        expected[10] = 1 / (1 + g)
        for t in [7, 8, 12, 13] { expected[t] = g / 4 / (1 + g) }
        for t in 0..<40 { XCTAssertEqual(y[t], expected[t], accuracy: 1e-7, "sample \(t)") }
    }

    /// Unvoiced frames pass exactly; the output has the input's length; blocks of any size give the same samples.
    func testUnvoicedPassesAndBlocksDoNotMatter() {
        var rng = SystemRandomNumberGenerator()
        let n = 5000, frames = n / hop + 1
        let x = (0..<n).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
        let f0 = (0..<frames).map { Float(100 + 3 * $0) }
        let voiced = (0..<frames).map { $0 < 10 ? Float(0) : 1 }
        let whole = PitchPostfilter.apply(x, strength: 0.4, f0: f0, voicing: voiced, sampleRate: sr, hopLength: hop)
        XCTAssertEqual(whole.count, n)
        // Frames 0-9 are unvoiced and frame 10 (sample 2000) is the first voiced: before sample 1800 the gain is 0.
        XCTAssertEqual(Array(whole[0..<1800]), Array(x[0..<1800]))
        XCTAssertNotEqual(Array(whole[2000..<n]), Array(x[2000..<n]))
        for block in [1, 37, 401, 4000] {
            var f = PitchPostfilter(strength: 0.4, f0: f0, voicing: voiced, sampleRate: sr, hopLength: hop)
            var out: [Float] = []
            var i = 0
            while i < n {
                let m = min(block, n - i)
                x[i..<(i + m)].withUnsafeBufferPointer { f.process($0, into: &out) }
                XCTAssertEqual(out.count, max(0, i + m - f.delay), "block \(block)")
                i += m
            }
            f.finish(into: &out)
            XCTAssertEqual(out, whole, "block \(block)")
        }
    }

    /// Hostile tracks (F0 0, infinite or NaN, voicing out of range) give finite output within the input's bounds.
    func testHostileTracksStayFinite() {
        let x = tone(200, count: 2000), frames = 2000 / hop + 1
        let f0: [Float] = (0..<frames).map { [0, .infinity, .nan, -5, 1e9, 120][$0 % 6] }
        let voiced: [Float] = (0..<frames).map { [2, -1, .nan, 1, 0.5, 1][$0 % 6] }
        let y = PitchPostfilter.apply(x, strength: 1, f0: f0, voicing: voiced, sampleRate: sr, hopLength: hop)
        XCTAssertTrue(y.allSatisfy { $0.isFinite && abs($0) <= 0.5 + 1e-6 })
    }
}
