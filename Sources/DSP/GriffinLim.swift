// Griffin-Lim phase reconstruction from a log-mel spectrogram (the classical baseline vocoder), on FFTW.
import CFFTW
import Foundation

/// Short-time Fourier transform and its inverse with librosa 0.11's conventions (`center=True`, zero padding,
/// periodic Hann window of `win_length` centred in `n_fft`), on FFTW.
///
/// Spectra are frame-major complex arrays, `[frames, n_fft/2 + 1, 2]` (real, imaginary), unnormalised (as
/// `numpy.fft.rfft`); frame `f` is centred on sample `f * hop`.
public final class STFT: @unchecked Sendable {
    public let nFFT: Int
    public let hopLength: Int
    /// `[n_fft]` analysis and synthesis window.
    public let window: [Float]
    public var bins: Int { nFFT / 2 + 1 }
    private let forwardPlan: fftwf_plan
    private let inversePlan: fftwf_plan

    /// - Throws: `FeatureConfigError.invalid` if FFTW cannot plan the transform or the sizes are not positive.
    public init(nFFT: Int, hopLength: Int, winLength: Int) throws {
        guard nFFT >= 2, hopLength >= 1, (1...nFFT).contains(winLength) else {
            throw FeatureConfigError.invalid(field: "n_fft", reason: "need n_fft >= 2, hop >= 1 and 1 <= win_length <= n_fft")
        }
        self.nFFT = nFFT
        self.hopLength = hopLength
        window = MelSpectrogram.hannWindow(winLength: winLength, nFFT: nFFT)
        let (f, i) = FFTWPlans.realPair(size: nFFT)
        guard let f, let i else { throw FeatureConfigError.invalid(field: "n_fft", reason: "FFTW could not plan a real FFT of size \(nFFT)") }
        forwardPlan = f
        inversePlan = i
    }

    deinit { FFTWPlans.destroy(forwardPlan, inversePlan) }

    /// `1 + samples / hop` frames.
    public func frameCount(for samples: Int) -> Int { 1 + max(0, samples) / hopLength }

    /// The spectrum of `y`, `[frames, bins, 2]` with `frames = frameCount(for: y.count)`.
    public func forward(_ y: [Float]) -> [Float] {
        let n = nFFT, half = n / 2, B = bins, frames = frameCount(for: y.count)
        var out = [Float](repeating: 0, count: frames * B * 2)
        let buf = fftwf_alloc_real(n)!, spec = fftwf_alloc_complex(B)!
        defer { fftwf_free(buf); fftwf_free(spec) }
        let c = UnsafeMutableRawPointer(spec).assumingMemoryBound(to: Float.self)
        for f in 0..<frames {
            let start = f * hopLength - half
            for i in 0..<n {
                let j = start + i
                buf[i] = j >= 0 && j < y.count ? y[j] * window[i] : 0
            }
            fftwf_execute_dft_r2c(forwardPlan, buf, spec)
            for k in 0..<(2 * B) { out[f * B * 2 + k] = c[k] }
        }
        return out
    }

    /// The least-squares signal of a spectrum `[frames, bins, 2]` (weighted overlap-add divided by the summed
    /// squared window, as `librosa.istft`), `length` samples.
    public func inverse(_ spectrum: [Float], frames: Int, length: Int) -> [Float] {
        let n = nFFT, half = n / 2, B = bins
        precondition(spectrum.count == frames * B * 2, "STFT.inverse: spectrum must be [frames, bins, 2]")
        var y = [Float](repeating: 0, count: length), norm = [Float](repeating: 0, count: length)
        let buf = fftwf_alloc_real(n)!, spec = fftwf_alloc_complex(B)!
        defer { fftwf_free(buf); fftwf_free(spec) }
        let c = UnsafeMutableRawPointer(spec).assumingMemoryBound(to: Float.self)
        let scale = 1 / Float(n)
        for f in 0..<frames {
            for k in 0..<(2 * B) { c[k] = spectrum[f * B * 2 + k] }
            fftwf_execute_dft_c2r(inversePlan, spec, buf)
            let start = f * hopLength - half
            for i in 0..<n {
                let j = start + i
                guard j >= 0 && j < length else { continue }
                y[j] += buf[i] * scale * window[i]
                norm[j] += window[i] * window[i]
            }
        }
        for j in 0..<length where norm[j] > 1e-10 { y[j] /= norm[j] }
        return y
    }
}

/// Griffin-Lim reconstruction of a waveform from a natural-log mel spectrogram (Griffin and Lim 1984, "Signal
/// estimation from modified short-time Fourier transform"), with the momentum of the fast variant (Perraudin,
/// Balazs and Søndergaard 2013), as `librosa.feature.inverse.mel_to_audio(..., n_iter=60)`:
///
/// 1. the mel power `exp(log_mel)` becomes a linear power spectrum by non-negative least squares against the
///    Slaney filterbank (multiplicative updates, Lee and Seung 2001, started from the clamped pseudo-inverse),
///    whose square root is the STFT magnitude;
/// 2. `iterations` rounds of: inverse STFT with the current phases, STFT, and a phase update with momentum
///    `angles = rebuilt - momentum / (1 + momentum) * previous`, starting from random phases (seeded).
///
/// The classical baseline every neural vocoder is compared with on the same features (`synth vocode --vocoder
/// griffin-lim`).
public final class GriffinLim: @unchecked Sendable {
    public let features: FeatureConfig
    public let iterations: Int
    public let momentum: Float
    let stft: STFT
    let filterbank: [Float]     // [n_mels, bins]
    let bands: [Range<Int>]     // non-zero bins of each mel band
    let pseudoInverse: [Double] // [bins, n_mels]

    /// - Throws: `FeatureConfigError` for a bad feature config.
    public init(features: FeatureConfig, iterations: Int = 60, momentum: Float = 0.99) throws {
        try features.validate()
        self.features = features
        self.iterations = max(0, iterations)
        self.momentum = momentum
        stft = try STFT(nFFT: features.nFFT, hopLength: features.hopLength, winLength: features.winLength)
        let B = features.nFFT / 2 + 1, M = features.nMels
        let fb = MelSpectrogram.melFilterbank(sampleRate: features.sampleRate, nFFT: features.nFFT, nMels: M,
                                              fmin: features.fmin, fmax: features.fmax)
        filterbank = fb
        bands = MelSpectrogram.bandRanges(fb, nMels: M, bins: B)
        pseudoInverse = MelLPC.pseudoInverse(fb.map(Double.init), rows: M, cols: B)
    }

    /// STFT magnitudes `[frames, bins]` whose mel projection best matches `exp(log_mel)` (non-negative least squares).
    public func magnitude(logMel: [Float], frames: Int, nnlsIterations: Int = 100) -> [Float] {
        let M = features.nMels, B = features.nFFT / 2 + 1
        precondition(logMel.count == frames * M, "magnitude: logMel must be [frames, n_mels]")
        var out = [Float](repeating: 0, count: frames * B)
        var target = [Double](repeating: 0, count: M), x = [Double](repeating: 0, count: B)
        var fx = [Double](repeating: 0, count: M), num = x, den = x
        for f in 0..<frames {
            var peak = 0.0
            for m in 0..<M {
                let v = Double(logMel[f * M + m])
                target[m] = v.isFinite ? exp(min(v, 80)) : 0
                peak = max(peak, target[m])
            }
            // Start: the pseudo-inverse, clamped to a small positive floor so that multiplicative updates can move it.
            let floor = max(peak, 1e-30) * 1e-8
            for k in 0..<B {
                var s = 0.0
                for m in 0..<M { s += pseudoInverse[k * M + m] * target[m] }
                x[k] = max(s, floor)
            }
            // Bins no filter covers (above fmax) get no energy.
            for _ in 0..<nnlsIterations {
                for m in 0..<M {
                    var s = 0.0
                    for k in bands[m] { s += Double(filterbank[m * B + k]) * x[k] }
                    fx[m] = s
                }
                for k in 0..<B { num[k] = 0; den[k] = 0 }
                for m in 0..<M {
                    for k in bands[m] {
                        let w = Double(filterbank[m * B + k])
                        num[k] += w * target[m]
                        den[k] += w * fx[m]
                    }
                }
                for k in 0..<B { x[k] = den[k] > 0 ? x[k] * num[k] / den[k] : 0 }
            }
            for k in 0..<B { out[f * B + k] = Float(x[k].squareRoot()) }
        }
        return out
    }

    /// A waveform of `length` samples whose STFT magnitude approximates `magnitude` `[frames, bins]`.
    /// `seed` sets the random initial phases; nil starts from zero phase (librosa's `init=None`).
    public func reconstruct(magnitude S: [Float], frames: Int, length: Int, seed: UInt64? = 1) -> [Float] {
        let B = stft.bins
        precondition(S.count == frames * B, "reconstruct: magnitude must be [frames, bins]")
        var angles = [Float](repeating: 0, count: frames * B * 2)
        var state = seed ?? 0
        for i in 0..<(frames * B) {
            if seed != nil {
                // SplitMix64 phases, uniform in [0, 2 pi).
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                let phase = 2 * Float.pi * Float(z >> 40) / Float(1 << 24)
                angles[2 * i] = cos(phase); angles[2 * i + 1] = sin(phase)
            } else {
                angles[2 * i] = 1
            }
        }
        var rebuilt = [Float](repeating: 0, count: frames * B * 2)
        var spec = rebuilt
        let m = momentum / (1 + momentum)
        func apply() {
            for i in 0..<(frames * B) { spec[2 * i] = S[i] * angles[2 * i]; spec[2 * i + 1] = S[i] * angles[2 * i + 1] }
        }
        for _ in 0..<iterations {
            let previous = rebuilt
            apply()
            rebuilt = stft.forward(stft.inverse(spec, frames: frames, length: length))
            if rebuilt.count != angles.count { break } // length gave another frame count: keep the phases so far
            for i in 0..<(frames * B) {
                let re = rebuilt[2 * i] - m * previous[2 * i], im = rebuilt[2 * i + 1] - m * previous[2 * i + 1]
                let mag = (re * re + im * im).squareRoot() + 1e-16
                angles[2 * i] = re / mag; angles[2 * i + 1] = im / mag
            }
        }
        apply()
        return stft.inverse(spec, frames: frames, length: length)
    }

    /// A waveform of `length` samples (in [-1, 1], clipped) from natural-log mels `[frames, n_mels]`. The
    /// reconstruction runs over the `(frames - 1) * hop` samples the frames cover when `length` does not give
    /// `frames` frames itself (a `.npy` input), and is then padded with zeros or cut to `length`.
    public func invert(logMel: [Float], frames: Int, length: Int, seed: UInt64? = 1) -> [Float] {
        let inner = stft.frameCount(for: length) == frames ? length : (frames - 1) * features.hopLength
        var y = reconstruct(magnitude: magnitude(logMel: logMel, frames: frames), frames: frames, length: inner, seed: seed)
            .map { min(max($0, -1), 1) }
        if y.count < length { y += [Float](repeating: 0, count: length - y.count) }
        return Array(y.prefix(length))
    }
}
