// The DC blocker against its closed-form frequency response, on a constant and in blocks.
import DSP
import Foundation
import XCTest

final class DCBlockerTests: XCTestCase {
    /// A constant decays to nothing; a sine's steady-state amplitude equals the closed-form gain
    /// `|1 - e^(-iw)| / |1 - r e^(-iw)|` (within 1e-3), about -3 dB near the corner and within 0.2 dB at 5x it.
    func testResponseMatchesTheClosedForm() {
        let sr = 16000, fc = 20.0
        var dc = DCBlocker(cutoffHz: fc, sampleRate: sr)
        XCTAssertEqual(Double(dc.pole), exp(-2 * Double.pi * fc / Double(sr)), accuracy: 1e-7)
        var y: Float = 0
        for _ in 0..<8000 { y = dc.process(0.5) }
        XCTAssertLessThan(abs(y), 1e-3)
        let r = Double(dc.pole)
        for hz in [20.0, 100.0, 1000.0] {
            var f = DCBlocker(cutoffHz: fc, sampleRate: sr)
            let w = 2 * Double.pi * hz / Double(sr)
            var peak = 0.0
            for t in 0..<32000 {
                let out = Double(f.process(Float(sin(w * Double(t)))))
                if t >= 16000 { peak = max(peak, abs(out)) }
            }
            let num = hypot(1 - cos(w), sin(w)), den = hypot(1 - r * cos(w), r * sin(w))
            XCTAssertEqual(peak, num / den, accuracy: 1e-3, "\(hz) Hz")
            if hz == 20 { XCTAssertEqual(20 * log10(peak), -3, accuracy: 0.2) }
            if hz == 100 { XCTAssertGreaterThan(20 * log10(peak), -0.2) }
        }
    }

    /// Filtering in blocks continues the state: the same samples as filtering the whole signal.
    func testBlocksEqualTheWhole() {
        let x = (0..<1000).map { Float(sin(Double($0) * 0.01)) + 0.3 }
        var whole = DCBlocker(cutoffHz: 15, sampleRate: 16000), blocks = whole
        let a = x.map { whole.process($0) }
        var b = x
        b.withUnsafeMutableBufferPointer { p in
            blocks.process(UnsafeMutableBufferPointer(rebasing: p[0..<333]))
            blocks.process(UnsafeMutableBufferPointer(rebasing: p[333..<1000]))
        }
        XCTAssertEqual(a, b)
    }
}
