// Magenta Performance RNN event encoding: notes <-> token ids (note-on, note-off, time-shift, velocity, BOS, EOS).

/// Encodes notes as Performance RNN event tokens and decodes any token sequence back to notes.
///
/// Token id layout (vocabulary of 390):
/// - 0...127: note-on of pitch `id`
/// - 128...255: note-off of pitch `id - 128`
/// - 256...355: time shift of `id - 255` steps of 10 ms (10...1000 ms)
/// - 356...387: velocity bin `id - 355` (1...32) for the following note-ons
/// - 388: BOS (begin of sequence), 389: EOS (end of sequence)
///
/// Velocity bins follow Magenta: bin = (velocity - 1) × 32 / 127 + 1 (integer division), and a bin
/// decodes to velocity 1 + (bin - 1) × 4, which falls back into the same bin. Time is quantized to
/// 100 steps per second (onsets and releases round to the nearest 10 ms).
public struct PerformanceTokenizer: Sendable {
    public static let noteOnBase = 0
    public static let noteOffBase = 128
    public static let timeShiftBase = 256
    public static let velocityBase = 356
    public static let bos = 388
    public static let eos = 389
    public static let vocabularySize = 390
    /// Quantization steps per second (one step = 10 ms).
    public static let stepsPerSecond = 100
    /// Longest single time shift, in steps (1 s).
    public static let maxShiftSteps = 100
    public static let velocityBins = 32
    /// Notes starting or ending at or after this many seconds (24 hours) are not encoded. It bounds the tokens a
    /// file can ask for: one time shift per second of music, so at most 86,400 of them, whatever the file says (a
    /// 37-byte file can place a note 134,217,728 s away; with the old bound of 10^9 s it took gigabytes).
    public static let maxTime = 86_400.0

    /// In `decode`, the longest a note left sounding at the end of the sequence may last, in seconds.
    public var maxUnreleasedDuration: Double
    /// Velocity used by `decode` for note-ons before any velocity token (1...127).
    public var defaultVelocity: Int

    public init(maxUnreleasedDuration: Double = 5.0, defaultVelocity: Int = 64) {
        self.maxUnreleasedDuration = maxUnreleasedDuration
        self.defaultVelocity = defaultVelocity
    }

    /// The velocity bin (1...32) of a velocity (clamped to 1...127).
    public static func velocityBin(_ velocity: Int) -> Int {
        let v = min(127, max(1, velocity))
        return (v - 1) * velocityBins / 127 + 1
    }

    /// The velocity (1...125) a bin (clamped to 1...32) decodes to.
    public static func velocity(ofBin bin: Int) -> Int {
        1 + (min(velocityBins, max(1, bin)) - 1) * 4
    }

    /// Encodes notes as tokens.
    ///
    /// 1. With `sustain`, notes are first lengthened by the sustain `pedal` spans
    ///    (`applyingSustain`, as Magenta does); without `pedal` spans sustain changes nothing.
    /// 2. Times are quantized to 10 ms steps (nearest step; negative times become 0); a note shorter
    ///    than one step after quantization lasts one step. Notes with a pitch outside 0...127,
    ///    a velocity below 1, or times that are not finite or not below `maxTime` are left out; velocities above 127 count as 127.
    /// 3. The encoding has one voice per pitch, so same-pitch overlaps are resolved: an earlier note
    ///    ends where the next note of that pitch starts, and is left out if that leaves it no length.
    ///    Channels, programs and tracks are not encoded.
    /// 4. Events are written in time order, note-offs before note-ons at the same step, then by pitch;
    ///    a velocity token precedes a note-on whenever the bin changes; gaps become time shifts of
    ///    at most 1 s each. With `markers` the sequence starts with BOS and ends with EOS.
    public func encode(notes: [Note], sustain: Bool = true, pedal: [SustainSpan] = [], markers: Bool = true) -> [Int] {
        let source = sustain ? notes.applyingSustain(pedal) : notes
        let sps = Double(Self.stepsPerSecond)
        // Quantized notes per pitch.
        var byPitch = [[(start: Int, end: Int, velocity: Int)]](repeating: [], count: 128)
        for n in source {
            guard (0...127).contains(n.pitch), n.velocity >= 1, n.start.isFinite, n.end.isFinite,
                  n.start < Self.maxTime, n.end < Self.maxTime else { continue }
            let start = Int((max(0, n.start) * sps).rounded())
            let end = max(start + 1, Int((max(0, n.end) * sps).rounded()))
            byPitch[n.pitch].append((start, end, min(127, n.velocity)))
        }
        // (step, isOn, pitch, velocity)
        var events: [(step: Int, on: Bool, pitch: Int, velocity: Int)] = []
        for pitch in 0..<128 where !byPitch[pitch].isEmpty {
            var list = byPitch[pitch].sorted { ($0.start, $0.end) < ($1.start, $1.end) }
            var kept: [(start: Int, end: Int, velocity: Int)] = []
            for i in list.indices {
                if i + 1 < list.count && list[i + 1].start < list[i].end {
                    list[i].end = list[i + 1].start
                }
                if list[i].end > list[i].start { kept.append(list[i]) }
            }
            for n in kept {
                events.append((n.start, true, pitch, n.velocity))
                events.append((n.end, false, pitch, 0))
            }
        }
        events.sort { a, b in
            if a.step != b.step { return a.step < b.step }
            if a.on != b.on { return !a.on }
            return a.pitch < b.pitch
        }
        var tokens: [Int] = markers ? [Self.bos] : []
        var step = 0
        var bin = 0
        for e in events {
            while step < e.step {
                let shift = min(Self.maxShiftSteps, e.step - step)
                tokens.append(Self.timeShiftBase + shift - 1)
                step += shift
            }
            if e.on {
                let b = Self.velocityBin(e.velocity)
                if b != bin {
                    tokens.append(Self.velocityBase + b - 1)
                    bin = b
                }
                tokens.append(Self.noteOnBase + e.pitch)
            } else {
                tokens.append(Self.noteOffBase + e.pitch)
            }
        }
        if markers { tokens.append(Self.eos) }
        return tokens
    }

    /// Encodes the notes of a file, with its own sustain-pedal spans (`MIDIFile.sustainSpans()`) when
    /// `sustain` is true; otherwise as `encode(notes:sustain:pedal:markers:)`.
    public func encode(file: MIDIFile, sustain: Bool = true, markers: Bool = true) -> [Int] {
        encode(notes: file.notes(), sustain: sustain, pedal: sustain ? file.sustainSpans() : [], markers: markers)
    }

    /// Decodes any token sequence to notes (channel 0, program 0, track 0), sorted by start then pitch.
    ///
    /// - Ids outside 0...389 are ignored. BOS is ignored wherever it appears; EOS ends decoding
    ///   (later tokens are ignored).
    /// - A note-off with no sounding note of that pitch is ignored.
    /// - A note-on for a pitch already sounding ends the sounding note at that time (dropped if it
    ///   has no length yet) and starts a new one.
    /// - A note-off in the same step as its note-on gives a note of one step (10 ms).
    /// - Notes still sounding at the end end at the final time, but at most `maxUnreleasedDuration`
    ///   seconds (default 5) and at least one step after their onset.
    /// - Note-ons before any velocity token use `defaultVelocity`.
    public func decode(_ tokens: [Int]) -> [Note] {
        var notes: [Note] = []
        var sounding = [(step: Int, velocity: Int)?](repeating: nil, count: 128)
        var step = 0
        var velocity = min(127, max(1, defaultVelocity))
        let seconds = { (s: Int) in Double(s) / Double(Self.stepsPerSecond) }
        func finish(_ pitch: Int, at endStep: Int) {
            guard let on = sounding[pitch] else { return }
            sounding[pitch] = nil
            notes.append(Note(pitch: pitch, velocity: on.velocity, start: seconds(on.step), end: seconds(endStep)))
        }
        for token in tokens {
            if token == Self.eos { break }
            switch token {
            case Self.noteOnBase..<Self.noteOffBase:
                let pitch = token - Self.noteOnBase
                if let on = sounding[pitch] {
                    if on.step < step { finish(pitch, at: step) } else { sounding[pitch] = nil }
                }
                sounding[pitch] = (step, velocity)
            case Self.noteOffBase..<Self.timeShiftBase:
                let pitch = token - Self.noteOffBase
                if let on = sounding[pitch] { finish(pitch, at: max(step, on.step + 1)) }
            case Self.timeShiftBase..<Self.velocityBase:
                step += token - Self.timeShiftBase + 1
            case Self.velocityBase..<Self.bos:
                velocity = Self.velocity(ofBin: token - Self.velocityBase + 1)
            default:
                break  // BOS or out of range
            }
        }
        let limit = maxUnreleasedDuration.isFinite ? max(0, maxUnreleasedDuration) : 5.0
        let limitSteps = max(1, Int((limit * Double(Self.stepsPerSecond)).rounded(.down)))
        for pitch in 0..<128 {
            if let on = sounding[pitch] {
                finish(pitch, at: on.step + min(limitSteps, max(1, step - on.step)))
            }
        }
        notes.sort { ($0.start, $0.pitch) < ($1.start, $1.pitch) }
        return notes
    }

    /// A readable name of a token, e.g. "note-on 60", "shift 250 ms", "velocity bin 17", "BOS"; "invalid 999" otherwise.
    public static func name(of token: Int) -> String {
        switch token {
        case noteOnBase..<noteOffBase: return "note-on \(token - noteOnBase)"
        case noteOffBase..<timeShiftBase: return "note-off \(token - noteOffBase)"
        case timeShiftBase..<velocityBase: return "shift \((token - timeShiftBase + 1) * 10) ms"
        case velocityBase..<bos: return "velocity bin \(token - velocityBase + 1)"
        case bos: return "BOS"
        case eos: return "EOS"
        default: return "invalid \(token)"
        }
    }
}
