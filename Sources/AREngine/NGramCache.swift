// A cache model: an n-gram of the sequence's own past, mixed with a token model's next-token distribution.
import Foundation

/// The settings of an n-gram cache: its order and the interpolation weights `λ_b` (the model's share), one per bucket
/// of the cache's match (`NGramInterpolation`). Stored in a model folder's generation_config.json as
/// `"ngram_cache": {"order": N, "weights": [...]}`.
public struct NGramCacheSettings: Codable, Equatable, Sendable {
    public var order: Int
    public var weights: [Double]

    public init(order: Int, weights: [Double]) {
        self.order = order
        self.weights = weights
    }

    public init(_ interpolation: NGramInterpolation) {
        self.init(order: interpolation.order, weights: interpolation.weights)
    }

    /// Why these settings cannot be used with a vocabulary of `vocabularySize` tokens, or nil when they can:
    /// an order in 1...`NGramModel.maxOrder(vocabularySize:)`, `order × NGramInterpolation.countClasses` weights in 0...1.
    public func problem(vocabularySize: Int) -> String? {
        let top = NGramModel.maxOrder(vocabularySize: vocabularySize)
        guard (1...top).contains(order) else { return "order must be in 1...\(top), got \(order)" }
        let n = order * NGramInterpolation.countClasses
        guard weights.count == n else { return "order \(order) needs \(n) weights, got \(weights.count)" }
        guard weights.allSatisfy({ $0 >= 0 && $0 <= 1 }) else { return "weights must be in 0...1" }
        return nil
    }

    /// The interpolation. - Precondition: `problem(vocabularySize:)` is nil.
    public var interpolation: NGramInterpolation { NGramInterpolation(order: order, weights: weights) }
}

/// A cache model (Kuhn and De Mori 1990; Grave et al. 2017's neural cache, here with counts): an interpolated
/// Kneser-Ney n-gram with no training counts that counts the tokens of the one sequence being read or generated, so
/// that material heard earlier in a piece (a repeated phrase, a refrain) is predicted by the counts when it comes
/// again, beyond the model's context. Each next-token distribution is
/// `λ_b P_model(w | h) + (1 − λ_b) P_cache(w | h)`, λ per bucket of the cache's match (its matched order and how often
/// that history came before), fitted on held-out sequences by `fit`.
///
/// In generation, `observe` each token (prime and generated, from the first) and `mix` the logits before sampling;
/// the probabilities it gives are those of `matches` mixed by `interpolation`, token by token.
public final class NGramCache {
    public let interpolation: NGramInterpolation
    let counts: NGramModel
    /// The last `order - 1` tokens observed, left-padded with copies of the first one as `NGramModel` pads.
    var history: [Int] = []
    var started = false
    var scratch: [Double]

    /// - Precondition: `settings.problem(vocabularySize:)` is nil.
    public init(_ settings: NGramCacheSettings, vocabularySize: Int) {
        precondition(settings.problem(vocabularySize: vocabularySize) == nil, "n-gram cache: \(settings.problem(vocabularySize: vocabularySize) ?? "")")
        interpolation = settings.interpolation
        counts = NGramModel(order: settings.order, vocabularySize: vocabularySize, sequences: [])
        scratch = [Double](repeating: 0, count: vocabularySize)
    }

    /// Counts `token` after the tokens observed before it.
    public func observe(_ token: Int) {
        let order = counts.order
        if !started { history = [Int](repeating: token, count: order - 1); started = true }
        history.append(token)
        counts.add(counts.key(history, history.count - order, order))
        history.removeFirst(history.count - (order - 1))
    }

    /// Replaces the next-token logits (`vocabularySize` values, in place) by the log of the mixture with the cache
    /// after the observed tokens (`NGramInterpolation.mix`); -inf stays -inf. Nothing changes before the first
    /// `observe`.
    public func mix(_ logits: UnsafeMutableBufferPointer<Float>) {
        guard started else { return }
        interpolation.mix(logits: logits, ngram: counts, history: history[...], scratch: &scratch)
    }

    /// The cache's match of every scored token of `sequences` (after each one's first), each sequence read from an
    /// empty cache: what `observe` and `mix` give in generation, in `NGramModel.scoreTokens` order.
    public static func matches(_ sequences: [[Int]], order: Int, vocabularySize: Int) -> [NGramModel.Match] {
        NGramModel(order: order, vocabularySize: vocabularySize, sequences: []).scoreTokensAdaptingEach(sequences)
    }

    /// The weights for `model` by EM (`NGramInterpolation.fit`) on `sequences` (held out, e.g. every 20th training
    /// piece), the model reading them statically in windows of `window` tokens. A bucket no held-out token fell in
    /// gets weight 1, the model alone: a history repeated more often than any held-out piece repeats one (a loop of
    /// the generation's own making) is left to the model, not fed back by the cache.
    public static func fit(_ model: any TokenModel, sequences: [[Int]], order: Int, window: Int,
                           progress: (ProgressReport) -> Void = { _ in }) -> NGramCacheSettings {
        let p = model.tokenProbabilities(sequences, context: window, progress: progress)
        return NGramCacheSettings(NGramInterpolation.fit(model: p, ngram: matches(sequences, order: order, vocabularySize: model.vocabularySize), order: order,
                                                             emptyBucketWeight: 1))
    }
}
