// Tests for mu-law companding and silence trimming (trim checked against librosa.effects.trim fixtures).
import Foundation
import XCTest
import Audio
@testable import DSP

final class MuLawTests: XCTestCase {
    func testFixedPoints() {
        XCTAssertEqual(MuLaw.encode(0), 128)
        XCTAssertEqual(MuLaw.encode(1), 255)
        XCTAssertEqual(MuLaw.encode(-1), 0)
        XCTAssertEqual(MuLaw.decode(255), 1, accuracy: 1e-6)
        XCTAssertEqual(MuLaw.decode(0), -1, accuracy: 1e-6)
        XCTAssertEqual(MuLaw.encode(0, classes: 2), 1) // mu = 1: (0+1)/2*1 + 0.5 = 1
    }

    func testClipping() {
        XCTAssertEqual(MuLaw.encode(1.5), 255)
        XCTAssertEqual(MuLaw.encode(-1.5), 0)
        XCTAssertEqual(MuLaw.encode(.infinity), 255)
        XCTAssertEqual(MuLaw.encode(-.infinity), 0)
        XCTAssertEqual(MuLaw.encode(.nan), 128) // documented: NaN -> middle class
        XCTAssertEqual(MuLaw.decode(300), MuLaw.decode(255))
        XCTAssertEqual(MuLaw.decode(-5), MuLaw.decode(0))
    }

    func testRoundTripErrorBound() {
        // Quantisation is ±1/mu in the companded domain, so |x - x̂| <= ln(1+mu)/mu^2 * (1+mu)^(|f|+1/mu).
        let mu = 255.0
        for i in -2000...2000 {
            let x = Float(i) / 2000
            let f = log1p(mu * Double(abs(x))) / log1p(mu)
            let bound = log1p(mu) / (mu * mu) * pow(1 + mu, f + 1 / mu) + 1e-6
            let err = Double(abs(MuLaw.decode(MuLaw.encode(x)) - x))
            XCTAssertLessThanOrEqual(err, bound, "x = \(x)")
        }
        let xs: [Float] = (0..<100).map { sin(Float($0)) * 0.8 }
        let back = MuLaw.decode(MuLaw.encode(xs))
        XCTAssertLessThan(zip(xs, back).map { abs($0 - $1) }.max()!, 0.02)
        XCTAssertLessThan(abs(MuLaw.decode(MuLaw.encode(Float(1e-3))) - 1e-3), 1e-4)
    }

    func testMonotonic() {
        var prev = -1
        for i in -5000...5000 {
            let q = MuLaw.encode(Float(i) / 5000)
            XCTAssertGreaterThanOrEqual(q, prev)
            prev = q
        }
        let dec = (0...255).map { MuLaw.decode($0) }
        for i in 1..<dec.count { XCTAssertGreaterThan(dec[i], dec[i - 1]) }
        for q in 0...255 { XCTAssertEqual(MuLaw.encode(MuLaw.decode(q)), q) }
    }
}

final class SilenceTests: XCTestCase {
    struct Case: Decodable { let top_db: Float; let frame_length: Int; let hop_length: Int; let start: Int; let end: Int }
    struct Expected: Decodable { let cases: [Case] }

    func testTrimMatchesLibrosa() throws {
        let z = try NPY.read(fixture("trim_input.npy")).data
        let exp = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture("trim_expected.json")))
        XCTAssertFalse(exp.cases.isEmpty)
        for c in exp.cases {
            let r = Silence.trimSilence(z, frameLength: c.frame_length, hopLength: c.hop_length, topDB: c.top_db)
            XCTAssertEqual(r, c.start..<c.end, "top_db \(c.top_db), frame \(c.frame_length), hop \(c.hop_length)")
        }
    }

    func testTrimEdgeCases() {
        XCTAssertEqual(Silence.trimSilence([]), 0..<0)
        XCTAssertTrue(Silence.trimSilence([Float](repeating: 0, count: 4000)).isEmpty)
        let x = [Float](repeating: 0, count: 1000) + [Float](repeating: 0.5, count: 1000) + [Float](repeating: 0, count: 1000)
        let r = Silence.trimSilence(x)
        XCTAssertTrue(r.lowerBound <= 1000 && r.upperBound >= 2000 && r.lowerBound >= 0 && r.upperBound <= 3000, "\(r)")
    }

    func testIsSilent() {
        XCTAssertTrue(Silence.isSilent([]))
        XCTAssertTrue(Silence.isSilent([0, 5e-5, -9e-5]))
        XCTAssertFalse(Silence.isSilent([0, -2e-4]))
        XCTAssertFalse(Silence.isSilent([0.3], threshold: 0.3))
        XCTAssertTrue(Silence.isSilent([0.29], threshold: 0.3))
    }
}
