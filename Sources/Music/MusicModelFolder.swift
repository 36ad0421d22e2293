// Music model folders (config.json with "model_type" + model.safetensors): load, save, dispatch by family.
import AREngine
import Foundation
import NNCore

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
            let c = m.config
            return "wavenet over tokens: \(c.dilations.count) layers, receptive field \(c.receptiveField) tokens, residual \(c.residualChannels), \(m.parameters.count) parameters"
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

    /// Builds an untrained model from a config.json. - Throws: `MusicModelError` for a bad config.
    public static func fromConfig(_ data: Data, file: String = "config.json") throws -> MusicModel {
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: data) } catch {
                throw MusicModelError.invalidConfig(file: file, reason: "\(error)")
            }
        }
        switch try modelType(data, file: file) {
        case "transformer":
            let c = try decode(TransformerConfig.self)
            try c.validate(file: file)
            return .transformer(TransformerModel(config: c))
        case "wavenet_tokens":
            let c = try decode(WaveNetTokenConfig.self)
            try c.validate(file: file)
            return .wavenet(WaveNetTokenModel(config: c))
        case let t:
            throw MusicModelError.unknownModelType(file: file, type: t)
        }
    }

    /// Loads `dir/config.json` and `dir/model.safetensors`, checking every tensor's name and shape.
    public static func load(_ dir: URL) throws -> MusicModel {
        let cfgURL = dir.appendingPathComponent("config.json"), wURL = dir.appendingPathComponent("model.safetensors")
        for u in [cfgURL, wURL] where !FileManager.default.fileExists(atPath: u.path) {
            throw MusicModelError.missingFile(path: u.path)
        }
        let model = try fromConfig(try Data(contentsOf: cfgURL), file: cfgURL.path)
        let (tensors, _) = try SafeTensors.read(wURL)
        try model.parameters.load(tensors, source: wURL.path)
        return model
    }

    /// Writes the folder (config.json, model.safetensors), each file atomically.
    public func save(to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try SafeTensors.write(parameters.tensors(), metadata: ["format": "synth"], to: dir.appendingPathComponent("model.safetensors"))
        try FileIO.writeAtomically(try configJSON(), to: dir.appendingPathComponent("config.json"))
    }
}
