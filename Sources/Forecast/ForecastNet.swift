// The neural forecaster: each past value (its bin's centre) read by NNCore's causal convolution stack, the next
// value's bin predicted by the post-net; trained by teacher forcing, decoded with the stack's queues.
import AREngine
import Foundation
import NNCore

/// A WaveNet over a quantised series (van den Oord et al. 2016, as in the vocoder, with the value itself as input):
/// `p(q[t+1] | q[0...t])` over `bins` classes, `q` the bins of `SeriesScaling`.
///
/// | name | shape |
/// |---|---|
/// | `input.weight`, `input.bias` | `[1, R]`, `[R]`: `h_0[t] = u[t] · input.weight + input.bias`, `u` the bin centre in [-1, 1] |
/// | `layers.{l}.*` | `CausalConvStack` |
/// | `post.*` | `PostNet` (classes = bins) |
///
/// Rows are time-major (`[time, batch, ·]`). Incremental decoding keeps the stack's queues: O(layers) per step.
public final class ForecastNet {
    public let config: ForecastNetConfig
    public let parameters: ParameterSet
    let inputWeight, inputBias: Int
    let stack: CausalConvStack
    let postNet: PostNet
    let workspaces = WorkspaceCache<ForecastWorkspace>()

    /// A model of `config` with zero weights. - Precondition: `config` is valid.
    public init(config: ForecastNetConfig) {
        self.config = config
        let layout = Self.layout(config)
        parameters = ParameterSet(layout: layout)
        inputWeight = layout.offset("input.weight")
        inputBias = layout.offset("input.bias")
        stack = CausalConvStack(config.stack, layout: layout)
        postNet = PostNet(skip: config.skipChannels, classes: config.bins, layout: layout)
    }

    /// The tensors of a model of `config` (the table above).
    public static func layout(_ config: ForecastNetConfig) -> ParameterLayout {
        var p = ParameterLayout()
        p.add("input.weight", shape: [1, config.residualChannels])
        p.add("input.bias", shape: [config.residualChannels])
        CausalConvStack.addParameters(config.stack, to: &p)
        PostNet.addParameters(skip: config.skipChannels, classes: config.bins, to: &p)
        return p
    }

    /// Random initialisation: N(0, 1) input weights, then the stack's and the post-net's.
    public func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        parameters.initNormal("input.weight", std: 1, rng: &rng)
        stack.initialize(parameters, rng: &rng)
        postNet.initialize(parameters, rng: &rng)
    }

    /// The workspace for a batch shape (kept in a bounded cache).
    public func workspace(batch: Int, time: Int) -> ForecastWorkspace {
        workspaces.workspace(for: [time, batch]) { ForecastWorkspace(config, time: time, batch: batch) }
    }

    /// The teacher-forced pass from `ws.inputs` (bin centres in [-1, 1], `[time, batch]`) to `ws.logits`
    /// `[time, batch, bins]`.
    public func forward(_ ws: ForecastWorkspace) {
        let N = ws.stack.time * ws.stack.batch, R = config.residualChannels, W = parameters.values
        Layers.denseForward(x: ws.inputs, rows: N, inDim: 1, weight: W + inputWeight, bias: W + inputBias, outDim: R, y: ws.stack.h)
        stack.forward(ws.stack, parameters: parameters)
        postNet.forward(skip: ws.stack.skip, rows: N, hidden: ws.hidden, logits: ws.logits, parameters: parameters)
    }

    /// Backward of `forward` from the logits' gradient in `ws.logits`: accumulates every parameter's gradient.
    public func backward(_ ws: ForecastWorkspace) {
        let N = ws.stack.time * ws.stack.batch, R = config.residualChannels, W = parameters.values, G = parameters.grads
        postNet.backward(skip: ws.stack.skip, hidden: ws.hidden, dLogits: ws.logits, rows: N, dHidden: ws.dHidden,
                         dSkip: ws.stack.dSkip, parameters: parameters)
        stack.backward(ws.stack, parameters: parameters)
        Layers.denseBackward(x: ws.inputs, rows: N, inDim: 1, weight: W + inputWeight, outDim: R, dy: ws.stack.dh, dx: nil,
                             dWeight: G + inputWeight, dBias: G + inputBias)
    }
}

/// Activations of one teacher-forced pass over `[time, batch]` (time-major), allocated once per shape.
public final class ForecastWorkspace {
    let scratch = Scratch()
    let stack: CausalConvWorkspace
    let hidden, dHidden: UnsafeMutablePointer<Float>  // [N, S]
    /// Inputs `[N]` (bin centres in [-1, 1]) and logits `[N, bins]` (their gradient before `backward`).
    public let inputs, logits: UnsafeMutablePointer<Float>
    /// Target bins `[N]`, -1 where not scored.
    public let targets: UnsafeMutablePointer<Int32>

    init(_ c: ForecastNetConfig, time: Int, batch: Int) {
        let N = time * batch
        stack = CausalConvWorkspace(c.stack, time: time, batch: batch)
        hidden = scratch.floats(N * c.skipChannels); dHidden = scratch.floats(N * c.skipChannels)
        inputs = scratch.floats(N); logits = scratch.floats(N * c.bins)
        targets = .allocate(capacity: N)
        targets.initialize(repeating: -1, count: N)
    }

    deinit { targets.deallocate() }
}

/// Training windows of a quantised series: `windows[b]` holds `time + 1` bins; the model reads bins `0..<time` and is
/// scored on predicting bins `scoredFrom + 1 ... time` (the earlier ones see less than the receptive field, as no
/// forecast does). `inputNoise[b][t]`, if given, is added to what the model reads at position `t` (in its [-1, 1]
/// input units): a regulariser for series of a few hundred values, which a network would otherwise memorise.
public struct SeriesBatch: Sendable {
    public var windows: [[Int]]
    public var scoredFrom: Int
    public var inputNoise: [[Float]]?

    public init(windows: [[Int]], scoredFrom: Int, inputNoise: [[Float]]? = nil) {
        precondition(!windows.isEmpty && windows.allSatisfy { $0.count == windows[0].count && $0.count >= 2 },
                     "a series batch needs windows of equal length >= 2")
        precondition(scoredFrom >= 0 && scoredFrom < windows[0].count - 1, "scoredFrom must leave a target")
        precondition(inputNoise.map { $0.count == windows.count && $0.allSatisfy { $0.count == windows[0].count - 1 } } ?? true,
                     "inputNoise must be [batch][time]")
        self.windows = windows
        self.scoredFrom = scoredFrom
        self.inputNoise = inputNoise
    }

    public var time: Int { windows[0].count - 1 }
}

extension ForecastNet: TrainableModel {
    /// Summed cross-entropy (nats) over the scored targets and their number; with `backward`, accumulates the
    /// gradient of the mean.
    public func loss(_ batch: SeriesBatch, backward: Bool) -> (sum: Double, count: Int) {
        let T = batch.time, B = batch.windows.count, V = config.bins
        let ws = workspace(batch: B, time: T)
        var count = 0
        for (b, w) in batch.windows.enumerated() {
            for t in 0..<T {
                precondition(w[t] >= 0 && w[t] < V && w[t + 1] >= 0 && w[t + 1] < V, "bin outside 0..<bins")
                ws.inputs[t * B + b] = SeriesScaling.input(bin: w[t], bins: V) + (batch.inputNoise?[b][t] ?? 0)
                let scored = t >= batch.scoredFrom
                ws.targets[t * B + b] = scored ? Int32(w[t + 1]) : -1
                if scored { count += 1 }
            }
        }
        forward(ws)
        let scale: Float = backward && count > 0 ? 1 / Float(count) : 0
        let sum = Layers.softmaxCrossEntropy(logits: ws.logits, targets: ws.targets, rows: T * B, vocab: V, scale: scale, dLogits: ws.logits)
        if backward { self.backward(ws) }
        return (sum, count)
    }
}

extension ForecastNet: ModelFamily {
    public static let modelType = "forecast_wavenet"
    public static let kind = "neural forecaster"
    public static let usage = "synth forecast --model neural --load-model"

    public var summary: String {
        let c = config
        return "forecast wavenet: \(c.bins) bins, \(c.dilations.count) layers, receptive field \(c.receptiveField) steps, residual \(c.residualChannels), \(parameters.count) parameters"
    }
}

extension ForecastNet: AutoregressiveModel {
    public var vocabularySize: Int { config.bins }
    public var contextLength: Int { Int.max }

    /// Teacher-forced logits `[batch, time, bins]` of the bins `tokens` `[batch][time]`.
    public func logits(_ tokens: [[Int]]) -> [Float] {
        let (B, T) = logitsShape(tokens)
        let V = config.bins
        let ws = workspace(batch: B, time: T)
        for (b, row) in tokens.enumerated() { for t in 0..<T { ws.inputs[t * B + b] = SeriesScaling.input(bin: row[t], bins: V) } }
        forward(ws)
        return Layers.batchMajor(ws.logits, time: T, batch: B, width: V)
    }

    /// The stack's queues and the post-net's hidden rows for `batch` sequences.
    public func makeState(batch: Int) -> StackDecodingState { StackDecodingState(config.stack, rows: batch) }

    public func reset(_ state: inout StackDecodingState) { state.reset() }

    /// Feeds one bin per sequence through the stack's queues and writes the next bin's logits `[batch, bins]`.
    /// O(layers) work; allocates nothing.
    public func step(_ tokens: [Int], state: inout StackDecodingState, logits: UnsafeMutablePointer<Float>) {
        let s = state.conv, R = config.residualChannels, V = config.bins, W = parameters.values
        precondition(tokens.count == s.rows, "step: \(tokens.count) bins for a batch of \(s.rows)")
        for (b, q) in tokens.enumerated() {
            precondition(q >= 0 && q < V, "step: bin \(q) outside 0..<\(V)")
            let u = SeriesScaling.input(bin: q, bins: V), h = s.input + b * R
            for i in 0..<R { h[i] = u * W[inputWeight + i] + W[inputBias + i] }
        }
        postNet.step(stack, state: state, logits: logits, parameters: parameters)
    }
}
