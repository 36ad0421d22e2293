// What every model family provides to be kept in a model folder, listed, loaded and trained by the shared code.
import Foundation
import NNCore

/// A model's hyper-parameters as stored in its folder's config.json: snake_case keys, and keys added after a family's
/// first folders were saved decode with defaults (`decodeIfPresent`), so older folders keep loading.
public protocol ModelConfiguration: Codable, Sendable {
    /// Checks every field (ranges, and totals against what may be allocated).
    /// - Throws: the family's error, naming `file`, the field and the value.
    func validate(file: String) throws
}

/// A family of models kept in model folders (`ModelFolder`): its config, the tensors that config asks for, and how
/// it is named in listings and messages. Registered once in the CLI's `ModelRegistry`; what it can do besides
/// (generate tokens, train) it says by conforming to the engine's other protocols (`TokenModel`,
/// `AutoregressiveModel`, `TrainableModel`).
public protocol ModelFamily: AnyObject {
    associatedtype Config: ModelConfiguration
    /// What config.json's `"model_type"` says for this family (`"wavenet"`, `"transformer"`, ...).
    static var modelType: String { get }
    /// What the family is, for listings and messages ("WaveNet vocoder voice", "music transformer").
    static var kind: String { get }
    /// The command and option that use a folder of this family ("synth vocode --voice").
    static var usage: String { get }
    /// Whether a config.json without `"model_type"` holds this family (folders saved before the key existed).
    static var readsUntypedFolders: Bool { get }
    /// The tensors (names, shapes) a model of `config` holds, without allocating them.
    static func layout(_ config: Config) -> ParameterLayout
    /// The model of a folder: `config` (validated) and its weights file (`folder.weights`, whose tensors' names and
    /// shapes `ModelFolder.load` checked against `layout(config)`). The default allocates `init(config:)` and copies
    /// every tensor; a family overrides it to read an older layout or an extra file of the folder.
    /// - Throws: `TensorFileError` naming a missing, unexpected or misshapen tensor; the family's own errors.
    static func load(config: Config, folder: ModelFolder.Contents) throws -> Self
    /// A model of `config` with zero weights (see the family's `initialize`). - Precondition: `config` is valid.
    init(config: Config)
    var config: Config { get }
    /// Every weight, in one flat buffer with a gradient twin.
    var parameters: ParameterSet { get }
    /// One line for logs and listings: shape, size, context.
    var summary: String { get }
    /// More lines for `synth voices` (a voice's speakers); none by default.
    var details: [String] { get }
}

extension ModelFamily {
    public static var readsUntypedFolders: Bool { false }
    public var details: [String] { [] }

    public static func load(config: Config, folder: ModelFolder.Contents) throws -> Self {
        let model = Self(config: config)
        try model.parameters.load(folder.weights)
        return model
    }
}

/// A family over discrete tokens: decoded token by token (`AutoregressiveModel`) and trained by teacher forcing on
/// `TokenBatch`es (`TrainableModel`), so the shared generation loop, trainer and evaluation serve it whatever its
/// architecture. Both music families are token models; a byte-level text model would be one too.
public protocol TokenModel: ModelFamily, AutoregressiveModel, TrainableModel where Batch == TokenBatch {
    /// Fills the weights with a fresh random initialisation drawn from `seed`.
    func initialize(seed: UInt64)
    /// `loss` of a window that may continue the previous call's: with `continuing`, a model with a recurrent state
    /// starts from the state the previous call's window ended in (a one-row batch of the same shape), so consecutive
    /// windows of one sequence read as one stream; the gradient stops at the window's start (truncated
    /// backpropagation through time). The default is `loss`: every window from the zero state.
    func streamingLoss(_ batch: TokenBatch, backward: Bool, continuing: Bool) -> (sum: Double, count: Int)
    /// `streamingLoss`, also writing each scored target's probability into `probabilities` (`batch × time`,
    /// batch-major; NaN where not scored). The default reads them from `logits` of the window, which is right for a
    /// model without a carried state; a model with one (the recurrent LM) implements it.
    func streamingLoss(_ batch: TokenBatch, backward: Bool, continuing: Bool,
                       probabilities: UnsafeMutablePointer<Double>) -> (sum: Double, count: Int)
}

extension TokenModel {
    public func streamingLoss(_ batch: TokenBatch, backward: Bool, continuing: Bool) -> (sum: Double, count: Int) {
        loss(batch, backward: backward)
    }

    public func streamingLoss(_ batch: TokenBatch, backward: Bool, continuing: Bool,
                              probabilities: UnsafeMutablePointer<Double>) -> (sum: Double, count: Int) {
        let V = vocabularySize, B = batch.batch, T = batch.time
        let inputs = batch.tokens.map { row in row[0..<T].map { $0 >= 0 && $0 < V ? $0 : 0 } }
        let logits = self.logits(inputs)
        logits.withUnsafeBufferPointer { l in
            for b in 0..<B {
                for t in 0..<T {
                    let y = batch.tokens[b][t + 1]
                    let scored = y != batch.ignoreIndex && y >= 0 && y < V
                    probabilities[b * T + t] = scored ? softmaxProbability(l.baseAddress! + (b * T + t) * V, V, y) : .nan
                }
            }
        }
        return streamingLoss(batch, backward: backward, continuing: continuing)
    }

    /// Teacher-forced windows for scoring or training: the model's own context when it has one, else `fallback`.
    public func window(fallback: Int) -> Int { contextLength == Int.max ? fallback : contextLength }

    /// Mean negative log-likelihood in nats per token over `sequences` (each BOS ... EOS), read in non-overlapping
    /// windows of `context + 1` tokens with stride `context` (`TokenBatch.windows`): every token after each
    /// sequence's first is scored exactly once. - Parameter context: the window; at most the model's own context.
    /// - Parameter progress: batches of windows scored so far (unit "batches"), after each batch.
    public func evaluate(_ sequences: [[Int]], context: Int, batchSize: Int = 16,
                         progress: (ProgressReport) -> Void = { _ in }) -> (nats: Double, tokens: Int) {
        var sum = 0.0, n = 0
        let batches = TokenBatch.windows(sequences, context: min(context, contextLength), batchSize: batchSize)
        for (i, b) in batches.enumerated() {
            let r = loss(b, backward: false)
            sum += r.sum
            n += r.count
            progress(ProgressReport(done: i + 1, total: batches.count, unit: "batches"))
        }
        return (n > 0 ? sum / Double(n) : .nan, n)
    }
}

extension TokenBatch {
    /// Non-overlapping windows (stride `context`) of `context + 1` tokens over each sequence of at least 2 tokens,
    /// the last of each padded with -1 (not scored), grouped into batches of at most `batchSize` rows. Every token but
    /// each sequence's first is a target exactly once.
    public static func windows(_ seqs: [[Int]], context: Int, batchSize: Int) -> [TokenBatch] {
        var rows: [[Int]] = []
        for s in seqs where s.count >= 2 {
            var start = 0
            while start + 1 < s.count {
                var w = Array(s[start..<min(s.count, start + context + 1)])
                if w.count < context + 1 { w += [Int](repeating: -1, count: context + 1 - w.count) }
                rows.append(w)
                start += context
            }
        }
        return stride(from: 0, to: rows.count, by: batchSize).map {
            TokenBatch(tokens: Array(rows[$0..<min(rows.count, $0 + batchSize)]), ignoreIndex: -1)
        }
    }
}
