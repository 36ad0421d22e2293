// A plausibility check of conditioning frames given from outside (.npy): are they normalised the way the voice reads them?
import Foundation

/// What normalised conditioning frames look like, for a warning about `.npy` inputs holding raw log-mels.
public struct FeatureSummary: Equatable, Sendable {
    /// Mean and standard deviation over every value of the mel columns.
    public var mean: Double
    public var std: Double
    /// What the values look like: `normalised`, `ln-mel` (natural log, not normalised) or `log10-mel`.
    public var resemblance: String

    /// Normalised speech has a mean within this distance of 0 and a standard deviation in `spread`: the shipped
    /// voice's own features of seven recordings (silence included) measure mean -1.0...0.55 and spread 0.59...1.16;
    /// raw ln-mels have a mean near -6, log10-mels near -2.6.
    public static let meanTolerance = 2.0
    public static let spread = 0.3...3.0

    /// True when mean and spread are far from the voice's normalisation.
    public var isSuspicious: Bool { abs(mean) > Self.meanTolerance || !Self.spread.contains(std) }
}

extension WaveNetConfig {
    /// Mean and spread of the mel columns of conditioning frames `[frames, frame_features]`, and the closest of three
    /// readings: normalised (mean 0), natural-log mels (mean near `feature_mean`'s) or base-10 log mels.
    public func summarize(features: [Float], frames: Int) -> FeatureSummary {
        let M = melBins, W = frameFeatures
        var sum = 0.0, sq = 0.0
        for f in 0..<frames { for k in 0..<M { let v = Double(features[f * W + k]); sum += v; sq += v * v } }
        let n = Double(max(1, frames * M)), mean = sum / n
        let std = max(0, sq / n - mean * mean).squareRoot()
        let lnMean = featureMean.reduce(0) { $0 + Double($1) } / Double(M)
        let readings = [("normalised", 0.0), ("ln-mel", lnMean), ("log10-mel", lnMean / log(10.0))]
        let closest = readings.min { abs($0.1 - mean) < abs($1.1 - mean) }!.0
        return FeatureSummary(mean: mean, std: std, resemblance: closest)
    }

    /// A one-line warning when `.npy` conditioning frames are far from this voice's normalisation (it names the
    /// array's mean and spread and the voice's), or nil when they look normalised.
    /// A voice without normalisation (feature_mean 0, feature_std 1, as test voices have) expects raw ln-mels and
    /// is not checked.
    public func normalisationWarning(features: [Float], frames: Int, path: String) -> String? {
        guard !(featureMean.allSatisfy { $0 == 0 } && featureStd.allSatisfy { $0 == 1 }) else { return nil }
        let s = summarize(features: features, frames: frames)
        guard s.isSuspicious else { return nil }
        let lnMean = featureMean.reduce(0) { $0 + Double($1) } / Double(melBins)
        let guess: String
        switch s.resemblance {
        case "ln-mel": guess = String(format: "they look like natural-log mels that were not normalised (this voice's mean ln-mel is %.2f)", lnMean)
        case "log10-mel": guess = String(format: "they look like base-10 log mels (this voice's mean log10-mel is %.2f)", lnMean / log(10.0))
        default: guess = "they may have been normalised with another voice's statistics"
        }
        return String(format: "%@: its log-mels have mean %.2f and spread (standard deviation) %.2f, far from this voice's normalisation, which gives speech a mean near 0 and a spread near 1 ((ln mel - feature_mean) / feature_std, config.json); %@. Write features with `synth features` (docs/features.md).", path, s.mean, s.std, guess)
    }
}
