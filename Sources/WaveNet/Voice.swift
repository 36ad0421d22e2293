// Voice folders: a WaveNet model folder (`ModelFolder`) with its name, and the vocoder as a model family.
import AREngine
import Foundation
import NNCore

/// A trained WaveNet voice loaded from a model folder holding `config.json` and `model.safetensors`.
public struct Voice {
    public let name: String
    public let directory: URL
    public let model: WaveNetModel
    public var config: WaveNetConfig { model.config }

    /// A voice from a model in memory (e.g. random weights for tests and benchmarks); `directory` is informational.
    public init(name: String, directory: URL, model: WaveNetModel) {
        self.name = name
        self.directory = directory
        self.model = model
    }

    /// Loads and checks a voice folder through `registry` (which names the family of a folder of another kind).
    /// Nothing is allocated for the model until config.json has passed `WaveNetConfig.validate` (its bounds) and
    /// every tensor of model.safetensors has the name and shape the config asks for (`ModelFolder.load`).
    /// - Throws: `ModelFolderError` for a missing or malformed config.json or a folder of another family,
    ///   `VoiceError.invalidConfig` for a value out of range, `TensorFileError` for a missing or corrupt model file, or a
    ///   tensor whose name or shape disagrees with the config.
    public static func load(_ dir: URL, registry: ModelRegistry = ModelRegistry([WaveNetModel.self])) throws -> Voice {
        Voice(name: dir.lastPathComponent, directory: dir, model: try registry.load(WaveNetModel.self, from: dir, noun: "voice"))
    }

    /// Writes `config.json` and `model.safetensors` into `dir` (`ModelFolder.save`, in one step).
    public static func save(_ model: WaveNetModel, to dir: URL) throws {
        try ModelFolder.save(model, to: dir)
    }
}

extension WaveNetConfig: ModelConfiguration {}

extension WaveNetModel: ModelFamily {
    public static let modelType = "wavenet"
    public static let kind = "WaveNet vocoder voice"
    public static let usage = "synth vocode --voice"
    /// Voices were the only folders before `model_type` existed.
    public static let readsUntypedFolders = true

    public var details: [String] {
        ["speakers: \(config.speakers.joined(separator: ", "))" + (config.speakerStatistics != nil ? " (with speaker statistics for --speaker auto)" : "")]
            + (config.pitchPostfilter.map { [String(format: "pitch postfilter %g by default (--pitch-postfilter overrides it)", Double($0))] } ?? [])
            + (config.melCorrection.map { n in
                let momentum = config.melCorrectionMomentum.map { $0 > 0 ? String(format: " with momentum %g", Double($0)) : "" } ?? ""
                return ["mel-envelope correction, \(n) rounds\(momentum), by default (--mel-correction, --mel-correction-momentum override it)"]
            } ?? [])
    }

    /// "16000 Hz, 20 layers, receptive field 2048 samples (128.0 ms), 932368 parameters, 21 speakers".
    public var summary: String {
        let c = config, rate = Double(c.features.sampleRate)
        return String(format: "%d Hz, %d layers, receptive field %d samples (%.1f ms), %d parameters, %d speaker%@",
                      c.features.sampleRate, c.layers, c.receptiveField, 1000 * Double(c.receptiveField) / rate,
                      parameters.count, c.speakers.count, c.speakers.count == 1 ? "" : "s")
    }
}
