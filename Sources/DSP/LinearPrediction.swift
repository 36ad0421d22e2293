// Linear prediction: Levinson-Durbin, autocorrelation, and LPC coefficients derived from a log-mel spectrogram alone.
import CFFTW
import Foundation

/// Errors of the linear-prediction routines.
public enum LinearPredictionError: Error, CustomStringConvertible, Equatable {
    /// The autocorrelation is not positive definite (zero energy, or a reflection coefficient of magnitude >= 1).
    case notPositiveDefinite(order: Int)
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case .notPositiveDefinite(let k): return "autocorrelation is not positive definite (Levinson-Durbin failed at order \(k))"
        case .invalid(let f, let r): return "linear prediction: invalid '\(f)': \(r)"
        }
    }
}

/// Linear prediction routines shared by the vocoder (LPC from the mel) and forecasting (Yule-Walker AR(p)).
public enum LinearPrediction {
    /// Solves the Yule-Walker (normal) equations of order `p` from autocorrelations `r[0...p]` by the
    /// Levinson-Durbin recursion (Levinson 1947; Durbin 1960), in O(p^2).
    ///
    /// - Returns: `a`, `[p]`, the predictor coefficients in prediction form, `x[t] ≈ sum_k a[k-1] x[t-k]`
    ///   (the solution of `toeplitz(r[0..<p]) a = r[1...p]`, as `scipy.linalg.solve_toeplitz`; librosa.lpc
    ///   returns the polynomial `[1, -a...]`); `error`, the prediction error power `r[0] prod (1 - k_i^2)`; and
    ///   `reflection`, the reflection (PARCOR) coefficients `[p]`, each of magnitude < 1.
    /// - Throws: `LinearPredictionError.notPositiveDefinite` when `r[0] <= 0`, a value is not finite, or a
    ///   reflection coefficient reaches magnitude 1.
    public static func levinsonDurbin(_ r: [Double], order p: Int) throws -> (a: [Double], error: Double, reflection: [Double]) {
        precondition(p >= 0 && r.count > p, "levinsonDurbin: need r[0...order]")
        guard r[0] > 0, r[0].isFinite, r[0...p].allSatisfy({ $0.isFinite }) else { throw LinearPredictionError.notPositiveDefinite(order: 0) }
        var a = [Double](repeating: 0, count: p), prev = a, k = a
        var err = r[0]
        for i in 0..<p {
            var acc = r[i + 1]
            for j in 0..<i { acc -= prev[j] * r[i - j] }
            let ki = acc / err
            guard abs(ki) < 1, ki.isFinite else { throw LinearPredictionError.notPositiveDefinite(order: i + 1) }
            k[i] = ki
            a[i] = ki
            for j in 0..<i { a[j] = prev[j] - ki * prev[i - 1 - j] }
            err *= 1 - ki * ki
            prev = a
        }
        return (a, err, k)
    }

    /// Biased sample autocorrelation `r[k] = sum_{t} x[t] x[t+k]` for `k = 0...maxLag` (no mean removal, no
    /// normalisation), in Double.
    public static func autocorrelation(_ x: [Double], maxLag: Int) -> [Double] {
        (0...maxLag).map { k in
            var s = 0.0
            if k < x.count { for t in 0..<(x.count - k) { s += x[t] * x[t + k] } }
            return s
        }
    }
}

/// LPC coefficients per frame derived from a log-mel spectrogram alone, as LPCNet derives them from its Bark
/// bands (Valin and Skoglund 2019; xiph/LPCNet `src/freq.c`, `lpc_from_cepstrum`):
///
/// 1. the mel power `exp(log_mel)` becomes a linear power spectrum through the filterbank's Moore-Penrose
///    pseudo-inverse, clamped below at `floor`;
/// 2. it is multiplied by the pre-emphasis filter's power response `|1 - alpha e^(-iw)|^2`, so that the
///    coefficients predict the pre-emphasised waveform the vocoder models;
/// 3. an inverse real FFT (FFTW) of length `n_fft` gives the autocorrelation;
/// 4. a Gaussian lag window `exp(-0.5 (2 pi f_w k / sr)^2)` (bandwidth `lagWindowHz`) and a relative white-noise
///    floor `r[0] *= 1 + noiseFloor` smooth and condition it; an optional absolute floor adds the autocorrelation of
///    a white noise of RMS `absoluteFloorRMS` (pre-emphasised waveform, full scale 1), as LPCNet adds a constant to
///    `ac[0]`: frames far quieter than that floor get nearly flat coefficients (little prediction), so the synthesis
///    filter `1/A(z)` of a near-silent frame cannot resonate;
/// 5. Levinson-Durbin gives `order` predictor coefficients, prediction form: `p[t] = sum_k a[k-1] s[t-k]`.
///
/// Measured on English sentences (docs/voices.md), order 16 predicts the pre-emphasised waveform with a gain of
/// 9-12 dB. A frame whose recursion fails (it cannot after the noise floor, but a hostile `.npy` may hold
/// anything) gets all-zero coefficients: no prediction.
public final class MelLPC: @unchecked Sendable {
    public let features: FeatureConfig
    public let order: Int
    public let preemphasis: Float
    public let lagWindowHz: Double
    public let noiseFloor: Double
    /// RMS of the white noise whose power is added to every frame's `r[0]` (0: none).
    public let absoluteFloorRMS: Double
    /// Clamp of the linear power spectrum from the pseudo-inverse (power units of `MelSpectrogram.power`).
    public let floor: Double
    /// `[n_fft/2 + 1, n_mels]` row-major pseudo-inverse of the Slaney filterbank.
    public let pseudoInverse: [Double]
    let tilt: [Double]
    let lagWindow: [Double]
    /// `r[0]` of a white noise of RMS `absoluteFloorRMS` in these power units: `rms^2 * sum(window^2)`.
    let absoluteFloor: Double
    private let inverse: fftwf_plan

    /// - Throws: `FeatureConfigError` for a bad feature config, `LinearPredictionError.invalid` for an order
    ///   outside 1...64 or a bad coefficient (`absoluteFloorRMS` must be finite and in [0, 1)).
    public init(features: FeatureConfig, order: Int = 16, preemphasis: Float, lagWindowHz: Double = 50,
                noiseFloor: Double = 1e-4, absoluteFloorRMS: Double = 0, floor: Double = 1e-10) throws {
        try features.validate()
        guard (1...64).contains(order), order < features.nFFT / 2 else {
            throw LinearPredictionError.invalid(field: "lpc_order", reason: "must be in 1...64, got \(order)")
        }
        guard preemphasis >= 0, preemphasis < 1 else {
            throw LinearPredictionError.invalid(field: "preemphasis", reason: "must be in [0, 1), got \(preemphasis)")
        }
        guard absoluteFloorRMS >= 0, absoluteFloorRMS < 1 else {
            throw LinearPredictionError.invalid(field: "lpc_noise_floor_db", reason: "the floor's RMS must be in [0, 1), got \(absoluteFloorRMS)")
        }
        self.features = features
        self.order = order
        self.preemphasis = preemphasis
        self.lagWindowHz = lagWindowHz
        self.noiseFloor = noiseFloor
        self.absoluteFloorRMS = absoluteFloorRMS
        self.floor = floor
        let windowEnergy = MelSpectrogram.hannWindow(winLength: features.winLength, nFFT: features.nFFT)
            .reduce(0.0) { $0 + Double($1) * Double($1) }
        absoluteFloor = absoluteFloorRMS * absoluteFloorRMS * windowEnergy
        let n = features.nFFT, bins = n / 2 + 1
        let fb = MelSpectrogram.melFilterbank(sampleRate: features.sampleRate, nFFT: n, nMels: features.nMels,
                                              fmin: features.fmin, fmax: features.fmax)
        pseudoInverse = Self.pseudoInverse(fb.map(Double.init), rows: features.nMels, cols: bins)
        let alpha = Double(preemphasis)
        tilt = (0..<bins).map { k in
            let w = Double.pi * Double(k) / Double(bins - 1)
            return 1 + alpha * alpha - 2 * alpha * cos(w)
        }
        let sr = Double(features.sampleRate)
        lagWindow = (0...order).map { k in exp(-0.5 * pow(2 * Double.pi * lagWindowHz * Double(k) / sr, 2)) }
        let (f, i) = FFTWPlans.realPair(size: n)
        guard let i else { throw FeatureConfigError.invalid(field: "n_fft", reason: "FFTW could not plan an inverse FFT of size \(n)") }
        if let f { FFTWPlans.destroy(f) }
        inverse = i
    }

    deinit { FFTWPlans.destroy(inverse) }

    /// Moore-Penrose pseudo-inverse `F^T (F F^T + eps I)^(-1)` of a full-row-rank `[rows, cols]` matrix
    /// (rows <= cols), `[cols, rows]` row-major; `eps` is 1e-12 of the mean diagonal, against round-off.
    static func pseudoInverse(_ F: [Double], rows m: Int, cols n: Int) -> [Double] {
        var g = [Double](repeating: 0, count: m * m)
        for i in 0..<m { for j in i..<m {
            var s = 0.0
            for k in 0..<n { s += F[i * n + k] * F[j * n + k] }
            g[i * m + j] = s; g[j * m + i] = s
        } }
        var trace = 0.0
        for i in 0..<m { trace += g[i * m + i] }
        for i in 0..<m { g[i * m + i] += 1e-12 * trace / Double(m) }
        // Invert the symmetric positive-definite Gram matrix by Gauss-Jordan elimination with partial pivoting.
        var inv = [Double](repeating: 0, count: m * m)
        for i in 0..<m { inv[i * m + i] = 1 }
        for col in 0..<m {
            var piv = col
            for r in col..<m where abs(g[r * m + col]) > abs(g[piv * m + col]) { piv = r }
            if piv != col { for k in 0..<m { g.swapAt(col * m + k, piv * m + k); inv.swapAt(col * m + k, piv * m + k) } }
            let d = g[col * m + col]
            for k in 0..<m { g[col * m + k] /= d; inv[col * m + k] /= d }
            for r in 0..<m where r != col {
                let f = g[r * m + col]
                if f == 0 { continue }
                for k in 0..<m { g[r * m + k] -= f * g[col * m + k]; inv[r * m + k] -= f * inv[col * m + k] }
            }
        }
        var out = [Double](repeating: 0, count: n * m)
        for k in 0..<n { for j in 0..<m {
            var s = 0.0
            for i in 0..<m { s += F[i * n + k] * inv[i * m + j] }
            out[k * m + j] = s
        } }
        return out
    }

    /// Predictor coefficients of every frame of raw natural-log mels `[frames, n_mels]` (not normalised):
    /// `[frames, order]`, prediction form (`p[t] = sum_k a[f, k-1] s[t-k]` on the pre-emphasised waveform).
    public func coefficients(logMel: [Float], frames: Int) -> [Float] {
        let M = features.nMels, n = features.nFFT, bins = n / 2 + 1, p = order
        precondition(logMel.count == frames * M, "coefficients: logMel must be [frames, n_mels]")
        var out = [Float](repeating: 0, count: frames * p)
        let spec = fftwf_alloc_complex(bins)!, corr = fftwf_alloc_real(n)!
        defer { fftwf_free(spec); fftwf_free(corr) }
        let c = UnsafeMutableRawPointer(spec).assumingMemoryBound(to: Float.self)
        var mel = [Double](repeating: 0, count: M)
        var r = [Double](repeating: 0, count: p + 1)
        for f in 0..<frames {
            for j in 0..<M {
                let v = Double(logMel[f * M + j])
                mel[j] = v.isFinite ? exp(min(v, 80)) : 0
            }
            for k in 0..<bins {
                var s = 0.0
                let row = k * M
                for j in 0..<M { s += pseudoInverse[row + j] * mel[j] }
                c[2 * k] = Float(max(s, floor) * tilt[k])
                c[2 * k + 1] = 0
            }
            fftwf_execute_dft_c2r(inverse, spec, corr)
            for k in 0...p { r[k] = Double(corr[k]) / Double(n) * lagWindow[k] }
            r[0] = r[0] * (1 + noiseFloor) + absoluteFloor
            guard let a = try? LinearPrediction.levinsonDurbin(r, order: p).a else { continue }
            for k in 0..<p { out[f * p + k] = Float(a[k]) }
        }
        return out
    }

    /// The frame whose coefficients predict sample `t`: the nearest frame centre, `min((t + hop/2) / hop,
    /// frames - 1)` (frame `f` is centred on sample `f * hop`). Training and generation both use it.
    @inline(__always)
    public static func frame(ofSample t: Int, hop: Int, frames: Int) -> Int {
        min((t + hop / 2) / hop, frames - 1)
    }

    /// Prediction `p[t] = sum_k a[k] s[t-1-k]` from the last `order` samples: `history[0]` is `s[t-1]`,
    /// `history[1]` is `s[t-2]`, ... (zeros before the signal's start).
    @inline(__always)
    public static func predict(coefficients a: UnsafePointer<Float>, history: UnsafePointer<Float>, order: Int) -> Float {
        var acc: Float = 0
        for k in 0..<order { acc += a[k] * history[k] }
        return acc
    }

    /// The prediction `[n]` of a whole pre-emphasised signal `s` `[n]`, with each sample's frame from
    /// `frame(ofSample:)`: `p[t] = sum_k a[f(t), k] s[t-1-k]` (zeros before the start).
    public static func predictions(signal s: [Float], coefficients: [Float], order p: Int, hop: Int, frames: Int) -> [Float] {
        var out = [Float](repeating: 0, count: s.count)
        var history = [Float](repeating: 0, count: p)
        coefficients.withUnsafeBufferPointer { a in
            history.withUnsafeMutableBufferPointer { h in
                for t in 0..<s.count {
                    let f = frame(ofSample: t, hop: hop, frames: frames)
                    out[t] = predict(coefficients: a.baseAddress! + f * p, history: h.baseAddress!, order: p)
                    var k = p - 1
                    while k > 0 { h[k] = h[k - 1]; k -= 1 }
                    if p > 0 { h[0] = s[t] }
                }
            }
        }
        return out
    }
}
