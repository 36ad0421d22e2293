// Lossless multi-instrument performance encoding: Performance RNN events plus instrument (program / drums) tokens,
// with every note kept (unisons and same-pitch overlaps included).

/// Encodes notes of any number of instruments as performance events with instrument tokens, and decodes any token
/// sequence back to notes. Named `"performance_programs"` in a model's config.json (`MusicEncoding`).
///
/// Token id layout (vocabulary of 519): ids 0...389 are `PerformanceTokenizer`'s (note-on, note-off, 10 ms time
/// shifts, velocity bins, BOS 388, EOS 389), then
/// - 390...517: instrument = General MIDI program `id - 390` (0...127) for the following note-ons and note-offs;
/// - 518: instrument = drums (General MIDI percussion, MIDI channel 10 = index 9; the pitch is the drum sound).
///
/// The instrument is state, like the velocity: a token is written only when it changes (and before the first note
/// event, so a piano piece says so too). This follows MidiTok's `use_programs` option of its MIDI-like tokenizer
/// (Fradet et al. 2021) and MuseNet's instrument-aware note tokens (Payne 2019), with the instrument as a change of
/// state rather than a prefix of every note to keep sequences short.
///
/// **Lossless** (up to the 10 ms grid and the 32 velocity bins): no note is dropped, merged or shortened. Several
/// notes of one pitch and instrument may sound at once (a unison of two voices, a re-struck note before its release);
/// a note-off ends the earliest-started sounding note of its pitch and instrument (first in, first out), which is
/// how MIDI itself pairs note-offs within a channel (`MIDIFile.notes()`). So the multisets of onsets and of releases
/// per (instrument, pitch) survive exactly; only nested same-pitch notes of one instrument that came from different
/// tracks are re-paired (onset order = release order), which reads back the same from a MIDI file.
public struct ProgramPerformanceTokenizer: Sendable {
    public static let programBase = 390
    public static let drums = 518
    public static let vocabularySize = 519
    /// The instrument index of drums (programs are 0...127).
    public static let drumInstrument = 128

    /// In `decode`, the longest a note left sounding at the end of the sequence may last, in seconds.
    public var maxUnreleasedDuration: Double
    /// Velocity used by `decode` for note-ons before any velocity token (1...127).
    public var defaultVelocity: Int

    public init(maxUnreleasedDuration: Double = 5.0, defaultVelocity: Int = 64) {
        self.maxUnreleasedDuration = maxUnreleasedDuration
        self.defaultVelocity = defaultVelocity
    }

    /// The instrument of a note: 128 (drums) on channel index 9, else its program clamped to 0...127.
    public static func instrument(of note: Note) -> Int {
        note.channel == 9 ? drumInstrument : min(127, max(0, note.program))
    }

    /// The token that selects `instrument` (0...127 program, 128 drums).
    public static func token(ofInstrument instrument: Int) -> Int {
        instrument == drumInstrument ? drums : programBase + min(127, max(0, instrument))
    }

    /// Encodes notes as tokens.
    ///
    /// 1. With `sustain`, notes are first lengthened by the sustain `pedal` spans (`applyingSustain`, per channel).
    /// 2. Times are quantized to 10 ms steps (nearest; negative times become 0); a note shorter than one step lasts
    ///    one step. Notes with a pitch outside 0...127, a velocity below 1, or times that are not finite or not below
    ///    `PerformanceTokenizer.maxTime` are left out; velocities above 127 count as 127.
    /// 3. Events are written in time order; at one step grouped by instrument (increasing index), within an
    ///    instrument note-offs before note-ons, then by pitch. An instrument token precedes an event whenever the
    ///    instrument changes, a velocity token a note-on whenever the bin changes; gaps become time shifts of at most
    ///    1 s. With `markers` the sequence starts with BOS and ends with EOS.
    public func encode(notes: [Note], sustain: Bool = true, pedal: [SustainSpan] = [], markers: Bool = true) -> [Int] {
        let source = sustain ? notes.applyingSustain(pedal) : notes
        let sps = Double(PerformanceTokenizer.stepsPerSecond)
        var events: [(step: Int, instrument: Int, on: Bool, pitch: Int, velocity: Int)] = []
        events.reserveCapacity(2 * source.count)
        for n in source {
            guard (0...127).contains(n.pitch), n.velocity >= 1, n.start.isFinite, n.end.isFinite,
                  n.start < PerformanceTokenizer.maxTime, n.end < PerformanceTokenizer.maxTime else { continue }
            let start = Int((max(0, n.start) * sps).rounded())
            let end = max(start + 1, Int((max(0, n.end) * sps).rounded()))
            let instrument = Self.instrument(of: n)
            events.append((start, instrument, true, n.pitch, min(127, n.velocity)))
            events.append((end, instrument, false, n.pitch, 0))
        }
        events.sort { a, b in
            if a.step != b.step { return a.step < b.step }
            if a.instrument != b.instrument { return a.instrument < b.instrument }
            if a.on != b.on { return !a.on }
            return a.pitch < b.pitch
        }
        var tokens: [Int] = markers ? [PerformanceTokenizer.bos] : []
        var step = 0, bin = 0, instrument = -1
        for e in events {
            while step < e.step {
                let shift = min(PerformanceTokenizer.maxShiftSteps, e.step - step)
                tokens.append(PerformanceTokenizer.timeShiftBase + shift - 1)
                step += shift
            }
            if e.instrument != instrument {
                tokens.append(Self.token(ofInstrument: e.instrument))
                instrument = e.instrument
            }
            if e.on {
                let b = PerformanceTokenizer.velocityBin(e.velocity)
                if b != bin {
                    tokens.append(PerformanceTokenizer.velocityBase + b - 1)
                    bin = b
                }
                tokens.append(PerformanceTokenizer.noteOnBase + e.pitch)
            } else {
                tokens.append(PerformanceTokenizer.noteOffBase + e.pitch)
            }
        }
        if markers { tokens.append(PerformanceTokenizer.eos) }
        return tokens
    }

    /// Decodes any token sequence to notes, sorted by start, then pitch, then instrument. Drum notes come back on
    /// channel 9 with program 0; the others on channel 0 with their program, all in track 0 (`arrangedByInstrument`
    /// gives each instrument its own track and channel for writing).
    ///
    /// - Ids outside 0...518 are ignored. BOS is ignored wherever it appears; EOS ends decoding.
    /// - Note events before any instrument token belong to program 0.
    /// - A note-off ends the earliest-started sounding note of its pitch and instrument; with none sounding it is
    ///   ignored. A note-off in the same step as its note-on gives a note of one step (10 ms).
    /// - A note-on never ends another note: several notes of one pitch and instrument may sound at once.
    /// - Notes still sounding at the end end at the final time, but at most `maxUnreleasedDuration` seconds
    ///   (default 5) and at least one step after their onset.
    public func decode(_ tokens: [Int]) -> [Note] {
        var notes: [Note] = []
        var sounding: [Int: [(step: Int, velocity: Int)]] = [:]  // instrument × 128 + pitch → FIFO
        var step = 0, instrument = 0
        var velocity = min(127, max(1, defaultVelocity))
        func note(_ key: Int, _ on: (step: Int, velocity: Int), end: Int) -> Note {
            let inst = key / 128, sps = Double(PerformanceTokenizer.stepsPerSecond)
            return Note(pitch: key % 128, velocity: on.velocity, start: Double(on.step) / sps, end: Double(end) / sps,
                        channel: inst == Self.drumInstrument ? 9 : 0, program: inst == Self.drumInstrument ? 0 : inst)
        }
        for token in tokens {
            if token == PerformanceTokenizer.eos { break }
            switch token {
            case PerformanceTokenizer.noteOnBase..<PerformanceTokenizer.noteOffBase:
                sounding[instrument * 128 + token, default: []].append((step, velocity))
            case PerformanceTokenizer.noteOffBase..<PerformanceTokenizer.timeShiftBase:
                let key = instrument * 128 + token - PerformanceTokenizer.noteOffBase
                guard var queue = sounding[key], !queue.isEmpty else { continue }
                let on = queue.removeFirst()
                sounding[key] = queue
                notes.append(note(key, on, end: max(step, on.step + 1)))
            case PerformanceTokenizer.timeShiftBase..<PerformanceTokenizer.velocityBase:
                step += token - PerformanceTokenizer.timeShiftBase + 1
            case PerformanceTokenizer.velocityBase..<PerformanceTokenizer.bos:
                velocity = PerformanceTokenizer.velocity(ofBin: token - PerformanceTokenizer.velocityBase + 1)
            case Self.programBase..<Self.drums:
                instrument = token - Self.programBase
            case Self.drums:
                instrument = Self.drumInstrument
            default:
                break  // BOS or out of range
            }
        }
        let limit = maxUnreleasedDuration.isFinite ? max(0, maxUnreleasedDuration) : 5.0
        let limitSteps = max(1, Int((limit * Double(PerformanceTokenizer.stepsPerSecond)).rounded(.down)))
        for key in sounding.keys.sorted() {
            for on in sounding[key] ?? [] {
                notes.append(note(key, on, end: on.step + min(limitSteps, max(1, step - on.step))))
            }
        }
        notes.sort { ($0.start, $0.pitch, $0.channel, $0.program, $0.end) < ($1.start, $1.pitch, $1.channel, $1.program, $1.end) }
        return notes
    }

    /// A readable name of a token: `PerformanceTokenizer.name(of:)`, or "program 40", "drums".
    public static func name(of token: Int) -> String {
        switch token {
        case programBase..<drums: return "program \(token - programBase)"
        case drums: return "drums"
        default: return PerformanceTokenizer.name(of: token)
        }
    }
}

/// The token encodings of music models, as named by `"encoding"` in a model's config.json. A folder without the key
/// holds a model of `.performance` (every model saved before the key existed).
public enum MusicEncoding: String, CaseIterable, Sendable {
    /// `PerformanceTokenizer`: 390 tokens, one piano stream, one voice per pitch (lossy).
    case performance
    /// `ProgramPerformanceTokenizer`: 519 tokens, instruments and drums, every note kept.
    case performancePrograms = "performance_programs"

    /// What the encoding keeps, for listings.
    public var summary: String {
        switch self {
        case .performance: return "one piano stream, one voice per pitch"
        case .performancePrograms: return "instruments and drums, every note kept"
        }
    }

    public var vocabularySize: Int {
        switch self {
        case .performance: return PerformanceTokenizer.vocabularySize
        case .performancePrograms: return ProgramPerformanceTokenizer.vocabularySize
        }
    }

    /// Tokens of `notes` (sustain already applied, or not wanted), BOS ... EOS when `markers`.
    public func encode(notes: [Note], markers: Bool = true) -> [Int] {
        switch self {
        case .performance: return PerformanceTokenizer().encode(notes: notes, sustain: false, markers: markers)
        case .performancePrograms: return ProgramPerformanceTokenizer().encode(notes: notes, sustain: false, markers: markers)
        }
    }

    /// Notes of any token sequence (see each tokenizer's `decode`).
    public func decode(_ tokens: [Int]) -> [Note] {
        switch self {
        case .performance: return PerformanceTokenizer().decode(tokens)
        case .performancePrograms: return ProgramPerformanceTokenizer().decode(tokens)
        }
    }

    /// Whether `token` starts a note.
    public func isNoteOn(_ token: Int) -> Bool {
        token >= PerformanceTokenizer.noteOnBase && token < PerformanceTokenizer.noteOffBase
    }
}

extension Array where Element == Note {
    /// The notes laid out for writing one track per instrument (`MIDIFile(notes:format: 1)`): instruments (drums, or
    /// a program on any channel but 9) in order of their first onset get tracks 0, 1, ...; drums play on channel 9,
    /// the others on channels 0...8, 10...15 in that order (a 16th melodic instrument shares channel 0 again, in its
    /// own track). Notes, times and programs are unchanged. One instrument (a piano stream) gives one track on channel 0.
    public func arrangedByInstrument() -> [Note] {
        var order: [Int: Int] = [:]  // instrument → track
        var firsts: [(start: Double, instrument: Int)] = []
        var seen = Set<Int>()
        for n in self {
            let i = ProgramPerformanceTokenizer.instrument(of: n)
            if seen.insert(i).inserted { firsts.append((n.start, i)) } else if let k = firsts.firstIndex(where: { $0.instrument == i }), n.start < firsts[k].start {
                firsts[k].start = n.start
            }
        }
        firsts.sort { ($0.start, $0.instrument) < ($1.start, $1.instrument) }
        for (t, f) in firsts.enumerated() { order[f.instrument] = t }
        let melodicChannels = [Int](0...8) + [Int](10...15)
        var channel: [Int: Int] = [:]
        var next = 0
        for f in firsts {
            if f.instrument == ProgramPerformanceTokenizer.drumInstrument {
                channel[f.instrument] = 9
            } else {
                channel[f.instrument] = melodicChannels[next % melodicChannels.count]
                next += 1
            }
        }
        return map { n in
            var m = n
            let i = ProgramPerformanceTokenizer.instrument(of: n)
            m.track = order[i] ?? 0
            m.channel = channel[i] ?? 0
            m.program = i == ProgramPerformanceTokenizer.drumInstrument ? 0 : i
            return m
        }
    }
}
