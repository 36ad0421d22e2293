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

/// Continuations of performance-token primes: `Generation` (AREngine) with the rules of music.
public enum MusicGeneration {
    /// Seconds of music time in `tokens` (their time shifts).
    public static func seconds(of tokens: some Sequence<Int>) -> Double {
        Double(tokens.reduce(0) { $0 + timeSteps($1) }) / Double(PerformanceTokenizer.stepsPerSecond)
    }

    /// The 10 ms steps a token advances music time by (0 unless it is a time shift).
    static func timeSteps(_ t: Int) -> Int {
        t >= PerformanceTokenizer.timeShiftBase && t < PerformanceTokenizer.velocityBase ? t - PerformanceTokenizer.timeShiftBase + 1 : 0
    }

    /// Samples a continuation of `prime` (at least one token) with `Generation.sample`:
    /// - a prime longer than the model's context conditions it on its last `contextLength` tokens (`promptTruncated`),
    ///   and when the context fills the model is re-primed with the last half of it (a sliding window);
    /// - BOS and EOS are never sampled: the continuation runs to `length`. For `.seconds`, it also stops after
    ///   `60 × seconds + 512` tokens if time stops advancing;
    /// - the repetition penalty (if any) sees the last 64 tokens.
    /// Progress counts tokens for `.tokens`, and centiseconds of music time for `.seconds`.
    /// - Returns: the new tokens only.
    public static func continuation<M: AutoregressiveModel>(
        _ model: M, prime: [Int], length: GenerationLength, sampler: inout Sampler,
        progress: (ProgressReport) -> Void = { _ in }
    ) -> (tokens: [Int], promptTruncated: Bool) {
        var options = GenerationOptions(maxNewTokens: 0, bannedTokens: [PerformanceTokenizer.bos, PerformanceTokenizer.eos],
                                        penaltyWindow: 64, slidingWindow: true)
        switch length {
        case .tokens(let n):
            options.maxNewTokens = n
            return Generation.sample(model, prompt: prime, options: options, sampler: &sampler, progress: progress)
        case .seconds(let s):
            let maxSteps = Int((s * Double(PerformanceTokenizer.stepsPerSecond)).rounded(.up)), total = Int(s * 100)
            var steps = 0
            options.maxNewTokens = Int(60 * s) + 512
            options.stopAfter = { t in steps += timeSteps(t); return steps >= maxSteps }
            return Generation.sample(model, prompt: prime, options: options, sampler: &sampler) { _ in
                let centiseconds = Int(Double(steps) / Double(PerformanceTokenizer.stepsPerSecond) * 100)
                progress(ProgressReport(done: min(total, centiseconds), total: total, unit: "centiseconds"))
            }
        }
    }

    /// Beam search continuation (`Generation.beam`): BOS is never chosen and EOS ends a hypothesis (`search.eosToken`).
    /// - Returns: the best hypothesis's new tokens (without a trailing EOS).
    public static func beamContinuation<M: AutoregressiveModel>(
        _ model: M, prime: [Int], search: BeamSearch, progress: (ProgressReport) -> Void = { _ in }
    ) -> [Int] {
        Generation.beam(model, prompt: prime, search: search, bannedTokens: [PerformanceTokenizer.bos], progress: progress)
    }
}
