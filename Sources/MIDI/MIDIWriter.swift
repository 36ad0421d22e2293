// Standard MIDI File 1.0 writer: encodes a MIDIFile (or a note list) and writes it atomically.

import AtomicIO
import Foundation

extension MIDIFile {
    /// Builds a file from notes (times in seconds) and tempo changes.
    ///
    /// - `format` 0: one track holding tempo, program changes and notes.
    ///   `format` 1: track 0 holds the tempo changes; then one track per distinct `Note.track` value, in
    ///   increasing order (the values themselves are not kept, only their order).
    /// - `ticksPerQuarter`: the division, 1...32767. `tempo`: tempo changes (ticks in this division;
    ///   120 bpm from tick 0 when empty or until the first change).
    /// - Seconds become the nearest tick under the tempo map; a note that would be shorter than one
    ///   tick is lengthened to one tick. Negative times are clamped to 0.
    /// - A program change is written before a note whose program differs from the channel's current
    ///   one in that track (all channels start at program 0 without a message).
    /// - At equal ticks note-offs precede note-ons, so a re-struck pitch reads back as two notes.
    ///   Note-offs are written as note-ons with velocity 0 (as the spec suggests) so running status applies.
    ///
    /// Throws `MIDIError.invalidArgument` for a format other than 0 or 1, a division outside 1...32767,
    /// or a note with pitch outside 0...127, velocity outside 1...127, channel outside 0...15,
    /// program outside 0...127, or a non-finite time or one beyond 10^15 ticks. (Times that fit but make a
    /// delta above 0x0FFFFFFF ticks are rejected later by `encoded(runningStatus:)`.)
    public init(notes: [Note], format: Int = 1, ticksPerQuarter: Int = 480, tempo: [TempoChange] = []) throws {
        guard format == 0 || format == 1 else {
            throw MIDIError.invalidArgument("can only build format 0 or 1 files from notes, got format \(format)")
        }
        guard (1...32767).contains(ticksPerQuarter) else {
            throw MIDIError.invalidArgument("ticks per quarter note must be 1...32767, got \(ticksPerQuarter)")
        }
        for n in notes {
            guard (0...127).contains(n.pitch), (1...127).contains(n.velocity), (0...15).contains(n.channel),
                  (0...127).contains(n.program), n.start.isFinite, n.end.isFinite else {
                throw MIDIError.invalidArgument("unwritable note \(n)")
            }
        }
        let map = TempoMap(ticksPerQuarter: ticksPerQuarter, changes: tempo)
        for n in notes where map.tick(atSeconds: max(n.start, n.end)) > 1e15 {
            throw MIDIError.invalidArgument("note time \(max(n.start, n.end)) s is too far to encode")
        }
        var tempoEvents: [TrackEvent] = map.changes.map {
            TrackEvent(tick: $0.tick, event: .tempo(microsecondsPerQuarter: $0.microsecondsPerQuarter))
        }
        if tempo.isEmpty { tempoEvents = [] }

        func noteEvents(_ group: [Note]) -> [TrackEvent] {
            // (tick, kind: 0 off / 1 program change or on, order): offs first, each program change right before its note-on.
            var timed: [(tick: Int64, kind: Int, order: Int, event: MIDIEvent)] = []
            let ordered = group.sorted { ($0.start, $0.pitch) < ($1.start, $1.pitch) }
            var program = [Int](repeating: 0, count: 16)
            for n in ordered {
                let on = Int64(max(0, map.tick(atSeconds: max(0, n.start))).rounded())
                let off = max(on + 1, Int64(max(0, map.tick(atSeconds: max(0, n.end))).rounded()))
                if program[n.channel] != n.program {
                    program[n.channel] = n.program
                    timed.append((on, 1, timed.count, .programChange(channel: n.channel, program: n.program)))
                }
                timed.append((on, 1, timed.count, .noteOn(channel: n.channel, pitch: n.pitch, velocity: n.velocity)))
                timed.append((off, 0, timed.count, .noteOn(channel: n.channel, pitch: n.pitch, velocity: 0)))
            }
            timed.sort { ($0.tick, $0.kind, $0.order) < ($1.tick, $1.kind, $1.order) }
            return timed.map { TrackEvent(tick: $0.tick, event: $0.event) }
        }
        func finished(_ events: [TrackEvent]) -> MIDITrack {
            MIDITrack(events: events + [TrackEvent(tick: events.last?.tick ?? 0, event: .endOfTrack)])
        }

        var tracks: [MIDITrack] = []
        if format == 0 {
            let merged = (tempoEvents.map { ($0, 0) } + noteEvents(notes).map { ($0, 1) })
                .enumerated()
                .sorted { ($0.element.0.tick, $0.element.1, $0.offset) < ($1.element.0.tick, $1.element.1, $1.offset) }
                .map { $0.element.0 }
            tracks = [finished(merged)]
        } else {
            tracks.append(finished(tempoEvents))
            for t in Set(notes.map(\.track)).sorted() {
                tracks.append(finished(noteEvents(notes.filter { $0.track == t })))
            }
        }
        self.init(format: format, division: .ticksPerQuarter(ticksPerQuarter), tracks: tracks)
    }

    /// The file encoded as Standard MIDI File bytes.
    ///
    /// Events of each track are written in tick order (stable, so equal ticks keep their order).
    /// `runningStatus`: omit a channel status byte equal to the previous one (meta and SysEx events
    /// reset it, as the spec requires). An end-of-track event is added at the last tick when a track
    /// lacks one; end-of-track events elsewhere are left out. Texts, SysEx and unknown meta events are
    /// written as stored; `.meta` with the type of a known event is written with its raw data.
    ///
    /// Throws `MIDIError.invalidArgument` for a format outside 0...2, more than 65535 tracks or an invalid
    /// division, and `MIDIError.unencodableEvent` for a negative tick, a delta time above 0x0FFFFFFF ticks,
    /// a channel outside 0...15, a data value outside its MIDI range, a tempo outside
    /// 1...16 777 215 µs per quarter note, or a data block longer than 0x0FFFFFFF bytes.
    public func encoded(runningStatus: Bool = true) throws -> Data {
        guard (0...2).contains(format) else { throw MIDIError.invalidArgument("format must be 0, 1 or 2, got \(format)") }
        guard tracks.count <= 65535 else { throw MIDIError.invalidArgument("too many tracks: \(tracks.count)") }
        var out: [UInt8] = Array("MThd".utf8)
        appendBE32(&out, 6)
        appendBE16(&out, format)
        appendBE16(&out, tracks.count)
        switch division {
        case .ticksPerQuarter(let tpq):
            guard (1...32767).contains(tpq) else {
                throw MIDIError.invalidArgument("ticks per quarter note must be 1...32767, got \(tpq)")
            }
            appendBE16(&out, tpq)
        case .smpte(let fps, let tpf):
            guard (1...127).contains(fps), (1...255).contains(tpf) else {
                throw MIDIError.invalidArgument("invalid SMPTE division \(fps) fps, \(tpf) ticks per frame")
            }
            out.append(UInt8(bitPattern: Int8(-fps)))
            out.append(UInt8(tpf))
        }
        for (index, track) in tracks.enumerated() {
            let body = try encodeTrack(track, index: index, runningStatus: runningStatus)
            out += Array("MTrk".utf8)
            appendBE32(&out, body.count)
            out += body
        }
        return Data(out)
    }

    /// Encodes the file (see `encoded(runningStatus:)`) and writes it to `url` atomically: the bytes go
    /// to a temporary file in the same directory, which is flushed to disk (fsync) and renamed over `url`.
    /// A reader of `url` sees either the old file or the complete new one.
    ///
    /// Throws what `encoded(runningStatus:)` throws, and `MIDIError.io` when the file cannot be written.
    public func write(to url: URL, runningStatus: Bool = true) throws {
        try atomicWrite(try encoded(runningStatus: runningStatus), to: url)
    }
}

private func appendBE32(_ out: inout [UInt8], _ value: Int) {
    out += [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

private func appendBE16(_ out: inout [UInt8], _ value: Int) {
    out += [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

/// Appends `value` (0...0x0FFFFFFF) as a variable-length quantity of 1 to 4 bytes.
func appendVLQ(_ out: inout [UInt8], _ value: Int) {
    var groups: [UInt8] = [UInt8(value & 0x7F)]
    var rest = value >> 7
    while rest > 0 {
        groups.append(UInt8(rest & 0x7F) | 0x80)
        rest >>= 7
    }
    out += groups.reversed()
}

private func encodeTrack(_ track: MIDITrack, index: Int, runningStatus: Bool) throws -> [UInt8] {
    var out: [UInt8] = []
    var lastStatus: UInt8? = nil
    var previousTick: Int64 = 0
    let events = track.events.enumerated()
        .sorted { ($0.element.tick, $0.offset) < ($1.element.tick, $1.offset) }
        .map(\.element)
        .filter { $0.event != .endOfTrack }
    let endTick = max(track.endTick, events.last?.tick ?? 0)

    func fail(_ tick: Int64, _ reason: String) -> MIDIError {
        .unencodableEvent(track: index, tick: tick, reason: reason)
    }
    func delta(_ tick: Int64) throws {
        guard tick >= 0 else { throw fail(tick, "negative tick") }
        let d = tick - previousTick
        guard d <= 0x0FFF_FFFF else { throw fail(tick, "delta time \(d) above 0x0FFFFFFF ticks") }
        appendVLQ(&out, Int(d))
        previousTick = tick
    }
    func lengthPrefixed(_ tick: Int64, _ bytes: [UInt8]) throws {
        guard bytes.count <= 0x0FFF_FFFF else { throw fail(tick, "data block of \(bytes.count) bytes") }
        appendVLQ(&out, bytes.count)
        out += bytes
    }
    func meta(_ tick: Int64, _ type: Int, _ bytes: [UInt8]) throws {
        guard (0...255).contains(type) else { throw fail(tick, "meta type \(type) outside 0...255") }
        try delta(tick)
        out += [0xFF, UInt8(type)]
        try lengthPrefixed(tick, bytes)
        lastStatus = nil
    }

    for e in events {
        let tick = e.tick
        if let (kind, bytes) = try channelMessage(e.event, fail: { fail(tick, $0) }) {
            guard let channel = e.event.channel, (0...15).contains(channel) else {
                throw fail(tick, "channel \(e.event.channel ?? -1) outside 0...15")
            }
            let status = kind | UInt8(channel)
            try delta(tick)
            if !(runningStatus && lastStatus == status) { out.append(status) }
            out += bytes
            lastStatus = status
            continue
        }
        switch e.event {
        case .sysEx(let bytes), .sysExEscape(let bytes):
            try delta(tick)
            if case .sysEx = e.event { out.append(0xF0) } else { out.append(0xF7) }
            try lengthPrefixed(tick, bytes)
            lastStatus = nil
        case .tempo(let us):
            guard (1...0xFF_FFFF).contains(us) else { throw fail(tick, "tempo \(us) µs per quarter note outside 1...16777215") }
            try meta(tick, 0x51, [UInt8(us >> 16), UInt8((us >> 8) & 0xFF), UInt8(us & 0xFF)])
        case .timeSignature(let n, let d, let c, let b):
            try meta(tick, 0x58, try dataBytes([n, d, c, b], limit: 255) { fail(tick, $0) })
        case .keySignature(let sharps, let minor):
            guard (-128...127).contains(sharps) else { throw fail(tick, "key signature \(sharps) outside -128...127") }
            try meta(tick, 0x59, [UInt8(bitPattern: Int8(sharps)), minor ? 1 : 0])
        case .text(let type, let bytes), .meta(let type, let bytes):
            try meta(tick, type, bytes)
        default:
            break  // end of track (written last), and channel events (above)
        }
    }
    try delta(endTick)
    out += [0xFF, 0x2F, 0x00]
    return out
}

/// The status nibble and data bytes of a channel event; nil for any other event.
/// - Throws: what `fail` makes of a data value out of range.
private func channelMessage(_ event: MIDIEvent, fail: (String) -> MIDIError) throws -> (kind: UInt8, data: [UInt8])? {
    switch event {
    case .noteOff(_, let p, let v): return (0x80, try dataBytes([p, v], fail: fail))
    case .noteOn(_, let p, let v): return (0x90, try dataBytes([p, v], fail: fail))
    case .polyphonicPressure(_, let p, let v): return (0xA0, try dataBytes([p, v], fail: fail))
    case .controlChange(_, let c, let v): return (0xB0, try dataBytes([c, v], fail: fail))
    case .programChange(_, let p): return (0xC0, try dataBytes([p], fail: fail))
    case .channelPressure(_, let p): return (0xD0, try dataBytes([p], fail: fail))
    case .pitchBend(_, let v):
        _ = try dataBytes([v], limit: 16383, fail: fail)
        return (0xE0, [UInt8(v & 0x7F), UInt8(v >> 7)])
    default: return nil
    }
}

/// `values` as bytes. - Throws: what `fail` makes of the first value outside `0...limit`.
private func dataBytes(_ values: [Int], limit: Int = 127, fail: (String) -> MIDIError) throws -> [UInt8] {
    for v in values where !(0...limit).contains(v) { throw fail("data value \(v) outside 0...\(limit)") }
    return values.map { UInt8($0) }
}

/// Writes `data` to `url` atomically (AtomicIO: temporary file, fsync, rename(2)).
/// Throws `MIDIError.io` on any failure (the temporary file is removed).
private func atomicWrite(_ data: Data, to url: URL) throws {
    do { try AtomicFile.write(data, to: url) } catch let e as AtomicFile.WriteError {
        throw MIDIError.io(path: e.path, reason: e.reason)
    }
}
