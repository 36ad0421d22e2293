// Linear-frequency power spectrogram in dB (the shared STFT on FFTW), for pictures (`synth plot spectrogram`).
import Foundation

/// Short-time power spectrum of a signal: centred frames (zero-padded by `nFFT / 2` on each side, as librosa's
/// `center=True, pad_mode="constant"`), each weighted by a periodic Hann window of `nFFT` samples, as
/// `10 log10(max(|X_k|^2 / (sum w / 2)^2, 1e-12))`: a full-scale sine reads about 0 dB in its bin.
public final class PowerSpectrogram: @unchecked Sendable {
    public let nFFT: Int
    public let hopLength: Int
    let stft: STFT
    let scale: Float

    /// - Throws: `FeatureConfigError.invalid` for a size FFTW cannot plan or a hop < 1.
    public init(nFFT: Int = 1024, hopLength: Int = 256) throws {
        guard nFFT >= 16, hopLength >= 1 else {
            throw FeatureConfigError.invalid(field: "n_fft", reason: "need n_fft >= 16 and hop >= 1, got \(nFFT) and \(hopLength)")
        }
        self.nFFT = nFFT
        self.hopLength = hopLength
        stft = try STFT(nFFT: nFFT, hopLength: hopLength, winLength: nFFT)
        let half = stft.window.reduce(0, +) / 2
        scale = 1 / (half * half)
    }

    /// Frames for `count` samples: `1 + count / hop`.
    public func frameCount(for count: Int) -> Int { stft.frameCount(for: count) }

    /// Power in dB, `[frames, nFFT / 2 + 1]` frame-major; bin `k` is `k * sampleRate / nFFT` Hz.
    public func decibels(_ x: [Float]) -> [Float] {
        let c = stft.forward(x)
        return (0..<(c.count / 2)).map { k in
            let p = (c[2 * k] * c[2 * k] + c[2 * k + 1] * c[2 * k + 1]) * scale
            return 10 * log10(max(p, 1e-12))
        }
    }
}
