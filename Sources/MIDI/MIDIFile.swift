// Standard MIDI File 1.0 reader: header, tracks, running status, meta, SysEx and channel events.

import AtomicIO
import Foundation

/// A Standard MIDI File held in memory.
///
/// Times in tracks are absolute ticks (Int64). For formats 0 and 1 all tracks share one time line
/// starting at tick 0. For format 2 (independent sequential patterns) each track is read one after
/// another and each track's time starts at its own tick 0; `notes()` and `TempoMap(file:track:)`
/// then time each track with its own tempo events only.
public struct MIDIFile: Equatable, Sendable {
    /// SMF format: 0 (one track), 1 (simultaneous tracks) or 2 (independent tracks).
    public var format: Int
    /// The header's division: ticks per quarter note, or SMPTE frames and ticks per frame.
    public var division: Division
    public var tracks: [MIDITrack]
    /// Problems the reader tolerated and how (see `init(data:strict:)`); empty for a clean file.
    public var warnings: [MIDIError]

    public init(format: Int, division: Division, tracks: [MIDITrack], warnings: [MIDIError] = []) {
        self.format = format
        self.division = division
        self.tracks = tracks
        self.warnings = warnings
    }

    /// Reads and parses the file at `url`, as `init(data:strict:)` does.
    ///
    /// Throws `MIDIError.io` when the file cannot be read (or is not a regular file), otherwise what
    /// `init(data:strict:)` throws.
    public static func read(url: URL, strict: Bool = false) throws -> MIDIFile {
        let data: Data
        do {
            data = try BoundedRead.contents(of: url, limit: Int.max)
        } catch {
            throw MIDIError.io(path: url.path, reason: "\(error)")
        }
        return try MIDIFile(data: data, strict: strict)
    }

    /// Parses a Standard MIDI File (or a RIFF RMID file wrapping one).
    ///
    /// Throws (always): `.empty` for no bytes; `.notMIDI` when the input does not start with "MThd";
    /// `.truncatedHeader` / `.invalidHeaderLength` for a header chunk shorter than 14 bytes or with a
    /// length below 6 or past the end of the input; `.unsupportedFormat` for a format above 2;
    /// `.invalidDivision` for a division of 0 ticks per quarter note or an SMPTE division with
    /// 0 ticks per frame or 0 frames per second.
    ///
    /// Tolerated (recorded in `warnings`, or thrown when `strict` is true), never a crash:
    /// - Header length above 6: the extra bytes are skipped (as the spec says). Chunks that are not
    ///   "MTrk" are skipped. Exactly the declared number of MTrk chunks is read; anything after is ignored.
    /// - Fewer MTrk chunks than declared (`.missingTracks`): the tracks present are returned.
    /// - Truncated chunk (`.truncatedChunk`): a chunk declaring more bytes than the file holds, or an
    ///   event cut off at the chunk end. Every complete event before the cut is kept; the partial one is dropped.
    /// - A meta event of type 0x2F with a nonzero length still ends the track.
    /// - Missing end-of-track (`.missingEndOfTrack`): the track ends at its last event's tick.
    /// - Bytes after end-of-track inside the chunk (`.dataAfterEndOfTrack`): ignored.
    /// - Running status after a meta or SysEx event (`.runningStatusAfterMetaOrSysEx`): the spec says
    ///   those events cancel running status, but the last channel status is kept and used anyway,
    ///   since a file that relies on it means nothing else.
    /// - A data byte above 127 inside a channel message (`.dataByteOutOfRange`): masked to its low
    ///   7 bits (byte & 0x7F); the message keeps its specified length so the parse stays aligned.
    /// - A status byte F1-F6 or F8-FE (system common / real-time, not allowed in files;
    ///   `.unexpectedStatus`): skipped together with the data bytes MIDI 1.0 gives it
    ///   (F1 and F3: one, F2: two, others none). Running status is unchanged.
    /// - A data byte where a status is needed with no running status in effect (`.missingStatus`),
    ///   or a variable-length quantity longer than 4 bytes (`.invalidVariableLength`): the rest of
    ///   that track cannot be interpreted and is dropped; events before it are kept.
    ///
    /// Delta times are variable-length quantities of up to 4 bytes (0...0x0FFFFFFF ticks); absolute
    /// ticks are Int64 so any number of them cannot overflow.
    public init(data: Data, strict: Bool = false) throws {
        let bytes = [UInt8](data)
        var parser = SMFParser(bytes: bytes, strict: strict)
        self = try parser.parse()
    }
}

/// Result of reading a variable-length quantity.
private enum VLQ {
    case value(Int)
    case truncated
    case tooLong
}

/// Parses SMF bytes. All indexing goes through bounds checks; nothing on the input is force-unwrapped.
///
/// Sizes read from the file cannot overflow: a chunk length is at most 2^32 - 1 and is only added to a position
/// within the input (so every `pos + 8 + size` stays below 2^33), and a delta time is at most 2^28 - 1 ticks, one
/// per event, so even 2^31 events sum to less than 2^59 in the `Int64` tick. Lengths are compared with the bytes
/// that remain (`length <= end - pos`) before anything is sliced; the release build also traps on any overflow.
private struct SMFParser {
    let bytes: [UInt8]
    let strict: Bool
    var warnings: [MIDIError] = []

    init(bytes: [UInt8], strict: Bool) {
        self.bytes = bytes
        self.strict = strict
    }

    mutating func warn(_ problem: MIDIError) throws {
        if strict { throw problem }
        warnings.append(problem)
    }

    func be32(_ at: Int) -> Int? {
        guard at >= 0, at + 4 <= bytes.count else { return nil }
        return Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
    }

    func be16(_ at: Int) -> Int? {
        guard at >= 0, at + 2 <= bytes.count else { return nil }
        return Int(bytes[at]) << 8 | Int(bytes[at + 1])
    }

    func tag(_ at: Int) -> String? {
        guard at >= 0, at + 4 <= bytes.count else { return nil }
        return String(decoding: bytes[at..<at + 4], as: UTF8.self)
    }

    func hasTag(_ at: Int, _ expected: String) -> Bool {
        guard at >= 0, at + 4 <= bytes.count else { return false }
        return Array(bytes[at..<at + 4]) == Array(expected.utf8)
    }

    /// Start of the MThd chunk: 0, or inside the "data" chunk of a RIFF RMID file.
    func headerStart() -> Int? {
        if hasTag(0, "MThd") { return 0 }
        guard hasTag(0, "RIFF"), hasTag(8, "RMID") else { return nil }
        var pos = 12
        while let size = le32(pos + 4) {
            if hasTag(pos, "data") { return hasTag(pos + 8, "MThd") ? pos + 8 : nil }
            pos += 8 + size + (size & 1)
        }
        return nil
    }

    func le32(_ at: Int) -> Int? {
        guard at >= 0, at + 4 <= bytes.count else { return nil }
        return Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
    }

    mutating func parse() throws -> MIDIFile {
        guard !bytes.isEmpty else { throw MIDIError.empty }
        guard let start = headerStart() else {
            let shown = bytes.prefix(4).map { hex($0) }.joined(separator: " ")
            throw MIDIError.notMIDI(firstBytes: shown)
        }
        guard let length = be32(start + 4) else { throw MIDIError.truncatedHeader(length: bytes.count - start) }
        guard length >= 6, start + 8 + length <= bytes.count else {
            if bytes.count - start < 14 { throw MIDIError.truncatedHeader(length: bytes.count - start) }
            throw MIDIError.invalidHeaderLength(length)
        }
        guard let format = be16(start + 8), let declaredTracks = be16(start + 10),
              let rawDivision = be16(start + 12) else {
            throw MIDIError.truncatedHeader(length: bytes.count - start)
        }
        guard format <= 2 else { throw MIDIError.unsupportedFormat(format) }
        let division = try Self.division(rawDivision)

        var tracks: [MIDITrack] = []
        var pos = start + 8 + length
        while tracks.count < declaredTracks, pos + 8 <= bytes.count, let size = be32(pos + 4) {
            let bodyStart = pos + 8
            if hasTag(pos, "MTrk") {
                let declaredEnd = bodyStart + size
                let end = min(declaredEnd, bytes.count)
                let index = tracks.count
                let track = try parseTrack(index: index, from: bodyStart, to: end, chunkTruncated: declaredEnd > bytes.count)
                tracks.append(track)
            }
            pos = bodyStart + size
        }
        if tracks.count < declaredTracks {
            try warn(.missingTracks(declared: declaredTracks, found: tracks.count))
        }
        return MIDIFile(format: format, division: division, tracks: tracks, warnings: warnings)
    }

    static func division(_ raw: Int) throws -> Division {
        if raw & 0x8000 != 0 {
            // Upper byte: negative SMPTE format (-24, -25, -29, -30) in two's complement; lower byte: ticks per frame.
            let fps = -Int(Int8(bitPattern: UInt8(raw >> 8)))
            let ticksPerFrame = raw & 0xFF
            guard fps > 0 else { throw MIDIError.invalidDivision("SMPTE division with 0 frames per second") }
            guard ticksPerFrame > 0 else { throw MIDIError.invalidDivision("SMPTE division with 0 ticks per frame") }
            return .smpte(framesPerSecond: fps, ticksPerFrame: ticksPerFrame)
        }
        guard raw > 0 else { throw MIDIError.invalidDivision("0 ticks per quarter note") }
        return .ticksPerQuarter(raw)
    }

    /// Reads a variable-length quantity of at most 4 bytes at `pos` (< `end`), advancing `pos`.
    func readVLQ(_ pos: inout Int, _ end: Int) -> VLQ {
        var value = 0
        for _ in 0..<4 {
            guard pos < end else { return .truncated }
            let byte = bytes[pos]
            pos += 1
            value = value << 7 | Int(byte & 0x7F)
            if byte & 0x80 == 0 { return .value(value) }
        }
        return .tooLong
    }

    mutating func parseTrack(index: Int, from bodyStart: Int, to end: Int, chunkTruncated: Bool) throws -> MIDITrack {
        var events: [TrackEvent] = [], pos = bodyStart, tick: Int64 = 0
        var runningStatus: UInt8? = nil, runningStatusCancelled = false, warnedRunningStatus = false
        var sawEnd = false, stopped = false

        func truncated(_ at: Int) throws {
            try warn(.truncatedChunk(track: index, byte: at))
            stopped = true
        }

        eventLoop: while pos < end {
            // Delta time.
            switch readVLQ(&pos, end) {
            case .value(let delta):
                tick += Int64(delta)
            case .truncated:
                try truncated(pos)
                break eventLoop
            case .tooLong:
                try warn(.invalidVariableLength(track: index, byte: pos))
                stopped = true
                break eventLoop
            }
            guard pos < end else { try truncated(pos); break eventLoop }

            var status = bytes[pos]
            if status < 0x80 {
                guard let running = runningStatus else {
                    try warn(.missingStatus(value: status, track: index, byte: pos))
                    stopped = true
                    break eventLoop
                }
                if runningStatusCancelled && !warnedRunningStatus {
                    try warn(.runningStatusAfterMetaOrSysEx(track: index, byte: pos))
                    warnedRunningStatus = true
                }
                status = running  // the byte at pos is the first data byte
            } else {
                pos += 1
            }

            switch status {
            case 0xFF:
                guard pos < end else { try truncated(pos); break eventLoop }
                let type = Int(bytes[pos])
                pos += 1
                guard let data = try readLengthPrefixed(&pos, end, index) else { stopped = true; break eventLoop }
                runningStatusCancelled = true
                let event = Self.metaEvent(type: type, data: data)
                events.append(TrackEvent(tick: tick, event: event))
                if event == .endOfTrack {
                    sawEnd = true
                    if pos < end { try warn(.dataAfterEndOfTrack(track: index, byte: pos)) }
                    break eventLoop
                }
            case 0xF0, 0xF7:
                guard let data = try readLengthPrefixed(&pos, end, index) else { stopped = true; break eventLoop }
                runningStatusCancelled = true
                events.append(TrackEvent(tick: tick, event: status == 0xF0 ? .sysEx(data) : .sysExEscape(data)))
            case 0x80...0xEF:
                runningStatus = status
                runningStatusCancelled = false
                guard let event = try readChannelEvent(status, &pos, end, index) else { try truncated(end); break eventLoop }
                events.append(TrackEvent(tick: tick, event: event))
            default:
                guard try skipSystemMessage(status, &pos, end, index) else { try truncated(end); break eventLoop }
            }
        }
        if chunkTruncated && !stopped && !sawEnd {
            try warn(.truncatedChunk(track: index, byte: end))
            stopped = true
        }
        if !sawEnd && !stopped {
            try warn(.missingEndOfTrack(track: index))
        }
        return MIDITrack(events: events)
    }

    /// Reads the data bytes of a channel message (`status` 0x80...0xEF, read already), warning about bytes above 0x7F;
    /// nil when the chunk ends first.
    mutating func readChannelEvent(_ status: UInt8, _ pos: inout Int, _ end: Int, _ index: Int) throws -> MIDIEvent? {
        let count = (status & 0xF0 == 0xC0 || status & 0xF0 == 0xD0) ? 1 : 2
        guard pos + count <= end else { return nil }
        var data = [Int](repeating: 0, count: count)
        for i in 0..<count {
            let byte = bytes[pos + i]
            if byte > 0x7F { try warn(.dataByteOutOfRange(value: byte, track: index, byte: pos + i)) }
            data[i] = Int(byte & 0x7F)
        }
        pos += count
        return Self.channelEvent(status: status, data)
    }

    /// F1-F6, F8-FE: system common / real-time messages have no place in a file. Warns and skips their data bytes;
    /// false when the chunk ends first.
    mutating func skipSystemMessage(_ status: UInt8, _ pos: inout Int, _ end: Int, _ index: Int) throws -> Bool {
        try warn(.unexpectedStatus(value: status, track: index, byte: pos - 1))
        let skip: Int
        switch status {
        case 0xF1, 0xF3: skip = 1
        case 0xF2: skip = 2
        default: skip = 0
        }
        guard pos + skip <= end else { return false }
        pos += skip
        return true
    }

    /// Reads a VLQ length then that many bytes; on failure records a warning and returns nil.
    mutating func readLengthPrefixed(_ pos: inout Int, _ end: Int, _ index: Int) throws -> [UInt8]? {
        switch readVLQ(&pos, end) {
        case .value(let length):
            guard length <= end - pos else {
                try warn(.truncatedChunk(track: index, byte: end))
                return nil
            }
            let data = Array(bytes[pos..<pos + length])
            pos += length
            return data
        case .truncated:
            try warn(.truncatedChunk(track: index, byte: pos))
            return nil
        case .tooLong:
            try warn(.invalidVariableLength(track: index, byte: pos))
            return nil
        }
    }

    static func channelEvent(status: UInt8, _ d: [Int]) -> MIDIEvent {
        let channel = Int(status & 0x0F)
        let d0 = d.count > 0 ? d[0] : 0
        let d1 = d.count > 1 ? d[1] : 0
        switch status & 0xF0 {
        case 0x80: return .noteOff(channel: channel, pitch: d0, velocity: d1)
        case 0x90: return .noteOn(channel: channel, pitch: d0, velocity: d1)
        case 0xA0: return .polyphonicPressure(channel: channel, pitch: d0, pressure: d1)
        case 0xB0: return .controlChange(channel: channel, controller: d0, value: d1)
        case 0xC0: return .programChange(channel: channel, program: d0)
        case 0xD0: return .channelPressure(channel: channel, pressure: d0)
        default: return .pitchBend(channel: channel, value: d0 | d1 << 7)
        }
    }

    static func metaEvent(type: Int, data: [UInt8]) -> MIDIEvent {
        switch (type, data.count) {
        case (0x2F, _):
            return .endOfTrack
        case (0x51, 3):
            return .tempo(microsecondsPerQuarter: Int(data[0]) << 16 | Int(data[1]) << 8 | Int(data[2]))
        case (0x58, 4):
            return .timeSignature(numerator: Int(data[0]), denominatorPower: Int(data[1]),
                                  clocksPerClick: Int(data[2]), thirtySecondsPerQuarter: Int(data[3]))
        case (0x59, 2):
            return .keySignature(sharps: Int(Int8(bitPattern: data[0])), minor: data[1] != 0)
        case (0x01...0x0F, _):
            return .text(type: type, bytes: data)
        default:
            return .meta(type: type, data: data)
        }
    }
}
