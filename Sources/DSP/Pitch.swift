// Fundamental frequency (F0) and voicing per frame with the YIN estimator (de Cheveigné and Kawahara 2002), on FFTW.
import CFFTW
import Foundation

/// Settings of the pYIN pitch estimator. JSON keys are snake_case; missing keys take `.default`.
public struct PitchConfig: Codable, Equatable, Sendable {
    /// Lowest F0 searched, in Hz (the longest lag is `ceil(sample_rate / fmin)` samples).
    public var fmin: Double
    /// Highest F0 searched, in Hz.
    public var fmax: Double
    /// Samples in each analysis frame, centred on the frame's sample (`f * hop_length`); the YIN integration
    /// difference function runs over the whole frame, which must hold at least two of the longest periods.
    public var frameLength: Int
    /// Probability of a switch between voiced and unvoiced from one frame to the next (pYIN's HMM).
    public var switchProbability: Double

    enum CodingKeys: String, CodingKey {
        case fmin, fmax
        case frameLength = "frame_length"
        case switchProbability = "switch_probability"
    }

    /// 50-600 Hz, frames of 1024 samples (64 ms at 16 kHz), switch probability 0.01 (librosa's default).
    public static let `default` = PitchConfig(fmin: 50, fmax: 600, frameLength: 1024, switchProbability: 0.01)

    public init(fmin: Double, fmax: Double, frameLength: Int, switchProbability: Double = 0.01) {
        self.fmin = fmin
        self.fmax = fmax
        self.frameLength = frameLength
        self.switchProbability = switchProbability
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PitchConfig.default
        fmin = try c.decodeIfPresent(Double.self, forKey: .fmin) ?? d.fmin
        fmax = try c.decodeIfPresent(Double.self, forKey: .fmax) ?? d.fmax
        frameLength = try c.decodeIfPresent(Int.self, forKey: .frameLength) ?? d.frameLength
        switchProbability = try c.decodeIfPresent(Double.self, forKey: .switchProbability) ?? d.switchProbability
    }

    /// Checks the fields against a sample rate.
    /// - Throws: `FeatureConfigError.invalid` naming the field.
    public func validate(sampleRate: Int) throws {
        func bad(_ f: String, _ r: String) -> FeatureConfigError { .invalid(field: "pitch.\(f)", reason: r) }
        let nyquist = Double(sampleRate) / 2
        guard fmin.isFinite, fmin >= 10 else { throw bad("fmin", "must be >= 10 Hz, got \(fmin)") }
        guard fmax.isFinite, fmax > fmin * 1.1, fmax < nyquist / 2 else {
            throw bad("fmax", "must be above fmin (\(fmin)) and below a quarter of the sample rate (\(nyquist / 2)), got \(fmax)")
        }
        guard (64...16384).contains(frameLength) else { throw bad("frame_length", "must be in 64...16384, got \(frameLength)") }
        let maxLag = Int((Double(sampleRate) / fmin).rounded(.up))
        guard frameLength >= 2 * maxLag + 2 else {
            throw bad("frame_length", "must be at least twice the longest period (\(maxLag) samples at fmin \(fmin) Hz), got \(frameLength)")
        }
        guard switchProbability.isFinite, switchProbability > 0, switchProbability < 1 else {
            throw bad("switch_probability", "must be in (0, 1), got \(switchProbability)")
        }
    }
}

/// F0 and voicing of each frame of a signal.
public struct PitchTrack: Equatable, Sendable {
    /// F0 in Hz per frame, `[frames]`; 0 where the frame is unvoiced.
    public var f0: [Float]
    /// Voicing decision per frame, `[frames]`.
    public var voiced: [Bool]
    /// YIN's aperiodicity per frame, the minimum of `d'(tau)` in the searched range, `[frames]` (0 = periodic,
    /// about 1 for noise and silence).
    public var aperiodicity: [Float]

    public var frames: Int { f0.count }

    /// F0 with the unvoiced frames filled in, for conditioning and a harmonic source: linear interpolation of
    /// ln F0 between the voiced frames on either side, held constant before the first and after the last;
    /// `fallback` Hz everywhere when no frame is voiced. `[frames]`, Hz, every value > 0.
    public func continuousF0(fallback: Float = 120) -> [Float] {
        let n = f0.count
        guard let first = voiced.firstIndex(of: true) else { return [Float](repeating: fallback, count: n) }
        var out = f0
        var prev = first
        for i in 0..<first { out[i] = f0[first] }
        var i = first + 1
        while i < n {
            if voiced[i] {
                if i > prev + 1 {
                    let a = log(f0[prev]), b = log(f0[i])
                    for j in (prev + 1)..<i { out[j] = exp(a + (b - a) * Float(j - prev) / Float(i - prev)) }
                }
                prev = i
            }
            i += 1
        }
        for j in (prev + 1)..<max(prev + 1, n) { out[j] = f0[prev] }
        return out
    }
}

/// Probabilistic YIN (pYIN: Mauch and Dixon 2014, "pYIN: a fundamental frequency estimator using probabilistic
/// threshold distributions"), following librosa 0.11's `librosa.pyin` step for step, with frames centred like
/// the mel spectrogram's: frame `f` covers samples `f * hop - frame_length / 2 ..< f * hop + frame_length / 2`
/// (zeros outside the signal), and a signal of `n` samples has `1 + n / hop` frames, so frame `f` of the pitch
/// track is frame `f` of `MelSpectrogram`.
///
/// 1. YIN (de Cheveigné and Kawahara 2002) per frame: the difference function over the whole frame as librosa
///    computes it, `d(tau) = 2 (ACF(0) - ACF(tau)) - sum_{m < tau} x_m^2`, with the autocorrelation from one FFT of
///    the frame zero-padded to twice its length (FFTW); its cumulative-mean-normalised `d'(tau)`; parabolic
///    interpolation of each trough.
/// 2. Each of 100 thresholds, weighted by a beta(2, 18) distribution, picks troughs of `d'` below it with a
///    Boltzmann prior favouring the shorter periods; a threshold with no trough below it gives the global minimum
///    a share of 0.01. The summed weights are the candidates' probabilities, and their total the frame's voicing
///    probability.
/// 3. A hidden Markov model over 10-cent pitch bins, voiced and unvoiced, with pitch moves of at most 35.92
///    octaves/s (triangular) and a voicing switch probability of `switch_probability`, decoded by Viterbi.
///
/// Where librosa reports the bin's centre frequency, a voiced frame here reports the interpolated frequency of
/// the trough that fell into that bin (within half a bin, so within 5 cents of librosa); and a voiced run without
/// one clearly periodic frame (`d'` minimum below 0.5; white noise stays near 0.85) is unvoiced (see `track`). Non-finite samples are
/// treated as 0. Silence, white noise and a signal shorter than a period give unvoiced frames (F0 0), never NaN.
public final class PitchEstimator: @unchecked Sendable {
    public let config: PitchConfig
    public let sampleRate: Int
    public let hopLength: Int
    let minLag, maxLag: Int
    /// Pitch bins of 10 cents from fmin; their centre frequencies in Hz.
    let bins: Int
    let binHz: [Double]
    /// Beta(2, 18) probability mass of each of the 100 thresholds (0.01, 0.02, ..., 1.0).
    let betaProbs: [Double]
    /// Log transition weights between pitch bins, triangular, `[2 * halfWidth + 1]` per row (row-normalised).
    let halfWidth: Int
    private let forward: fftwf_plan
    private let inverse: fftwf_plan
    private let n: Int
    static let thresholds = 100
    static let periodicRunThreshold: Float = 0.5
    static let binsPerSemitone = 10

    /// - Throws: `FeatureConfigError.invalid` if the config does not fit the sample rate or `hopLength < 1`.
    public init(config: PitchConfig = .default, sampleRate: Int, hopLength: Int) throws {
        try config.validate(sampleRate: sampleRate)
        guard hopLength >= 1 else { throw FeatureConfigError.invalid(field: "hop_length", reason: "must be >= 1, got \(hopLength)") }
        self.config = config
        self.sampleRate = sampleRate
        self.hopLength = hopLength
        minLag = max(2, Int((Double(sampleRate) / config.fmax).rounded(.down)))
        maxLag = min(config.frameLength - 1, Int((Double(sampleRate) / config.fmin).rounded(.up)))
        n = config.frameLength
        let perOctave = Double(12 * Self.binsPerSemitone)
        bins = Int((perOctave * log2(config.fmax / config.fmin)).rounded(.down)) + 1
        binHz = (0..<bins).map { config.fmin * pow(2, Double($0) / perOctave) }
        // The regularised incomplete beta function of beta(2, 18): I_x = 1 - (1-x)^19 - 19 x (1-x)^18.
        func cdf(_ x: Double) -> Double { 1 - pow(1 - x, 19) - 19 * x * pow(1 - x, 18) }
        betaProbs = (0..<Self.thresholds).map { cdf(Double($0 + 1) / 100) - cdf(Double($0) / 100) }
        let semitonesPerFrame = (35.92 * 12 * Double(hopLength) / Double(sampleRate)).rounded()
        halfWidth = Int(semitonesPerFrame) * Self.binsPerSemitone / 2
        let (f, i) = FFTWPlans.realPair(size: 2 * n)
        guard let f, let i else {
            throw FeatureConfigError.invalid(field: "pitch.frame_length", reason: "FFTW could not plan an FFT of size \(2 * n)")
        }
        forward = f
        inverse = i
    }

    deinit { FFTWPlans.destroy(forward, inverse) }

    /// Number of frames for `sampleCount` samples: `1 + sampleCount / hop_length`.
    public func frameCount(for sampleCount: Int) -> Int { 1 + max(0, sampleCount) / hopLength }

    /// One frame's candidates: (pitch bin, frequency in Hz, probability), and the voicing probability.
    struct Candidates {
        var items: [(bin: Int, hz: Double, p: Double)] = []
        var voicedProbability = 0.0
        var aperiodicity: Float = 1
    }

    /// The pitch track of `samples` (mono, in [-1, 1], at `sampleRate`).
    public func track(_ samples: [Float]) -> PitchTrack {
        let frames = frameCount(for: samples.count)
        let M = 2 * n
        let buffer = fftwf_alloc_real(M)!, spec = fftwf_alloc_complex(M / 2 + 1)!, acf = fftwf_alloc_real(M)!
        defer { fftwf_free(buffer); fftwf_free(spec); fftwf_free(acf) }
        let candidates = (0..<frames).map { frameCandidates(samples, frame: $0, buffer: buffer, spec: spec, acf: acf) }
        let states = viterbi(candidates)
        var f0 = [Float](repeating: 0, count: frames), voiced = [Bool](repeating: false, count: frames)
        for (f, s) in states.enumerated() where s < bins {
            voiced[f] = true
            // The interpolated frequency of the candidate in that bin, else the bin's centre.
            let hit = candidates[f].items.filter { $0.bin == s }.max { $0.p < $1.p }
            f0[f] = Float(hit?.hz ?? binHz[s])
        }
        let aperiodicity = candidates.map(\.aperiodicity)
        // One departure from librosa: a voiced run none of whose frames is clearly periodic (aperiodicity below
        // `periodicRunThreshold`) becomes unvoiced. pYIN spreads the unvoiced probability over every pitch bin, so
        // on white noise the global minimum's 1 % share can outscore it and noise would come out "voiced".
        var f = 0
        while f < frames {
            guard voiced[f] else { f += 1; continue }
            var end = f
            while end < frames && voiced[end] { end += 1 }
            if !aperiodicity[f..<end].contains(where: { $0 < Self.periodicRunThreshold }) {
                for k in f..<end { voiced[k] = false; f0[k] = 0 }
            }
            f = end
        }
        return PitchTrack(f0: f0, voiced: voiced, aperiodicity: aperiodicity)
    }

    /// Steps 1 and 2 for frame `f`.
    func frameCandidates(_ samples: [Float], frame f: Int, buffer frame: UnsafeMutablePointer<Float>,
                         spec: UnsafeMutablePointer<fftwf_complex>, acf: UnsafeMutablePointer<Float>) -> Candidates {
        let N = n, M = 2 * n, half = N / 2, nb = M / 2 + 1
        let start = f * hopLength - half, count = samples.count
        var prefix = [Double](repeating: 0, count: N + 1)  // prefix[k] = sum_{m < k} y_m^2
        for i in 0..<M {
            let j = start + i
            let v = i < N && j >= 0 && j < count ? samples[j] : 0
            frame[i] = v.isFinite ? v : 0
            if i < N { prefix[i + 1] = prefix[i] + Double(frame[i]) * Double(frame[i]) }
        }
        var out = Candidates()
        guard prefix[N] > 0 else { return out }
        // ACF(k) = sum_m y_m y_(m+k) over the whole frame, from |FFT|^2 of the frame zero-padded to 2N (no wrap).
        fftwf_execute_dft_r2c(forward, frame, spec)
        let c = UnsafeMutableRawPointer(spec).assumingMemoryBound(to: Float.self)
        for k in 0..<nb { c[2 * k] = c[2 * k] * c[2 * k] + c[2 * k + 1] * c[2 * k + 1]; c[2 * k + 1] = 0 }
        fftwf_execute_dft_c2r(inverse, spec, acf)
        // d(k) = 2 (ACF(0) - ACF(k)) - sum_{m < k} y_m^2 (librosa 0.11), and d'(k) = d(k) k / sum_{j=1..k} d(j).
        let acf0 = Double(acf[0]) / Double(M)
        var dn = [Double](repeating: 1, count: maxLag + 1)
        var running = 0.0
        for tau in 1...maxLag {
            let d = 2 * (acf0 - Double(acf[tau]) / Double(M)) - prefix[tau]
            running += d
            dn[tau] = d / (running / Double(tau) + Double.leastNormalMagnitude)
        }
        // Troughs of d' in [minLag, maxLag] (librosa.util.localmin; the first lag counts when it is below the next).
        let y = Array(dn[minLag...maxLag])
        var troughs: [Int] = []
        for i in y.indices {
            let isTrough: Bool
            if i == 0 { isTrough = y[0] < y[1] }
            else if i == y.count - 1 { isTrough = y[i] < y[i - 1] }
            else { isTrough = y[i] < y[i - 1] && y[i] <= y[i + 1] }
            if isTrough { troughs.append(i) }
        }
        out.aperiodicity = Float(y.min() ?? 1)
        guard !troughs.isEmpty else { return out }
        var probs = [Double](repeating: 0, count: troughs.count)
        let lambda = 2.0
        for k in 0..<Self.thresholds {
            let thr = Double(k + 1) / 100
            let below = troughs.indices.filter { y[troughs[$0]] < thr }
            let nt = below.count
            guard nt > 0 else { continue }
            // Boltzmann pmf over the position among the troughs below the threshold.
            let norm = (1 - exp(-lambda)) / (1 - exp(-lambda * Double(nt)))
            for (pos, t) in below.enumerated() { probs[t] += norm * exp(-lambda * Double(pos)) * betaProbs[k] }
        }
        let globalMin = troughs.indices.min { y[troughs[$0]] < y[troughs[$1]] }!
        var massBelowMin = 0.0
        for k in 0..<Self.thresholds where !(y[troughs[globalMin]] < Double(k + 1) / 100) { massBelowMin += betaProbs[k] }
        probs[globalMin] += 0.01 * massBelowMin
        let perOctave = Double(12 * Self.binsPerSemitone)
        for (t, p) in zip(troughs, probs) where p > 0 {
            let lag = minLag + t
            var period = Double(lag)
            if lag > minLag && lag < maxLag {  // librosa's stencil: no shift at the range's ends or beyond a bin
                let y0 = dn[lag - 1], y1 = dn[lag], y2 = dn[lag + 1]
                let a = y2 + y0 - 2 * y1, b = (y2 - y0) / 2
                if abs(b) < abs(a) { period += -b / a }
            }
            let hz = Double(sampleRate) / period
            let bin = min(max(Int((perOctave * log2(hz / config.fmin)).rounded()), 0), bins - 1)
            out.items.append((bin, hz, p))
            out.voicedProbability += p
        }
        out.voicedProbability = min(max(out.voicedProbability, 0), 1)
        return out
    }

    /// Step 3: the most likely state per frame, `0..<bins` voiced at that bin, `bins..<2 bins` unvoiced.
    func viterbi(_ frames: [Candidates]) -> [Int] {
        let B = bins, S = 2 * B, hw = halfWidth
        guard !frames.isEmpty else { return [] }
        // Triangular transition weights (scipy.signal triangle of 2 hw + 1 points), normalised per row.
        let width = 2 * hw + 1
        let tri = (0..<width).map { 1 - abs(Double($0) - Double(hw)) / (Double(width + 1) / 2) }
        var rowLog = [[Double]](repeating: [], count: B)  // per source bin: log weights of targets lo...hi
        var rowLo = [Int](repeating: 0, count: B)
        for i in 0..<B {
            let lo = max(0, i - hw), hi = min(B - 1, i + hw)
            let w = (lo...hi).map { tri[$0 - i + hw] }
            let s = w.reduce(0, +)
            rowLog[i] = w.map { log($0 / s) }
            rowLo[i] = lo
        }
        let stay = log(1 - config.switchProbability), jump = log(config.switchProbability)
        func observation(_ c: Candidates) -> [Double] {
            var o = [Double](repeating: 0, count: S)
            for item in c.items { o[item.bin] = item.p }  // as librosa: the last candidate in a bin wins
            let unvoiced = (1 - c.voicedProbability) / Double(B)
            for j in B..<S { o[j] = unvoiced }
            return o.map { log(max($0, 1e-300)) }
        }
        var score = observation(frames[0]).map { $0 + log(1 / Double(S)) }
        var back = [[Int32]](repeating: [Int32](repeating: 0, count: S), count: frames.count)
        var next = [Double](repeating: -.infinity, count: S)
        for f in 1..<frames.count {
            for j in 0..<S { next[j] = -.infinity }
            var bp = back[f]
            for i in 0..<S where score[i] > -.infinity {
                let pi = i % B, voicedFrom = i < B
                let lo = rowLo[pi], row = rowLog[pi]
                for (k, lw) in row.enumerated() {
                    let pj = lo + k
                    // Same voicing: stay; the other: switch.
                    let a = score[i] + lw + stay, b = score[i] + lw + jump
                    let same = voicedFrom ? pj : pj + B, other = voicedFrom ? pj + B : pj
                    if a > next[same] { next[same] = a; bp[same] = Int32(i) }
                    if b > next[other] { next[other] = b; bp[other] = Int32(i) }
                }
            }
            back[f] = bp
            let o = observation(frames[f])
            for j in 0..<S { score[j] = next[j] + o[j] }
        }
        var state = score.indices.max { score[$0] < score[$1] }!
        var out = [Int](repeating: 0, count: frames.count)
        for f in stride(from: frames.count - 1, through: 0, by: -1) {
            out[f] = state
            if f > 0 { state = Int(back[f][state]) }
        }
        return out
    }
}

/// FFTW plan creation and destruction, serialised (the planner is not thread-safe).
enum FFTWPlans {
    static let lock = NSLock()

    /// A real-to-complex plan of `size` (FFTW_ESTIMATE, planned on aligned buffers), for the new-array execute
    /// functions. - Throws: `FeatureConfigError.invalid` when FFTW cannot plan it.
    static func realForward(size: Int) throws -> fftwf_plan {
        lock.lock()
        defer { lock.unlock() }
        let r = fftwf_alloc_real(size)!, c = fftwf_alloc_complex(size / 2 + 1)!
        defer { fftwf_free(r); fftwf_free(c) }
        guard let p = fftwf_plan_dft_r2c_1d(Int32(size), r, c, UInt32(FFTW_ESTIMATE)) else {
            throw FeatureConfigError.invalid(field: "n_fft", reason: "FFTW could not plan a real FFT of size \(size)")
        }
        return p
    }

    /// A real-to-complex and a complex-to-real plan of `size`, for the new-array execute functions.
    static func realPair(size: Int) -> (fftwf_plan?, fftwf_plan?) {
        lock.lock()
        defer { lock.unlock() }
        let r = fftwf_alloc_real(size)!, c = fftwf_alloc_complex(size / 2 + 1)!
        defer { fftwf_free(r); fftwf_free(c) }
        let f = fftwf_plan_dft_r2c_1d(Int32(size), r, c, UInt32(FFTW_ESTIMATE))
        let i = fftwf_plan_dft_c2r_1d(Int32(size), c, r, UInt32(FFTW_ESTIMATE))
        return (f, i)
    }

    static func destroy(_ plans: fftwf_plan...) {
        lock.lock()
        defer { lock.unlock() }
        for p in plans { fftwf_destroy_plan(p) }
    }
}
