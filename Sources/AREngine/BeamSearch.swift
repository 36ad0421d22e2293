// Beam search over a token model, with GNMT/HF length penalty and end-of-sequence handling.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An invalid beam-search parameter. The description names the parameter, the allowed range and the value given.
public enum BeamSearchError: Error, Equatable, CustomStringConvertible {
    case invalidBeamWidth(Int)
    case invalidLengthPenalty(Float)
    case invalidMaxLength(Int)
    case invalidEOSToken(Int)

    public var description: String {
        switch self {
        case .invalidBeamWidth(let v): return "beam width must be >= 1, got \(v)"
        case .invalidLengthPenalty(let v): return "length penalty must be finite, got \(v)"
        case .invalidMaxLength(let v): return "max length must be >= 1, got \(v)"
        case .invalidEOSToken(let v): return "EOS token must be >= 0, got \(v)"
        }
    }
}

/// Deterministic beam search (the Hugging Face algorithm).
///
/// At every step each live beam is extended by every token; the `2 × beamWidth` best
/// candidates (by summed log-probability, nats; ties: lower beam index, then lower token id) are
/// scanned in order. A candidate ending in `eosToken` becomes a finished hypothesis if its rank is
/// below `beamWidth`; other candidates become the next live beams until `beamWidth` are found.
/// At most `beamWidth` finished hypotheses are kept.
///
/// A hypothesis scores `sum of log-probs / length ^ lengthPenalty`, where length is the number of
/// generated tokens (the EOS counts, the prefix does not). `lengthPenalty` > 0 favours longer
/// sequences, < 0 shorter ones, 0 compares raw sums.
///
/// Search stops when `maxLength` tokens have been generated (live beams are then scored as they
/// are), when no live beam is left, or when `beamWidth` hypotheses are finished and no live beam
/// can still beat the worst of them. That last bound is exact provided `step` returns
/// log-probabilities (all <= 0): a live beam's sum can only fall, so its best reachable score is
/// its current sum over the most favourable remaining length.
public struct BeamSearch {
    /// Number of live beams and of hypotheses returned (at most), >= 1.
    public let beamWidth: Int
    /// Exponent of the length normaliser (finite). 1 = average log-prob per token.
    public let lengthPenalty: Float
    /// Maximum number of generated tokens (EOS included, prefix excluded), >= 1.
    public let maxLength: Int
    /// Token that ends a hypothesis; nil = every hypothesis runs to `maxLength`.
    public let eosToken: Int?

    /// - Throws: `BeamSearchError` naming the first invalid parameter and its value.
    public init(beamWidth: Int, lengthPenalty: Float = 1.0, maxLength: Int, eosToken: Int?) throws {
        guard beamWidth >= 1 else { throw BeamSearchError.invalidBeamWidth(beamWidth) }
        guard lengthPenalty.isFinite else { throw BeamSearchError.invalidLengthPenalty(lengthPenalty) }
        guard maxLength >= 1 else { throw BeamSearchError.invalidMaxLength(maxLength) }
        if let e = eosToken, e < 0 { throw BeamSearchError.invalidEOSToken(e) }
        self.beamWidth = beamWidth
        self.lengthPenalty = lengthPenalty
        self.maxLength = maxLength
        self.eosToken = eosToken
    }

    /// The hypothesis score: `sumLogProb` (nats) / `length ^ lengthPenalty`.
    public func score(sumLogProb: Float, length: Int) -> Float {
        sumLogProb / powf(Float(max(length, 1)), lengthPenalty)
    }

    /// Runs the search.
    ///
    /// - Parameters:
    ///   - prefix: the prompt; it is included in every sequence passed to `step` and returned.
    ///   - step: given the live sequences (prefix + generated tokens), returns one row per sequence
    ///     of next-token log-probabilities in nats (all rows the same vocabulary size).
    ///     NaN and -inf entries are never chosen.
    /// - Returns: at most `beamWidth` hypotheses, best score first; `tokens` is prefix + generated
    ///   tokens (ending with the EOS token for finished hypotheses). Empty only if no token ever had
    ///   a finite log-probability.
    /// - Throws: only what `step` throws.
    /// - Precondition: `step` returns exactly one row per sequence, all of the same length.
    public func search(
        prefix: [Int],
        step: (_ sequences: [[Int]]) throws -> [[Float]]
    ) rethrows -> [(tokens: [Int], score: Float)] {
        var live: [(tokens: [Int], sum: Float)] = [(prefix, 0)]
        var finished: [(tokens: [Int], score: Float)] = []  // best first, at most beamWidth

        func addFinished(_ tokens: [Int], _ score: Float) {
            if finished.count == beamWidth, let worst = finished.last, !(score > worst.score) { return }
            var i = finished.count
            while i > 0 && score > finished[i - 1].score { i -= 1 }  // after equals: first found stays first
            finished.insert((tokens, score), at: i)
            if finished.count > beamWidth { finished.removeLast() }
        }

        let candidatesKept = eosToken == nil ? beamWidth : 2 * beamWidth
        typealias Candidate = (sum: Float, beam: Int, token: Int)
        @inline(__always) func better(_ a: Candidate, _ b: Candidate) -> Bool {
            a.sum > b.sum || (a.sum == b.sum && (a.beam < b.beam || (a.beam == b.beam && a.token < b.token)))
        }
        var candidates: [Candidate] = []
        candidates.reserveCapacity(candidatesKept + 1)

        for length in 1...maxLength {
            let rows = try step(live.map { $0.tokens })
            precondition(rows.count == live.count, "BeamSearch: step returned \(rows.count) rows for \(live.count) sequences")
            let vocab = rows.first?.count ?? 0

            // The best `candidatesKept` extensions, best first (insertion into a short sorted list).
            candidates.removeAll(keepingCapacity: true)
            for (b, row) in rows.enumerated() {
                precondition(row.count == vocab, "BeamSearch: step rows differ in length (\(row.count) vs \(vocab))")
                let base = live[b].sum
                for (v, lp) in row.enumerated() {
                    let s = base + lp
                    guard !s.isNaN, s != -.infinity else { continue }
                    let c: Candidate = (s, b, v)
                    if candidates.count == candidatesKept, !better(c, candidates[candidates.count - 1]) { continue }
                    var i = candidates.count
                    while i > 0 && better(c, candidates[i - 1]) { i -= 1 }
                    candidates.insert(c, at: i)
                    if candidates.count > candidatesKept { candidates.removeLast() }
                }
            }

            var next: [(tokens: [Int], sum: Float)] = []
            for (rank, c) in candidates.enumerated() {
                if c.token == eosToken {
                    if rank < beamWidth { addFinished(live[c.beam].tokens + [c.token], score(sumLogProb: c.sum, length: length)) }
                } else {
                    next.append((live[c.beam].tokens + [c.token], c.sum))
                    if next.count == beamWidth { break }
                }
            }
            live = next
            if live.isEmpty { break }

            if length == maxLength {
                for beam in live { addFinished(beam.tokens, score(sumLogProb: beam.sum, length: length)) }
                break
            }

            // Early stop: can any live beam still beat the worst kept hypothesis?
            if finished.count == beamWidth, let worst = finished.last {
                let bestSum = live.map { $0.sum }.max()!
                if bestSum <= 0 {
                    // Best reachable score for sum <= 0 over lengths length+1 ... maxLength.
                    let favourable = lengthPenalty > 0 ? maxLength : length + 1
                    if score(sumLogProb: bestSum, length: favourable) <= worst.score { break }
                }
            }
        }
        return finished
    }
}
