// Choosing a voice's speaker from the features of an input (`--speaker auto`): a Gaussian mixture per speaker over the
// cepstrum of the normalised log-mels (GMM speaker identification), kept in config.json as `speaker_statistics`.
import AREngine
import Foundation
import NNCore

/// Per-speaker Gaussian mixtures for `--speaker auto`, after Reynolds and Rose (1995), "Robust text-independent
/// speaker identification using Gaussian mixture speaker models".
///
/// Each frame of the voice's normalised log-mels (the conditioning the voice reads, so `.npy` inputs work too) that is
/// within 40 dB of the input's loudest frame is turned into `coefficients` cepstral coefficients (the orthonormal
/// DCT-II of its mel bins, as `scipy.fft.dct(norm="ortho")`); each speaker's training frames are modelled by a mixture
/// of `components` diagonal Gaussians fitted by EM. An input is given to the speaker under whose mixture its frames
/// have the highest mean log-likelihood. The cost is a few microseconds per frame, against one teacher-forced pass of
/// the network per speaker for `Vocoder.bestSpeaker`.
///
/// An input by a voice the model never heard is told apart by a universal background model (Reynolds, Quatieri and
/// Dunn 2000): one more mixture, fitted on the frames of all speakers together. When the best speaker's mixture
/// explains the input by no more than `threshold` per frame better than the background (the log-likelihood ratio),
/// no speaker is recognised, and the voice's `fallback` speaker is used, the one measured to render unseen voices
/// best (docs/voices.md); without a fallback, the best-scoring speaker is used anyway. `calibrate` sets the
/// threshold so that 5 % of held-out recordings of the voice's own speakers fall below it.
///
/// Stored in the voice's config.json under the optional key `speaker_statistics` (old voices have none; loaders that
/// do not know the key ignore it), one entry per speaker name.
public struct SpeakerStatistics: Codable, Equatable, Sendable {
    /// One speaker's mixture: `weights [components]`, `means` and `variances` `[components, coefficients]` row-major.
    public struct Mixture: Codable, Equatable, Sendable {
        public var weights: [Float]
        public var means: [Float]
        public var variances: [Float]
        /// Training frames the mixture was fitted on.
        public var frames: Int
    }

    public var method = "gmm-cepstrum"
    public var coefficients: Int
    public var components: Int
    public var speakers: [String: Mixture]
    /// The background mixture over every speaker's frames (nil in statistics fitted before it existed).
    public var background: Mixture?
    /// The speaker for inputs that no speaker's mixture explains better than the background (nil: the best one).
    public var fallback: String?
    /// The log-likelihood ratio per frame (best speaker against background) an input must exceed to be recognised
    /// (nil: 0).
    public var threshold: Double?

    /// Cepstral coefficients per frame that `cepstra` computes and `fit` models unless told otherwise.
    public static let defaultCoefficients = 20
    /// The key in config.json.
    public static let configKey = "speaker_statistics"
    /// Frames quieter than the loudest by more than this (natural log of power: 40 dB) are left out.
    public static let loudnessRange: Float = 9.21

    public init(coefficients: Int, components: Int, speakers: [String: Mixture]) {
        self.coefficients = coefficients
        self.components = components
        self.speakers = speakers
    }

    /// The cepstra `[n, coefficients]` of the loud frames of normalised conditioning frames `[frames, frame_features]`
    /// (only the first `mel_bins` columns are read; loudness is the mean de-normalised ln-mel of a frame).
    public static func cepstra(features: [Float], frames: Int, config c: WaveNetConfig, coefficients D: Int = SpeakerStatistics.defaultCoefficients) -> [Float] {
        let M = c.melBins, W = c.frameFeatures
        guard frames > 0, features.count >= frames * W else { return [] }
        var loudness = [Float](repeating: 0, count: frames)
        for f in 0..<frames {
            var s: Float = 0
            for k in 0..<M { s += features[f * W + k] * c.featureStd[k] + c.featureMean[k] }
            loudness[f] = s / Float(M)
        }
        let floor = (loudness.max() ?? 0) - loudnessRange
        let basis = dctBasis(count: M, coefficients: D)
        var out: [Float] = []
        out.reserveCapacity(frames * D)
        for f in 0..<frames where loudness[f] >= floor {
            for k in 0..<D {
                var s: Float = 0
                for n in 0..<M { s += basis[k * M + n] * features[f * W + n] }
                out.append(s)
            }
        }
        return out
    }

    /// The cepstra of loud frames of each utterance (as `cepstra(features:)` of its conditioning frames, normalised
    /// with `config`), grouped by speaker name.
    public static func cepstra(of utterances: [Utterance], config c: WaveNetConfig, coefficients D: Int = SpeakerStatistics.defaultCoefficients) -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for u in utterances where u.speaker < c.speakers.count {
            let features = c.frameFeatures(logMel: u.logMel, f0: u.f0, voicing: u.voicing)
            out[c.speakers[u.speaker], default: []] += cepstra(features: features, frames: u.frames, config: c, coefficients: D)
        }
        return out
    }

    /// Orthonormal DCT-II basis `[coefficients, count]`.
    static func dctBasis(count N: Int, coefficients D: Int) -> [Float] {
        var b = [Float](repeating: 0, count: D * N)
        for k in 0..<D {
            let scale = k == 0 ? (1 / Double(N)).squareRoot() : (2 / Double(N)).squareRoot()
            for n in 0..<N { b[k * N + n] = Float(scale * cos(Double.pi * Double(k) * Double(2 * n + 1) / Double(2 * N))) }
        }
        return b
    }

    /// Fits one mixture per speaker to its cepstra (`[n, coefficients]` each): k-means++ seeding and 10 Lloyd
    /// iterations, then up to 100 EM iterations; variances are floored at `0.01` (as scikit-learn's `reg_covar`).
    /// Seeded: the same data and seed give the same statistics. A speaker with fewer frames than components gets
    /// as many components as frames.
    /// The background mixture has `components` Gaussians too, fitted on at most `backgroundFrames` frames taken evenly
    /// from all speakers' (in name order).
    /// With `background: false` (speakers added to statistics that keep their background) it is not fitted.
    /// `progress` counts mixtures (unit "mixtures": the speakers', then the background).
    public static func fit(_ cepstra: [String: [Float]], coefficients D: Int = SpeakerStatistics.defaultCoefficients, components K: Int = 8, seed: UInt64 = 1,
                           backgroundFrames: Int = 40000, background: Bool = true,
                           progress: (ProgressReport) -> Void = { _ in }) -> SpeakerStatistics {
        var mixtures: [String: Mixture] = [:]
        let total = cepstra.count + (background ? 1 : 0)
        for (i, name) in cepstra.keys.sorted().enumerated() {
            defer { progress(ProgressReport(done: i + 1, total: total, unit: "mixtures")) }
            let x = cepstra[name]!
            let n = x.count / D
            guard n > 0 else { continue }
            var rng = Xoshiro256(seed: seed &+ fnv1a(name))
            mixtures[name] = fitMixture(x.map(Double.init), count: n, dims: D, components: min(K, n), rng: &rng)
        }
        var stats = SpeakerStatistics(coefficients: D, components: K, speakers: mixtures)
        guard background else { return stats }
        let all = cepstra.keys.sorted().flatMap { cepstra[$0]! }
        let n = all.count / D
        if n > 0 {
            let stride = max(1, (n + backgroundFrames - 1) / backgroundFrames)
            var pooled: [Double] = []
            pooled.reserveCapacity((n / stride + 1) * D)
            for i in Swift.stride(from: 0, to: n, by: stride) { for d in 0..<D { pooled.append(Double(all[i * D + d])) } }
            var rng = Xoshiro256(seed: seed &+ fnv1a("background"))
            stats.background = fitMixture(pooled, count: pooled.count / D, dims: D, components: min(K, pooled.count / D), rng: &rng)
        }
        progress(ProgressReport(done: cepstra.count + 1, total: cepstra.count + 1, unit: "mixtures"))
        return stats
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func fitMixture(_ x: [Double], count n: Int, dims D: Int, components K: Int, rng: inout Xoshiro256) -> Mixture {
        let floorVar = 0.01
        func dist(_ i: Int, _ mu: [Double], _ k: Int) -> Double {
            var s = 0.0
            for d in 0..<D { let e = x[i * D + d] - mu[k * D + d]; s += e * e }
            return s
        }
        // k-means++ seeding.
        var means = [Double](repeating: 0, count: K * D)
        let first = rng.nextInt(below: n)
        for d in 0..<D { means[d] = x[first * D + d] }
        var nearest = (0..<n).map { dist($0, means, 0) }
        for k in 1..<K {
            let total = nearest.reduce(0, +)
            var target = Double(rng.nextFloat()) * total, pick = n - 1
            for i in 0..<n { target -= nearest[i]; if target <= 0 { pick = i; break } }
            for d in 0..<D { means[k * D + d] = x[pick * D + d] }
            for i in 0..<n { nearest[i] = min(nearest[i], dist(i, means, k)) }
        }
        // Lloyd iterations.
        var assign = [Int](repeating: 0, count: n)
        for _ in 0..<10 {
            for i in 0..<n { assign[i] = (0..<K).min { dist(i, means, $0) < dist(i, means, $1) }! }
            var sums = [Double](repeating: 0, count: K * D), counts = [Int](repeating: 0, count: K)
            for i in 0..<n { counts[assign[i]] += 1; for d in 0..<D { sums[assign[i] * D + d] += x[i * D + d] } }
            for k in 0..<K where counts[k] > 0 { for d in 0..<D { means[k * D + d] = sums[k * D + d] / Double(counts[k]) } }
        }
        var weights = [Double](repeating: 1 / Double(K), count: K)
        var vars = [Double](repeating: 1, count: K * D)
        do {
            var counts = [Double](repeating: 0, count: K), sq = [Double](repeating: 0, count: K * D)
            for i in 0..<n {
                let k = assign[i]
                counts[k] += 1
                for d in 0..<D { let e = x[i * D + d] - means[k * D + d]; sq[k * D + d] += e * e }
            }
            for k in 0..<K {
                weights[k] = max(counts[k], 1) / Double(n)
                for d in 0..<D { vars[k * D + d] = (counts[k] > 0 ? sq[k * D + d] / counts[k] : 1) + floorVar }
            }
        }
        // EM.
        var resp = [Double](repeating: 0, count: n * K)
        var previous = -Double.infinity
        var lp = [Double](repeating: 0, count: K)
        for _ in 0..<100 {
            var total = 0.0
            for i in 0..<n {
                for k in 0..<K { lp[k] = log(weights[k]) + logGaussian(x, i, means, vars, k, D) }
                let m = lp.max()!
                var s = 0.0
                for k in 0..<K { s += exp(lp[k] - m) }
                let lse = m + log(s)
                total += lse
                for k in 0..<K { resp[i * K + k] = exp(lp[k] - lse) }
            }
            for k in 0..<K {
                var nk = 0.0
                for i in 0..<n { nk += resp[i * K + k] }
                nk = max(nk, 1e-10)
                weights[k] = nk / Double(n)
                for d in 0..<D {
                    var mu = 0.0
                    for i in 0..<n { mu += resp[i * K + k] * x[i * D + d] }
                    mu /= nk
                    var v = 0.0
                    for i in 0..<n { let e = x[i * D + d] - mu; v += resp[i * K + k] * e * e }
                    means[k * D + d] = mu
                    vars[k * D + d] = v / nk + floorVar
                }
            }
            let mean = total / Double(n)
            if abs(mean - previous) < 1e-5 { break }
            previous = mean
        }
        return Mixture(weights: weights.map(Float.init), means: means.map(Float.init), variances: vars.map(Float.init), frames: n)
    }

    @inline(__always)
    static func logGaussian(_ x: [Double], _ i: Int, _ means: [Double], _ vars: [Double], _ k: Int, _ D: Int) -> Double {
        var s = 0.0
        for d in 0..<D {
            let v = vars[k * D + d], e = x[i * D + d] - means[k * D + d]
            s += log(2 * Double.pi * v) + e * e / v
        }
        return -0.5 * s
    }

    /// Mean log-likelihood per frame of cepstra `[n, coefficients]` under a mixture; `-infinity` without frames.
    func score(cepstra x: [Float], mixture m: Mixture) -> Double {
        let D = coefficients, n = x.count / D, K = m.weights.count
        guard n > 0 else { return -.infinity }
        var total = 0.0
        var lp = [Double](repeating: 0, count: K)
        for i in 0..<n {
            for k in 0..<K {
                var s = 0.0
                for d in 0..<D {
                    let v = Double(m.variances[k * D + d]), e = Double(x[i * D + d]) - Double(m.means[k * D + d])
                    s += log(2 * Double.pi * v) + e * e / v
                }
                lp[k] = log(Double(m.weights[k])) - 0.5 * s
            }
            let mx = lp.max()!
            total += mx + log(lp.reduce(0) { $0 + exp($1 - mx) })
        }
        return total / Double(n)
    }

    /// Mean log-likelihood per frame of cepstra `[n, coefficients]` under each speaker of `speakers` (in that
    /// order); `-infinity` for a speaker without a mixture, and for every speaker when there are no frames.
    public func scores(cepstra x: [Float], speakers names: [String]) -> [Double] {
        names.map { name in speakers[name].map { score(cepstra: x, mixture: $0) } ?? -.infinity }
    }

    /// The choice for one input.
    public struct Choice: Equatable, Sendable {
        /// The speaker to use (index into `config.speakers`).
        public var index: Int
        /// The speaker whose mixture explains the input best.
        public var best: Int
        /// Every speaker's mean log-likelihood per loud frame (higher is better).
        public var scores: [Double]
        /// The best speaker's score minus the background's (nil without a background mixture).
        public var likelihoodRatio: Double?
        /// False when no speaker explains the input better than the background, so `index` is the fallback.
        public var recognised: Bool
    }

    /// The speaker of `config.speakers` for normalised conditioning frames `[frames, frame_features]`: the one whose
    /// mixture explains their loud frames best, or the `fallback` when that one does no better than the background.
    public func choose(features: [Float], frames: Int, config c: WaveNetConfig) -> Choice {
        let x = Self.cepstra(features: features, frames: frames, config: c, coefficients: coefficients)
        let s = scores(cepstra: x, speakers: c.speakers)
        let best = s.indices.max { s[$0] < s[$1] } ?? 0
        let ratio = background.map { s[best] - score(cepstra: x, mixture: $0) }
        let recognised = ratio.map { $0 > (threshold ?? 0) } ?? true
        var index = best
        if !recognised, let f = fallback, let i = c.speakers.firstIndex(of: f) { index = i }
        return Choice(index: index, best: best, scores: s, likelihoodRatio: ratio, recognised: recognised)
    }

    /// Sets `threshold` to the `rejected` quantile of the likelihood ratios of held-out recordings of the voice's own
    /// speakers (normalised conditioning frames with their frame counts), so that that fraction of them would not be
    /// recognised. Needs 20 recordings or more; with fewer the threshold stays as it is. Returns the ratios, sorted.
    @discardableResult
    public mutating func calibrate(heldOut: [(features: [Float], frames: Int)], config c: WaveNetConfig, rejected: Double = 0.05) -> [Double] {
        let ratios = heldOut.compactMap { choose(features: $0.features, frames: $0.frames, config: c).likelihoodRatio }.sorted()
        if ratios.count >= 20 { threshold = ratios[min(ratios.count - 1, Int(rejected * Double(ratios.count)))] }
        return ratios
    }

    /// The statistics of a voice (its config's `speaker_statistics`), or nil.
    public static func read(voice: Voice) -> SpeakerStatistics? { voice.config.speakerStatistics }

    /// Statistics read from a file are untrusted: checks every size `choose` relies on (coefficients in
    /// 1...`melBins`, components in 1...64, each mixture's weights, means and variances `[K]`, `[K, coefficients]`,
    /// `[K, coefficients]` with `1 <= K <= components`, weights and variances positive and finite, means finite) and a
    /// finite threshold. - Throws: `SpeakerStatisticsError` naming the first problem.
    public func validate(melBins: Int) throws {
        func fail(_ r: String) -> SpeakerStatisticsError { SpeakerStatisticsError(reason: r) }
        guard (1...max(1, melBins)).contains(coefficients) else { throw fail("coefficients must be in 1...\(melBins), got \(coefficients)") }
        guard (1...64).contains(components) else { throw fail("components must be in 1...64, got \(components)") }
        if let t = threshold, !t.isFinite { throw fail("threshold must be finite") }
        let all = speakers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } + (background.map { [("background", $0)] } ?? [])
        for (name, m) in all {
            let K = m.weights.count
            guard (1...components).contains(K), m.means.count == K * coefficients, m.variances.count == K * coefficients else {
                throw fail("mixture '\(name)' must hold 1...\(components) components of \(coefficients) coefficients, got \(K) weights, \(m.means.count) means, \(m.variances.count) variances")
            }
            guard m.weights.allSatisfy({ $0 > 0 && $0.isFinite }), m.variances.allSatisfy({ $0 > 0 && $0.isFinite }),
                  m.means.allSatisfy({ $0.isFinite }) else {
                throw fail("mixture '\(name)': weights and variances must be positive and finite, means finite")
            }
        }
    }
}

/// A `speaker_statistics` entry that `SpeakerStatistics.validate` refuses.
public struct SpeakerStatisticsError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public var description: String { reason }
}
