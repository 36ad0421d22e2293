// A token model interpolated with a Kneser-Ney n-gram: each scored token's probability under a model, and the
// mixture weights, one per bucket of the n-gram's match, fitted by EM on held-out text; the mixture at decoding.
import Foundation

/// Linear interpolation of a token model with an n-gram model of the training text,
/// `P(w | h) = λ_b P_model(w | h) + (1 − λ_b) P_ngram(w | h)`, with one weight `λ_b` per bucket `b` of the n-gram's
/// match (`NGramModel.Match`): its matched order (the longest history seen in the training text) and the count of that
/// history, in powers of two (1, 2-3, 4-7, ..., 128 or more: `countClasses`). Where a long history was seen often,
/// the counts remember the text verbatim; where none was, the model generalises.
/// This is deleted interpolation with weights bucketed by history count (Jelinek and Mercer 1980; Chen and Goodman
/// 1998, section 2.3) applied to a neural model and a count model, as in Mikolov et al. 2011 (RNN + KN) and Liu et al.
/// 2024 (infini-gram).
///
/// The weights are fitted by EM (Dempster, Laird and Rubin 1977) on text that the n-gram scoring it has not seen,
/// each bucket's weight pulled toward 1/2 by one pseudo-token, so that a bucket with a handful of tokens is not
/// decided by them (a Beta(1.5, 1.5) prior: EM for the posterior mode).
public struct NGramInterpolation: Equatable, Sendable {
    /// History-count classes per matched order.
    public static let countClasses = 8
    /// The n-gram order the weights are for.
    public let order: Int
    /// `weights[bucket(order: k, historyCount: c)]`: λ, the model's share, in 0...1; `order × countClasses` values.
    public var weights: [Double]

    /// - Precondition: `order >= 1` and `order × countClasses` weights in 0...1.
    public init(order: Int, weights: [Double]) {
        precondition(order >= 1 && weights.count == order * Self.countClasses && weights.allSatisfy { $0 >= 0 && $0 <= 1 },
                     "interpolation weights: order x \(Self.countClasses) values in 0...1")
        self.order = order
        self.weights = weights
    }

    /// The bucket of a match: matched order `k` (1...order) and history count class `min(⌊log2 c⌋, 7)`.
    @inline(__always)
    public static func bucket(order k: Int, historyCount c: Int) -> Int {
        let cls = c <= 1 ? 0 : min(Int.bitWidth - 1 - c.leadingZeroBitCount, countClasses - 1)
        return (k - 1) * countClasses + cls
    }

    /// The weights by EM from each held-out token's probability under the model (> 0) and its n-gram match.
    /// Each iteration cannot lower the held-out log-likelihood plus the prior; it stops after `iterations` or when no
    /// weight moves by more than `tolerance`. A bucket with no token gets `emptyBucketWeight` (1/2 by default; 1 leaves
    /// the model alone where the held-out text never went).
    /// - Precondition: as many matches as model probabilities; matched orders in `1...order`.
    public static func fit(model: [Double], ngram: [NGramModel.Match], order: Int,
                           iterations: Int = 200, tolerance: Double = 1e-7, emptyBucketWeight: Double = 0.5) -> NGramInterpolation {
        precondition(model.count == ngram.count, "fit: arrays of different lengths")
        precondition(order >= 1 && ngram.allSatisfy { (1...order).contains($0.order) }, "fit: matched order out of range")
        let buckets = ngram.map { bucket(order: $0.order, historyCount: $0.historyCount) }
        let n = order * countClasses
        var lambda = [Double](repeating: 0.5, count: n), tokens = [Double](repeating: 0, count: n)
        for b in buckets { tokens[b] += 1 }
        for _ in 0..<iterations {
            // E step: each token's posterior that the model produced it; M step: their mean per bucket, with the
            // pseudo-token's 1/2.
            var posterior = [Double](repeating: 0, count: n)
            for i in model.indices {
                let b = buckets[i], m = lambda[b] * model[i], mixed = m + (1 - lambda[b]) * ngram[i].probability
                if mixed > 0 { posterior[b] += m / mixed }
            }
            var moved = 0.0
            for b in 0..<n where tokens[b] > 0 {
                let l = (posterior[b] + 0.5) / (tokens[b] + 1)
                moved = max(moved, abs(l - lambda[b]))
                lambda[b] = l
            }
            if moved < tolerance { break }
        }
        for b in 0..<n where tokens[b] == 0 { lambda[b] = emptyBucketWeight }
        return NGramInterpolation(order: order, weights: lambda)
    }

    /// A training sequence cut for fitting the weights: consecutive chunks of `chunk` tokens, every `every`-th held
    /// out (from the middle of the first `every` chunks on, so the held-out text is spread over the whole sequence)
    /// and the rest kept, each run of kept chunks one sequence, for the n-gram that scores the held-out chunks.
    /// The default chunk is `count / (10 every)` clamped to 16...4096 tokens, so even a short text holds out about
    /// ten chunks (1 / `every` of it). - Precondition: `chunk >= 2`, `every >= 2`.
    public static func heldOutSplit(_ tokens: [Int], chunk: Int? = nil, every: Int = 20) -> (kept: [[Int]], heldOut: [[Int]]) {
        let chunk = chunk ?? min(4096, max(16, tokens.count / (10 * max(every, 1))))
        precondition(chunk >= 2 && every >= 2, "heldOutSplit: chunk and every must be >= 2")
        var kept: [[Int]] = [], heldOut: [[Int]] = [], run: [Int] = []
        var start = 0, index = 0
        while start < tokens.count {
            let piece = Array(tokens[start..<min(start + chunk, tokens.count)])
            if index % every == every / 2 {
                heldOut.append(piece)
                if !run.isEmpty { kept.append(run); run = [] }
            } else {
                run += piece
            }
            start += chunk
            index += 1
        }
        if !run.isEmpty { kept.append(run) }
        return (kept, heldOut)
    }

    /// Training sequences (pieces) cut for fitting the weights: every `every`-th held out, from the `every / 2`-th on,
    /// the rest kept whole; with fewer than `every` sequences (but at least 2), the middle one. For a corpus of many
    /// short pieces, where `heldOutSplit` would cut across them. - Precondition: `every >= 2`.
    public static func heldOutSequences(_ sequences: [[Int]], every: Int = 20) -> (kept: [[Int]], heldOut: [[Int]]) {
        precondition(every >= 2, "heldOutSequences: every must be >= 2")
        let every = max(2, min(every, sequences.count))
        var kept: [[Int]] = [], heldOut: [[Int]] = []
        for (i, s) in sequences.enumerated() {
            if i % every == every / 2 { heldOut.append(s) } else { kept.append(s) }
        }
        return (kept, heldOut)
    }

    /// The interpolated probability of one token. - Precondition: the match's order in `1...order`.
    @inline(__always)
    public func probability(model: Double, ngram: NGramModel.Match) -> Double {
        let l = weights[Self.bucket(order: ngram.order, historyCount: ngram.historyCount)]
        return l * model + (1 - l) * ngram.probability
    }

    /// Mixes the model's next-token logits (`vocab` values, in place) with the n-gram's distribution after
    /// `history`: each becomes `log(λ softmax(logits)[w] + (1 − λ) P_ngram(w | history))`, λ the weight of the
    /// history's bucket. A logit at -inf (a banned token) stays -inf. `scratch` holds `vocab` doubles (reused).
    public func mix(logits: UnsafeMutableBufferPointer<Float>, ngram: NGramModel, history: ArraySlice<Int>, scratch: inout [Double]) {
        let V = logits.count
        let m = ngram.distribution(history: history, into: &scratch)
        let l = weights[Self.bucket(order: m.order, historyCount: m.historyCount)]
        var mx = -Float.infinity
        for v in 0..<V { mx = max(mx, logits[v]) }
        var sum = 0.0
        for v in 0..<V where logits[v] > -.infinity { sum += exp(Double(logits[v] - mx)) }
        for v in 0..<V where logits[v] > -.infinity {
            logits[v] = Float(log(l * exp(Double(logits[v] - mx)) / sum + (1 - l) * scratch[v]))
        }
    }

    /// Mean negative log-likelihood in nats per token of the interpolation over tokens scored by both models.
    /// - Precondition: as many matches as model probabilities, at least one.
    public func nats(model: [Double], ngram: [NGramModel.Match]) -> Double {
        precondition(!model.isEmpty && model.count == ngram.count, "nats: arrays of different lengths")
        var sum = 0.0
        for i in model.indices { sum -= log(probability(model: model[i], ngram: ngram[i])) }
        return sum / Double(model.count)
    }
}

extension TokenModel {
    /// The probability the model gives each scored token of `sequences` (each sequence's tokens after its first, in
    /// order: the order of `NGramModel.scoreTokens`), read teacher-forced in consecutive windows of at most `context`
    /// input tokens (at most the model's own context), each window starting from the model's initial state as
    /// `evaluate` reads them, so `-mean(log p)` equals `evaluate`'s nats. Probabilities are the softmax of the logits
    /// in double precision. - Parameter progress: windows scored so far (unit "windows").
    public func tokenProbabilities(_ sequences: [[Int]], context: Int, batchSize: Int = 16,
                                   progress: (ProgressReport) -> Void = { _ in }) -> [Double] {
        let window = max(1, min(context, contextLength))
        // (sequence, start) of each window; full windows are batched, each sequence's shorter last window goes alone.
        var full: [(s: Int, start: Int)] = [], short: [(s: Int, start: Int)] = []
        var offset = [Int](repeating: 0, count: sequences.count), total = 0
        for (s, seq) in sequences.enumerated() where seq.count >= 2 {
            offset[s] = total
            total += seq.count - 1
            var start = 0
            while start < seq.count - 1 {
                if start + window <= seq.count - 1 { full.append((s, start)) } else { short.append((s, start)) }
                start += window
            }
        }
        var out = [Double](repeating: 0, count: total)
        let V = vocabularySize, windows = full.count + short.count
        var done = 0
        func score(_ group: ArraySlice<(s: Int, start: Int)>, length: Int) {
            let rows = group.map { Array(sequences[$0.s][$0.start..<($0.start + length)]) }
            let logits = self.logits(rows)
            logits.withUnsafeBufferPointer { l in
                for (r, w) in group.enumerated() {
                    for t in 0..<length {
                        out[offset[w.s] + w.start + t] = softmaxProbability(l.baseAddress! + (r * length + t) * V, V, sequences[w.s][w.start + t + 1])
                    }
                }
            }
            done += group.count
            progress(ProgressReport(done: done, total: windows, unit: "windows"))
        }
        var i = 0
        while i < full.count {
            score(full[i..<min(i + batchSize, full.count)], length: window)
            i += batchSize
        }
        for w in short { score([w][...], length: sequences[w.s].count - 1 - w.start) }
        return out
    }
}

/// The held-out training text the interpolation weights are fitted on: a split of the training sequences
/// (`NGramInterpolation.heldOutSplit` or `heldOutSequences`), the held-out part scored by an n-gram of the kept part
/// (adapting to the held-out text as `adaptation` says) and by the model (statically, in windows of `window` tokens), and the
/// weights EM fits to the two.
public struct HeldOutInterpolation {
    public let split: (kept: [[Int]], heldOut: [[Int]])
    /// The n-gram's match of each held-out token.
    public let ngram: [NGramModel.Match]
    /// The weights for the model read statically.
    public let weights: NGramInterpolation

    /// - Returns: nil when no held-out sequence has a token to score (the training text is too short).
    /// - Precondition: tokens in `0..<model.vocabularySize`, `order` within `NGramModel.maxOrder(vocabularySize:)`.
    public init?(_ model: any TokenModel, split: (kept: [[Int]], heldOut: [[Int]]), order: Int, adaptation: NGramModel.Adaptation, window: Int,
                 progress: (ProgressReport) -> Void = { _ in }) {
        guard split.heldOut.contains(where: { $0.count >= 2 }) else { return nil }
        self.split = split
        let fitNGram = NGramModel(order: order, vocabularySize: model.vocabularySize, sequences: split.kept)
        ngram = fitNGram.scoreTokens(split.heldOut, adaptation: adaptation)
        let p = model.tokenProbabilities(split.heldOut, context: window, progress: progress)
        weights = NGramInterpolation.fit(model: p, ngram: ngram, order: order)
    }
}
