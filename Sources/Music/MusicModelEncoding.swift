// Which token encoding a music model folder was trained on: config.json's "encoding" key, read and written here.
import AREngine
import Foundation
import MIDI

/// A music model folder's encoding is unknown, or does not fit the model's vocabulary.
public enum MusicEncodingError: Error, CustomStringConvertible, Equatable {
    case unknown(file: String, name: String)
    case vocabularyMismatch(file: String, encoding: String, expected: Int, found: Int)

    public var description: String {
        switch self {
        case .unknown(let f, let n):
            return "\(f): unknown music encoding \"\(n)\" (known: \(MusicEncoding.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .vocabularyMismatch(let f, let e, let x, let v):
            return "\(f): the encoding \"\(e)\" has \(x) tokens but the model's vocab_size is \(v)"
        }
    }
}

extension MusicEncoding {
    /// The encoding named by `dir/config.json`'s `"encoding"` key; `.performance` when the key is absent (every folder
    /// saved before the key existed, e.g. the shipped `voices/music`).
    /// - Throws: `ModelFolderError` for an unreadable config.json or an `"encoding"` that is not a string,
    ///   `MusicEncodingError.unknown` for a name this program does not know.
    public static func of(folder dir: URL) throws -> MusicEncoding {
        let (data, _, file) = try ModelFolder.readConfig(dir)
        struct Probe: Decodable { let encoding: String? }
        guard let name = try ModelFolder.decode(Probe.self, from: data, file: file).encoding else { return .performance }
        guard let e = MusicEncoding(rawValue: name) else { throw MusicEncodingError.unknown(file: file, name: name) }
        return e
    }

    /// - Throws: `MusicEncodingError.vocabularyMismatch` unless a model of `vocabularySize` classes can use this encoding.
    public func check(vocabularySize: Int, file: String) throws {
        guard vocabularySize == self.vocabularySize else {
            throw MusicEncodingError.vocabularyMismatch(file: file, encoding: rawValue, expected: self.vocabularySize, found: vocabularySize)
        }
    }

    /// config.json for a music model: the family's config, `"model_type"`, and `"encoding"` unless it is
    /// `.performance` (so such folders read exactly as before the key existed).
    public func configJSON<C: Encodable>(_ config: C, modelType: String) throws -> Data {
        try ModelFolder.encode(WithEncoding(config: config, encoding: self == .performance ? nil : rawValue), modelType: modelType)
    }
}

private struct WithEncoding<C: Encodable>: Encodable {
    let config: C, encoding: String?
    enum CodingKeys: String, CodingKey { case encoding }
    func encode(to encoder: Encoder) throws {
        try config.encode(to: encoder)
        var k = encoder.container(keyedBy: CodingKeys.self)
        try k.encodeIfPresent(encoding, forKey: .encoding)
    }
}
