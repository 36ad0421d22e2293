// STFT and Griffin-Lim against librosa 0.11 (scripts/fixtures/pitch_lpc_fixtures.py).
import Foundation
import XCTest
import Audio
@testable import DSP

final class GriffinLimTests: XCTestCase {
    let y = Array((try! NPY.read(fixture("speech_arctic.npy"))).data.prefix(8000))

    func testSTFTMatchesLibrosaAndInverts() throws {
        let stft = try STFT(nFFT: 1024, hopLength: 200, winLength: 800)
        let X = stft.forward(y)
        let ref = try NPY.read(fixture("gl_magnitude.npy"))
        XCTAssertEqual(ref.shape, [41, 513])
        var worst: Float = 0
        let peak = ref.data.max()!
        for i in 0..<(41 * 513) { worst = max(worst, abs((X[2 * i] * X[2 * i] + X[2 * i + 1] * X[2 * i + 1]).squareRoot() - ref.data[i])) }
        XCTAssertLessThan(worst, 1e-4 * peak, "max |magnitude - librosa| = \(worst) (peak \(peak))")
        let back = stft.inverse(X, frames: 41, length: y.count)
        let err = zip(back, y).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(err, 1e-5, "inverse(forward(y)) differs from y by \(err)")
    }

    /// From zero phase (librosa's init=None), 32 iterations reproduce librosa.griffinlim's waveform: correlation above
    /// 0.999 (float32 FFTs against float64 over 32 iterations).
    func testGriffinLimMatchesLibrosa() throws {
        let S = try NPY.read(fixture("gl_magnitude.npy")), ref = try NPY.read(fixture("gl_librosa.npy")).data
        let gl = try GriffinLim(features: .default, iterations: 32)
        let out = gl.reconstruct(magnitude: S.data, frames: 41, length: y.count, seed: nil)
        var xy = 0.0, xx = 0.0, yy = 0.0
        for (a, b) in zip(out, ref) { xy += Double(a * b); xx += Double(a * a); yy += Double(b * b) }
        let corr = xy / (xx * yy).squareRoot()
        print(String(format: "Griffin-Lim against librosa: correlation %.6f", corr))
        XCTAssertGreaterThan(corr, 0.999)
    }

    /// Non-negative least squares from the mel: its mel projection reproduces the mel about as well as
    /// librosa.feature.inverse.mel_to_stft's (the solutions differ: 80 equations, 513 unknowns).
    func testMelToMagnitudeReproducesTheMel() throws {
        let lm = try NPY.read(fixture("gl_logmel.npy")), ref = try NPY.read(fixture("gl_mel_to_stft.npy"))
        let gl = try GriffinLim(features: .default)
        let mag = gl.magnitude(logMel: lm.data, frames: 41)
        let fb = MelSpectrogram.melFilterbank(sampleRate: 16000, nFFT: 1024, nMels: 80, fmin: 50, fmax: 7600)
        func relativeError(_ m: [Float]) -> Double {
            var e = 0.0, n = 0.0
            for f in 0..<41 { for k in 0..<80 {
                var s = 0.0
                for b in 0..<513 { s += Double(fb[k * 513 + b]) * Double(m[f * 513 + b] * m[f * 513 + b]) }
                let t = exp(Double(lm.data[f * 80 + k]))
                e += (s - t) * (s - t); n += t * t
            } }
            return (e / n).squareRoot()
        }
        let mine = relativeError(mag), theirs = relativeError(ref.data)
        print(String(format: "mel reproduced: relative error %.2e (librosa %.2e)", mine, theirs))
        XCTAssertLessThan(mine, max(2 * theirs, 1e-3))
    }

    func testInvertGivesTheRequestedLengthFromNpyFrames() throws {
        let mel = try MelSpectrogram(config: .default)
        let gl = try GriffinLim(features: .default, iterations: 4)
        let frames = mel.frameCount(for: y.count)
        // A .npy of F frames is rendered as F * hop samples, one frame more than those samples would give.
        let out = gl.invert(logMel: mel.logMel(y), frames: frames, length: frames * 200)
        XCTAssertEqual(out.count, frames * 200)
        XCTAssertTrue(out.allSatisfy { $0.isFinite && abs($0) <= 1 })
    }
}
