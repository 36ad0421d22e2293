// The one model-folder format: config.json (with "model_type") + model.safetensors (+ extras), read and written here.
import AtomicIO
import Foundation
import NNCore

/// Errors about a model folder as a whole: its files, its config.json's JSON and keys, and its kind. Each names the
/// file; the description is the one line the CLI prints.
public enum ModelFolderError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String, hint: String)
    /// A config.json that is not a small regular file (`BoundedRead.Problem`: a device, too large, unreadable).
    case unreadable(file: String, reason: String)
    case invalidJSON(file: String)
    /// A key that is missing, of the wrong type or of an unreadable value: "FILE: key 'x': reason".
    case key(file: String, key: String, reason: String)
    case unknownModelType(file: String, type: String, known: [String])
    /// A folder of another family than the command needs: what it holds, and the command that uses it.
    case wrongKind(file: String, holds: String, modelType: String, expected: String, usage: String)
    case unknownModel(noun: String, name: String, searched: [String], available: [String])

    public var description: String {
        switch self {
        case .missingFile(let p, let hint): return "\(p): no such file" + (hint.isEmpty ? "" : "; \(hint)")
        case .unreadable(let f, let r): return "\(f): \(r)"
        case .invalidJSON(let f): return "\(f): not valid JSON"
        case .key(let f, let k, let r): return "\(f): key '\(k)': \(r)"
        case .unknownModelType(let f, let t, let known):
            return "\(f): unknown model_type '\(t)' (this synth knows \(known.joined(separator: ", ")))"
        case .wrongKind(let f, let holds, let t, let expected, let usage):
            return "\(f): this folder holds a \(holds) (model_type \(t)), not a \(expected); use it with `\(usage)`"
        case .unknownModel(let noun, let n, let s, let a):
            let list = a.isEmpty ? "no \(noun)s installed" : "available: \(a.joined(separator: ", "))"
            return "unknown \(noun) '\(n)' (looked in \(s.joined(separator: ", "))); \(list); or give the path of a model folder"
        }
    }
}

/// A model folder: `config.json` (the family's config, with `"model_type"`, pretty and key-sorted), `model.safetensors`
/// (every tensor, float32, named as in the family's layout) and optional extra files. Written by `write`, read by
/// `readConfig`, `decode` and `ModelRegistry.load`.
public enum ModelFolder {
    public static let configName = "config.json", weightsName = "model.safetensors"

    /// What a family's `load` reads: the folder, its weights (checked against the family's layout) and the paths for
    /// messages.
    public struct Contents {
        public let directory: URL
        public let configFile: String
        /// model.safetensors, parsed and checked (`SafeTensorsFile`); its tensors are copied out by name.
        public let weights: SafeTensorsFile
        public var weightsFile: String { weights.path }

        /// The bytes of an extra file of the folder (e.g. normalisation statistics).
        /// - Throws: `ModelFolderError.missingFile`.
        public func extra(_ name: String) throws -> Data {
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw ModelFolderError.missingFile(path: url.path, hint: "")
            }
            return data
        }
    }

    /// The one config encoder: `config`'s keys and `"model_type": modelType`, pretty, keys sorted, ending in a newline.
    public static func encode<C: Encodable>(_ config: C, modelType: String) throws -> Data {
        try FileIO.encodeJSON(Typed(config: config, modelType: modelType))
    }

    private struct Typed<C: Encodable>: Encodable {
        let config: C, modelType: String
        func encode(to encoder: Encoder) throws {
            try config.encode(to: encoder)
            var k = encoder.container(keyedBy: TypeKey.self)
            try k.encode(modelType, forKey: .modelType)
        }
    }

    private enum TypeKey: String, CodingKey { case modelType = "model_type" }

    /// Writes a model folder in one step (`AtomicDirectory`): config.json, model.safetensors (every tensor of
    /// `parameters`, with `metadata`) and `extras` (file name, bytes). The folder is replaced as a whole.
    /// - Throws: `AtomicFile.WriteError` (through `TensorFileError.writeFailed`) naming what could not be written.
    public static func write(to dir: URL, configJSON: Data, parameters: ParameterSet, metadata: [String: String] = ["format": "synth"],
                             extras: [(name: String, data: Data)] = []) throws {
        let weights = try SafeTensors.encode(parameters.tensors(), metadata: metadata)
        do {
            try AtomicDirectory.write([(configName, configJSON), (weightsName, weights)] + extras, to: dir)
        } catch let e as AtomicFile.WriteError {
            throw TensorFileError.writeFailed(file: e.path, reason: e.reason)
        }
    }

    /// Saves a model as a folder (`write` with its config).
    public static func save<F: ModelFamily>(_ model: F, to dir: URL, metadata: [String: String] = ["format": "synth"]) throws {
        try write(to: dir, configJSON: try encode(model.config, modelType: F.modelType), parameters: model.parameters, metadata: metadata)
    }

    /// The bytes of `dir/config.json` and its `"model_type"` (nil when the key is absent).
    /// - Throws: `ModelFolderError.missingFile` (saying when `dir` is a training run, whose model is `best/`),
    ///   `.unreadable` (not a regular file, over `ModelLimits.maxConfigBytes`), `.invalidJSON`, or `.key` for a
    ///   `model_type` that is not a string.
    public static func readConfig(_ dir: URL) throws -> (data: Data, modelType: String?, file: String) {
        let url = dir.appendingPathComponent(configName), file = url.path
        let data: Data
        do { data = try BoundedRead.contents(of: url, limit: ModelLimits.maxConfigBytes) } catch let p as BoundedRead.Problem {
            guard p == .missing else { throw ModelFolderError.unreadable(file: file, reason: "\(p)") }
            let best = dir.appendingPathComponent("best")
            let hint = FileManager.default.fileExists(atPath: best.appendingPathComponent(configName).path)
                ? "this is a training run folder: its model is \(best.path)"
                : "a model folder holds \(configName) and \(weightsName)"
            throw ModelFolderError.missingFile(path: file, hint: hint)
        }
        struct Probe: Decodable {
            let modelType: String?
            enum CodingKeys: String, CodingKey { case modelType = "model_type" }
        }
        return (data, try decode(Probe.self, from: data, file: file).modelType, file)
    }

    /// Decodes a config.json, reporting a missing key, a value of the wrong type or an unreadable value in one line
    /// that names the key ("FILE: key 'features.hop_length': missing").
    /// - Throws: `ModelFolderError.invalidJSON` or `.key`.
    public static func decode<C: Decodable>(_ type: C.Type, from data: Data, file: String) throws -> C {
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else { throw ModelFolderError.invalidJSON(file: file) }
        do { return try JSONDecoder().decode(C.self, from: data) } catch let e as DecodingError {
            throw keyError(e, file: file)
        }
    }

    static func keyError(_ e: DecodingError, file: String) -> ModelFolderError {
        func path(_ keys: [CodingKey]) -> String {
            keys.reduce("") { p, k in k.intValue.map { "\(p)[\($0)]" } ?? (p.isEmpty ? k.stringValue : "\(p).\(k.stringValue)") }
        }
        func name(_ t: Any.Type) -> String {
            switch t {
            case is Int.Type, is Int32.Type, is UInt64.Type: return "an integer"
            case is Float.Type, is Double.Type: return "a number"
            case is String.Type: return "a string"
            case is Bool.Type: return "true or false"
            default: return "\(t)".hasPrefix("Array") ? "a list" : "an object"
            }
        }
        switch e {
        case .keyNotFound(let k, let c): return .key(file: file, key: path(c.codingPath + [k]), reason: "missing")
        case .typeMismatch(let t, let c): return .key(file: file, key: path(c.codingPath), reason: "expected \(name(t))")
        case .valueNotFound(let t, let c): return .key(file: file, key: path(c.codingPath), reason: "is null, expected \(name(t))")
        case .dataCorrupted(let c) where c.codingPath.isEmpty:
            // Foundation's decoder reports a number that does not fit its type (0.5 or 1e40 for an integer) as "not
            // valid JSON" with no key, although the file parsed as a JSON object above.
            return .unreadable(file: file, reason: "a number does not fit its key's type (a fraction or an out-of-range number where an integer is expected)")
        case .dataCorrupted(let c): return .key(file: file, key: path(c.codingPath), reason: c.debugDescription)
        @unknown default: return .invalidJSON(file: file)
        }
    }

    /// The model of `dir` as family `F`. Nothing is allocated for the model until the config has passed `validate`
    /// (its ranges and `ModelLimits`) and every tensor of the weights file has the name and shape `F.layout` asks for.
    /// - Throws: `ModelFolderError` for the config's file or keys, the family's error for a value out of range,
    ///   `TensorFileError` for the weights (missing, corrupt, or a tensor whose name or shape disagrees).
    public static func load<F: ModelFamily>(_ family: F.Type, from dir: URL, configData data: Data, file: String) throws -> F {
        let config = try decode(F.Config.self, from: data, file: file)
        try config.validate(file: file)
        let weights = try SafeTensorsFile.open(dir.appendingPathComponent(weightsName))
        try F.layout(config).check(weights)
        return try F.load(config: config, folder: Contents(directory: dir, configFile: file, weights: weights))
    }
}
