// Interpolated Kneser-Ney n-gram language model over tokens: the baseline a neural model must beat, and the count
// model a neural one is mixed with (NGramInterpolation); it can also adapt, counting the text it scores.
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An interpolated Kneser-Ney n-gram model (Kneser & Ney 1995; Chen & Goodman 1998, "interpolated KN"
/// with one absolute discount per order, `D_k = n1 / (n1 + 2 n2)` from that order's count-of-counts).
///
/// `P_k(w | h) = max(c_k(h w) - D_k, 0) / c_k(h ·) + D_k N1+(h ·) / c_k(h ·) · P_{k-1}(w | h')`,
/// where `h'` drops the oldest token of `h`, `c_n` are raw counts at the highest order and `c_k` (k < n)
/// continuation counts (the number of distinct tokens seen before the k-gram). A history never seen
/// backs off entirely to `P_{k-1}`; `P_0` is uniform over the vocabulary, so every probability is > 0
/// and they sum to 1 over the vocabulary. Sequences are padded on the left with `order - 1` copies of
/// their first token (BOS), so the first real token has a full-length history.
///
/// N-grams are packed into a UInt128, `bits` per token (enough for `vocabularySize`: 9 for bytes, 10 for 519 music
/// tokens), which limits `order` to `128 / bits` (`maxOrder(vocabularySize:)`: 14 for bytes, 12 for any vocabulary)
/// and the vocabulary to 1,023 tokens.
public final class NGramModel {
    /// The highest order the packed keys hold for every vocabulary (10 bits per token).
    public static let maxOrder = 12
    /// The highest order the packed keys hold for a vocabulary of `vocabularySize` tokens (2...1023).
    public static func maxOrder(vocabularySize: Int) -> Int { 128 / bits(vocabularySize) }
    /// Bits per token in a packed key: token `t` is stored as `t + 1` (0 is no token), in 1...vocabularySize.
    static func bits(_ vocabularySize: Int) -> Int { Int.bitWidth - vocabularySize.leadingZeroBitCount }
    /// Bits per token in this model's packed keys.
    let bits: Int
    public let order: Int
    public let vocabularySize: Int
    /// counts[k-1]: k-gram → count (raw at the top order, continuation below).
    var counts: [[UInt128: Int]]
    /// contexts[k-1]: (k-1)-gram history → (sum of counts of its k-grams, number of distinct followers).
    var contexts: [[UInt128: (total: Int, types: Int)]]
    /// discounts[k-1]: D_k.
    public private(set) var discounts: [Double]

    /// - Precondition: `2 <= vocabularySize <= 1023`, `1 <= order <= maxOrder(vocabularySize:)`, tokens in
    ///   `0..<vocabularySize`.
    public init(order: Int = 5, vocabularySize: Int, sequences: [[Int]]) {
        precondition((2...1023).contains(vocabularySize), "vocabulary must be in 2...1023, got \(vocabularySize)")
        let top = Self.maxOrder(vocabularySize: vocabularySize)
        precondition((1...top).contains(order), "n-gram order must be in 1...\(top), got \(order)")
        bits = Self.bits(vocabularySize)
        self.order = order
        self.vocabularySize = vocabularySize
        counts = [[UInt128: Int]](repeating: [:], count: order)
        contexts = [[UInt128: (total: Int, types: Int)]](repeating: [:], count: order)
        discounts = [Double](repeating: 0.75, count: order)
        // Raw counts of the top order.
        for s in sequences where s.count >= 2 {
            let p = Self.padded(s, order: order)
            for i in (order - 1)..<p.count {
                precondition(p[i] >= 0 && p[i] < vocabularySize, "token \(p[i]) outside the vocabulary")
                counts[order - 1][key(p, i - order + 1, order), default: 0] += 1
            }
        }
        // Continuation counts: c_k(g) = number of distinct (k+1)-grams x·g.
        if order >= 2 {
            for k in stride(from: order - 1, through: 1, by: -1) {
                var c: [UInt128: Int] = [:]
                for g in counts[k].keys { c[dropOldest(g, length: k + 1), default: 0] += 1 }
                counts[k - 1] = c
            }
        }
        for k in 1...order {
            var ctx: [UInt128: (total: Int, types: Int)] = [:]
            var n1 = 0, n2 = 0
            for (g, c) in counts[k - 1] {
                let h = g >> UInt128(bits)  // drop the newest token
                let e = ctx[h] ?? (0, 0)
                ctx[h] = (e.total + c, e.types + 1)
                if c == 1 { n1 += 1 } else if c == 2 { n2 += 1 }
            }
            contexts[k - 1] = ctx
            if n1 > 0 { discounts[k - 1] = min(0.99, max(0.05, Double(n1) / Double(n1 + 2 * n2))) }
        }
    }

    /// An independent copy: adapting it (`scoreTokensAdapting`, `add`) leaves this model as it is. The counts are
    /// copied on write, so a copy costs nothing until it adapts.
    public func copy() -> NGramModel { NGramModel(copying: self) }

    private init(copying m: NGramModel) {
        bits = m.bits
        order = m.order
        vocabularySize = m.vocabularySize
        counts = m.counts
        contexts = m.contexts
        discounts = m.discounts
    }

    static func padded(_ s: [Int], order: Int) -> [Int] {
        [Int](repeating: s[0], count: order - 1) + s
    }

    /// Packs `s[start ..< start + length]` (oldest first) as base-2^bits digits of token + 1.
    @inline(__always)
    func key(_ s: [Int], _ start: Int, _ length: Int) -> UInt128 {
        var k: UInt128 = 0
        for i in start..<(start + length) { k = (k << UInt128(bits)) | UInt128(s[i] + 1) }
        return k
    }

    /// Removes the oldest (most significant) token of a packed `length`-gram.
    @inline(__always)
    func dropOldest(_ g: UInt128, length: Int) -> UInt128 {
        g & ((1 << UInt128(bits * (length - 1))) - 1)
    }

    /// `P(w | history)` using the last `order - 1` tokens of `history` (shorter histories use lower orders).
    public func probability(of w: Int, history: ArraySlice<Int>) -> Double {
        match(w, history: history).probability
    }

    /// Mean negative log-likelihood in nats per token over every token of each sequence after its first
    /// (the BOS), with the sequence's own left-padded history.
    public func evaluate(_ sequences: [[Int]]) -> (nats: Double, tokens: Int) {
        let scored = scoreTokens(sequences)
        return (scored.isEmpty ? .nan : -scored.reduce(0) { $0 + log($1.probability) } / Double(scored.count), scored.count)
    }
}

extension NGramModel {
    /// One scored token: its probability, the matched order (the highest `k` in `1...order` whose history, the last
    /// `k - 1` tokens, occurs in the training sequences; 1 when only the unigram applies) and that history's count
    /// (how many training tokens followed it). They say how much the counts know here: `NGramInterpolation` weighs by them.
    public struct Match: Equatable, Sendable {
        public var probability: Double
        public var order: Int
        public var historyCount: Int
    }

    /// `P(w | history)` as `probability(of:history:)` gives it, with its matched order and history count.
    public func match(_ w: Int, history: ArraySlice<Int>) -> Match {
        var p = 1 / Double(vocabularySize), matched = 1, historyCount = 0
        let wd = UInt128(w + 1)
        forEachSeenHistory(history) { k, hk, ctx in
            matched = k
            historyCount = ctx.total
            let c = counts[k - 1][(hk << UInt128(bits)) | wd] ?? 0
            let d = discounts[k - 1]
            p = (max(Double(c) - d, 0) + d * Double(ctx.types) * p) / Double(ctx.total)
        }
        return Match(probability: p, order: matched, historyCount: historyCount)
    }

    /// Calls `body(k, key, context)` for k = 1, 2, ... while the history of order k (the last `k - 1` tokens of
    /// `history`, packed as `key`) was seen in training: from the unigram up, stopping at the first unseen one (a
    /// history with an unseen suffix is unseen too: every seen k-gram's suffix is counted one order down).
    @inline(__always)
    private func forEachSeenHistory(_ history: ArraySlice<Int>, _ body: (Int, UInt128, (total: Int, types: Int)) -> Void) {
        let h = Array(history.suffix(order - 1))
        for k in 1...order {
            guard k - 1 <= h.count else { return }
            let hk = key(h, h.count - (k - 1), k - 1)
            guard let ctx = contexts[k - 1][hk], ctx.total > 0 else { return }
            body(k, hk, ctx)
        }
    }

    /// Every scored token's match, in the order `evaluate` scores them (each sequence's tokens after its first, with
    /// the same left padding), so `-mean(log(probability))` is `evaluate`'s nats.
    public func scoreTokens(_ sequences: [[Int]]) -> [Match] {
        var out: [Match] = []
        for s in sequences where s.count >= 2 {
            let p = Self.padded(s, order: order)
            for i in order..<p.count { out.append(match(p[i], history: p[(i - order + 1)..<i])) }
        }
        return out
    }

    /// Whether scoring adds the scored tokens to the counts.
    public enum Adaptation: Sendable {
        /// The counts stay those of the training text (`scoreTokens`).
        case off
        /// Each scored token is added, and kept for the sequences after it (`scoreTokensAdapting`).
        case acrossSequences
        /// Each scored token is added, and forgotten at the end of its sequence (`scoreTokensAdaptingEach`).
        case perSequence
    }

    /// `scoreTokens`, `scoreTokensAdapting` or `scoreTokensAdaptingEach`, as `adaptation` says.
    public func scoreTokens(_ sequences: [[Int]], adaptation: Adaptation) -> [Match] {
        switch adaptation {
        case .off: return scoreTokens(sequences)
        case .acrossSequences: return scoreTokensAdapting(sequences)
        case .perSequence: return scoreTokensAdaptingEach(sequences)
        }
    }

    /// Scores `sequences` as `scoreTokens` does, but adds each token to the counts once it is scored (`add`), so the
    /// model adapts to the text it reads, as a compressor does: a name or phrase seen once in a chapter is
    /// predicted by the counts the next time. Every token is still predicted only from what precedes it. The
    /// discounts stay those of the training counts. The model keeps what it read.
    public func scoreTokensAdapting(_ sequences: [[Int]]) -> [Match] {
        var out: [Match] = []
        for s in sequences where s.count >= 2 { out += adaptingScores(s) }
        return out
    }

    /// Scores each sequence as `scoreTokensAdapting` does, but each on its own copy of this model, so that what one
    /// sequence adds is forgotten before the next: each piece is predicted from the training counts and its own past
    /// only, as a continuation of that piece would be. This model is left as it is.
    public func scoreTokensAdaptingEach(_ sequences: [[Int]]) -> [Match] {
        var out: [Match] = []
        for s in sequences where s.count >= 2 { out += copy().adaptingScores(s) }
        return out
    }

    private func adaptingScores(_ s: [Int]) -> [Match] {
        var out: [Match] = []
        out.reserveCapacity(s.count - 1)
        let p = Self.padded(s, order: order)
        add(key(p, 0, order))  // the first token (BOS) with its padding, counted but not scored, as in fitting
        for i in order..<p.count {
            out.append(match(p[i], history: p[(i - order + 1)..<i]))
            add(key(p, i - order + 1, order))
        }
        return out
    }

    /// Adds one occurrence of the top-order n-gram `g` (packed, `order` tokens) to the counts, keeping every
    /// order's statistics as the initialiser would have built them with `g` in the training sequences: the raw count
    /// and its history's total and types at the top order; and, when `g` is new, one more distinct left
    /// extension (continuation count) of its suffix one order down, recursively while each is new.
    func add(_ g: UInt128) {
        var gram = g
        for k in stride(from: order, through: 1, by: -1) {
            let c = counts[k - 1][gram, default: 0]
            counts[k - 1][gram] = c + 1
            let h = gram >> UInt128(bits)
            let e = contexts[k - 1][h] ?? (0, 0)
            contexts[k - 1][h] = (e.total + 1, e.types + (c == 0 ? 1 : 0))
            guard c == 0, k >= 2 else { return }
            gram = dropOldest(gram, length: k)
        }
    }

    /// The whole next-token distribution after `history`, `P(w | history)` for every `w`, written into
    /// `probabilities` (`vocabularySize` values, summing to 1), and the history's matched order and count (the same
    /// for every `w`): what `match` gives token by token. A token with no count after an order's history has none
    /// after a longer one (a longer history's followers are among the shorter one's), so each order looks up only the
    /// tokens the order below counted: a few hundred lookups, not `order × vocabularySize`.
    /// - Precondition: `probabilities.count == vocabularySize`.
    public func distribution(history: ArraySlice<Int>, into probabilities: inout [Double]) -> (order: Int, historyCount: Int) {
        precondition(probabilities.count == vocabularySize, "distribution: \(probabilities.count) values for \(vocabularySize) tokens")
        for w in 0..<vocabularySize { probabilities[w] = 1 / Double(vocabularySize) }
        var matched = 1, historyCount = 0
        var candidates = Array(0..<vocabularySize), counted: [(w: Int, c: Int)] = []
        counted.reserveCapacity(vocabularySize)
        forEachSeenHistory(history) { k, hk, ctx in
            matched = k
            historyCount = ctx.total
            let d = discounts[k - 1], backoff = d * Double(ctx.types), total = Double(ctx.total), shifted = hk << UInt128(bits)
            counted.removeAll(keepingCapacity: true)
            for w in candidates {
                if let c = counts[k - 1][shifted | UInt128(w + 1)], c > 0 { counted.append((w, c)) }
            }
            for w in 0..<vocabularySize { probabilities[w] = backoff * probabilities[w] / total }
            for (w, c) in counted { probabilities[w] += max(Double(c) - d, 0) / total }
            candidates = counted.map(\.w)
        }
        return (matched, historyCount)
    }
}
