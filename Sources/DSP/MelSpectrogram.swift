// Mel spectrogram (FFTW single-precision STFT + Slaney mel filterbank) matching librosa.feature.melspectrogram.
import Foundation
import CFFTW

/// FFTW planner calls are not thread-safe; every plan create/destroy goes through this lock.


/// Power and log mel spectrograms with librosa 0.11 semantics:
/// `librosa.feature.melspectrogram(y, sr, n_fft, hop_length, win_length, window="hann",
/// center=True, pad_mode="constant", power=2.0, n_mels, fmin, fmax, htk=False, norm="slaney")`.
///
/// The signal is zero-padded by `n_fft/2` samples on each side; frame `t` covers padded samples
/// `t*hop ..< t*hop + n_fft`, multiplied by a periodic Hann window of `win_length` samples
/// zero-padded (centred) to `n_fft`. Output arrays are frame-major `[frames, n_mels]`
/// (row-major: element `(t, m)` is at `t * n_mels + m`), `frames = 1 + sampleCount / hop_length`.
///
/// One FFTW plan is created per instance; `power`/`logMel` use per-call buffers and the
/// thread-safe new-array execute, so one instance may be used from several threads.
public final class MelSpectrogram: @unchecked Sendable {
    /// The validated configuration.
    public let config: FeatureConfig
    /// `[n_mels, n_fft/2 + 1]` Slaney-normalised filterbank, row-major.
    public let filterbank: [Float]
    /// `[n_fft]` periodic Hann window of `win_length` samples, zero-padded and centred.
    public let window: [Float]

    private let plan: fftwf_plan
    private let nBins: Int
    /// Per mel band, the bin range holding its non-zero weights.
    private let bandRanges: [Range<Int>]

    /// - Throws: `FeatureConfigError` if `config.validate()` fails.
    public init(config: FeatureConfig = .default) throws {
        try config.validate()
        self.config = config
        let n = config.nFFT
        nBins = n / 2 + 1
        filterbank = MelSpectrogram.melFilterbank(sampleRate: config.sampleRate, nFFT: n, nMels: config.nMels,
                                                  fmin: config.fmin, fmax: config.fmax)
        window = MelSpectrogram.hannWindow(winLength: config.winLength, nFFT: n)
        bandRanges = MelSpectrogram.bandRanges(filterbank, nMels: config.nMels, bins: nBins)

        plan = try FFTWPlans.realForward(size: n)
    }

    deinit { FFTWPlans.destroy(plan) }

    /// Number of STFT frames for a signal of `sampleCount` samples: `1 + sampleCount / hop_length`.
    public func frameCount(for sampleCount: Int) -> Int {
        1 + max(0, sampleCount) / config.hopLength
    }

    /// Mel-projected power spectrogram `|STFT|^2`, `[frames, n_mels]` frame-major, power units
    /// (samples in [-1, 1] scale; no normalisation by window or FFT size).
    public func power(_ samples: [Float]) -> [Float] {
        samples.withUnsafeBufferPointer { x in
            power(frames: 0..<frameCount(for: samples.count), of: x, startingAt: 0, sampleCount: samples.count)
        }
    }

    /// Mel power of the frames `frames` of a signal of `sampleCount` samples, for block-by-block analysis: `window`
    /// holds the signal's samples from index `offset` on, and must cover every sample of those frames that lies in
    /// `0..<sampleCount` (frame `t` reads `t * hop - n_fft/2 ..< t * hop + n_fft/2`). The result, `[frames.count,
    /// n_mels]`, equals the same rows of `power(_:)` of the whole signal, bit for bit.
    public func power(frames: Range<Int>, of x: UnsafeBufferPointer<Float>, startingAt offset: Int, sampleCount count: Int) -> [Float] {
        let n = config.nFFT, hop = config.hopLength, nMels = config.nMels, half = n / 2
        var out = [Float](repeating: 0, count: frames.count * nMels)
        let inBuf = fftwf_alloc_real(n)!
        let outBuf = fftwf_alloc_complex(nBins)!
        defer { fftwf_free(inBuf); fftwf_free(outBuf) }
        var spec = [Float](repeating: 0, count: nBins)
        window.withUnsafeBufferPointer { w in
            filterbank.withUnsafeBufferPointer { fb in
                out.withUnsafeMutableBufferPointer { o in
                    for (row, t) in frames.enumerated() {
                        let start = t * hop - half // index into the unpadded signal
                        precondition(max(0, start) >= offset && min(count, start + n) <= offset + x.count,
                                     "MelSpectrogram.power: frame \(t) needs samples outside the window")
                        for i in 0..<n {
                            let j = start + i
                            inBuf[i] = (j >= 0 && j < count) ? x[j - offset] * w[i] : 0
                        }
                        fftwf_execute_dft_r2c(plan, inBuf, outBuf)
                        let c = UnsafeMutableRawPointer(outBuf).assumingMemoryBound(to: Float.self)
                        for k in 0..<nBins {
                            let re = c[2 * k], im = c[2 * k + 1]
                            spec[k] = re * re + im * im
                        }
                        for m in 0..<nMels {
                            var acc: Float = 0
                            let r = m * nBins
                            for k in bandRanges[m] { acc += fb[r + k] * spec[k] }
                            o[row * nMels + m] = acc
                        }
                    }
                }
            }
        }
        return out
    }

    /// Natural-log mel spectrogram `ln(max(mel_power, log_floor))`, `[frames, n_mels]` frame-major.
    public func logMel(_ samples: [Float]) -> [Float] {
        let floor = config.logFloor
        return power(samples).map { Foundation.log(max($0, floor)) }
    }

    /// The bins holding each band's non-zero weights, of a filterbank `[nMels, bins]` (an empty range for an empty band),
    /// so that sums over a band skip its zeros.
    public static func bandRanges(_ filterbank: [Float], nMels: Int, bins: Int) -> [Range<Int>] {
        (0..<nMels).map { m in
            guard let lo = (0..<bins).first(where: { filterbank[m * bins + $0] != 0 }),
                  let hi = (0..<bins).last(where: { filterbank[m * bins + $0] != 0 }) else { return 0..<0 }
            return lo..<(hi + 1)
        }
    }

    /// Periodic Hann window of `winLength` samples (as `scipy.signal.get_window('hann', winLength,
    /// fftbins=True)`), zero-padded centred to `nFFT` (left pad `(nFFT - winLength) / 2`) like librosa.
    public static func hannWindow(winLength: Int, nFFT: Int) -> [Float] {
        precondition(winLength > 0 && winLength <= nFFT, "hannWindow: need 0 < winLength <= nFFT")
        var w = [Float](repeating: 0, count: nFFT)
        let left = (nFFT - winLength) / 2
        for i in 0..<winLength {
            w[left + i] = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(winLength)))
        }
        return w
    }

    /// Slaney mel scale (linear below 1 kHz, logarithmic above), as `librosa.hz_to_mel(htk=False)`.
    public static func hzToMel(_ hz: Double) -> Double {
        let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logstep = log(6.4) / 27
        return hz >= minLogHz ? minLogMel + log(hz / minLogHz) / logstep : hz / fSp
    }

    /// Inverse of `hzToMel`, as `librosa.mel_to_hz(htk=False)`.
    public static func melToHz(_ mel: Double) -> Double {
        let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logstep = log(6.4) / 27
        return mel >= minLogMel ? minLogHz * exp(logstep * (mel - minLogMel)) : fSp * mel
    }

    /// Mel filterbank identical to `librosa.filters.mel(sr=sampleRate, n_fft=nFFT, n_mels=nMels,
    /// fmin=fmin, fmax=fmax, htk=False, norm='slaney')` (float32): triangular filters on the Slaney
    /// mel scale, each scaled by `2 / (f_upper - f_lower)` (area normalisation).
    /// - Returns: `[nMels, nFFT/2 + 1]` row-major weights; frequencies in Hz.
    public static func melFilterbank(sampleRate: Int, nFFT: Int, nMels: Int, fmin: Double, fmax: Double) -> [Float] {
        let nBins = nFFT / 2 + 1
        // np.fft.rfftfreq(nFFT, d=1/sampleRate): k * (1 / (nFFT * d)), same rounding.
        let binHz = 1.0 / (Double(nFFT) * (1.0 / Double(sampleRate)))
        let fftFreqs = (0..<nBins).map { Double($0) * binHz }
        // np.linspace(min_mel, max_mel, nMels + 2), last point exact.
        let minMel = hzToMel(fmin), maxMel = hzToMel(fmax)
        let points = nMels + 2
        let step = (maxMel - minMel) / Double(points - 1)
        var mels = (0..<points).map { minMel + Double($0) * step }
        mels[points - 1] = maxMel
        let melF = mels.map(melToHz)
        var weights = [Float](repeating: 0, count: nMels * nBins)
        for m in 0..<nMels {
            let lowerDiff = melF[m + 1] - melF[m], upperDiff = melF[m + 2] - melF[m + 1]
            let enorm = 2.0 / (melF[m + 2] - melF[m])
            for k in 0..<nBins {
                let lower = -(melF[m] - fftFreqs[k]) / lowerDiff
                let upper = (melF[m + 2] - fftFreqs[k]) / upperDiff
                let w = Float(max(0, min(lower, upper)))   // librosa stores the triangle as float32 ...
                weights[m * nBins + k] = Float(Double(w) * enorm) // ... then scales it in place.
            }
        }
        return weights
    }
}
