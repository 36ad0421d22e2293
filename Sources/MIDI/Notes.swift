// Note extraction from a MIDIFile, sustain-pedal spans, and note-list transforms (sustain, transposition, time stretch).

/// A sounding note, timed in seconds.
public struct Note: Equatable, Hashable, Sendable {
    /// MIDI pitch, 0...127 (60 = middle C).
    public var pitch: Int
    /// Note-on velocity, 1...127.
    public var velocity: Int
    /// Onset, in seconds from the start of the file.
    public var start: Double
    /// Release, in seconds from the start of the file; `end > start` for extracted notes.
    public var end: Double
    /// MIDI channel, 0...15 (9 is General MIDI percussion).
    public var channel: Int
    /// Program (instrument) in effect on the channel at the note-on, 0...127.
    public var program: Int
    /// Index of the track the note came from (file order, from 0).
    public var track: Int

    public init(pitch: Int, velocity: Int, start: Double, end: Double, channel: Int = 0, program: Int = 0, track: Int = 0) {
        self.pitch = pitch
        self.velocity = velocity
        self.start = start
        self.end = end
        self.channel = channel
        self.program = program
        self.track = track
    }

    /// Duration in seconds.
    public var duration: Double { end - start }
}

/// A span during which the sustain pedal (controller 64, value >= 64 = down) is held on a channel.
public struct SustainSpan: Equatable, Sendable {
    /// MIDI channel, 0...15.
    public var channel: Int
    /// Pedal down, in seconds.
    public var start: Double
    /// Pedal up, in seconds.
    public var end: Double

    public init(channel: Int, start: Double, end: Double) {
        self.channel = channel
        self.start = start
        self.end = end
    }
}

/// Sustain processing event kinds, in processing order at equal times.
private enum SustainEventKind: Int { case pedalDown = 0, pedalUp = 1, noteOn = 2, noteOff = 3 }

/// One event of the merged time line used for note extraction.
private struct MergedEvent {
    let tick: Int64
    let track: Int
    let event: MIDIEvent
}

extension MIDIFile {
    /// Events of formats 0/1 merged into one time line (sorted by tick, then track, then file order),
    /// or for format 2 one time line per track. Each group comes with its tempo map and end tick.
    private func timelines() -> [(events: [MergedEvent], map: TempoMap, endTicks: [Int: Int64])] {
        func merged(_ indices: [Int]) -> [MergedEvent] {
            var all: [(MergedEvent, Int)] = []
            all.reserveCapacity(indices.reduce(0) { $0 + tracks[$1].events.count })
            var order = 0
            for i in indices {
                for e in tracks[i].events {
                    all.append((MergedEvent(tick: e.tick, track: i, event: e.event), order))
                    order += 1
                }
            }
            all.sort { ($0.0.tick, $0.1) < ($1.0.tick, $1.1) }
            return all.map { $0.0 }
        }
        if format == 2 {
            return tracks.indices.map { i in
                (merged([i]), TempoMap(file: self, track: i), [i: tracks[i].endTick])
            }
        }
        var ends: [Int: Int64] = [:]
        for i in tracks.indices { ends[i] = tracks[i].endTick }
        return [(merged(Array(tracks.indices)), TempoMap(file: self), ends)]
    }

    /// The notes of the file, sorted by start, then pitch, then track.
    ///
    /// - A note-on with velocity 0 is a note-off.
    /// - Notes are matched per (track, channel, pitch). Overlapping notes of the same pitch and channel
    ///   are matched first-in-first-out: each note-off ends the earliest still-sounding one.
    /// - Note-offs with nothing sounding (duplicates, strays) are ignored.
    /// - Zero-length notes (released at their onset tick) are dropped, as pretty_midi does.
    /// - Notes never released end at the end of their track (the tick of its last event, normally
    ///   end-of-track); if that is their onset tick they are zero-length and dropped.
    /// - The program is the one in effect on the channel at the note-on; program changes apply to
    ///   the channel across all tracks in time order (as a synthesizer hears the file), from 0.
    /// - Times: formats 0 and 1 use the merged tempo map of all tracks (`TempoMap(file:)`);
    ///   format 2 times each track from 0 with its own tempo events; SMPTE files use fixed ticks per second.
    public func notes() -> [Note] {
        var result: [Note] = []
        for line in timelines() {
            var program = [Int](repeating: 0, count: 16)
            // (track, channel, pitch) -> FIFO of (start tick, velocity, program)
            var sounding: [Int: [(Int64, Int, Int)]] = [:]
            func key(_ track: Int, _ channel: Int, _ pitch: Int) -> Int { (track << 11) | ((channel & 15) << 7) | (pitch & 127) }
            func add(_ track: Int, _ channel: Int, _ pitch: Int, _ on: (Int64, Int, Int), _ endTick: Int64) {
                guard endTick > on.0 else { return }
                result.append(Note(pitch: pitch, velocity: on.1, start: line.map.seconds(atTick: on.0),
                                   end: line.map.seconds(atTick: endTick), channel: channel, program: on.2, track: track))
            }
            for e in line.events {
                switch e.event {
                case .programChange(let channel, let p):
                    program[channel & 15] = p
                case .noteOn(let channel, let pitch, let velocity) where velocity > 0:
                    sounding[key(e.track, channel, pitch), default: []].append((e.tick, velocity, program[channel & 15]))
                case .noteOn(let channel, let pitch, _), .noteOff(let channel, let pitch, _):
                    let k = key(e.track, channel, pitch)
                    guard var queue = sounding[k], !queue.isEmpty else { continue }
                    let on = queue.removeFirst()
                    sounding[k] = queue
                    add(e.track, channel, pitch, on, e.tick)
                default:
                    break
                }
            }
            for (k, queue) in sounding {
                let track = k >> 11, channel = (k >> 7) & 15, pitch = k & 127
                for on in queue {
                    add(track, channel, pitch, on, line.endTicks[track] ?? on.0)
                }
            }
        }
        result.sort { ($0.start, $0.pitch, $0.track, $0.end) < ($1.start, $1.pitch, $1.track, $1.end) }
        return result
    }

    /// Sustain-pedal spans per channel, from controller 64 (value >= 64 = down, < 64 = up), sorted by start.
    ///
    /// Pedal events are merged across tracks in time order (the pedal belongs to the channel).
    /// Repeated pedal-downs while down and pedal-ups while up are ignored. A pedal still down at
    /// the end is released at the end of the file (the latest track end). Zero-length spans are dropped.
    public func sustainSpans() -> [SustainSpan] {
        var spans: [SustainSpan] = []
        for line in timelines() {
            var downAt = [Int64?](repeating: nil, count: 16)
            func close(_ channel: Int, _ tick: Int64) {
                guard let start = downAt[channel] else { return }
                downAt[channel] = nil
                guard tick > start else { return }
                spans.append(SustainSpan(channel: channel, start: line.map.seconds(atTick: start), end: line.map.seconds(atTick: tick)))
            }
            for e in line.events {
                guard case .controlChange(let channel, 64, let value) = e.event else { continue }
                let c = channel & 15
                if value >= 64 {
                    if downAt[c] == nil { downAt[c] = e.tick }
                } else {
                    close(c, e.tick)
                }
            }
            let end = line.endTicks.values.max() ?? 0
            for c in 0..<16 { close(c, end) }
        }
        spans.sort { ($0.start, $0.channel) < ($1.start, $1.channel) }
        return spans
    }

    /// Length of the file in seconds: the latest track end, timed by the tempo map(s).
    public var duration: Double {
        timelines().map { line in line.map.seconds(atTick: line.endTicks.values.max() ?? 0) }.max() ?? 0
    }
}

extension Array where Element == Note {
    /// Notes lengthened by the sustain pedal, as Magenta's `apply_sustain_control_changes` does, per channel:
    /// a note released while the pedal is down sounds until the pedal is released; a new note of
    /// the same pitch while the pedal is down ends the previous one at its onset (a previous one that
    /// would become zero-length is dropped). At equal times the order is pedal down, pedal up, note-on, note-off.
    /// Notes still held by the pedal at the end end at the last event time. Returns notes sorted like `MIDIFile.notes()`.
    public func applyingSustain(_ spans: [SustainSpan]) -> [Note] {
        guard !spans.isEmpty else { return self }
        typealias Kind = SustainEventKind
        var events: [(time: Double, kind: Kind, index: Int, order: Int)] = []
        for (i, n) in enumerated() {
            events.append((n.start, .noteOn, i, events.count))
            events.append((n.end, .noteOff, i, events.count))
        }
        for (i, s) in spans.enumerated() {
            events.append((s.start, .pedalDown, i, events.count))
            events.append((s.end, .pedalUp, i, events.count))
        }
        events.sort { ($0.time, $0.kind.rawValue, $0.order) < ($1.time, $1.kind.rawValue, $1.order) }
        var notes = self
        var deleted = Set<Int>()
        var active: [Int: [Int]] = [:]  // channel -> indices of sounding notes
        var pedal: [Int: Bool] = [:]
        var time = 0.0
        for e in events {
            time = e.time
            switch e.kind {
            case .pedalDown:
                pedal[spans[e.index].channel] = true
            case .pedalUp:
                let channel = spans[e.index].channel
                pedal[channel] = false
                active[channel] = (active[channel] ?? []).filter { i in
                    if notes[i].end < time {
                        notes[i].end = time
                        return false
                    }
                    return true
                }
            case .noteOn:
                let channel = notes[e.index].channel
                if pedal[channel] == true {
                    active[channel] = (active[channel] ?? []).filter { i in
                        guard notes[i].pitch == notes[e.index].pitch else { return true }
                        notes[i].end = time
                        if notes[i].start == notes[i].end { deleted.insert(i) }
                        return false
                    }
                }
                active[notes[e.index].channel, default: []].append(e.index)
            case .noteOff:
                let channel = notes[e.index].channel
                if pedal[channel] != true {
                    active[channel]?.removeAll { $0 == e.index }
                }
            }
        }
        for (_, indices) in active {
            for i in indices where notes[i].end < time { notes[i].end = time }
        }
        var result: [Note] = []
        for (i, n) in notes.enumerated() where !deleted.contains(i) { result.append(n) }
        result.sort { ($0.start, $0.pitch, $0.track, $0.end) < ($1.start, $1.pitch, $1.track, $1.end) }
        return result
    }

    /// The notes transposed by `semitones`; notes whose pitch would leave 0...127 are dropped.
    /// Notes on channel 9 (General MIDI percussion) are kept unchanged unless `includeDrums` is true.
    public func transposed(by semitones: Int, includeDrums: Bool = false) -> [Note] {
        compactMap { note in
            if note.channel == 9 && !includeDrums { return note }
            let (pitch, overflow) = note.pitch.addingReportingOverflow(semitones)
            guard !overflow, (0...127).contains(pitch) else { return nil }
            var n = note
            n.pitch = pitch
            return n
        }
    }

    /// The notes with every start and end time multiplied by `factor` (> 1 slows down, < 1 speeds up).
    ///
    /// Throws `MIDIError.invalidArgument` when `factor` is not finite or not above 0.
    public func stretched(by factor: Double) throws -> [Note] {
        guard factor.isFinite, factor > 0 else {
            throw MIDIError.invalidArgument("stretch factor must be finite and above 0, got \(factor)")
        }
        return map { note in
            var n = note
            n.start *= factor
            n.end *= factor
            return n
        }
    }
}
