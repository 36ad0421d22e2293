// A model-agnostic teacher-forcing trainer: Adam, clipping, warm-up + cosine schedule, validation, checkpoints.
import Foundation
import NNCore

/// A model the trainer can fit: parameters in one `ParameterSet` and a teacher-forced loss.
public protocol TrainableModel: AnyObject {
    associatedtype Batch
    var parameters: ParameterSet { get }
    /// Teacher-forced forward pass on `batch`; with `backward`, also *accumulates* the gradient of the
    /// mean cross-entropy into `parameters.grads`.
    /// - Returns: summed cross-entropy in nats and the number of scored positions (tokens or samples).
    func loss(_ batch: Batch, backward: Bool) -> (sum: Double, count: Int)
}

/// Where training batches come from. Batches are drawn with the trainer's RNG so a resumed run
/// continues the same stream.
public protocol TrainingData {
    associatedtype Batch
    func trainingBatch(rng: inout Xoshiro256) -> Batch
    /// A fixed set of validation batches (the same every call).
    func validationBatches() -> [Batch]
    /// Names the validation set (saved with each checkpoint); when a resumed run's differs, the best
    /// validation loss is re-scored on the new set. Empty by default.
    var validationSignature: String { get }
}

extension TrainingData {
    public var validationSignature: String { "" }
}

/// Hyper-parameters of a training run (saved in every checkpoint).
public struct TrainingOptions: Codable, Equatable, Sendable {
    public var steps: Int
    public var schedule: LearningRateSchedule
    public var clipNorm: Float = 1
    public var checkpointEvery: Int = 200
    public var validateEvery: Int = 200
    public var logEvery: Int = 10
    public var seed: UInt64 = 1

    enum CodingKeys: String, CodingKey {
        case steps, schedule, seed
        case clipNorm = "clip_norm"
        case checkpointEvery = "checkpoint_every"
        case validateEvery = "validate_every"
        case logEvery = "log_every"
    }

    public init(steps: Int, schedule: LearningRateSchedule, clipNorm: Float = 1, checkpointEvery: Int = 200,
                validateEvery: Int = 200, logEvery: Int = 10, seed: UInt64 = 1) {
        self.steps = steps
        self.schedule = schedule
        self.clipNorm = clipNorm
        self.checkpointEvery = checkpointEvery
        self.validateEvery = validateEvery
        self.logEvery = logEvery
        self.seed = seed
    }
}

/// Progress reported to the caller (the library never prints).
public enum TrainingEvent {
    /// Mean train loss (nats per position) over the last `logEvery` steps, with throughput.
    case train(step: Int, loss: Double, learningRate: Float, gradNorm: Float, positionsPerSecond: Double, elapsed: Double)
    /// Validation loss in nats and bits per position.
    case validation(step: Int, loss: Double, bitsPerPosition: Double, isBest: Bool)
    /// A resumed run's validation set changed: `bestRescored` is the best weights' loss on the new set
    /// (nil if the run has no best weights to score, so the next validation sets the best).
    case validationSetChanged(from: String?, to: String, bestRescored: Double?)
    case checkpoint(step: Int, path: String)
}

/// Teacher-forcing trainer shared by every model family (WaveNet over samples, transformers over tokens).
public final class Trainer<Model: TrainableModel> {
    public let model: Model
    public let options: TrainingOptions
    public let adam: Adam
    public private(set) var state: TrainerState
    public let checkpoints: CheckpointStore?

    /// - Parameters:
    ///   - checkpoints: where checkpoints go; nil disables them (tests).
    ///   - configJSON: the model's `config.json` bytes, written into every checkpoint.
    public init(model: Model, options: TrainingOptions, checkpoints: CheckpointStore?) {
        self.model = model
        self.options = options
        self.checkpoints = checkpoints
        adam = Adam(parameterCount: model.parameters.count, clipNorm: options.clipNorm)
        state = TrainerState(step: 0, rngState: Xoshiro256(seed: options.seed).state, bestValidLoss: nil, positionsSeen: 0, secondsTrained: 0)
    }

    /// Restores weights, Adam moments, step and RNG from a checkpoint directory.
    public func resume(from dir: URL) throws {
        state = try CheckpointStore.load(dir, into: model.parameters, adam: adam)
    }

    /// Mean validation loss in nats per position.
    public func validate<D: TrainingData>(_ data: D) -> Double where D.Batch == Model.Batch {
        var sum = 0.0, count = 0
        for b in data.validationBatches() {
            let r = model.loss(b, backward: false)
            sum += r.sum
            count += r.count
        }
        return count > 0 ? sum / Double(count) : .nan
    }

    /// The loss on `data`'s validation set of the weights saved in `best/` (nil if there are none); the
    /// model's own weights are restored afterwards.
    /// - Throws: `TensorFileError` if best/model.safetensors is unreadable or does not match the model.
    public func validateBest<D: TrainingData>(_ data: D) throws -> Double? where D.Batch == Model.Batch {
        guard let store = checkpoints else { return nil }
        let file = store.bestDirectory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let params = model.parameters
        let current = Array(UnsafeBufferPointer(start: params.values, count: params.count))
        defer { params.values.update(from: current, count: current.count) }
        try params.load(try SafeTensors.read(file).tensors, source: file.path)
        let v = validate(data)
        return v.isFinite ? v : nil
    }

    /// Trains until `options.steps` or until `shouldStop` returns true (checked every step; a stop
    /// saves a checkpoint first). Saves checkpoints every `checkpointEvery` steps and at the end. A run that stops
    /// before its first validation is validated once, so that `best/` always exists after a step was taken.
    public func train<D: TrainingData>(
        _ data: D, configJSON: Data, shouldStop: () -> Bool = { false }, report: (TrainingEvent) -> Void
    ) throws where D.Batch == Model.Batch {
        var rng = Xoshiro256(state: state.rngState)
        let params = model.parameters
        var windowLoss = 0.0, windowCount = 0, windowPositions = 0
        var windowStart = Date()
        let sessionStart = Date(), secondsBefore = state.secondsTrained
        var lastSaved = state.step
        if state.validationSet != data.validationSignature {
            // A best loss measured on other validation data cannot be compared with the new figures.
            if state.step > 0, state.bestValidLoss != nil {
                state.bestValidLoss = try validateBest(data)
                report(.validationSetChanged(from: state.validationSet, to: data.validationSignature, bestRescored: state.bestValidLoss))
            }
            state.validationSet = data.validationSignature
        }
        func save() throws {
            state.rngState = rng.state
            state.secondsTrained = secondsBefore + Date().timeIntervalSince(sessionStart)
            if let store = checkpoints {
                let url = try store.save(step: state.step, params: params, adam: adam, state: state, configJSON: configJSON)
                report(.checkpoint(step: state.step, path: url.path))
            }
            lastSaved = state.step
        }
        func validateAndKeepBest() throws {
            let v = validate(data)
            // Without validation data (v is NaN), best/ follows the latest weights so a voice folder always exists.
            let best = v.isNaN || (v.isFinite && (state.bestValidLoss.map { v < $0 } ?? true))
            if best {
                if v.isFinite { state.bestValidLoss = v }
                if let store = checkpoints { try store.saveBest(params: params, configJSON: configJSON, validLoss: v, step: state.step) }
            }
            report(.validation(step: state.step, loss: v, bitsPerPosition: v / log(2.0), isBest: best))
        }
        var validatedOnce = state.bestValidLoss != nil
        // The first step of every invocation is logged too (a loss line within seconds, not after `logEvery` steps),
        // and so is a partial window when the run stops early.
        let firstStep = state.step + 1
        var last = (lr: Float(0), norm: Float(0))
        func reportWindow() {
            let dt = Date().timeIntervalSince(windowStart)
            report(.train(step: state.step, loss: windowLoss / Double(max(windowCount, 1)), learningRate: last.lr,
                          gradNorm: last.norm, positionsPerSecond: Double(windowPositions) / max(dt, 1e-9),
                          elapsed: secondsBefore + Date().timeIntervalSince(sessionStart)))
            windowLoss = 0; windowCount = 0; windowPositions = 0; windowStart = Date()
        }
        while state.step < options.steps {
            if shouldStop() { break }
            let batch = data.trainingBatch(rng: &rng)
            params.zeroGrads()
            let r = model.loss(batch, backward: true)
            let lr = options.schedule.rate(at: state.step + 1)
            let norm = adam.update(params, lr: lr)
            state.step += 1
            state.positionsSeen += r.count
            windowLoss += r.sum
            windowCount += r.count
            windowPositions += r.count
            last = (lr, norm)
            if state.step % options.logEvery == 0 || state.step == options.steps || state.step == firstStep { reportWindow() }
            if state.step % options.validateEvery == 0 || state.step == options.steps {
                try validateAndKeepBest()
                validatedOnce = true
            }
            if state.step % options.checkpointEvery == 0 { try save() }
        }
        if windowCount > 0 { reportWindow() }
        if !validatedOnce && state.step > 0 { try validateAndKeepBest() }
        if state.step != lastSaved || state.step == 0 { try save() }
    }
}
