// Token sampler for autoregressive decoding: repetition penalty, temperature, top-k, top-p, min-p, seeded draw.

import NNCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An invalid decoding parameter. The description names the parameter, the allowed range and the value given.
public enum SamplerError: Error, Equatable, CustomStringConvertible {
    case invalidTemperature(Float)
    case invalidTopK(Int)
    case invalidTopP(Float)
    case invalidMinP(Float)
    case invalidRepetitionPenalty(Float)

    public var description: String {
        switch self {
        case .invalidTemperature(let v): return "temperature must be finite and >= 0, got \(v)"
        case .invalidTopK(let v): return "top-k must be >= 0 (0 = off), got \(v)"
        case .invalidTopP(let v): return "top-p must be in (0, 1], got \(v)"
        case .invalidMinP(let v): return "min-p must be in [0, 1), got \(v)"
        case .invalidRepetitionPenalty(let v): return "repetition penalty must be finite and > 0, got \(v)"
        }
    }
}

/// Draws the next token from a row of logits.
///
/// Logits are unnormalised log-probabilities in nats (one per vocabulary entry); probabilities are
/// in [0, 1] and sum to 1. Processors run in this fixed order (the Hugging Face `generate` order):
///
/// 1. **Repetition penalty** (CTRL / HF rule): every distinct token id in `history` (ids outside
///    `0..<vocab` are ignored) has its logit divided by `repetitionPenalty` if it is > 0, multiplied
///    by it otherwise. Applied once per distinct token, however often it occurs.
/// 2. **Sanitising**: NaN becomes -inf; +inf becomes `Float.greatestFiniteMagnitude`.
/// 3. **Greedy**: if `temperature == 0`, return the argmax (ties: lowest index); the remaining
///    steps are skipped (none of them can remove the argmax anyway).
/// 4. **Temperature**: p_i ∝ exp(l_i / T), computed as exp((l_i - max l) / T).
/// 5. **Top-k**: keep the `topK` most probable tokens (exactly k; ties broken by lowest index).
/// 6. **Top-p** (nucleus): renormalise what is left, sort by probability (descending, ties by lowest
///    index) and keep the shortest prefix whose cumulative probability is >= `topP`
///    (with a 1e-6 tolerance for rounding).
/// 7. **Min-p**: drop tokens whose probability is < `minP` × the largest remaining probability.
/// 8. **Draw**: one uniform from the seeded `Xoshiro256`, inverse-CDF over the renormalised survivors.
///
/// Fallback: if every logit is -inf or NaN (after the penalty), token 0 is returned
/// (and `probabilities` is one-hot on 0); no random number is consumed.
///
/// The same parameters, seed and inputs always give the same tokens. Scratch buffers are kept in the
/// value and reused, so after the first call for a given vocabulary size `sample` does not allocate
/// (copies of a `Sampler` share buffers copy-on-write).
public struct Sampler {
    /// Softmax temperature (dimensionless). 0 means greedy (argmax).
    public let temperature: Float
    /// Keep only the k most probable tokens. 0 means off.
    public let topK: Int
    /// Nucleus mass in (0, 1]. 1 means off.
    public let topP: Float
    /// Relative probability floor in [0, 1). 0 means off.
    public let minP: Float
    /// Repetition penalty factor, > 0. 1 means off; > 1 discourages repeats.
    public let repetitionPenalty: Float
    /// The seed the generator was created from.
    public let seed: UInt64
    /// The random generator; its state advances by one draw per non-greedy `sample` call.
    /// It can be saved and restored to resume a generation reproducibly.
    public var generator: Xoshiro256

    // Scratch, resized only when the vocabulary grows.
    private var probs: [Float] = []   // unnormalised probabilities, index = token id
    private var heap: [Int32] = []    // candidate token ids, max-heap by (prob desc, id asc)
    private var kept: [Int32] = []    // surviving token ids (sorted descending when a sort was needed)
    private var marks: [UInt32] = []  // repetition-penalty "seen" stamps
    private var stamp: UInt32 = 0

    /// Creates a sampler.
    /// - Parameters:
    ///   - temperature: finite, >= 0; 0 = greedy.
    ///   - topK: >= 0; 0 = off.
    ///   - topP: in (0, 1]; 1 = off.
    ///   - minP: in [0, 1); 0 = off.
    ///   - repetitionPenalty: finite, > 0; 1 = off.
    ///   - seed: seed for the `Xoshiro256` generator.
    /// - Throws: `SamplerError` naming the first invalid parameter and its value.
    public init(
        temperature: Float = 1.0,
        topK: Int = 0,
        topP: Float = 1.0,
        minP: Float = 0.0,
        repetitionPenalty: Float = 1.0,
        seed: UInt64 = 0
    ) throws {
        guard temperature.isFinite, temperature >= 0 else { throw SamplerError.invalidTemperature(temperature) }
        guard topK >= 0 else { throw SamplerError.invalidTopK(topK) }
        guard topP > 0, topP <= 1 else { throw SamplerError.invalidTopP(topP) }
        guard minP >= 0, minP < 1 else { throw SamplerError.invalidMinP(minP) }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw SamplerError.invalidRepetitionPenalty(repetitionPenalty)
        }
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
        self.generator = Xoshiro256(seed: seed)
    }

    /// A fresh sampler with these settings and another seed (scratch and generator state not shared).
    public func reseeded(_ seed: UInt64) -> Sampler {
        // The settings were checked when this sampler was made.
        try! Sampler(temperature: temperature, topK: topK, topP: topP, minP: minP, repetitionPenalty: repetitionPenalty, seed: seed)
    }

    /// Samples one token id in `0..<logits.count`.
    ///
    /// - Parameters:
    ///   - logits: one logit (nats) per token; modified in place (penalty, sanitising).
    ///   - history: previously generated token ids, used by the repetition penalty. Pass a window
    ///     (e.g. the last N tokens) if only recent repeats should be penalised.
    /// - Returns: the token id. Never throws; see the type's docstring for the all -inf fallback.
    /// - Precondition: `logits` is not empty.
    public mutating func sample(logits: UnsafeMutableBufferPointer<Float>, history: some Collection<Int>) -> Int {
        precondition(!logits.isEmpty, "Sampler.sample: empty logits")
        let count = process(logits: logits, history: history)
        if count < 0 { return Int(-count - 1) }  // greedy or fallback: decided without a draw
        let u = Double(generator.nextFloat())
        return probs.withUnsafeBufferPointer { p in
            kept.withUnsafeBufferPointer { k in
                var total = 0.0
                for j in 0..<count { total += Double(p[Int(k[j])]) }
                let target = u * total
                var cum = 0.0
                for j in 0..<count {
                    cum += Double(p[Int(k[j])])
                    if target < cum { return Int(k[j]) }
                }
                return Int(k[count - 1])  // rounding: u * total landed on the total
            }
        }
    }

    /// Convenience over `sample(logits:history:)` for an array; `logits` is modified in place.
    public mutating func sample(logits: inout [Float], history: some Collection<Int>) -> Int {
        logits.withUnsafeMutableBufferPointer { sample(logits: $0, history: history) }
    }

    /// The final distribution the next `sample` call would draw from, after all processors
    /// (probabilities summing to 1; 0 for removed tokens). One-hot on the argmax when greedy,
    /// one-hot on 0 when every logit is -inf/NaN. Does not advance the generator or modify `logits`.
    /// Allocates; meant for tests and debugging.
    public func probabilities(logits: [Float], history: some Collection<Int>) -> [Float] {
        var out = [Float](repeating: 0, count: logits.count)
        guard !logits.isEmpty else { return out }
        var copy = self
        var scratch = logits
        let count = scratch.withUnsafeMutableBufferPointer { copy.process(logits: $0, history: history) }
        if count < 0 {
            out[Int(-count - 1)] = 1
            return out
        }
        var total = 0.0
        for j in 0..<count { total += Double(copy.probs[Int(copy.kept[j])]) }
        for j in 0..<count {
            let id = Int(copy.kept[j])
            out[id] = Float(Double(copy.probs[id]) / total)
        }
        return out
    }

    // MARK: - Processing

    private mutating func reserve(_ n: Int) {
        if probs.count < n {
            probs = [Float](repeating: 0, count: n)
            heap = [Int32](repeating: 0, count: n)
            kept = [Int32](repeating: 0, count: n)
            marks = [UInt32](repeating: 0, count: n)
            stamp = 0
        }
    }

    /// Runs every processor. Returns `-(token + 1)` when the result is decided without a draw
    /// (greedy or all -inf), otherwise the number of survivors, whose ids are `kept[0..<count]`
    /// and whose unnormalised probabilities are in `probs`.
    private mutating func process(logits: UnsafeMutableBufferPointer<Float>, history: some Collection<Int>) -> Int {
        let n = logits.count
        precondition(n <= Int(Int32.max), "Sampler: vocabulary too large")
        reserve(n)

        // 1. Repetition penalty, once per distinct token.
        if repetitionPenalty != 1, !history.isEmpty { penalize(logits: logits, history: history) }

        // 2. Sanitise and find the max (ties: lowest index).
        var best = 0
        var maxLogit = -Float.infinity
        for i in 0..<n {
            var l = logits[i]
            if l.isNaN { l = -.infinity } else if l == .infinity { l = .greatestFiniteMagnitude }
            logits[i] = l
            if l > maxLogit { maxLogit = l; best = i }
        }

        // 3. Greedy, or nothing to draw from.
        if temperature == 0 || maxLogit == -.infinity { return -(best + 1) }

        // 4. Temperature: unnormalised probabilities, the max one is exactly 1.
        let invT = 1 / temperature
        var candidates = 0
        let mustSort = (topK > 0 && topK < n) || topP < 1
        // Survivor ids go straight to `kept` unless a sort is needed, in which case they seed the heap.
        @inline(__always) func exponentiate(_ p: UnsafeMutableBufferPointer<Float>, _ c: UnsafeMutableBufferPointer<Int32>) {
            for i in 0..<n {
                let e = expf((logits[i] - maxLogit) * invT)
                p[i] = e
                if e > 0 { c[candidates] = Int32(i); candidates += 1 }
            }
        }
        if mustSort {
            probs.withUnsafeMutableBufferPointer { p in heap.withUnsafeMutableBufferPointer { exponentiate(p, $0) } }
        } else {
            probs.withUnsafeMutableBufferPointer { p in kept.withUnsafeMutableBufferPointer { exponentiate(p, $0) } }
        }
        // exp(0) = 1 for the max, so candidates >= 1 here.

        var count = candidates
        if mustSort {
            count = probs.withUnsafeBufferPointer { p in
                heap.withUnsafeMutableBufferPointer { h in
                    kept.withUnsafeMutableBufferPointer { k in
                        Self.selectTop(probs: p, heap: h, heapCount: candidates, out: k, topK: topK, topP: topP)
                    }
                }
            }
        }

        // 7. Min-p: the largest surviving unnormalised probability is exactly 1.
        if minP > 0 {
            let floor = minP
            count = probs.withUnsafeBufferPointer { p in
                kept.withUnsafeMutableBufferPointer { k in
                    var w = 0
                    for j in 0..<count where p[Int(k[j])] >= floor {
                        k[w] = k[j]
                        w += 1
                    }
                    return w
                }
            }
        }
        return count
    }

    /// Step 1: divides (positive) or multiplies (others) the logit of every distinct token id of `history` that lies in
    /// the vocabulary by `repetitionPenalty`, once each (stamps in `marks` tell the ids already seen).
    private mutating func penalize(logits: UnsafeMutableBufferPointer<Float>, history: some Collection<Int>) {
        let n = logits.count
        if stamp == UInt32.max {
            for i in 0..<marks.count { marks[i] = 0 }
            stamp = 0
        }
        stamp += 1
        let s = stamp
        let penalty = repetitionPenalty
        marks.withUnsafeMutableBufferPointer { m in
            for t in history where t >= 0 && t < n && m[t] != s {
                m[t] = s
                let l = logits[t]
                logits[t] = l > 0 ? l / penalty : l * penalty
            }
        }
    }

    /// Top-k then top-p by lazily popping a max-heap (a partial heapsort: O(n + m log n) for m survivors).
    /// Writes survivors to `out` in descending probability order and returns how many survive.
    private static func selectTop(
        probs p: UnsafeBufferPointer<Float>, heap h: UnsafeMutableBufferPointer<Int32>, heapCount: Int,
        out: UnsafeMutableBufferPointer<Int32>, topK: Int, topP: Float
    ) -> Int {
        // a ranks above b: higher probability, then lower id.
        @inline(__always) func above(_ a: Int32, _ b: Int32) -> Bool {
            let pa = p[Int(a)], pb = p[Int(b)]
            return pa > pb || (pa == pb && a < b)
        }
        var size = heapCount
        @inline(__always) func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1
                if l >= size { return }
                var c = l
                if l + 1 < size && above(h[l + 1], h[l]) { c = l + 1 }
                if !above(h[c], h[i]) { return }
                h.swapAt(i, c)
                i = c
            }
        }
        @inline(__always) func pop() -> Int32 {
            let top = h[0]
            size -= 1
            h[0] = h[size]
            siftDown(0)
            return top
        }
        var i = size / 2 - 1
        while i >= 0 { siftDown(i); i -= 1 }

        // 5. Top-k.
        let limit = topK > 0 ? min(topK, heapCount) : heapCount
        if topP >= 1 {
            for j in 0..<limit { out[j] = pop() }
            return limit
        }
        // 6. Top-p over the top-k survivors, renormalised. Their mass is needed first.
        var mass = 0.0
        if limit < heapCount {
            for j in 0..<limit { out[j] = pop(); mass += Double(p[Int(out[j])]) }
        } else {
            for j in 0..<heapCount { mass += Double(p[Int(h[j])]) }
        }
        let target = Double(topP) * mass - 1e-6 * mass
        var cum = 0.0
        var popped = limit < heapCount ? limit : 0
        for j in 0..<limit {
            if j >= popped { out[j] = pop(); popped += 1 }
            cum += Double(p[Int(out[j])])
            if cum >= target { return j + 1 }
        }
        return limit
    }
}
