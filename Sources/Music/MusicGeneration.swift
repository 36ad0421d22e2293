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

/// Where `--prime-seconds` cuts a prime.
public enum PrimeCut: String, CaseIterable, Sendable {
    /// At exactly the given second; the prime's tokens end at its last note event (as before the option existed).
    case exact
    /// At the last quarter-note beat of the file's tempo map at or before the given second (exact for SMPTE files),
    /// and the prime's tokens run on to that beat with time shifts, so the continuation starts on the beat (unless the
    /// file's notes end before it: then the prime ends with them, as `exact` does).
    case beat
}

/// A prime read from a MIDI file: its tokens (BOS ..., no EOS) ready to be continued.
public struct MusicPrime: Sendable {
    public var tokens: [Int]
    /// Problems the reader tolerated (e.g. a truncated track), one line each, for a warning.
    public var warnings: [String]
    /// Where the prime was cut, in seconds (nil: the whole file).
    public var cutSeconds: Double?
    /// The prime file's tempo map (nil for `.empty` and token primes).
    public var tempoMap: TempoMap?

    /// A prime of just BOS (unconditional generation).
    public static let empty = MusicPrime(tokens: [PerformanceTokenizer.bos], warnings: [])

    /// Reads `url`, applies the sustain pedal, keeps only notes starting before `maxSeconds` (clipped to
    /// end by then) when given, and tokenises them in `encoding` without the trailing EOS.
    /// - Throws: `MIDIError` for a file that is not a usable MIDI file; `MusicDataError.noNotes`
    ///   when nothing is left to continue.
    public init(midi url: URL, maxSeconds: Double? = nil, cut: PrimeCut = .exact, encoding: MusicEncoding = .performance) throws {
        try self.init(midi: try MIDIFile.read(url: url), maxSeconds: maxSeconds, cut: cut, encoding: encoding)
    }

    /// A prime from a parsed MIDI file, as `init(midi:maxSeconds:cut:encoding:)` makes it from a path.
    /// - Throws: `MusicDataError.noNotes` when nothing is left to continue, `.tooLong` when the notes (after the
    ///   cut) run past `MusicCorpus.maxPieceSeconds`.
    public init(midi file: MIDIFile, maxSeconds: Double? = nil, cut: PrimeCut = .exact, encoding: MusicEncoding = .performance) throws {
        var notes = file.notes().applyingSustain(file.sustainSpans())
        let lastEnd = notes.lazy.map(\.end).max() ?? 0
        var at = maxSeconds
        if let s = maxSeconds, cut == .beat, let b = TempoMap(file: file).beat(atOrBefore: s), b > 0 { at = b }
        if let c = at {
            notes = notes.filter { $0.start < c }.map { var n = $0; n.end = min(n.end, c); return n }
        }
        try MusicCorpus.checkLength(notes)
        var toks = encoding.encode(notes: notes)
        guard toks.count > 2 else {
            let why = file.warnings.first.map { "\($0)" } ?? ""
            throw MusicDataError.noNotes(detail: maxSeconds.map { "none starts in the first \($0) s" + (why.isEmpty ? "" : "; \(why)") } ?? why)
        }
        toks.removeLast()  // EOS: the model should continue, not end
        if cut == .beat, let c = at, c < lastEnd {
            // Run on to the cut, so the continuation's first event falls on the beat (or after it).
            let target = Int((c * Double(PerformanceTokenizer.stepsPerSecond)).rounded())
            var steps = toks.reduce(0) { $0 + MusicGeneration.timeSteps($1) }
            while steps < target {
                let shift = min(PerformanceTokenizer.maxShiftSteps, target - steps)
                toks.append(PerformanceTokenizer.timeShiftBase + shift - 1)
                steps += shift
            }
        }
        tokens = toks
        warnings = file.warnings.map(\.description)
        cutSeconds = at
        tempoMap = TempoMap(file: file)
    }

    public init(tokens: [Int], warnings: [String]) {
        self.tokens = tokens
        self.warnings = warnings
    }
}

extension Array where Element == Note {
    /// Notes starting at or after `from` seconds with their onsets moved to the nearest sixteenth note of `grid`
    /// (`TempoMap.snapped`; no earlier than `from`) and their releases too where that neither empties nor lengthens
    /// them (else they keep their own duration); earlier notes unchanged.
    /// A post-processing "quantize", as a sequencer does: it puts a continuation back on its prime's grid.
    ///
    /// Moving onsets can gather quick successive notes onto one grid point, and moving one later can make it overlap
    /// the next, so that more sound at once than the model played. With `maxPolyphony`, the notes are placed in order of
    /// onset; a snapped note is also released no later than its own release, and a note whose snapped form would be
    /// empty or would make more than `maxPolyphony` notes sound at once (with the notes placed before it) keeps its own
    /// timing. So snapping adds no polyphony beyond the limit to what the model played.
    public func snapped(to grid: TempoMap, from: Double, maxPolyphony: Int? = nil) -> [Note] {
        func snap(_ n: Note) -> Note {
            var m = n
            m.start = Swift.max(from, grid.snapped(n.start))
            // The release too, but a note never grows: at most its own duration after its new onset.
            let duration = n.end - n.start
            m.end = grid.snapped(n.end)
            if m.end <= m.start || m.end > m.start + duration { m.end = m.start + duration }
            return m
        }
        let moved = indices.filter { self[$0].start >= from - 1e-9 }
        var out = self
        guard let limit = maxPolyphony else {
            for i in moved { out[i] = snap(self[i]) }
            return out
        }
        var placed = filter { $0.start < from - 1e-9 }
        for i in moved.sorted(by: { (self[$0].start, $0) < (self[$1].start, $1) }) {
            // Released no later than the model released it, so that keeping a note's own timing never adds to what sounds
            // with the notes placed before it.
            var candidate = snap(self[i])
            candidate.end = Swift.min(candidate.end, self[i].end)
            guard candidate.end > candidate.start else {
                placed.append(self[i])
                continue
            }
            // The notes sounding during the candidate, clipped to it: their most at once, with the candidate.
            let during = placed.filter { $0.start < candidate.end && $0.end > candidate.start }.map { n -> Note in
                var c = n
                c.start = Swift.max(n.start, candidate.start)
                c.end = Swift.min(n.end, candidate.end)
                return c
            }
            out[i] = NoteRelease.maxPolyphony(during + [candidate]) > limit ? self[i] : candidate
            placed.append(out[i])
        }
        return out
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
    /// - the repetition penalty (if any) sees the last 64 tokens;
    /// - `processors` (e.g. `NoteRelease`, `ScaleBias`) read the prime and every new token and edit the logits, in order.
    /// Progress counts tokens for `.tokens`, and centiseconds of music time for `.seconds`.
    /// - Returns: the new tokens only.
    public static func continuation<M: AutoregressiveModel>(
        _ model: M, prime: [Int], length: GenerationLength, sampler: inout Sampler, processors: [any MusicDecodingProcessor] = [],
        progress: (ProgressReport) -> Void = { _ in }
    ) -> (tokens: [Int], promptTruncated: Bool) {
        var options = GenerationOptions(maxNewTokens: 0, bannedTokens: [PerformanceTokenizer.bos, PerformanceTokenizer.eos],
                                        penaltyWindow: 64, slidingWindow: true)
        if !processors.isEmpty {
            for t in prime { for p in processors { p.observe(t) } }
            options.logitsProcessor = { logits in for p in processors { p.process(logits) } }
            options.stopAfter = { t in for p in processors { p.observe(t) }; return false }
        }
        switch length {
        case .tokens(let n):
            options.maxNewTokens = n
            return Generation.sample(model, prompt: prime, options: options, sampler: &sampler, progress: progress)
        case .seconds(let s):
            let maxSteps = Int((s * Double(PerformanceTokenizer.stepsPerSecond)).rounded(.up)), total = Int(s * 100)
            var steps = 0
            options.maxNewTokens = Int(60 * s) + 512
            let observe = options.stopAfter
            options.stopAfter = { t in _ = observe?(t); steps += timeSteps(t); return steps >= maxSteps }
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
