// Checkpoints: weights, Adam moments, step and RNG state, written with a completion marker.
import Foundation
import NNCore

/// Trainer state saved beside the weights (`trainer_state.json`).
public struct TrainerState: Codable, Equatable, Sendable {
    public var step: Int
    public var rngState: [UInt64]
    public var bestValidLoss: Double?
    public var positionsSeen: Int
    public var secondsTrained: Double
    /// `TrainingData.validationSignature` of the set `bestValidLoss` was measured on (nil in older checkpoints).
    public var validationSet: String?

    public init(step: Int, rngState: [UInt64], bestValidLoss: Double?, positionsSeen: Int, secondsTrained: Double,
                validationSet: String? = nil) {
        self.step = step
        self.rngState = rngState
        self.bestValidLoss = bestValidLoss
        self.positionsSeen = positionsSeen
        self.secondsTrained = secondsTrained
        self.validationSet = validationSet
    }

    enum CodingKeys: String, CodingKey {
        case step
        case rngState = "rng_state"
        case bestValidLoss = "best_valid_loss"
        case positionsSeen = "positions_seen"
        case secondsTrained = "seconds_trained"
        case validationSet = "validation_set"
    }
}

/// Errors about checkpoints; each names the directory.
public enum CheckpointError: Error, CustomStringConvertible {
    case noCheckpoint(dir: String)
    case incomplete(dir: String)
    case corrupt(dir: String, reason: String)

    public var description: String {
        switch self {
        case .noCheckpoint(let d): return "\(d): no complete checkpoint to resume from"
        case .incomplete(let d): return "\(d): checkpoint is incomplete (no COMPLETE marker); it was interrupted while saving"
        case .corrupt(let d, let r): return "\(d): checkpoint is unreadable: \(r)"
        }
    }
}

/// A run directory's checkpoints: `RUN/checkpoints/step-NNNNNNNN/`, each a model folder (`ModelFolder.write`, in one
/// step) holding `config.json`, `model.safetensors`, `optimizer.safetensors` (Adam `m`, `v`), `trainer_state.json` and
/// `COMPLETE`. Directories without the marker (an older synth's interrupted save) are ignored. The best model by
/// validation loss is also kept as a model folder in `RUN/best/` (`config.json` + `model.safetensors`).
public struct CheckpointStore: Sendable {
    public let runDirectory: URL
    /// How many step checkpoints to keep (oldest deleted first).
    public var keep: Int

    public init(runDirectory: URL, keep: Int = 2) {
        self.runDirectory = runDirectory
        self.keep = keep
    }

    var checkpointsDir: URL { runDirectory.appendingPathComponent("checkpoints") }
    public var bestDirectory: URL { runDirectory.appendingPathComponent("best") }

    /// Saves a checkpoint for `step` (a model folder with the optimizer and trainer state as extras, written in one
    /// step by `ModelFolder.write`) and prunes old ones. - Returns: its directory.
    @discardableResult
    public func save(step: Int, params: ParameterSet, adam: Adam, state: TrainerState, configJSON: Data) throws -> URL {
        let fm = FileManager.default
        let dir = checkpointsDir.appendingPathComponent(String(format: "step-%08d", step))
        let optimizer = try adam.m.withUnsafeBufferPointer { m in
            try adam.v.withUnsafeBufferPointer { v in
                try SafeTensors.encode([("adam.m", [m.count], m), ("adam.v", [v.count], v)], metadata: ["adam_step": String(adam.step)])
            }
        }
        try ModelFolder.write(to: dir, configJSON: configJSON, parameters: params, extras: [
            ("optimizer.safetensors", optimizer), ("trainer_state.json", try FileIO.encodeJSON(state)),
            ("COMPLETE", Data("step \(step)\n".utf8)),
        ])
        let all = completeCheckpoints()
        if all.count > keep { for old in all.prefix(all.count - keep) { try? fm.removeItem(at: old) } }
        return dir
    }

    /// Saves the weights as a model folder in `best/` (`ModelFolder.write`: config.json + model.safetensors).
    public func saveBest(params: ParameterSet, configJSON: Data, validLoss: Double, step: Int) throws {
        try ModelFolder.write(to: bestDirectory, configJSON: configJSON, parameters: params,
                              metadata: ["format": "synth", "step": String(step), "valid_loss": String(validLoss)])
    }

    /// Complete checkpoint directories, oldest first.
    public func completeCheckpoints() -> [URL] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: checkpointsDir.path) else { return [] }
        return names.filter { $0.hasPrefix("step-") }.sorted()
            .map { checkpointsDir.appendingPathComponent($0) }
            .filter { fm.fileExists(atPath: $0.appendingPathComponent("COMPLETE").path) }
    }

    /// The newest complete checkpoint. - Throws: `CheckpointError.noCheckpoint`.
    public func latest() throws -> URL {
        guard let u = completeCheckpoints().last else { throw CheckpointError.noCheckpoint(dir: runDirectory.path) }
        return u
    }

    /// Loads weights (checking names and shapes), Adam moments and trainer state.
    public static func load(_ dir: URL, into params: ParameterSet, adam: Adam) throws -> TrainerState {
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("COMPLETE").path) else {
            throw CheckpointError.incomplete(dir: dir.path)
        }
        let (tensors, _) = try SafeTensors.read(dir.appendingPathComponent("model.safetensors"))
        try params.load(tensors, source: dir.appendingPathComponent("model.safetensors").path)
        let (opt, meta) = try SafeTensors.read(dir.appendingPathComponent("optimizer.safetensors"))
        guard let m = opt["adam.m"]?.data, let v = opt["adam.v"]?.data, m.count == params.count, v.count == params.count,
              let stepText = meta["adam_step"], let adamStep = Int(stepText)
        else { throw CheckpointError.corrupt(dir: dir.path, reason: "optimizer state does not match the model") }
        adam.restore(m: m, v: v, step: adamStep)
        do {
            return try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: dir.appendingPathComponent("trainer_state.json")))
        } catch {
            throw CheckpointError.corrupt(dir: dir.path, reason: "trainer_state.json: \(error)")
        }
    }
}
