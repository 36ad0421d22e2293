// Decoding processors for performance tokens: no note held longer than a limit; notes kept in the prime's key.
import AREngine
import Foundation
import MIDI

/// A rule applied to the next-token logits while a continuation is sampled (`MusicGeneration.continuation`): it reads
/// every token (the prime's, then each new one) and edits the logits `[vocab]` before each draw.
public protocol MusicDecodingProcessor: AnyObject {
    func observe(_ token: Int)
    func process(_ logits: UnsafeMutableBufferPointer<Float>)
}

/// The n-gram cache of the piece (`NGramCache`) as a decoding processor: it replaces the logits by the mixture's log
/// probabilities, so it goes before the processors that ban or bias tokens.
extension NGramCache: MusicDecodingProcessor {
    public func process(_ logits: UnsafeMutableBufferPointer<Float>) { mix(logits) }
}

/// Releases notes the model holds too long, by editing the next-token logits (`GenerationOptions.logitsProcessor`):
/// once the oldest sounding note has lasted `maxSeconds`, the only token allowed is its note-off (preceded by its
/// instrument token if another instrument is current, in `.performancePrograms`); before that, time shifts that would
/// carry it past the limit are forbidden. So no generated note lasts longer than `maxSeconds` (to the 10 ms grid).
/// With `maxPolyphony`, note-ons (and velocity changes) are also forbidden while that many notes sound. Note-offs of
/// pitches that are not sounding (no-ops) are always forbidden.
/// It follows each encoding's own pairing of note-ons and note-offs (`PerformanceTokenizer.decode`: a re-struck pitch
/// ends the sounding note; `ProgramPerformanceTokenizer.decode`: first in, first out). Off unless asked for
/// (`synth music generate --max-note-seconds`): it changes what the model would have sampled.
public final class NoteRelease: MusicDecodingProcessor {
    /// The limit, in 10 ms steps (at least 1).
    public let maxSteps: Int
    public let encoding: MusicEncoding
    /// The most notes that may sound at once (nil: no limit).
    public let maxPolyphony: Int?
    private var step = 0, instrument = 0
    /// instrument × 128 + pitch → onset steps of the sounding notes, oldest first.
    private var sounding: [Int: [Int]] = [:]
    /// Notes released in the step of their onset: decoding gives them one step (10 ms), so they count as sounding
    /// until time moves on.
    private var releasedAtOnset = 0

    /// - Parameter maxSeconds: the longest a note may last (infinity: no limit).
    public init(maxSeconds: Double, maxPolyphony: Int? = nil, encoding: MusicEncoding) {
        maxSteps = maxSeconds.isFinite ? max(1, Int((maxSeconds * Double(PerformanceTokenizer.stepsPerSecond)).rounded())) : Int.max / 4
        self.maxPolyphony = maxPolyphony.map { max(1, $0) }
        self.encoding = encoding
    }

    /// Follows one token of the sequence (prime or generated).
    public func observe(_ token: Int) {
        switch token {
        case PerformanceTokenizer.noteOnBase..<PerformanceTokenizer.noteOffBase:
            let key = instrument * 128 + token
            if encoding == .performance { sounding[key] = [step] } else { sounding[key, default: []].append(step) }
        case PerformanceTokenizer.noteOffBase..<PerformanceTokenizer.timeShiftBase:
            let key = instrument * 128 + token - PerformanceTokenizer.noteOffBase
            if var q = sounding[key], !q.isEmpty {
                if q.removeFirst() == step { releasedAtOnset += 1 }
                sounding[key] = q.isEmpty ? nil : q
            }
        case PerformanceTokenizer.timeShiftBase..<PerformanceTokenizer.velocityBase:
            step += token - PerformanceTokenizer.timeShiftBase + 1
            releasedAtOnset = 0
        case ProgramPerformanceTokenizer.programBase...ProgramPerformanceTokenizer.drums where encoding == .performancePrograms:
            instrument = token == ProgramPerformanceTokenizer.drums ? ProgramPerformanceTokenizer.drumInstrument
                : token - ProgramPerformanceTokenizer.programBase
        default:
            break
        }
    }

    /// Masks the logits `[vocab]` of the next token as described above.
    public func process(_ logits: UnsafeMutableBufferPointer<Float>) {
        var oldest: (onset: Int, key: Int)? = nil
        for (key, q) in sounding {
            if let o = q.first, oldest == nil || (o, key) < (oldest!.onset, oldest!.key) { oldest = (o, key) }
        }
        // Note-offs of pitches not sounding (in the current instrument) do nothing: forbidding them keeps a model that
        // may not start a note from spending its tokens on them instead of letting time pass.
        for p in 0..<128 where sounding[instrument * 128 + p] == nil {
            let t = PerformanceTokenizer.noteOffBase + p
            if t < logits.count { logits[t] = -.infinity }
        }
        if let limit = maxPolyphony, sounding.values.reduce(0, { $0 + $1.count }) + releasedAtOnset >= limit {
            // No note-on, and so no velocity change either (it only matters before a note-on).
            for t in Array(PerformanceTokenizer.noteOnBase..<PerformanceTokenizer.noteOffBase) + Array(PerformanceTokenizer.velocityBase..<PerformanceTokenizer.bos)
            where t < logits.count { logits[t] = -.infinity }
        }
        guard let (onset, key) = oldest else { return }
        let remaining = maxSteps - (step - onset)
        if remaining <= 0 {
            let inst = key / 128
            let only = inst == instrument ? PerformanceTokenizer.noteOffBase + key % 128 : ProgramPerformanceTokenizer.token(ofInstrument: inst)
            guard only < logits.count else { return }
            for i in logits.indices where i != only { logits[i] = -.infinity }
            if !logits[only].isFinite { logits[only] = 0 }
        } else if remaining < PerformanceTokenizer.maxShiftSteps {
            for k in (remaining + 1)...PerformanceTokenizer.maxShiftSteps {
                let t = PerformanceTokenizer.timeShiftBase + k - 1
                if t < logits.count { logits[t] = -.infinity }
            }
        }
    }
}

/// Keeps a continuation in a key, by editing the logits of note-ons (drums, in `.performancePrograms`, are left alone):
/// - `penalty` (nats) is subtracted for pitch classes outside `key.scale` (a fence: `--key-bias`);
/// - `profileWeight` × ln(P(tonic) / P(degree)) nats are subtracted for the classes of the scale, P being the key's
///   Krumhansl-Kessler profile (`MusicalKey.majorProfile`, `minorProfile`), and the scale's mean of that for the
///   classes outside it (a tonal gravity: `--key-profile-bias`). In a major key with weight 1 the tonic loses
///   nothing, the dominant 0.20 nats, the leading tone 0.79; the hierarchy within the scale moves toward the
///   profile's, which is what Krumhansl-Schmuckler key finding correlates with, while the share of notes outside
///   the scale stays about the model's own.
/// Both are soft: every note stays possible (chromatic passing notes, modulations), only less likely. The key is
/// usually the prime's (`MusicalKey.estimate`). Off unless asked for (`synth music generate --key-bias`,
/// `--key-profile-bias`, or a model's generation_config.json).
public final class ScaleBias: MusicDecodingProcessor {
    public let key: MusicalKey
    public let penalty: Float
    public let profileWeight: Float
    public let encoding: MusicEncoding
    private var drums = false
    /// Nats subtracted per pitch class (0 = C).
    public let pitchClassPenalty: [Float]

    public init(key: MusicalKey, penalty: Float, profileWeight: Float = 0, encoding: MusicEncoding) {
        self.key = key
        self.penalty = penalty
        self.profileWeight = profileWeight
        self.encoding = encoding
        let scale = key.scale
        let profile = key.minor ? MusicalKey.minorProfile : MusicalKey.majorProfile
        // The profile's log ratios on the scale's classes; the classes outside it take the scale's mean, so the
        // hierarchy within the scale changes and the share outside it (which `penalty` sets) does not.
        let ratio = (0..<12).map { pc in Float(log(profile[0] / profile[((pc - key.tonic) % 12 + 12) % 12])) }
        let inScale = (0..<12).filter { scale.contains($0) }
        let mean = inScale.map { ratio[$0] }.reduce(0, +) / Float(inScale.count)
        pitchClassPenalty = (0..<12).map { pc in
            scale.contains(pc) ? profileWeight * ratio[pc] : penalty + profileWeight * mean
        }
    }

    public func observe(_ token: Int) {
        guard encoding == .performancePrograms, (ProgramPerformanceTokenizer.programBase...ProgramPerformanceTokenizer.drums).contains(token) else { return }
        drums = token == ProgramPerformanceTokenizer.drums
    }

    public func process(_ logits: UnsafeMutableBufferPointer<Float>) {
        guard !drums else { return }
        for p in 0..<128 where PerformanceTokenizer.noteOnBase + p < logits.count {
            logits[PerformanceTokenizer.noteOnBase + p] -= pitchClassPenalty[p % 12]
        }
    }
}

extension NoteRelease {
    /// The longest duration among `notes`, in seconds (0 without notes).
    public static func longestNote(_ notes: [Note]) -> Double { notes.map(\.duration).max() ?? 0 }

    /// The most notes of `notes` sounding at once (a note ending when another starts does not overlap it).
    public static func maxPolyphony(_ notes: [Note]) -> Int {
        let events = (notes.map { ($0.start, 1) } + notes.map { ($0.end, -1) }).sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        var current = 0, most = 0
        for (_, d) in events {
            current += d
            most = max(most, current)
        }
        return most
    }

    /// Reads a limit given as a number or as `prime+X` (the prime's own figure plus X).
    /// - Returns: nil when `text` is neither.
    public static func limit(_ text: String, prime: Double) -> Double? {
        if text.hasPrefix("prime+") { return Double(text.dropFirst(6)).map { prime + $0 } }
        return Double(text)
    }
}

extension ScaleBias {
    /// Mean NLL in nats per token of `sequences` (each BOS ... EOS) under `model` with the bias of
    /// `ScaleBias(penalty:profileWeight:)` in each piece's own key (`MusicalKey.estimate` of its notes starting in the
    /// first `keySeconds` s), i.e. what the processor costs in likelihood. Windows as `TokenModel.evaluate` (non-overlapping, `context + 1` tokens);
    /// pieces with no pitched notes are scored unbiased.
    public static func evaluate<M: AutoregressiveModel>(_ model: M, sequences: [[Int]], encoding: MusicEncoding, penalty: Float,
                                                      profileWeight: Float = 0, keySeconds: Double = 8, context: Int) -> (nats: Double, tokens: Int) {
        let V = model.vocabularySize, ctx = min(context, model.contextLength)
        var sum = 0.0, n = 0
        for s in sequences where s.count >= 2 {
            let key = MusicalKey.estimate(encoding.decode(s).filter { $0.start < keySeconds })
            var start = 0
            while start + 1 < s.count {
                let w = Array(s[start..<min(s.count, start + ctx + 1)])
                let input = Array(w.dropLast())
                let logits = model.logits([input])
                let bias = key.map { ScaleBias(key: $0, penalty: penalty, profileWeight: profileWeight, encoding: encoding) }
                if start > 0 { for t in s[0..<start] { bias?.observe(t) } }
                for (i, target) in w.dropFirst().enumerated() {
                    bias?.observe(input[i])
                    var row = Array(logits[(i * V)..<((i + 1) * V)])
                    row.withUnsafeMutableBufferPointer { bias?.process($0) }
                    let m = row.max() ?? 0
                    let lse = Double(m) + log(row.reduce(0.0) { $0 + Double(exp($1 - m)) })
                    sum += lse - Double(row[target])
                    n += 1
                }
                start += ctx
            }
        }
        return (n > 0 ? sum / Double(n) : .nan, n)
    }
}

/// Keeps a `.performancePrograms` continuation to the instruments of its prime: instrument tokens (programs, drums)
/// that the prime does not hold are forbidden, so every generated note is played by one of the prime's instruments.
/// `synth music generate` applies it to such primes unless `--new-instruments` is given.
public final class InstrumentSet: MusicDecodingProcessor {
    /// The instrument tokens allowed (390...518).
    public let allowed: Set<Int>

    /// - Parameter prime: the prime's tokens; their instrument tokens are the ones allowed.
    public init(prime: [Int]) {
        allowed = Set(prime.filter { (ProgramPerformanceTokenizer.programBase...ProgramPerformanceTokenizer.drums).contains($0) })
    }

    public func observe(_ token: Int) {}

    public func process(_ logits: UnsafeMutableBufferPointer<Float>) {
        guard !allowed.isEmpty else { return }
        for t in ProgramPerformanceTokenizer.programBase...ProgramPerformanceTokenizer.drums where t < logits.count && !allowed.contains(t) {
            logits[t] = -.infinity
        }
    }
}

/// Keeps a `.performancePrograms` continuation to what the encoding writes (`ProgramPerformanceTokenizer.encode`):
/// an instrument token only when the instrument changes, and only right before the note event (or the velocity of the
/// note-on) it is for. So it forbids the token of the current instrument, and, right after an instrument token,
/// another instrument token or a time shift. A sampled run of instrument tokens with no note between them means
/// nothing, and once in the context the model (and an n-gram cache of the piece) would repeat it; this rules it out.
/// It runs after the processors that force a token (`NoteRelease`), and forbids nothing when that would leave no token.
/// `synth music generate` applies it to every sampled continuation of a `.performancePrograms` model.
public final class InstrumentGrammar: MusicDecodingProcessor {
    /// The instrument in effect (0...128), nil before any instrument token.
    public private(set) var current: Int?
    var afterInstrumentToken = false
    static let instruments = ProgramPerformanceTokenizer.programBase...ProgramPerformanceTokenizer.drums
    static let timeShifts = PerformanceTokenizer.timeShiftBase..<PerformanceTokenizer.velocityBase

    public init() {}

    public func observe(_ token: Int) {
        afterInstrumentToken = Self.instruments.contains(token)
        if afterInstrumentToken { current = token - ProgramPerformanceTokenizer.programBase }
    }

    public func process(_ logits: UnsafeMutableBufferPointer<Float>) {
        var banned: [Int] = []
        if afterInstrumentToken {
            banned = Array(Self.instruments) + Array(Self.timeShifts)
        } else if let c = current {
            banned = [ProgramPerformanceTokenizer.programBase + c]
        }
        banned.removeAll { $0 >= logits.count }
        let bannedSet = Set(banned)
        guard (0..<logits.count).contains(where: { logits[$0] > -.infinity && !bannedSet.contains($0) }) else { return }
        for t in banned { logits[t] = -.infinity }
    }
}
