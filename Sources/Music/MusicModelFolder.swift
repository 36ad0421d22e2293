// Music model folders (config.json with "model_type" + model.safetensors): load, save, dispatch by family.
import AREngine
import AtomicIO
import Foundation
import NNCore
import WaveNet

/// A trained music model of either family, loaded from a folder.
public enum MusicModel {
    case transformer(TransformerModel)
    case wavenet(WaveNetTokenModel)

    public var parameters: ParameterSet {
        switch self {
        case .transformer(let m): return m.params
        case .wavenet(let m): return m.parameters
        }
    }

    /// The model's `config.json` bytes (pretty, sorted keys).
    public func configJSON() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        switch self {
        case .transformer(let m): return try enc.encode(m.config)
        case .wavenet(let m): return try enc.encode(m.config)
        }
    }

    /// A one-line description for logs: family, size, context.
    public var summary: String {
        switch self {
        case .transformer(let m):
            let c = m.config
            return "transformer: \(c.nLayers) layers, d_model \(c.dModel), \(c.nHeads) heads, d_ff \(c.dFF), context \(c.contextLength), \(m.params.count) parameters"
        case .wavenet(let m):
            let c = m.config.wavenet
            return "wavenet over tokens: \(c.layers) layers, receptive field \(c.receptiveField) tokens, residual \(c.residualChannels), \(m.parameters.count) parameters"
        }
    }

    /// The `model_type` of a config.json. - Throws: `MusicModelError` if unreadable.
    static func modelType(_ data: Data, file: String) throws -> String {
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw MusicModelError.invalidConfig(file: file, reason: "not a JSON object")
        }
        if obj["model_type"] == nil, obj["speakers"] != nil, obj["dilations"] != nil {
            throw MusicModelError.notAMusicModel(file: file)
        }
        guard let t = obj["model_type"] as? String else {
            throw MusicModelError.invalidConfig(file: file, reason: "no \"model_type\" key (\"transformer\" or \"wavenet_tokens\")")
        }
        return t
    }

    /// A checked config of either family.
    enum Config {
        case transformer(TransformerConfig)
        case wavenet(WaveNetTokenConfig)

        /// The tensors a model of this config holds (nothing allocated).
        var layout: ParameterLayout {
            switch self {
            case .transformer(let c): return TransformerModel.layout(c)
            case .wavenet(let c): return WaveNetModel.layout(c.wavenet)
            }
        }

        func makeModel() -> MusicModel {
            switch self {
            case .transformer(let c): return .transformer(TransformerModel(config: c))
            case .wavenet(let c): return .wavenet(WaveNetTokenModel(config: c))
            }
        }
    }

    /// Decodes and validates (ranges and `ModelLimits`) a config.json. - Throws: `MusicModelError`.
    static func config(_ data: Data, file: String) throws -> Config {
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: data) } catch let e as DecodingError {
                throw MusicModelError.invalidConfig(file: file, reason: describe(e))
            } catch {
                throw MusicModelError.invalidConfig(file: file, reason: "not valid JSON")
            }
        }
        switch try modelType(data, file: file) {
        case "transformer":
            let c = try decode(TransformerConfig.self)
            try c.validate(file: file)
            return .transformer(c)
        case "wavenet_tokens":
            let c = try decode(WaveNetTokenConfig.self)
            try c.validate(file: file)
            return .wavenet(c)
        case let t:
            throw MusicModelError.unknownModelType(file: file, type: t)
        }
    }

    /// A decoding error in one line: what is wrong and at which key.
    static func describe(_ e: DecodingError) -> String {
        func at(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, let c): return "missing key '\((c.codingPath + [k]).map(\.stringValue).joined(separator: "."))'"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "wrong type at '\(at(c))'"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "bad value at '\(at(c))'"
        @unknown default: return "cannot decode"
        }
    }

    /// Builds an untrained model from a config.json. - Throws: `MusicModelError` for a bad config.
    public static func fromConfig(_ data: Data, file: String = "config.json") throws -> MusicModel {
        try config(data, file: file).makeModel()
    }

    /// Loads `dir/config.json` and `dir/model.safetensors`. Nothing is allocated for the model until the config
    /// has passed its `validate` (ranges and `ModelLimits`) and every tensor of the weights file has the name and
    /// shape the config asks for.
    /// - Throws: `MusicModelError` for a missing file or a bad, oversized (over `ModelLimits.maxConfigBytes`)
    ///   config; `TensorFileError` for corrupt weights or a tensor whose name or shape disagrees with the config.
    public static func load(_ dir: URL) throws -> MusicModel {
        let cfgURL = dir.appendingPathComponent("config.json"), wURL = dir.appendingPathComponent("model.safetensors")
        for u in [cfgURL, wURL] where !FileManager.default.fileExists(atPath: u.path) {
            throw MusicModelError.missingFile(path: u.path)
        }
        let data: Data
        do { data = try BoundedRead.contents(of: cfgURL, limit: ModelLimits.maxConfigBytes) } catch let p as BoundedRead.Problem {
            throw MusicModelError.invalidConfig(file: cfgURL.path, reason: "\(p)")
        }
        let config = try config(data, file: cfgURL.path)
        let weights = try SafeTensorsFile.open(wURL)
        try config.layout.check(weights)
        let model = config.makeModel()
        try model.parameters.load(weights)
        return model
    }

    /// Writes the folder (config.json, model.safetensors), each file atomically.
    public func save(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try SafeTensors.write(parameters.tensors(), metadata: ["format": "synth"], to: dir.appendingPathComponent("model.safetensors"))
        try FileIO.writeAtomically(try configJSON(), to: dir.appendingPathComponent("config.json"))
    }
}
