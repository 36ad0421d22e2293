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
    /// Rows of every training batch: the global batch that data-parallel training splits between ranks. 0 (the
    /// default) = the data cannot draw part of a batch, and trains on one process only.
    var batchRows: Int { get }
    /// Rows `rows` (within `0..<batchRows`) of the batch `trainingBatch(rng:)` would draw from the same `rng`, which
    /// advances exactly as it does there, so that the ranks' parts of a step make up one process's batch. The
    /// default ignores `rows` (for data with `batchRows` 0).
    func trainingBatch(rng: inout Xoshiro256, rows: Range<Int>) -> Batch
}

extension TrainingData {
    public var validationSignature: String { "" }
    public var batchRows: Int { 0 }
    public func trainingBatch(rng: inout Xoshiro256, rows: Range<Int>) -> Batch { trainingBatch(rng: &rng) }
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
    /// Data-parallel runs only, with each `.train` event: seconds per step, averaged over the same window, that
    /// rank 0 spent waiting for the slowest rank (`wait`, a small allreduce of the losses that every rank enters
    /// after its backward pass) and in the gradient allreduce itself (`allreduce`, `bytes` per rank), out of `stepTime`.
    case communication(step: Int, ranks: Int, bytes: Int, wait: Double, allreduce: Double, stepTime: Double)
}

/// Teacher-forcing trainer shared by every model family (WaveNet over samples, transformers over tokens).
///
/// Data-parallel (a `communicator` of several ranks, e.g. under `mpirun`; the scheme of Horovod, Sergeev and Del Balso
/// 2018, and PyTorch DDP, Li et al. 2020): rank 0's weights, Adam moments and trainer state are broadcast at the
/// start; at every step all ranks draw the same global batch from the same RNG stream and each computes the rows
/// `batchRows(rank:of:batch:)` of it; each rank's mean gradient is weighted by its share of the scored positions and
/// the weighted gradients summed by one allreduce over the flat gradient buffer, which makes the mean gradient of the
/// whole batch; then every rank clips (after the sum, so clipping sees the global norm) and takes the same Adam step.
/// The RNG stream and the checkpoints do not depend on the number of ranks, so a run resumes on any number of them.
/// Rank 0 alone validates, reports and writes checkpoints and `best/`.
public final class Trainer<Model: TrainableModel> {
    public let model: Model
    public let options: TrainingOptions
    public let adam: Adam
    public private(set) var state: TrainerState
    public let checkpoints: CheckpointStore?
    /// The ranks taking part (`SingleProcess` by default).
    public let communicator: any Communicator

    /// - Parameters:
    ///   - checkpoints: where checkpoints go; nil disables them (tests). Only rank 0 writes them.
    ///   - communicator: the ranks of a data-parallel run; `SingleProcess()` trains exactly as without one.
    public init(model: Model, options: TrainingOptions, checkpoints: CheckpointStore?, communicator: any Communicator = SingleProcess()) {
        self.model = model
        self.options = options
        self.checkpoints = checkpoints
        self.communicator = communicator
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

    /// With several ranks: checks that every rank was started alike (a hash of `configJSON`, the options, the
    /// validation set, the batch size, the parameter count and `fingerprint`, compared by an allreduce), then gives
    /// every rank rank 0's weights, Adam state and trainer state.
    /// - Throws: `DataParallelError` (`.mismatch`, `.batchTooSmall`, `.notSplittable`, `.communication`).
    func startRanks<D: TrainingData>(_ data: D, configJSON: Data, fingerprint: Data) throws {
        let comm = communicator
        guard data.batchRows > 0 else { throw DataParallelError.notSplittable(ranks: comm.size) }
        guard data.batchRows >= comm.size else { throw DataParallelError.batchTooSmall(batch: data.batchRows, ranks: comm.size) }
        var hash = Fingerprint()
        hash.combine(configJSON)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        hash.combine(try encoder.encode(options))
        hash.combine("\(data.validationSignature)|\(data.batchRows)|\(model.parameters.count)")
        hash.combine(fingerprint)
        guard try comm.allAgree(on: hash.value) else { throw DataParallelError.mismatch(rank: comm.rank, ranks: comm.size) }
        let params = model.parameters
        try comm.broadcast(params.values, count: params.count)
        var m = adam.m, v = adam.v
        try m.withUnsafeMutableBufferPointer { try comm.broadcast($0.baseAddress!, count: $0.count) }
        try v.withUnsafeMutableBufferPointer { try comm.broadcast($0.baseAddress!, count: $0.count) }
        var adamStep = Int64(adam.step)
        try withUnsafeMutableBytes(of: &adamStep) { try comm.broadcast($0, root: 0) }
        adam.restore(m: m, v: v, step: Int(adamStep))
        let stateJSON = try comm.broadcast(try encoder.encode(state))
        state = try JSONDecoder().decode(TrainerState.self, from: stateJSON)
    }

    /// Communication time of a data-parallel run since the last `.communication` report (seconds, steps).
    var waitSeconds = 0.0, allreduceSeconds = 0.0, windowSteps = 0

    /// One step's gradient: draws the step's batch from `rng` (with several ranks, this rank's rows of it) and leaves
    /// the mean gradient of the whole batch in `model.parameters.grads`, unclipped.
    /// - Parameter stop: this rank asks to stop (several ranks: any rank's request stops every rank at this step).
    /// - Returns: the whole batch's summed loss (nats) and scored positions, over all ranks; nil when a rank asked to
    ///   stop, with `rng` as it was, so that a resumed run draws this batch again.
    /// - Throws: `DataParallelError.communication`.
    public func computeGradient<D: TrainingData>(_ data: D, rng: inout Xoshiro256, stop: Bool = false) throws
        -> (sum: Double, count: Int)? where D.Batch == Model.Batch {
        let comm = communicator, params = model.parameters
        guard comm.size > 1 else {
            params.zeroGrads()
            return model.loss(data.trainingBatch(rng: &rng), backward: true)
        }
        let rngBefore = rng
        let batch = data.trainingBatch(rng: &rng, rows: batchRows(rank: comm.rank, of: comm.size, batch: data.batchRows))
        params.zeroGrads()
        let r = model.loss(batch, backward: true)
        // Losses, positions and stop requests of every rank; entering it also waits for the slowest rank.
        let t0 = DispatchTime.now().uptimeNanoseconds
        var totals = [r.sum, Double(r.count), stop ? 1 : 0]
        try totals.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
        if totals[2] > 0 {
            rng = rngBefore
            return nil
        }
        // This rank's gradient is the mean over its r.count positions; weighted by r.count / total, the sum over
        // the ranks is the mean over the whole batch.
        let weight = Float(Double(r.count) / max(totals[1], 1))
        let g = params.grads
        for i in 0..<params.count { g[i] *= weight }
        let t1 = DispatchTime.now().uptimeNanoseconds
        try comm.allreduceSum(UnsafeMutableBufferPointer(start: g, count: params.count))
        let t2 = DispatchTime.now().uptimeNanoseconds
        waitSeconds += Double(t1 - t0) / 1e9
        allreduceSeconds += Double(t2 - t1) / 1e9
        windowSteps += 1
        return (totals[0], Int(totals[1]))
    }

    /// Trains until `options.steps` or until `shouldStop` returns true (checked every step; a stop
    /// saves a checkpoint first). Saves checkpoints every `checkpointEvery` steps and at the end. A run that stops
    /// before its first validation is validated once, so that `best/` always exists after a step was taken.
    /// With several ranks (see the type's notes) every rank calls this; a stop on any rank stops them all at the same
    /// step, and `fingerprint` (e.g. the manifest's and the binary's bytes) joins the start-up agreement check.
    /// - Throws: `DataParallelError` from the ranks' start-up or communication; checkpoint write errors (rank 0).
    public func train<D: TrainingData>(
        _ data: D, configJSON: Data, fingerprint: Data = Data(), shouldStop: () -> Bool = { false }, report reportEvent: (TrainingEvent) -> Void
    ) throws where D.Batch == Model.Batch {
        let comm = communicator, distributed = comm.size > 1, isRoot = comm.rank == 0
        func report(_ e: TrainingEvent) { if isRoot { reportEvent(e) } }
        if distributed { try startRanks(data, configJSON: configJSON, fingerprint: fingerprint) }
        let checkpoints = isRoot ? self.checkpoints : nil
        waitSeconds = 0; allreduceSeconds = 0; windowSteps = 0
        var rng = Xoshiro256(state: state.rngState)
        let params = model.parameters
        var windowLoss = 0.0, windowCount = 0, windowPositions = 0
        var windowStart = Date()
        let sessionStart = Date(), secondsBefore = state.secondsTrained
        var lastSaved = state.step
        if isRoot, state.validationSet != data.validationSignature {
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
            guard isRoot else { return }
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
            if distributed {
                let n = Double(max(windowSteps, 1))
                report(.communication(step: state.step, ranks: comm.size, bytes: params.count * MemoryLayout<Float>.stride,
                                      wait: waitSeconds / n, allreduce: allreduceSeconds / n, stepTime: dt / n))
                waitSeconds = 0; allreduceSeconds = 0; windowSteps = 0
            }
            windowLoss = 0; windowCount = 0; windowPositions = 0; windowStart = Date()
        }
        while state.step < options.steps {
            if !distributed, shouldStop() { break }
            guard let r = try computeGradient(data, rng: &rng, stop: distributed && shouldStop()) else { break }
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
