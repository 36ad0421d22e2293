// YIN pitch tracking against librosa.pyin on real speech, exact tones, and inputs that must give unvoiced frames.
import Foundation
import XCTest
import Audio
@testable import DSP

final class PitchTests: XCTestCase {
    let estimator = try! PitchEstimator(sampleRate: 16000, hopLength: 200)

    func tone(_ hz: Double, seconds: Double = 0.5, harmonics: Int = 1, amplitude: Float = 0.5) -> [Float] {
        let n = Int(seconds * 16000)
        return (0..<n).map { i in
            var v = 0.0
            for h in 1...harmonics { v += sin(2 * Double.pi * hz * Double(h) * Double(i) / 16000) / Double(h) }
            return amplitude * Float(v / Double(harmonics).squareRoot())
        }
    }

    func testTonesAreExact() {
        for (hz, harmonics) in [(100.0, 1), (233.3, 1), (440.0, 1), (150.0, 8), (82.0, 12)] {
            let track = estimator.track(tone(hz, harmonics: harmonics))
            // Frames whose analysis window lies wholly inside the tone.
            let inner = Array(track.f0[4..<(track.frames - 4)]), voiced = track.voiced[4..<(track.frames - 4)]
            XCTAssertTrue(voiced.allSatisfy { $0 }, "\(hz) Hz: every inner frame voiced")
            let worst = inner.map { abs(1200 * log2(Double($0) / hz)) }.max()!
            XCTAssertLessThan(worst, 15, "\(hz) Hz x\(harmonics): worst error \(worst) cents")
        }
    }

    /// Agreement with librosa.pyin (the same algorithm) on three speakers. Tolerances: voicing agrees on >= 98 % of
    /// frames, and on frames voiced in both no F0 differs by 10 cents or more (librosa reports 10-cent bin centres,
    /// this the interpolated trough inside the bin), with an RMS difference below 5 cents.
    func testSpeechAgreesWithPyin() throws {
        for name in ["speech_arctic", "speech_fish_m", "speech_fish_v"] {
            let y = try NPY.read(fixture(name + ".npy")).data
            struct Ref: Decodable { let f0: [Float]; let voiced: [Bool] }
            let ref = try JSONDecoder().decode(Ref.self, from: Data(contentsOf: fixture(name + "_pyin.json")))
            let t = estimator.track(y)
            XCTAssertEqual(t.frames, ref.f0.count)
            var agree = 0, both = 0, close = 0, sq = 0.0
            for f in 0..<t.frames {
                if t.voiced[f] == ref.voiced[f] { agree += 1 }
                if t.voiced[f] && ref.voiced[f] {
                    both += 1
                    let cents = 1200 * log2(Double(t.f0[f]) / Double(ref.f0[f]))
                    sq += cents * cents
                    if abs(cents) < 10 { close += 1 }
                }
            }
            let vAgree = Double(agree) / Double(t.frames), gross = 1 - Double(close) / Double(max(both, 1))
            print(String(format: "%@: voicing agreement %.3f, %d frames voiced in both, gross errors %.3f, RMSE %.1f cents",
                         name, vAgree, both, gross, (sq / Double(max(both, 1))).squareRoot()))
            XCTAssertGreaterThanOrEqual(vAgree, 0.98, name)
            XCTAssertGreaterThan(both, 100, name)
            XCTAssertEqual(gross, 0, name)
            XCTAssertLessThan((sq / Double(max(both, 1))).squareRoot(), 5, name)
        }
    }

    func testSilenceNoiseClippingAndTinyInputsAreUnvoiced() {
        let noise = (0..<16000).map { HarmonicSource.noise($0) * 0.2 }
        for (label, x) in [("silence", [Float](repeating: 0, count: 8000)), ("white noise", noise),
                           ("one sample", [0.7]), ("empty", []), ("NaN and infinity", [Float](repeating: .nan, count: 3000) + [.infinity])] {
            let t = estimator.track(x)
            XCTAssertEqual(t.frames, 1 + x.count / 200, label)
            XCTAssertTrue(t.voiced.allSatisfy { !$0 }, "\(label): no voiced frame")
            XCTAssertTrue(t.f0.allSatisfy { $0 == 0 }, label)
            XCTAssertTrue(t.aperiodicity.allSatisfy { $0.isFinite }, label)
            XCTAssertTrue(t.continuousF0().allSatisfy { $0 > 0 && $0.isFinite }, label)
        }
        // A hard-clipped 200 Hz tone is still periodic at 200 Hz.
        let clipped = tone(200, amplitude: 3).map { min(max($0, -1), 1) }
        let t = estimator.track(clipped)
        XCTAssertEqual(Double(t.f0[10]), 200, accuracy: 1)
    }

    func testContinuousF0InterpolatesInLogAndHoldsAtTheEnds() {
        let t = PitchTrack(f0: [0, 100, 0, 0, 400, 0], voiced: [false, true, false, false, true, false], aperiodicity: [Float](repeating: 0, count: 6))
        let c = t.continuousF0()
        XCTAssertEqual(c[0], 100, accuracy: 1e-3)
        XCTAssertEqual(c[2], 158.74, accuracy: 0.01)  // 100 * 4^(1/3)
        XCTAssertEqual(c[3], 251.98, accuracy: 0.01)
        XCTAssertEqual(c[5], 400, accuracy: 1e-3)
    }

    func testConfigValidation() {
        XCTAssertThrowsError(try PitchEstimator(config: PitchConfig(fmin: 50, fmax: 9000, frameLength: 1024), sampleRate: 16000, hopLength: 200))
        XCTAssertThrowsError(try PitchEstimator(config: PitchConfig(fmin: 20, fmax: 500, frameLength: 1024), sampleRate: 16000, hopLength: 200))
    }
}

final class HarmonicSourceTests: XCTestCase {
    /// The closed-form phase equals integrating F0/sr sample by sample, and the channels are the sines.
    func testPhaseIntegratesF0AndChannelsAreHarmonics() {
        let src = HarmonicSource(harmonics: 3, sampleRate: 16000, hopLength: 200)
        let f0: [Float] = [100, 120, 180, 180, 90], voicing: [Float] = [1, 1, 1, 0, 0]
        let phases = src.framePhases(f0: f0)
        var phi = 0.0
        var out = [Float](repeating: 0, count: src.channels)
        for t in 0..<(4 * 200) {
            f0.withUnsafeBufferPointer { f in voicing.withUnsafeBufferPointer { v in phases.withUnsafeBufferPointer { p in
                src.fill(sample: t, f0: f.baseAddress!, voicing: v.baseAddress!, phases: p.baseAddress!, frames: 5, out: &out)
            } } }
            let f = t / 200, w = Float(t % 200) / 200
            let hz = (1 - w) * f0[f] + w * f0[f + 1], v = (1 - w) * voicing[f] + w * voicing[f + 1]
            for h in 0..<3 {
                XCTAssertEqual(out[2 * h], v * Float(sin(2 * Double.pi * Double(h + 1) * phi)), accuracy: 2e-4, "t \(t) h \(h)")
                XCTAssertEqual(out[2 * h + 1], v * Float(cos(2 * Double.pi * Double(h + 1) * phi)), accuracy: 2e-4, "t \(t) h \(h)")
            }
            XCTAssertEqual(out[6], (1 - v) * HarmonicSource.noise(t), accuracy: 1e-6)
            phi += Double(hz) / 16000
        }
    }

    func testNoiseHasUnitVariance() {
        var s = 0.0, s2 = 0.0
        for t in 0..<100_000 { let v = Double(HarmonicSource.noise(t)); s += v; s2 += v * v }
        XCTAssertEqual(s / 1e5, 0, accuracy: 0.02)
        XCTAssertEqual(s2 / 1e5, 1, accuracy: 0.02)
    }
}

final class SpeechMetricsTests: XCTestCase {
    let mel = try! MelSpectrogram(config: .default)
    let pitch = try! PitchEstimator(sampleRate: 16000, hopLength: 200)

    /// Against librosa on the English excerpt with white noise added (scripts/fixtures/pitch_lpc_fixtures.py), 1e-3 dB.
    func testLogMelDistanceMatchesLibrosa() throws {
        let ref = try NPY.read(fixture("speech_arctic.npy")).data, deg = try NPY.read(fixture("metrics_degraded.npy")).data
        struct E: Decodable { let log_mel_distance_db: Double }
        let e = try JSONDecoder().decode(E.self, from: Data(contentsOf: fixture("metrics_expected.json")))
        let m = SpeechMetrics.compare(reference: ref, degraded: deg, mel: mel, pitch: pitch)
        XCTAssertEqual(m.logMelDistance, e.log_mel_distance_db, accuracy: 1e-3)
        let same = SpeechMetrics.compare(reference: ref, degraded: ref, mel: mel, pitch: pitch)
        XCTAssertEqual(same.logMelDistance, 0)
        XCTAssertEqual(same.f0RMSE, 0)
        XCTAssertEqual(same.voicingError, 0)
        XCTAssertGreaterThan(same.voicedInBoth, 100)
    }

    /// A harmonic tone against the same tone 100 cents higher: F0 RMSE 100 cents, no voicing error.
    func testF0RMSEInCents() {
        func tone(_ hz: Double) -> [Float] {
            (0..<16000).map { i -> Float in
                var v = 0.0
                for h in 1...6 { v += sin(2 * Double.pi * hz * Double(h) * Double(i) / 16000) / Double(h) }
                return Float(0.3 * v)
            }
        }
        let m = SpeechMetrics.compare(reference: tone(150), degraded: tone(150 * pow(2, 100.0 / 1200)), mel: mel, pitch: pitch)
        XCTAssertEqual(m.f0RMSE, 100, accuracy: 3)
        XCTAssertEqual(m.voicingError, 0)
    }
}
