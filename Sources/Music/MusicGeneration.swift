// Continuing a performance-token prime with any AutoregressiveModel: sliding KV window, stop on music time.
import AREngine
import Foundation
import MIDI

/// When a continuation stops: after a number of new tokens, or once its time shifts add up to a duration.
public enum GenerationLength: Equatable, Sendable {
    case tokens(Int)
    /// Seconds of music time (the sum of generated time-shift tokens).
    case seconds(Double)
}

/// A prime read from a MIDI file: its tokens (BOS ..., no EOS) ready to be continued.
public struct MusicPrime: Sendable {
    public var tokens: [Int]
    /// Problems the reader tolerated (e.g. a truncated track), one line each, for a warning.
    public var warnings: [String]

    /// A prime of just BOS (unconditional generation).
    public static let empty = MusicPrime(tokens: [PerformanceTokenizer.bos], warnings: [])

    /// Reads `url`, applies the sustain pedal, keeps only notes starting before `maxSeconds` (clipped to
    /// end by then) when given, and tokenises them without the trailing EOS.
    /// - Throws: `MIDIError` for a file that is not a usable MIDI file; `MusicDataError.noNotes`
    ///   when nothing is left to continue.
    public init(midi url: URL, maxSeconds: Double? = nil) throws {
        try self.init(midi: try MIDIFile.read(url: url), maxSeconds: maxSeconds)
    }

    /// A prime from a parsed MIDI file, as `init(midi:maxSeconds:)` makes it from a path.
    /// - Throws: `MusicDataError.noNotes` when nothing is left to continue, `.tooLong` when the notes (after the
    ///   cut) run past `MusicCorpus.maxPieceSeconds`.
    public init(midi file: MIDIFile, maxSeconds: Double? = nil) throws {
        var notes = file.notes().applyingSustain(file.sustainSpans())
        if let cut = maxSeconds {
            notes = notes.filter { $0.start < cut }.map { var n = $0; n.end = min(n.end, cut); return n }
        }
        try MusicCorpus.checkLength(notes)
        var toks = PerformanceTokenizer().encode(notes: notes, sustain: false)
        guard toks.count > 2 else {
            let why = file.warnings.first.map { "\($0)" } ?? ""
            throw MusicDataError.noNotes(detail: maxSeconds.map { "none starts in the first \($0) s" + (why.isEmpty ? "" : "; \(why)") } ?? why)
        }
        toks.removeLast()  // EOS: the model should continue, not end
        tokens = toks
        warnings = file.warnings.map(\.description)
    }

    public init(tokens: [Int], warnings: [String]) {
        self.tokens = tokens
        self.warnings = warnings
    }
}

public enum MusicGeneration {
    /// Seconds of music time in `tokens` (their time shifts).
    public static func seconds(of tokens: some Sequence<Int>) -> Double {
        var steps = 0
        for t in tokens where t >= PerformanceTokenizer.timeShiftBase && t < PerformanceTokenizer.velocityBase {
            steps += t - PerformanceTokenizer.timeShiftBase + 1
        }
        return Double(steps) / Double(PerformanceTokenizer.stepsPerSecond)
    }

    /// Samples a continuation of `prime` (at least one token) with cached state.
    ///
    /// - The model reads at most its context: a longer prime is conditioned on its last
    ///   `contextLength` tokens (`primeTruncated` says so). When the context fills during generation,
    ///   the cache is reset and re-primed with the last `contextLength / 2` tokens (a sliding window),
    ///   so any length can be generated.
    /// - BOS and EOS are never sampled (their logits are set to -inf): the continuation runs to `length`.
    ///   For `.seconds`, it also stops after `60 × seconds + 512` tokens if time stops advancing.
    /// - The repetition penalty (if any) sees the last 64 tokens.
    /// - Returns: the new tokens only.
    public static func continuation<M: AutoregressiveModel>(
        _ model: M, prime: [Int], length: GenerationLength, sampler: inout Sampler,
        progress: (_ tokens: Int, _ seconds: Double) -> Void = { _, _ in }
    ) -> (tokens: [Int], primeTruncated: Bool) {
        precondition(!prime.isEmpty, "the prime must hold at least one token (BOS)")
        let V = model.vocabularySize, ctx = model.contextLength
        var state = model.makeState(batch: 1)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: V)
        defer { logits.deallocate() }
        let truncated = prime.count > ctx
        var fed = 0
        for t in prime.suffix(min(prime.count, ctx)) { model.step([t], state: &state, logits: logits); fed += 1 }
        var history = prime
        var out: [Int] = []
        var steps = 0
        let maxTokens: Int, maxSteps: Int
        switch length {
        case .tokens(let n): maxTokens = n; maxSteps = Int.max
        case .seconds(let s):
            maxSteps = Int((s * Double(PerformanceTokenizer.stepsPerSecond)).rounded(.up))
            maxTokens = Int(60 * s) + 512
        }
        while out.count < maxTokens && steps < maxSteps {
            if PerformanceTokenizer.bos < V { logits[PerformanceTokenizer.bos] = -.infinity }
            if PerformanceTokenizer.eos < V { logits[PerformanceTokenizer.eos] = -.infinity }
            let next = sampler.sample(logits: UnsafeMutableBufferPointer(start: logits, count: V), history: history.suffix(64))
            out.append(next)
            history.append(next)
            if next >= PerformanceTokenizer.timeShiftBase && next < PerformanceTokenizer.velocityBase {
                steps += next - PerformanceTokenizer.timeShiftBase + 1
            }
            progress(out.count, Double(steps) / Double(PerformanceTokenizer.stepsPerSecond))
            if out.count >= maxTokens || steps >= maxSteps { break }
            if fed >= ctx {
                model.reset(&state)
                fed = 0
                for t in history.suffix(max(1, ctx / 2)) { model.step([t], state: &state, logits: logits); fed += 1 }
            } else {
                model.step([next], state: &state, logits: logits)
                fed += 1
            }
        }
        return (out, truncated)
    }
}

extension MusicGeneration {
    /// Beam search continuation (`BeamSearch`: HF algorithm, score = sum of log-probs / length^lengthPenalty).
    /// Each step re-runs the teacher-forced forward pass over the last `contextLength` tokens of every
    /// live beam (no cache sharing between beams), so it costs O(beams × context) per token: meant for
    /// short continuations. BOS is never chosen; EOS ends a hypothesis.
    /// - Returns: the best hypothesis's new tokens (without a trailing EOS).
    public static func beamContinuation<M: AutoregressiveModel>(
        _ model: M, prime: [Int], search: BeamSearch, progress: (Int) -> Void = { _ in }
    ) -> [Int] {
        precondition(!prime.isEmpty, "the prime must hold at least one token (BOS)")
        let V = model.vocabularySize, ctx = min(model.contextLength, 1 << 20)
        var stepCount = 0
        let hyps = search.search(prefix: prime) { seqs in
            stepCount += 1
            progress(stepCount)
            return seqs.map { s in
                let window = Array(s.suffix(ctx))
                let l = model.logits([window])
                var row = Array(l[((window.count - 1) * V)..<(window.count * V)])
                if PerformanceTokenizer.bos < V { row[PerformanceTokenizer.bos] = -.infinity }
                let m = row.max() ?? 0
                let lse = m + log(row.reduce(0.0) { $0 + Double(exp($1 - m)) }).asFloat
                return row.map { $0 - lse }
            }
        }
        guard var best = hyps.first?.tokens else { return [] }
        best.removeFirst(prime.count)
        if best.last == PerformanceTokenizer.eos { best.removeLast() }
        return best
    }
}

private extension Double {
    var asFloat: Float { Float(self) }
}
