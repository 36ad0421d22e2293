// Output audio formats (container + sample encoding) chosen by file extension or by name, checked against libsndfile.
import CSndFile
import Foundation

/// Why an output format cannot be used; each message is one line.
public enum AudioFormatError: Error, CustomStringConvertible, Equatable {
    /// The output's extension names no format libsndfile writes here (and no `--format` was given).
    case unknownExtension(path: String, ext: String, known: [String])
    /// `--format` names no known container.
    case unknownFormat(String, known: [String])
    /// `--subtype` is unknown, or not one the container can hold.
    case badSubtype(container: String, subtype: String, allowed: [String])
    /// This libsndfile build cannot write the combination (e.g. a build without MP3 support).
    case unsupported(String)

    public var description: String {
        switch self {
        case .unknownExtension(let path, let ext, let known):
            let what = ext.isEmpty ? "has no extension" : "has the extension .\(ext), which names no format synth writes"
            return "\(path) \(what); use one of .\(known.joined(separator: ", .")) or give --format"
        case .unknownFormat(let f, let known):
            return "--format must be one of \(known.joined(separator: ", ")), got '\(f)'"
        case .badSubtype(let c, let s, let allowed):
            return "--subtype \(s) is not available for \(c); \(c) takes \(allowed.joined(separator: ", "))"
        case .unsupported(let what):
            return "this libsndfile (\(String(cString: sf_version_string()))) cannot write \(what)"
        }
    }
}

/// An audio file format: a container and the encoding of its samples, e.g. 16-bit PCM WAV or FLAC, float WAV,
/// Ogg Vorbis, MP3.
public struct AudioFileFormat: Equatable, Sendable, CustomStringConvertible {
    /// The file type, named as `--format` takes it.
    public enum Container: String, CaseIterable, Sendable {
        case wav, flac, ogg, mp3, aiff
    }

    /// How samples are stored, named as `--subtype` takes it. `vorbis` and `mp3` are lossy.
    public enum Encoding: String, CaseIterable, Sendable {
        case pcm16, pcm24, float, vorbis, mp3
    }

    public let container: Container
    public let encoding: Encoding

    /// Encodings each container takes, the default first.
    public static func encodings(of c: Container) -> [Encoding] {
        switch c {
        case .wav, .aiff: return [.pcm16, .pcm24, .float]
        case .flac: return [.pcm16, .pcm24]
        case .ogg: return [.vorbis]
        case .mp3: return [.mp3]
        }
    }

    /// Extensions (lower case, without the dot) and the container each names.
    public static let extensions: [(ext: String, container: Container)] = [
        ("wav", .wav), ("wave", .wav), ("flac", .flac), ("ogg", .ogg), ("oga", .ogg), ("mp3", .mp3), ("aif", .aiff), ("aiff", .aiff),
    ]

    /// The default encoding of `container` (16-bit PCM where the container is lossless).
    /// - Throws: `AudioFormatError.badSubtype` when `encoding` does not fit `container`, `.unsupported` when this
    ///   libsndfile cannot write it.
    public init(_ container: Container, _ encoding: Encoding? = nil) throws {
        let allowed = Self.encodings(of: container)
        let e = encoding ?? allowed[0]
        guard allowed.contains(e) else {
            throw AudioFormatError.badSubtype(container: container.rawValue, subtype: e.rawValue, allowed: allowed.map(\.rawValue))
        }
        self.container = container
        self.encoding = e
        var info = SF_INFO()
        info.samplerate = 16000
        info.channels = 1
        info.format = sndfileFormat
        guard sf_format_check(&info) != 0 else { throw AudioFormatError.unsupported(description) }
    }

    /// 16-bit PCM WAV, what synth wrote before formats existed.
    public static let wav16 = try! AudioFileFormat(.wav, .pcm16)

    /// The format for an output: `--format` (a container name) or else the path's extension, with `--subtype`.
    /// Standard output (`-` or `/dev/stdout`) and other paths without an extension default to WAV.
    /// - Throws: `AudioFormatError` naming the path, the format or the subtype; nothing has been written.
    public static func resolve(path: String, format: String? = nil, subtype: String? = nil) throws -> AudioFileFormat {
        let encoding = try subtype.map { s -> Encoding in
            guard let e = Encoding(rawValue: s.lowercased()) else {
                throw AudioFormatError.badSubtype(container: format ?? "this format", subtype: s, allowed: Encoding.allCases.map(\.rawValue))
            }
            return e
        }
        if let format {
            guard let c = Container(rawValue: format.lowercased()) else {
                throw AudioFormatError.unknownFormat(format, known: Container.allCases.map(\.rawValue))
            }
            return try AudioFileFormat(c, encoding)
        }
        let ext = (path as NSString).pathExtension.lowercased()
        if path == "-" || OutputDestination.standardOutputPaths.contains(path) || (ext.isEmpty && path.hasPrefix("/dev/")) {
            return try AudioFileFormat(.wav, encoding)
        }
        guard let c = extensions.first(where: { $0.ext == ext })?.container else {
            throw AudioFormatError.unknownExtension(path: path, ext: ext, known: extensions.map(\.ext))
        }
        return try AudioFileFormat(c, encoding)
    }

    /// libsndfile's `SF_FORMAT_*` value.
    var sndfileFormat: Int32 {
        let major: Int32
        switch container {
        case .wav: major = Int32(SF_FORMAT_WAV)
        case .flac: major = Int32(SF_FORMAT_FLAC)
        case .ogg: major = Int32(SF_FORMAT_OGG)
        case .mp3: major = Int32(SF_FORMAT_MPEG)
        case .aiff: major = Int32(SF_FORMAT_AIFF)
        }
        let minor: Int32
        switch encoding {
        case .pcm16: minor = Int32(SF_FORMAT_PCM_16)
        case .pcm24: minor = Int32(SF_FORMAT_PCM_24)
        case .float: minor = Int32(SF_FORMAT_FLOAT)
        case .vorbis: minor = Int32(SF_FORMAT_VORBIS)
        case .mp3: minor = Int32(SF_FORMAT_MPEG_LAYER_III)
        }
        return major | minor
    }

    /// "16-bit PCM WAV", "Ogg Vorbis", ...
    public var description: String {
        switch (container, encoding) {
        case (.ogg, _): return "Ogg Vorbis"
        case (.mp3, _): return "MP3"
        default:
            let e = encoding == .pcm16 ? "16-bit PCM" : encoding == .pcm24 ? "24-bit PCM" : "32-bit float"
            return "\(e) \(container.rawValue.uppercased())"
        }
    }
}
