// Errors (and tolerated-problem warnings) raised while reading, writing and transforming MIDI data.
import AtomicIO

/// Everything that can go wrong in the MIDI module.
///
/// Every case renders as one line through `description`, suitable to show to users as-is,
/// e.g. "truncated MTrk chunk in track 2 at byte 1834". Track numbers count from 0 in file order;
/// byte offsets count from 0 at the start of the file.
///
/// The reader throws the *fatal* cases (input that is not a usable SMF at all). The *tolerated*
/// cases are normally recorded in `MIDIFile.warnings` and the reader recovers as documented on
/// `MIDIFile.init(data:strict:)`; with `strict: true` the first of them is thrown instead.
public enum MIDIError: Error, CustomStringConvertible, Equatable, Sendable {
    // Fatal reading problems.
    /// The input has no bytes at all.
    case empty
    /// The input does not start with an "MThd" header chunk (nor a RIFF RMID wrapper holding one).
    case notMIDI(firstBytes: String)
    /// The header chunk is shorter than the 14 bytes the spec requires.
    case truncatedHeader(length: Int)
    /// The header chunk declares a length below 6 or beyond the end of the input.
    case invalidHeaderLength(Int)
    /// The header declares a format other than 0, 1 or 2.
    case unsupportedFormat(Int)
    /// The division field is unusable (0 ticks per quarter note, or an SMPTE division with 0 frames or 0 ticks per frame).
    case invalidDivision(String)
    /// The file could not be read or written.
    case io(path: String, reason: String)

    // Tolerated reading problems (warnings unless reading strictly).
    /// An MTrk chunk ends in the middle of an event, or declares more bytes than the file holds.
    case truncatedChunk(track: Int, byte: Int)
    /// A track has no end-of-track meta event (FF 2F 00).
    case missingEndOfTrack(track: Int)
    /// The header announces more MTrk chunks than the file contains.
    case missingTracks(declared: Int, found: Int)
    /// A data byte of a channel message was above 127; it was masked to its low 7 bits.
    case dataByteOutOfRange(value: UInt8, track: Int, byte: Int)
    /// A data byte appeared where a status byte was needed and no running status was in effect.
    case missingStatus(value: UInt8, track: Int, byte: Int)
    /// A status byte that is not allowed in a file (system common or real-time, F1-F6, F8-FE) was skipped.
    case unexpectedStatus(value: UInt8, track: Int, byte: Int)
    /// A variable-length quantity ran past the 4 bytes the spec allows.
    case invalidVariableLength(track: Int, byte: Int)
    /// Running status was used right after a meta or SysEx event, which the spec says cancels it.
    case runningStatusAfterMetaOrSysEx(track: Int, byte: Int)
    /// Bytes follow the end-of-track event inside its MTrk chunk; they were ignored.
    case dataAfterEndOfTrack(track: Int, byte: Int)

    // Writing and transformation problems.
    /// An event cannot be encoded (a value out of its MIDI range, a delta time above 0x0FFFFFFF ticks, ...).
    case unencodableEvent(track: Int, tick: Int64, reason: String)
    /// A function argument is out of its documented range.
    case invalidArgument(String)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .empty:
            return "empty input: not a MIDI file"
        case .notMIDI(let first):
            return "not a Standard MIDI File: expected \"MThd\" but found \(first)"
        case .truncatedHeader(let length):
            return "truncated MIDI header: \(length) bytes, need at least 14"
        case .invalidHeaderLength(let length):
            return "invalid MThd chunk length \(length)"
        case .unsupportedFormat(let format):
            return "unsupported MIDI file format \(format) (only 0, 1 and 2 exist)"
        case .invalidDivision(let detail):
            return "invalid MIDI division: \(detail)"
        case .io(let path, let reason):
            return "cannot access \(path): \(reason)"
        case .truncatedChunk(let track, let byte):
            return "truncated MTrk chunk in track \(track) at byte \(byte)"
        case .missingEndOfTrack(let track):
            return "missing end-of-track event in track \(track)"
        case .missingTracks(let declared, let found):
            return "header declares \(declared) tracks but the file holds \(found)"
        case .dataByteOutOfRange(let value, let track, let byte):
            return "data byte \(hex(value)) above 127 in track \(track) at byte \(byte)"
        case .missingStatus(let value, let track, let byte):
            return "data byte \(hex(value)) without a status byte in track \(track) at byte \(byte)"
        case .unexpectedStatus(let value, let track, let byte):
            return "status byte \(hex(value)) not allowed in a MIDI file, in track \(track) at byte \(byte)"
        case .invalidVariableLength(let track, let byte):
            return "variable-length quantity longer than 4 bytes in track \(track) at byte \(byte)"
        case .runningStatusAfterMetaOrSysEx(let track, let byte):
            return "running status used after a meta or SysEx event in track \(track) at byte \(byte)"
        case .dataAfterEndOfTrack(let track, let byte):
            return "data after end-of-track in track \(track) at byte \(byte)"
        case .unencodableEvent(let track, let tick, let reason):
            return "cannot encode event in track \(track) at tick \(tick): \(reason)"
        case .invalidArgument(let detail):
            return "invalid argument: \(detail)"
        }
    }
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
}
