// The autoregressive model protocol: teacher-forced logits over a batch, and incremental decoding with cached state.
import Foundation
import NNCore

/// A model of `p(x_t | x_<t)` over a discrete vocabulary (mu-law classes, MIDI event tokens, ...).
///
/// Two ways in, which must agree (tests check it for every model):
/// - `logits(_:)`: the teacher-forced forward pass over whole sequences, `[batch, time, vocab]`;
/// - `makeState(batch:)` + `step(_:state:logits:)`: one position at a time with explicit cached state
///   (per-layer queues for WaveNet, a KV cache for a transformer), O(1) in the sequence length for
///   WaveNet and O(t) for attention, never recomputing the prefix.
public protocol AutoregressiveModel: AnyObject {
    associatedtype State
    /// Number of token classes.
    var vocabularySize: Int { get }
    /// The longest sequence `step` can extend (`Int.max` if unbounded).
    var contextLength: Int { get }
    /// Teacher-forced logits (nats, before softmax) for `tokens` `[batch][time]` (all rows the same
    /// length): position `t` holds the prediction of token `t + 1` given tokens `0...t`.
    /// - Returns: `[batch, time, vocab]`, row-major.
    func logits(_ tokens: [[Int]]) -> [Float]
    /// Fresh cached state for `batch` sequences, allocated once and reusable via `reset`.
    func makeState(batch: Int) -> State
    /// Clears a state for new sequences without reallocating.
    func reset(_ state: inout State)
    /// Feeds one token per sequence (`tokens.count == batch`) and writes the next-token logits
    /// `[batch, vocab]` into `logits`. - Precondition: fewer than `contextLength` tokens fed so far.
    func step(_ tokens: [Int], state: inout State, logits: UnsafeMutablePointer<Float>)
}

extension AutoregressiveModel {
    /// The shape of the argument of `logits(_:)`: `(batch, time)` of `tokens` `[batch][time]`.
    /// - Precondition: at least one row, every row non-empty and of the same length.
    public func logitsShape(_ tokens: [[Int]]) -> (batch: Int, time: Int) {
        let B = tokens.count, T = tokens.first?.count ?? 0
        precondition(B > 0 && T > 0 && tokens.allSatisfy { $0.count == T }, "logits: rows must be non-empty and of equal length")
        return (B, T)
    }
}

/// A teacher-forcing batch of token sequences: `tokens[b]` holds `time + 1` tokens; the model reads
/// `tokens[b][0..<time]` and is scored on predicting `tokens[b][1...time]`. Targets equal to
/// `ignoreIndex` are not scored (padding).
public struct TokenBatch: Sendable {
    public var tokens: [[Int]]
    public var ignoreIndex: Int
    public var batch: Int { tokens.count }
    public var time: Int { (tokens.first?.count ?? 1) - 1 }

    public init(tokens: [[Int]], ignoreIndex: Int = -1) {
        precondition(!tokens.isEmpty && tokens.allSatisfy { $0.count == tokens[0].count && $0.count >= 2 },
                     "a token batch needs rows of equal length >= 2")
        self.tokens = tokens
        self.ignoreIndex = ignoreIndex
    }
}

extension TokenBatch {
    /// Where position `t` of sequence `b` sits in flat teacher-forcing arrays: `.batchMajor` at row `b * time + t` (each
    /// sequence contiguous, for attention), `.timeMajor` at row `t * batch + b` (a shift by `d` positions is an offset of
    /// `d * batch` rows, for convolution stacks).
    public enum Layout: Sendable { case batchMajor, timeMajor }

    /// Writes the model's inputs and targets, `[batch × time]` each in `layout`: input `tokens[b][t]` (ids outside
    /// `0..<vocabularySize`, i.e. padding, are read as token 0: padding only ever follows the scored positions, so a
    /// causal model never sees it there) and target `tokens[b][t + 1]` (the `ignoreIndex` and out-of-range ids become -1,
    /// not scored).
    /// - Returns: the number of scored targets.
    @discardableResult
    public func teacherForcing(vocabularySize V: Int, layout: Layout, inputs: UnsafeMutablePointer<Int32>,
                               targets: UnsafeMutablePointer<Int32>) -> Int {
        let T = time, B = batch
        var count = 0
        for (b, row) in tokens.enumerated() {
            for t in 0..<T {
                let i = layout == .batchMajor ? b * T + t : t * B + b
                let x = row[t], y = row[t + 1]
                inputs[i] = Int32(x >= 0 && x < V ? x : 0)
                let scored = y != ignoreIndex && y >= 0 && y < V
                targets[i] = scored ? Int32(y) : -1
                if scored { count += 1 }
            }
        }
        return count
    }
}

/// The buffers of one teacher-forced pass over a `TokenBatch`, allocated once per shape by the model.
public protocol TokenWorkspace: AnyObject {
    /// Token ids read, `[batch × time]` in the model's `tokenLayout`.
    var inputs: UnsafeMutablePointer<Int32> { get }
    /// Target ids (-1: not scored), laid out as `inputs`.
    var targets: UnsafeMutablePointer<Int32> { get }
    /// Logits `[batch × time, vocab]` after `forward`; their gradient before `backward`.
    var logits: UnsafeMutablePointer<Float> { get }
}

/// A token model trained with the one teacher-forcing loss: it supplies a workspace, a forward pass from
/// `inputs` to `logits` and a backward pass from their gradient; `loss` (`TrainableModel`) is written once, here.
public protocol TeacherForcedTokenModel: TrainableModel where Batch == TokenBatch {
    associatedtype Workspace: TokenWorkspace
    var vocabularySize: Int { get }
    /// The row order of the workspace's arrays.
    var tokenLayout: TokenBatch.Layout { get }
    /// The workspace for a batch shape (kept by the model, e.g. in a `WorkspaceCache`).
    func workspace(batch: Int, time: Int) -> Workspace
    /// Logits of `ws.inputs` into `ws.logits`.
    func forward(_ ws: Workspace)
    /// Accumulates every parameter's gradient from the logits' gradient in `ws.logits`.
    func backward(_ ws: Workspace)
}

extension TeacherForcedTokenModel {
    /// Summed cross-entropy (nats) over the scored targets of `batch` (`TokenBatch.teacherForcing`) and their number;
    /// with `backward`, accumulates the gradient of the mean into the parameters' gradients.
    public func loss(_ batch: TokenBatch, backward: Bool) -> (sum: Double, count: Int) {
        teacherForcedLoss(batch, backward: backward) { forward($0) }
    }

    /// `loss` with another forward pass (`forward` from a carried state, say): fills the workspace's inputs and
    /// targets, runs `forward`, scores the logits and, with `backward`, runs `backward`. With `probabilities`
    /// (`batch × time` values, batch-major), each scored target's softmax probability is written there first
    /// (unscored positions get NaN).
    public func teacherForcedLoss(_ batch: TokenBatch, backward: Bool, probabilities: UnsafeMutablePointer<Double>? = nil,
                                  forward: (Workspace) -> Void) -> (sum: Double, count: Int) {
        let ws = workspace(batch: batch.batch, time: batch.time)
        let count = batch.teacherForcing(vocabularySize: vocabularySize, layout: tokenLayout, inputs: ws.inputs, targets: ws.targets)
        forward(ws)
        if let probabilities {
            let B = batch.batch, T = batch.time
            for b in 0..<B {
                for t in 0..<T {
                    let i = tokenLayout == .batchMajor ? b * T + t : t * B + b, target = Int(ws.targets[i])
                    probabilities[b * T + t] = target >= 0 ? softmaxProbability(ws.logits + i * vocabularySize, vocabularySize, target) : .nan
                }
            }
        }
        let scale: Float = backward && count > 0 ? 1 / Float(count) : 0
        let sum = Layers.softmaxCrossEntropy(logits: ws.logits, targets: ws.targets, rows: batch.batch * batch.time,
                                             vocab: vocabularySize, scale: scale, dLogits: ws.logits)
        if backward { self.backward(ws) }
        return (sum, count)
    }
}

/// `softmax(logits)[target]` in double precision over `vocab` logits.
@inline(__always)
func softmaxProbability(_ logits: UnsafePointer<Float>, _ vocab: Int, _ target: Int) -> Double {
    var mx = -Float.infinity
    for v in 0..<vocab { mx = max(mx, logits[v]) }
    var sum = 0.0
    for v in 0..<vocab { sum += exp(Double(logits[v] - mx)) }
    return exp(Double(logits[target] - mx)) / sum
}
