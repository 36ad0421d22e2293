// Linear-frequency power spectrogram in dB (FFTW), for pictures (`synth plot spectrogram`).
import CFFTW
import Foundation

/// Short-time power spectrum of a signal: centred frames (zero-padded by `nFFT / 2` on each side, as librosa's
/// `center=True, pad_mode="constant"`), each weighted by a periodic Hann window of `nFFT` samples, as
/// `10 log10(max(|X_k|^2 / (sum w / 2)^2, 1e-12))`: a full-scale sine reads about 0 dB in its bin.
public final class PowerSpectrogram: @unchecked Sendable {
    public let nFFT: Int
    public let hopLength: Int
    let window: [Float]
    let plan: fftwf_plan
    let scale: Float

    /// - Throws: `FeatureConfigError.invalid` for a size FFTW cannot plan or a hop < 1.
    public init(nFFT: Int = 1024, hopLength: Int = 256) throws {
        guard nFFT >= 16, hopLength >= 1 else {
            throw FeatureConfigError.invalid(field: "n_fft", reason: "need n_fft >= 16 and hop >= 1, got \(nFFT) and \(hopLength)")
        }
        self.nFFT = nFFT
        self.hopLength = hopLength
        window = MelSpectrogram.hannWindow(winLength: nFFT, nFFT: nFFT)
        let half = window.reduce(0, +) / 2
        scale = 1 / (half * half)
        FFTWPlans.lock.lock()
        defer { FFTWPlans.lock.unlock() }
        let inBuf = fftwf_alloc_real(nFFT)!, outBuf = fftwf_alloc_complex(nFFT / 2 + 1)!
        defer { fftwf_free(inBuf); fftwf_free(outBuf) }
        guard let p = fftwf_plan_dft_r2c_1d(Int32(nFFT), inBuf, outBuf, UInt32(FFTW_ESTIMATE)) else {
            throw FeatureConfigError.invalid(field: "n_fft", reason: "FFTW could not plan a real FFT of size \(nFFT)")
        }
        plan = p
    }

    deinit {
        FFTWPlans.lock.lock()
        fftwf_destroy_plan(plan)
        FFTWPlans.lock.unlock()
    }

    /// Frames for `count` samples: `1 + count / hop`.
    public func frameCount(for count: Int) -> Int { 1 + max(0, count) / hopLength }

    /// Power in dB, `[frames, nFFT / 2 + 1]` frame-major; bin `k` is `k * sampleRate / nFFT` Hz.
    public func decibels(_ x: [Float]) -> [Float] {
        let n = nFFT, bins = n / 2 + 1, half = n / 2, frames = frameCount(for: x.count)
        var out = [Float](repeating: 0, count: frames * bins)
        let inBuf = fftwf_alloc_real(n)!, outBuf = fftwf_alloc_complex(bins)!
        defer { fftwf_free(inBuf); fftwf_free(outBuf) }
        for t in 0..<frames {
            let start = t * hopLength - half
            for i in 0..<n {
                let j = start + i
                inBuf[i] = j >= 0 && j < x.count ? x[j] * window[i] : 0
            }
            fftwf_execute_dft_r2c(plan, inBuf, outBuf)
            let c = UnsafeMutableRawPointer(outBuf).assumingMemoryBound(to: Float.self)
            for k in 0..<bins {
                let p = (c[2 * k] * c[2 * k] + c[2 * k + 1] * c[2 * k + 1]) * scale
                out[t * bins + k] = 10 * log10(max(p, 1e-12))
            }
        }
        return out
    }
}
