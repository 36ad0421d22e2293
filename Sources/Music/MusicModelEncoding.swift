// Which token encoding a music model folder was trained on: config.json's "encoding" key, read and written here.
import AREngine
import Foundation
import MIDI
import NNCore

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

/// A model of one encoding warm-started from a model of another whose token ids it extends (`.performance` ids
/// 0...389 mean the same in `.performancePrograms`).
public enum MusicWarmStart {
    /// Copies every tensor of `source` into the tensor of the same name in `target`: whole when the shapes agree; when
    /// they differ in one dimension only (the vocabulary: embedding rows, read-out columns, biases), the leading
    /// `min` entries along it, leaving the rest (the new tokens) as initialised.
    /// - Returns: the number of tensors copied whole and in part.
    /// - Throws: `MusicWarmStartError` naming a tensor whose shapes differ otherwise,
    ///   or a target tensor the source lacks.
    public static func copy(from source: ParameterSet, into target: ParameterSet) throws -> (whole: Int, partial: Int) {
        var whole = 0, partial = 0
        for e in target.entries {
            guard let s = source.entry(e.name) else { throw MusicWarmStartError(reason: "the source model has no tensor '\(e.name)'") }
            let src = source.value(e.name), dst = target.value(e.name)
            if s.shape == e.shape {
                dst.update(from: src, count: e.count)
                whole += 1
                continue
            }
            let differing = zip(s.shape, e.shape).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
            guard s.shape.count == e.shape.count, differing.count == 1, e.shape.count <= 2 else {
                throw MusicWarmStartError(reason: "tensor '\(e.name)' has shape \(s.shape) in the source and \(e.shape) here")
            }
            if e.shape.count == 1 || differing[0] == 0 {  // leading rows (or entries)
                let n = min(s.count, e.count)
                dst.update(from: src, count: n)
            } else {  // [rows, vocab]: the leading columns of every row
                let rows = e.shape[0], sc = s.shape[1], dc = e.shape[1], n = min(sc, dc)
                for r in 0..<rows { (dst + r * dc).update(from: src + r * sc, count: n) }
            }
            partial += 1
        }
        return (whole, partial)
    }
}

/// Warm-starting a music model failed (one line).
public struct MusicWarmStartError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "cannot warm-start: \(reason)" }
}
