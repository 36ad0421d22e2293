// Levinson-Durbin against scipy, LPC from the log-mel against a numpy reference, and on a known all-pole signal.
import Foundation
import XCTest
import Audio
@testable import DSP

final class LinearPredictionTests: XCTestCase {
    func testLevinsonDurbinMatchesScipySolveToeplitz() throws {
        struct Case: Decodable { let order: Int; let a: [Double] }
        struct Ref: Decodable { let r: [Double]; let cases: [Case] }
        let ref = try JSONDecoder().decode(Ref.self, from: Data(contentsOf: fixture("levinson.json")))
        for c in ref.cases {
            let (a, err, k) = try LinearPrediction.levinsonDurbin(ref.r, order: c.order)
            let diff = zip(a, c.a).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(diff, 1e-9, "order \(c.order): max |diff| \(diff)")
            XCTAssertTrue(k.allSatisfy { abs($0) < 1 })
            // The error power equals r0 - a . r[1...p].
            var e = ref.r[0]
            for i in 0..<c.order { e -= a[i] * ref.r[i + 1] }
            XCTAssertEqual(err, e, accuracy: 1e-9 * ref.r[0])
        }
        XCTAssertThrowsError(try LinearPrediction.levinsonDurbin([0, 0, 0], order: 2))
        XCTAssertThrowsError(try LinearPrediction.levinsonDurbin([1, 1, 1], order: 2))  // singular: |k| reaches 1
        XCTAssertThrowsError(try LinearPrediction.levinsonDurbin([.nan, 0, 0], order: 2))
    }

    /// The whole mel-to-LPC path against the numpy/scipy reference of scripts/fixtures/pitch_lpc_fixtures.py, on the
    /// same log-mels. Tolerance: the frames' prediction-error spectra agree; coefficients themselves within 0.02
    /// (float32 FFT against float64).
    func testMelLPCMatchesNumpyReference() throws {
        let lm = try NPY.read(fixture("lpc_logmel.npy")), ref = try NPY.read(fixture("lpc_coefficients.npy"))
        let lpc = try MelLPC(features: .default, order: 16, preemphasis: 0.85)
        let a = lpc.coefficients(logMel: lm.data, frames: lm.shape[0])
        XCTAssertEqual(a.count, ref.data.count)
        let diff = zip(a, ref.data).map { abs($0 - $1) }.max()!
        print("mel LPC: max |diff| against numpy \(diff)")
        XCTAssertLessThan(diff, 0.02)
    }

    /// An all-pole signal with poles at 500 Hz (r 0.97), 1500 Hz (0.93) and 2500 Hz (0.9), a vowel-like envelope,
    /// driven by uniform noise: 32,000 samples, and its true coefficients in prediction form.
    func allPoleSignal() -> (x: [Float], truth: [Double]) {
        var poly: [Double] = [1]
        for (hz, radius) in [(500.0, 0.97), (1500.0, 0.93), (2500.0, 0.9)] {
            let w = 2 * Double.pi * hz / 16000, q = [1, -2 * radius * cos(w), radius * radius]
            var next = [Double](repeating: 0, count: poly.count + 2)
            for i in poly.indices { for j in q.indices { next[i + j] += poly[i] * q[j] } }
            poly = next
        }
        let truth = poly.dropFirst().map { -$0 }  // prediction form
        var state = [Double](repeating: 0, count: truth.count)
        var rng: UInt64 = 12345
        var x = [Float](repeating: 0, count: 32000)
        for t in x.indices {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let e = (Double(rng >> 11) / Double(1 << 53) - 0.5) * 0.01
            var v = e
            for k in truth.indices { v += truth[k] * state[k] }
            state.insert(v, at: 0); state.removeLast()
            x[t] = Float(v)
        }
        return (x, truth)
    }

    /// A known all-pole (AR) signal: its log-mel alone gives back a predictor that whitens it nearly as well as the
    /// true coefficients. The lag window and the noise floor (which keep the predictor stable on real speech)
    /// cap the gain of such sharp resonances: measured 29.3 dB against 37.0 dB with the true coefficients.
    func testMelLPCRecoversAKnownAllPoleFilter() throws {
        let (x, truth) = allPoleSignal()
        // The vocoder predicts the pre-emphasised waveform; with pre-emphasis 0 it is the signal itself.
        let mel = try MelSpectrogram(config: .default)
        let lpc = try MelLPC(features: .default, order: 16, preemphasis: 0)
        let frames = mel.frameCount(for: x.count)
        let a = lpc.coefficients(logMel: mel.logMel(x), frames: frames)
        let p = MelLPC.predictions(signal: x, coefficients: a, order: 16, hop: 200, frames: frames)
        let tp = MelLPC.predictions(signal: x, coefficients: (0..<frames).flatMap { _ in truth.map(Float.init) + [Float](repeating: 0, count: 10) },
                                    order: 16, hop: 200, frames: frames)
        func gain(_ pred: [Float]) -> Double {
            var s = 0.0, e = 0.0
            for t in 2000..<30000 { s += Double(x[t] * x[t]); e += Double((x[t] - pred[t]) * (x[t] - pred[t])) }
            return 10 * log10(s / e)
        }
        let g = gain(p), gt = gain(tp)
        print(String(format: "all-pole signal: prediction gain %.2f dB from the mel, %.2f dB with the true coefficients", g, gt))
        XCTAssertGreaterThan(g, 27)
        XCTAssertGreaterThan(gt, 35)
    }

    /// Gain on real speech with the shipped recipe (pre-emphasis 0.85): ANCHORS.md measured 8.7-11.6 dB.
    func testMelLPCPredictsSpeech() throws {
        let y = try NPY.read(fixture("speech_arctic.npy")).data
        var s = y
        for t in stride(from: s.count - 1, to: 0, by: -1) { s[t] = y[t] - 0.85 * y[t - 1] }
        let mel = try MelSpectrogram(config: .default)
        let lpc = try MelLPC(features: .default, order: 16, preemphasis: 0.85)
        let frames = mel.frameCount(for: y.count)
        let p = MelLPC.predictions(signal: s, coefficients: lpc.coefficients(logMel: mel.logMel(y), frames: frames),
                                   order: 16, hop: 200, frames: frames)
        var es = 0.0, ee = 0.0
        for t in s.indices { es += Double(s[t] * s[t]); ee += Double((s[t] - p[t]) * (s[t] - p[t])) }
        let g = 10 * log10(es / ee)
        print(String(format: "speech: prediction gain %.2f dB", g))
        XCTAssertGreaterThan(g, 8)
    }

    /// The absolute noise floor (`absoluteFloorRMS`, LPCNet's constant added to `ac[0]`) is a white noise of that RMS in
    /// the waveform's own units: 60 dB below the signal it changes nothing; at the signal's own RMS it acts as a
    /// relative floor of 1 (the noise's power equals the signal's, so the two predictors agree: measured 6.99 and
    /// 7.03 dB); 13.6 dB above it (RMS 0.99, the signal's is 0.206) the predictor is nearly flat.
    func testAbsoluteNoiseFloorIsAWhiteNoiseOfThatRMS() throws {
        let (x, _) = allPoleSignal()
        let rms = (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
        let mel = try MelSpectrogram(config: .default)
        let frames = mel.frameCount(for: x.count), logMel = mel.logMel(x)
        func gain(_ lpc: MelLPC) -> Double {
            let p = MelLPC.predictions(signal: x, coefficients: lpc.coefficients(logMel: logMel, frames: frames), order: 16, hop: 200, frames: frames)
            var s = 0.0, e = 0.0
            for t in 2000..<30000 { s += Double(x[t] * x[t]); e += Double((x[t] - p[t]) * (x[t] - p[t])) }
            return 10 * log10(s / e)
        }
        let none = gain(try MelLPC(features: .default, order: 16, preemphasis: 0))
        let far = gain(try MelLPC(features: .default, order: 16, preemphasis: 0, absoluteFloorRMS: rms * 1e-3))
        let equal = gain(try MelLPC(features: .default, order: 16, preemphasis: 0, absoluteFloorRMS: rms))
        let relative = gain(try MelLPC(features: .default, order: 16, preemphasis: 0, noiseFloor: 1 + 1e-4))
        let above = gain(try MelLPC(features: .default, order: 16, preemphasis: 0, absoluteFloorRMS: 0.99))
        print(String(format: "signal RMS %.4f: prediction gain %.2f dB without a floor, %.2f / %.2f / %.2f dB with the floor 60 dB under, equal (relative floor 1: %.2f), RMS 0.99",
                     rms, none, far, equal, relative, above))
        XCTAssertEqual(far, none, accuracy: 0.05)
        XCTAssertEqual(equal, relative, accuracy: 0.2)
        XCTAssertLessThan(equal, none - 10)
        XCTAssertLessThan(above, 2)
        XCTAssertThrowsError(try MelLPC(features: .default, order: 16, preemphasis: 0, absoluteFloorRMS: 1))
        XCTAssertThrowsError(try MelLPC(features: .default, order: 16, preemphasis: 0, absoluteFloorRMS: .nan))
    }

    func testHostileLogMelsGiveFiniteCoefficients() throws {
        let lpc = try MelLPC(features: .default, order: 16, preemphasis: 0.85)
        var lm = [Float](repeating: -11.5, count: 4 * 80)  // the log floor: silence
        lm[80] = .nan; lm[161] = .infinity; lm[242] = 1e30; lm[243] = -.infinity
        let a = lpc.coefficients(logMel: lm, frames: 4)
        XCTAssertTrue(a.allSatisfy { $0.isFinite })
    }
}
