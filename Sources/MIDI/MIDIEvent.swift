// The in-memory model of a Standard MIDI File: division, tracks and the events they hold.

/// How delta times in a file map to time (the header's division field).
public enum Division: Equatable, Sendable {
    /// Metrical time: ticks per quarter note (1...32767). Seconds depend on the tempo map.
    case ticksPerQuarter(Int)
    /// Time-code based time: SMPTE frames per second (24, 25, 29 or 30, as stored in the file, positive)
    /// and ticks per frame. Tempo events do not affect it; see `ticksPerSecond`.
    case smpte(framesPerSecond: Int, ticksPerFrame: Int)

    /// For SMPTE divisions, the fixed number of ticks per second: frames per second × ticks per frame,
    /// where the value 29 (30-frame drop-frame time code) means 29.97 (exactly 30000/1001) frames per second.
    /// Other frame rates are taken literally. `nil` for metrical divisions.
    public var ticksPerSecond: Double? {
        switch self {
        case .ticksPerQuarter:
            return nil
        case .smpte(let fps, let tpf):
            let frames = fps == 29 ? 30000.0 / 1001.0 : Double(fps)
            return frames * Double(tpf)
        }
    }
}

/// One event of a track. Channel numbers are 0...15; data values are 0...127 unless noted.
public enum MIDIEvent: Equatable, Sendable {
    case noteOff(channel: Int, pitch: Int, velocity: Int)
    /// A note-on; velocity 0 is kept as-is here and means note-off to `MIDIFile.notes()`.
    case noteOn(channel: Int, pitch: Int, velocity: Int)
    case polyphonicPressure(channel: Int, pitch: Int, pressure: Int)
    case controlChange(channel: Int, controller: Int, value: Int)
    case programChange(channel: Int, program: Int)
    case channelPressure(channel: Int, pressure: Int)
    /// Pitch wheel, 0...16383 with 8192 the centre.
    case pitchBend(channel: Int, value: Int)
    /// An F0 SysEx event: the bytes after the length (normally ending with F7).
    case sysEx([UInt8])
    /// An F7 "escape" event: arbitrary bytes sent as-is (SysEx continuation packets or raw messages).
    case sysExEscape([UInt8])
    /// Set tempo (meta 0x51), in microseconds per quarter note.
    case tempo(microsecondsPerQuarter: Int)
    /// Time signature (meta 0x58): numerator / 2^denominatorPower, MIDI clocks per metronome click,
    /// notated 32nd notes per MIDI quarter note (24 MIDI clocks).
    case timeSignature(numerator: Int, denominatorPower: Int, clocksPerClick: Int, thirtySecondsPerQuarter: Int)
    /// Key signature (meta 0x59): sharps (positive) or flats (negative), -7...7 in valid files; minor or major.
    case keySignature(sharps: Int, minor: Bool)
    /// A text-like meta event (types 0x01...0x0F: text, copyright, track name, instrument, lyric, marker, cue...).
    case text(type: Int, bytes: [UInt8])
    /// End of track (meta 0x2F).
    case endOfTrack
    /// Any other meta event, or a known one whose length is not the specified one; type 0...255 as stored.
    case meta(type: Int, data: [UInt8])

    /// The channel of a channel message, `nil` for meta and SysEx events.
    public var channel: Int? {
        switch self {
        case .noteOff(let c, _, _), .noteOn(let c, _, _), .polyphonicPressure(let c, _, _),
             .controlChange(let c, _, _), .programChange(let c, _), .channelPressure(let c, _),
             .pitchBend(let c, _):
            return c
        default:
            return nil
        }
    }
}

extension MIDIEvent {
    /// The text of a `.text` event decoded as ISO 8859-1 (every byte maps to one character), else `nil`.
    public var text: String? {
        guard case .text(_, let bytes) = self else { return nil }
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }
}

/// An event at an absolute time within its track.
public struct TrackEvent: Equatable, Sendable {
    /// Absolute time in ticks from the start of the track (Int64: sums of many 28-bit delta times cannot overflow).
    public var tick: Int64
    public var event: MIDIEvent

    public init(tick: Int64, event: MIDIEvent) {
        self.tick = tick
        self.event = event
    }
}

/// One MTrk chunk: its events in file order, with absolute ticks.
public struct MIDITrack: Equatable, Sendable {
    public var events: [TrackEvent]

    public init(events: [TrackEvent] = []) {
        self.events = events
    }

    /// The tick of the last event (the end-of-track event when present), 0 for an empty track.
    public var endTick: Int64 {
        events.last?.tick ?? 0
    }
}
