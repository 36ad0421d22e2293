// The one generation loop: a prompt continued token by token with cached state (sampler) or by beam search.
import Foundation

/// What a generation may emit and when it stops, for `Generation.sample` and `Generation.beam`.
public struct GenerationOptions {
    /// Tokens to generate at most (>= 0).
    public var maxNewTokens: Int
    /// Tokens never emitted: their logits are set to -inf before every draw (e.g. BOS and EOS of a continuation that
    /// must run to its length). Ids outside the vocabulary are ignored.
    public var bannedTokens: [Int]
    /// Generation ends after emitting this token, which is kept (beam search takes its stop token from `BeamSearch`).
    public var stopToken: Int?
    /// How many of the latest tokens (prompt included) the sampler's repetition penalty sees; nil = all.
    public var penaltyWindow: Int?
    /// When a model with a finite context has filled it: true re-primes its state with the last `contextLength / 2`
    /// tokens and goes on (a sliding window, so any length can be generated); false stops there.
    public var slidingWindow: Bool
    /// Called with each emitted token, before progress is reported; true ends the generation after it (e.g. once the
    /// generated music lasts long enough).
    public var stopAfter: ((Int) -> Bool)?
    /// Edits the next-token logits `[vocab]` in place before each draw (after `bannedTokens`), e.g. setting to -inf
    /// what a rule forbids; it may keep track of the tokens through `stopAfter`. Leave at least one logit finite.
    public var logitsProcessor: ((UnsafeMutableBufferPointer<Float>) -> Void)?

    public init(maxNewTokens: Int, bannedTokens: [Int] = [], stopToken: Int? = nil, penaltyWindow: Int? = nil,
                slidingWindow: Bool = true, stopAfter: ((Int) -> Bool)? = nil) {
        precondition(maxNewTokens >= 0, "maxNewTokens must be >= 0")
        self.maxNewTokens = maxNewTokens
        self.bannedTokens = bannedTokens
        self.stopToken = stopToken
        self.penaltyWindow = penaltyWindow
        self.slidingWindow = slidingWindow
        self.stopAfter = stopAfter
    }
}

/// Continuing a prompt with any `AutoregressiveModel`: music, and text to come.
public enum Generation {
    /// Samples a continuation of `prompt` (at least one token, e.g. BOS) one token at a time with cached state.
    ///
    /// The model reads at most its context: a longer prompt conditions it on its last `contextLength` tokens
    /// (`promptTruncated`); when the context fills, `options.slidingWindow` decides between re-priming and stopping.
    /// Progress counts tokens, `done` of `maxNewTokens`.
    /// - Returns: the new tokens only, and whether the prompt was cut to the context.
    public static func sample<M: AutoregressiveModel>(
        _ model: M, prompt: [Int], options o: GenerationOptions, sampler: inout Sampler,
        progress: (ProgressReport) -> Void = { _ in }
    ) -> (tokens: [Int], promptTruncated: Bool) {
        precondition(!prompt.isEmpty, "the prompt must hold at least one token (e.g. BOS)")
        let V = model.vocabularySize, ctx = model.contextLength
        var state = model.makeState(batch: 1)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: V)
        defer { logits.deallocate() }
        var fed = 0
        for t in prompt.suffix(min(prompt.count, ctx)) { model.step([t], state: &state, logits: logits); fed += 1 }
        var history = prompt, out: [Int] = []
        history.reserveCapacity(prompt.count + o.maxNewTokens)
        out.reserveCapacity(o.maxNewTokens)
        let banned = o.bannedTokens.filter { $0 >= 0 && $0 < V }
        while out.count < o.maxNewTokens {
            for b in banned { logits[b] = -.infinity }
            o.logitsProcessor?(UnsafeMutableBufferPointer(start: logits, count: V))
            let next = sampler.sample(logits: UnsafeMutableBufferPointer(start: logits, count: V),
                                      history: history.suffix(o.penaltyWindow ?? history.count))
            out.append(next)
            history.append(next)
            let stop = o.stopAfter?(next) ?? false
            progress(ProgressReport(done: out.count, total: o.maxNewTokens, unit: "tokens"))
            if stop || out.count >= o.maxNewTokens || next == o.stopToken { break }
            if fed < ctx {
                model.step([next], state: &state, logits: logits)
                fed += 1
            } else {
                guard o.slidingWindow else { break }
                model.reset(&state)
                fed = 0
                for t in history.suffix(max(1, ctx / 2)) { model.step([t], state: &state, logits: logits); fed += 1 }
            }
        }
        return (out, prompt.count > ctx)
    }

    /// A continuation of `prompt` by beam search (`BeamSearch`: the Hugging Face algorithm, score = summed log-probs /
    /// length^lengthPenalty), with `search.eosToken` ending hypotheses and `bannedTokens` never chosen
    /// (`search.maxLength` bounds the length). Each step re-runs the teacher-forced pass over the last `contextLength`
    /// tokens of every live beam (no cache sharing between beams): O(beams × context) per token, for short
    /// continuations. Progress counts search steps.
    /// - Returns: the best hypothesis's new tokens, without a final stop token.
    public static func beam<M: AutoregressiveModel>(
        _ model: M, prompt: [Int], search: BeamSearch, bannedTokens: [Int] = [], progress: (ProgressReport) -> Void = { _ in }
    ) -> [Int] {
        precondition(!prompt.isEmpty, "the prompt must hold at least one token (e.g. BOS)")
        let V = model.vocabularySize, ctx = min(model.contextLength, 1 << 20)
        let banned = bannedTokens.filter { $0 >= 0 && $0 < V }
        var steps = 0
        let hypotheses = search.search(prefix: prompt) { seqs in
            steps += 1
            progress(ProgressReport(done: steps, total: search.maxLength, unit: "steps"))
            return seqs.map { s in
                let window = Array(s.suffix(ctx))
                let l = model.logits([window])
                var row = Array(l[((window.count - 1) * V)..<(window.count * V)])
                for b in banned { row[b] = -.infinity }
                return logSoftmax(row)
            }
        }
        guard var best = hypotheses.first?.tokens else { return [] }
        best.removeFirst(prompt.count)
        if let stop = search.eosToken, best.last == stop { best.removeLast() }
        return best
    }

    /// Log-probabilities in nats of a row of logits (the log-sum-exp accumulated in Double).
    static func logSoftmax(_ row: [Float]) -> [Float] {
        let m = row.max() ?? 0
        let lse = m + Float(log(row.reduce(0.0) { $0 + Double(exp($1 - m)) }))
        return row.map { $0 - lse }
    }
}
