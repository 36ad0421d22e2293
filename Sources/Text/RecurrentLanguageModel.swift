// The recurrent language model: token embedding, N stacked LSTM or GRU layers (NNCore's RecurrentLayer), and a
// linear read-out; trained by teacher forcing with backpropagation through time, decoded with O(1) state per token.
import AREngine
import AtomicIO
import CKernels
import Foundation
import NNCore

/// A text model's config.json holds a value out of range (the file and the reason).
public enum TextModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(file: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfig(let f, let r): return MessageText.oneLine("\(f): invalid model config: \(r)")
        }
    }
}

/// Config of a recurrent language model (`"model_type": "recurrent_lm"`): the char-RNN of Karpathy (2015) and of
/// Graves (2013, "Generating sequences with recurrent neural networks"), with a learned input embedding.
public struct RecurrentLMConfig: Codable, Equatable, Sendable, ModelConfiguration {
    public var modelType: String = "recurrent_lm"
    /// `lstm` or `gru`.
    public var cell: RecurrentCell
    /// Number of token classes (258 for `ByteTokenizer`).
    public var vocabSize: Int
    /// Width of the token embedding (the first layer's input).
    public var embeddingDim: Int
    /// Units of every recurrent layer (H).
    public var hiddenSize: Int
    /// Stacked recurrent layers.
    public var numLayers: Int

    enum CodingKeys: String, CodingKey {
        case cell
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case embeddingDim = "embedding_dim"
        case hiddenSize = "hidden_size"
        case numLayers = "num_layers"
    }

    public init(cell: RecurrentCell, vocabSize: Int = ByteTokenizer.vocabularySize, embeddingDim: Int, hiddenSize: Int, numLayers: Int) {
        self.cell = cell
        self.vocabSize = vocabSize
        self.embeddingDim = embeddingDim
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
    }

    /// - Throws: `TextModelError.invalidConfig` naming the field and value.
    public func validate(file: String = "config.json") throws {
        func fail(_ r: String) -> TextModelError { .invalidConfig(file: file, reason: r) }
        guard modelType == "recurrent_lm" else { throw fail("model_type must be \"recurrent_lm\", got \"\(modelType)\"") }
        guard (2...65536).contains(vocabSize) else { throw fail("vocab_size must be in 2...65536, got \(vocabSize)") }
        guard (1...8192).contains(embeddingDim) else { throw fail("embedding_dim must be in 1...8192, got \(embeddingDim)") }
        guard (1...8192).contains(hiddenSize) else { throw fail("hidden_size must be in 1...8192, got \(hiddenSize)") }
        guard (1...64).contains(numLayers) else { throw fail("num_layers must be in 1...64, got \(numLayers)") }
        // The bounds above keep this within 64 bits.
        guard parameterCount <= ModelLimits.maxParameters else {
            throw fail("the model would have \(parameterCount) parameters, more than the limit of \(ModelLimits.maxParameters)")
        }
    }

    /// Number of parameters.
    public var parameterCount: Int {
        let G = cell.gates * hiddenSize, E = embeddingDim, H = hiddenSize
        return vocabSize * E + G * (E + H + 2) + (numLayers - 1) * G * (2 * H + 2) + H * vocabSize + vocabSize
    }
}

/// Embedding → `num_layers` × (LSTM | GRU) → linear read-out, over tokens, in one `ParameterSet`.
///
/// | name | shape |
/// |---|---|
/// | `embedding.weight` | `[vocab, E]` |
/// | `rnn.weight_ih_l{k}`, `rnn.weight_hh_l{k}` | `[G, in_k]`, `[G, H]` (`G` = 4H LSTM, 3H GRU; `in_0 = E`, else `H`) |
/// | `rnn.bias_ih_l{k}`, `rnn.bias_hh_l{k}` | `[G]`, `[G]` |
/// | `head.weight`, `head.bias` | `[H, vocab]`, `[vocab]` |
///
/// The recurrent tensors are PyTorch's `nn.LSTM`/`nn.GRU(E, H, num_layers)` state dict under `rnn.`
/// (`RecurrentLayer`); the read-out is stored `[in, out]` like the transformer's head (PyTorch's `nn.Linear` weight
/// transposed). Activations are time-major `[time, batch, channels]`.
///
/// Training (`TeacherForcedTokenModel`): each window starts from the zero state and the gradient flows back through
/// every step of it (backpropagation through time truncated at the window, Williams & Peng 1990); `streamingLoss`
/// starts a window from the state the previous one ended in (dynamic evaluation reads a file that way). Decoding
/// (`AutoregressiveModel`): the state is each layer's `h` (and `c`), allocated once; a step costs the same at any
/// position, so `contextLength` is unbounded.
public final class RecurrentLanguageModel {
    public let config: RecurrentLMConfig
    public let parameters: ParameterSet
    public let layers: [RecurrentLayer]
    let embedding, headW, headB: Int
    let workspaces = WorkspaceCache<RecurrentLMWorkspace>()

    /// A model of `config` with zero weights. - Precondition: `config.validate()` passes.
    public init(config: RecurrentLMConfig) {
        self.config = config
        let layout = Self.layout(config)
        let params = ParameterSet(layout: layout)
        parameters = params
        embedding = layout.offset("embedding.weight")
        headW = layout.offset("head.weight")
        headB = layout.offset("head.bias")
        let c = config
        layers = (0..<c.numLayers).map {
            RecurrentLayer(c.cell, inputSize: $0 == 0 ? c.embeddingDim : c.hiddenSize, hiddenSize: c.hiddenSize,
                           names: .init(prefix: "rnn.", layer: $0), resolvingIn: params)
        }
    }

    /// The tensors of a model of `config` (the table above), without allocating them.
    public static func layout(_ c: RecurrentLMConfig) -> ParameterLayout {
        var p = ParameterLayout()
        let G = c.cell.gates * c.hiddenSize
        p.add("embedding.weight", shape: [c.vocabSize, c.embeddingDim])
        for k in 0..<c.numLayers {
            let n = RecurrentLayer.Names(prefix: "rnn.", layer: k)
            p.add(n.weightIH, shape: [G, k == 0 ? c.embeddingDim : c.hiddenSize])
            p.add(n.weightHH, shape: [G, c.hiddenSize])
            p.add(n.biasIH, shape: [G])
            p.add(n.biasHH, shape: [G])
        }
        p.add("head.weight", shape: [c.hiddenSize, c.vocabSize])
        p.add("head.bias", shape: [c.vocabSize])
        return p
    }

    /// PyTorch's defaults: embedding N(0, 1), recurrent weights and biases U(-1/√H, 1/√H), read-out U(-1/√H, 1/√H).
    public func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        parameters.initNormal("embedding.weight", std: 1, rng: &rng)
        for l in layers { l.initialize(parameters, rng: &rng) }
        let bound = 1 / Float(config.hiddenSize).squareRoot()
        parameters.initUniform("head.weight", bound: bound, rng: &rng)
        parameters.initUniform("head.bias", bound: bound, rng: &rng)
    }

    public func workspace(batch: Int, time: Int) -> RecurrentLMWorkspace {
        workspaces.workspace(for: [batch, time]) { RecurrentLMWorkspace(model: self, batch: batch, time: time) }
    }

    /// Teacher-forced forward over `ws.inputs` `[time, batch]` from the zero state; logits `[time, batch, vocab]`
    /// are left in `ws.logits`.
    public func forward(_ ws: RecurrentLMWorkspace) { forward(ws, from: nil) }

    /// `forward` from each layer's state in `initial` (nil: zeros) instead of the zero state.
    /// - Precondition: `initial` was made for this model and `ws.batch`.
    public func forward(_ ws: RecurrentLMWorkspace, from initial: RecurrentLMState?) {
        let c = config, W = parameters.values, N = ws.batch * ws.time
        precondition(initial.map { $0.batch == ws.batch && $0.layers.count == layers.count } ?? true,
                     "forward: a state for another batch or model")
        Layers.embeddingForward(table: W + embedding, dim: c.embeddingDim, indices: ws.inputs, rows: N, out: ws.embedded)
        for (l, layer) in layers.enumerated() {
            layer.forward(parameters, x: l == 0 ? UnsafePointer(ws.embedded) : ws.recurrent[l - 1].output, time: ws.time,
                          h0: initial.map { UnsafePointer($0.layers[l].hidden) }, c0: initial?.layers[l].cellOrNil,
                          workspace: ws.recurrent[l])
        }
        Layers.denseForward(x: ws.recurrent[layers.count - 1].output, rows: N, inDim: c.hiddenSize, weight: W + headW,
                            bias: W + headB, outDim: c.vocabSize, y: ws.logits)
    }

    /// Backward of `forward` from the logits' gradient in `ws.logits`: accumulates every parameter's gradient.
    public func backward(_ ws: RecurrentLMWorkspace) {
        let c = config, W = parameters.values, G = parameters.grads, N = ws.batch * ws.time, H = c.hiddenSize
        var dOut = ws.dHiddenA, dIn = ws.dHiddenB
        dOut.update(repeating: 0, count: N * H)
        Layers.denseBackward(x: ws.recurrent[layers.count - 1].output, rows: N, inDim: H, weight: W + headW,
                             outDim: c.vocabSize, dy: ws.logits, dx: dOut, dWeight: G + headW, dBias: G + headB)
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            let dx = l == 0 ? ws.dEmbedded : dIn
            dx.update(repeating: 0, count: N * layers[l].inputSize)
            layers[l].backward(parameters, x: l == 0 ? UnsafePointer(ws.embedded) : ws.recurrent[l - 1].output, dOutput: dOut,
                               dx: dx, dh0: nil, workspace: ws.recurrent[l])
            swap(&dOut, &dIn)
        }
        Layers.embeddingBackward(dOut: ws.dEmbedded, indices: ws.inputs, rows: N, dim: c.embeddingDim, dTable: G + embedding)
    }
}

extension RecurrentLanguageModel: TokenModel {
    public static let modelType = "recurrent_lm"
    public static let kind = "recurrent text model"
    public static let usage = "synth text generate --model"

    public var summary: String {
        let c = config
        return "\(c.cell.rawValue): \(c.numLayers) layer\(c.numLayers == 1 ? "" : "s") of \(c.hiddenSize), embedding \(c.embeddingDim), vocab \(c.vocabSize), \(parameters.count) parameters"
    }
}

extension RecurrentLanguageModel: TeacherForcedTokenModel {
    public var tokenLayout: TokenBatch.Layout { .timeMajor }

    /// `loss` carrying the state from window to window: with `continuing`, each layer starts from the state the
    /// previous call's window (of the same batch and time) ended in; the gradient stops at the window's start.
    public func streamingLoss(_ batch: TokenBatch, backward: Bool, continuing: Bool) -> (sum: Double, count: Int) {
        carriedLoss(batch, backward: backward, continuing: continuing, probabilities: nil)
    }

    /// `streamingLoss` with each scored target's probability (`TokenModel`), from the same pass.
    public func streamingLoss(_ batch: TokenBatch, backward: Bool, continuing: Bool,
                              probabilities: UnsafeMutablePointer<Double>) -> (sum: Double, count: Int) {
        carriedLoss(batch, backward: backward, continuing: continuing, probabilities: probabilities)
    }

    private func carriedLoss(_ batch: TokenBatch, backward: Bool, continuing: Bool,
                             probabilities: UnsafeMutablePointer<Double>?) -> (sum: Double, count: Int) {
        let carried = workspace(batch: batch.batch, time: batch.time).carried
        return teacherForcedLoss(batch, backward: backward, probabilities: probabilities) { ws in
            forward(ws, from: continuing ? carried : nil)
            for (l, state) in carried.layers.enumerated() { state.load(finalStateOf: ws.recurrent[l]) }
        }
    }
}

extension RecurrentLanguageModel: AutoregressiveModel {
    public var vocabularySize: Int { config.vocabSize }
    public var contextLength: Int { Int.max }

    /// Teacher-forced logits `[batch, time, vocab]` (batch-major, as the protocol says) for `tokens` `[batch][time]`.
    public func logits(_ tokens: [[Int]]) -> [Float] {
        let (B, T) = logitsShape(tokens)
        let V = config.vocabSize
        let ws = workspace(batch: B, time: T)
        for b in 0..<B { for t in 0..<T { ws.inputs[t * B + b] = Int32(tokens[b][t]) } }
        forward(ws)
        return Layers.batchMajor(ws.logits, time: T, batch: B, width: V)
    }

    public func makeState(batch: Int) -> RecurrentLMState { RecurrentLMState(model: self, batch: batch) }

    public func reset(_ state: inout RecurrentLMState) { state.layers.forEach { $0.reset() } }

    /// Feeds one token per sequence and writes the next-token logits `[batch, vocab]`: an embedding row, one step of
    /// every layer, the read-out. Allocates nothing.
    public func step(_ tokens: [Int], state s: inout RecurrentLMState, logits: UnsafeMutablePointer<Float>) {
        let c = config, W = parameters.values, E = c.embeddingDim, V = c.vocabSize, H = c.hiddenSize
        precondition(tokens.count == s.batch, "step: \(tokens.count) tokens for a batch of \(s.batch)")
        for (b, tok) in tokens.enumerated() {
            precondition(tok >= 0 && tok < V, "step: token \(tok) outside the vocabulary")
            (s.x + b * E).update(from: W + embedding + tok * E, count: E)
        }
        for (l, layer) in layers.enumerated() {
            layer.step(parameters, x: l == 0 ? UnsafePointer(s.x) : UnsafePointer(s.layers[l - 1].hidden), state: s.layers[l])
        }
        let top = s.layers[layers.count - 1].hidden
        for b in 0..<s.batch { synth_vecmat(top + b * H, W + headW, W + headB, H, V, logits + b * V) }
    }
}

/// The decoding state of a `RecurrentLanguageModel`: every layer's `h` (and `c`) for `batch` sequences, and the
/// embedded input `[batch, E]`. Allocated once.
public final class RecurrentLMState {
    public let batch: Int
    public let layers: [RecurrentState]
    let scratch = Scratch()
    let x: UnsafeMutablePointer<Float>

    init(model: RecurrentLanguageModel, batch: Int) {
        self.batch = batch
        layers = model.layers.map { RecurrentState(layer: $0, batch: batch) }
        x = scratch.floats(batch * model.config.embeddingDim)
    }

    /// Floats held per batch (for memory reports): states and step scratch.
    public var floats: Int { batch * layers.reduce(0) { $0 + $1.layer.hiddenSize * ($1.layer.cell.hasCellState ? 2 : 1) } }
}

/// The buffers of one teacher-forced pass over `[time, batch]` tokens, allocated once per shape.
public final class RecurrentLMWorkspace: TokenWorkspace {
    public let batch, time: Int
    let scratch = Scratch()
    public let inputs, targets: UnsafeMutablePointer<Int32>
    public let logits: UnsafeMutablePointer<Float>
    let embedded, dEmbedded, dHiddenA, dHiddenB: UnsafeMutablePointer<Float>
    let recurrent: [RecurrentWorkspace]
    /// The state the last `streamingLoss` window ended in.
    let carried: RecurrentLMState

    init(model: RecurrentLanguageModel, batch: Int, time: Int) {
        self.batch = batch
        self.time = time
        let c = model.config, N = batch * time
        inputs = .allocate(capacity: N); targets = .allocate(capacity: N)
        inputs.initialize(repeating: 0, count: N); targets.initialize(repeating: -1, count: N)
        logits = scratch.floats(N * c.vocabSize)
        embedded = scratch.floats(N * c.embeddingDim)
        dEmbedded = scratch.floats(N * c.embeddingDim)
        dHiddenA = scratch.floats(N * c.hiddenSize)
        dHiddenB = scratch.floats(N * c.hiddenSize)
        recurrent = model.layers.map { RecurrentWorkspace(layer: $0, batch: batch, maxTime: time) }
        carried = RecurrentLMState(model: model, batch: batch)
    }

    deinit { inputs.deallocate(); targets.deallocate() }
}
