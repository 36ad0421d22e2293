// A WaveNet over event tokens: token embeddings into NNCore's causal convolution stack and post-net.
import AREngine
import Foundation
import NNCore

/// Config of a WaveNet over tokens (`"model_type": "wavenet_tokens"`): the vocabulary and the stack's sizes.
///
/// Folders saved before the family had its own config hold the vocoder's config under a `wavenet` key, with a
/// degenerate conditioning network (one mel bin of zeros, one speaker). They still load: the config is read from
/// that key (`legacyConditioning` records the conditioning's sizes), and loading folds the conditioning, constant
/// for every token, into the convolution biases (`WaveNetTokenModel.load`). Saving writes the current layout.
public struct WaveNetTokenConfig: Codable, Equatable, Sendable {
    public var modelType: String = "wavenet_tokens"
    /// Number of token classes (390 for `PerformanceTokenizer`).
    public var vocabSize: Int
    /// Dilation of each layer, in tokens.
    public var dilations: [Int]
    /// Channels of the residual stream (R), the gated convolutions (G, tanh and sigmoid halves) and the skip sum (S).
    public var residualChannels: Int
    public var gateChannels: Int
    public var skipChannels: Int
    /// The conditioning network of a folder in the old layout (`cond_channels`, `speaker_embedding_dim`); nil otherwise.
    public var legacyConditioning: LegacyConditioning?

    public struct LegacyConditioning: Equatable, Sendable {
        public var condChannels: Int
        public var speakerEmbeddingDim: Int
    }

    enum CodingKeys: String, CodingKey {
        case dilations, wavenet
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case residualChannels = "residual_channels"
        case gateChannels = "gate_channels"
        case skipChannels = "skip_channels"
        case condChannels = "cond_channels"
        case speakerEmbeddingDim = "speaker_embedding_dim"
        case condLayers = "cond_layers"
        case classes, speakers
    }

    /// A token WaveNet with the given dilations and channel widths.
    public init(vocabSize: Int, dilations: [Int], residualChannels: Int, gateChannels: Int, skipChannels: Int) {
        self.vocabSize = vocabSize
        self.dilations = dilations
        self.residualChannels = residualChannels
        self.gateChannels = gateChannels
        self.skipChannels = skipChannels
    }

    /// Decodes the current layout, or the old one (sizes under `wavenet`, checked to be the degenerate conditioning).
    public init(from decoder: Decoder) throws {
        let top = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try top.decodeIfPresent(String.self, forKey: .modelType) ?? "wavenet_tokens"
        vocabSize = try top.decode(Int.self, forKey: .vocabSize)
        let legacy = top.contains(.wavenet)
        let k = legacy ? try top.nestedContainer(keyedBy: CodingKeys.self, forKey: .wavenet) : top
        dilations = try k.decode([Int].self, forKey: .dilations)
        residualChannels = try k.decode(Int.self, forKey: .residualChannels)
        gateChannels = try k.decode(Int.self, forKey: .gateChannels)
        skipChannels = try k.decode(Int.self, forKey: .skipChannels)
        if legacy {
            legacyConditioning = LegacyConditioning(condChannels: try k.decode(Int.self, forKey: .condChannels),
                                                    speakerEmbeddingDim: try k.decode(Int.self, forKey: .speakerEmbeddingDim))
            let context = DecodingError.Context(codingPath: k.codingPath, debugDescription: "")
            guard try k.decodeIfPresent(Int.self, forKey: .condLayers) ?? 0 == 0 else {
                throw DecodingError.dataCorrupted(.init(codingPath: context.codingPath + [CodingKeys.condLayers],
                                                        debugDescription: "a token WaveNet has no conditioning blocks"))
            }
            guard try k.decodeIfPresent([String].self, forKey: .speakers)?.count ?? 1 == 1,
                  try k.decodeIfPresent(Int.self, forKey: .classes) ?? vocabSize == vocabSize else {
                throw DecodingError.dataCorrupted(.init(codingPath: context.codingPath + [CodingKeys.classes],
                                                        debugDescription: "a token WaveNet has one speaker and vocab_size classes"))
            }
        }
    }

    /// Writes the current layout.
    public func encode(to encoder: Encoder) throws {
        var k = encoder.container(keyedBy: CodingKeys.self)
        try k.encode(modelType, forKey: .modelType)
        try k.encode(vocabSize, forKey: .vocabSize)
        try k.encode(dilations, forKey: .dilations)
        try k.encode(residualChannels, forKey: .residualChannels)
        try k.encode(gateChannels, forKey: .gateChannels)
        try k.encode(skipChannels, forKey: .skipChannels)
    }

    /// The stack's sizes.
    public var stack: CausalConvShape {
        CausalConvShape(dilations: dilations, residualChannels: residualChannels, gateChannels: gateChannels, skipChannels: skipChannels)
    }

    /// Tokens the model can read back: 1 + the sum of the dilations.
    public var receptiveField: Int { stack.receptiveField }

    /// - Throws: `MusicModelError.invalidConfig` naming the field and value.
    public func validate(file: String = "config.json") throws {
        func fail(_ r: String) -> MusicModelError { .invalidConfig(file: file, reason: r) }
        guard modelType == "wavenet_tokens" else { throw fail("model_type must be \"wavenet_tokens\", got \"\(modelType)\"") }
        guard (2...65536).contains(vocabSize) else { throw fail("vocab_size must be in 2...65536, got \(vocabSize)") }
        if let p = stack.problem { throw fail(p) }
        if let l = legacyConditioning, !(1...4096).contains(l.condChannels) || !(1...4096).contains(l.speakerEmbeddingDim) {
            throw fail("wavenet: cond_channels and speaker_embedding_dim must be in 1...4096")
        }
        // The bounds above keep these totals within 64 bits; these bound what the model would allocate.
        let parameters = WaveNetTokenModel.layout(self).count
        guard parameters <= ModelLimits.maxParameters else {
            throw fail("the model would have \(parameters) parameters, more than the limit of \(ModelLimits.maxParameters)")
        }
    }
}

/// A WaveNet over tokens (the vocoder's residual stack without its conditioning): `input_embedding` `[vocab, R]` is the
/// token embedding, read by `CausalConvStack` (`layers.*`) and `PostNet` (`post.*`, classes = vocab). Incremental
/// decoding keeps the stack's queues: O(layers) per token, unbounded context (the receptive field bounds what it uses).
public final class WaveNetTokenModel {
    public let config: WaveNetTokenConfig
    public let parameters: ParameterSet
    let embedding: Int
    let stack: CausalConvStack
    let postNet: PostNet
    let workspaces = WorkspaceCache<TokenStackWorkspace>()

    /// A model of `config` (its current layout) with zero weights.
    public init(config: WaveNetTokenConfig) {
        var current = config
        current.legacyConditioning = nil
        self.config = current
        let layout = Self.layout(current)
        parameters = ParameterSet(layout: layout)
        embedding = layout.offset("input_embedding")
        stack = CausalConvStack(current.stack, layout: layout)
        postNet = PostNet(skip: current.skipChannels, classes: current.vocabSize, layout: layout)
    }

    /// The tensors of a folder of `config`: `input_embedding`, the stack and the post-net, and in the old layout the
    /// conditioning network's (`cond.conv.*`, `cond.proj.weight`, `speaker_embedding`, `speaker.proj.weight`).
    public static func layout(_ config: WaveNetTokenConfig) -> ParameterLayout {
        var p = ParameterLayout()
        let c = config, LG = c.dilations.count * c.gateChannels
        p.add("input_embedding", shape: [c.vocabSize, c.residualChannels])
        if let l = c.legacyConditioning {
            p.add("cond.conv.weight", shape: [3, 1, l.condChannels])
            p.add("cond.conv.bias", shape: [l.condChannels])
            p.add("cond.proj.weight", shape: [l.condChannels, LG])
            p.add("speaker_embedding", shape: [1, l.speakerEmbeddingDim])
            p.add("speaker.proj.weight", shape: [l.speakerEmbeddingDim, LG])
        }
        CausalConvStack.addParameters(c.stack, to: &p)
        PostNet.addParameters(skip: c.skipChannels, classes: c.vocabSize, to: &p)
        return p
    }

    /// The model of a folder. In the old layout (`legacyConditioning`) the weights are checked against that layout;
    /// its conditioning network saw only zeros, so its output is a constant per layer, `ReLU(cond.conv.bias) ·
    /// cond.proj + speaker_embedding · speaker.proj`, which is added to each layer's convolution bias.
    public static func load(config: WaveNetTokenConfig, folder: ModelFolder.Contents) throws -> WaveNetTokenModel {
        let model = WaveNetTokenModel(config: config), weights = folder.weights
        guard let l = config.legacyConditioning else {
            try model.parameters.load(weights)
            return model
        }
        // `ModelFolder.load` checked the file against the old layout; copy the current layout's tensors by name.
        for e in model.parameters.entries { weights.copy(e.name, to: model.parameters.values + e.offset) }
        let G = config.gateChannels, LG = config.dilations.count * G
        let bias = weights.floats("cond.conv.bias"), proj = weights.floats("cond.proj.weight")
        let speaker = weights.floats("speaker_embedding"), speakerProj = weights.floats("speaker.proj.weight")
        for li in 0..<config.dilations.count {
            let b = model.parameters.value("layers.\(li).conv.bias")
            for j in 0..<G {
                var sum: Float = 0
                for c in 0..<l.condChannels { sum += max(bias[c], 0) * proj[c * LG + li * G + j] }
                for e in 0..<l.speakerEmbeddingDim { sum += speaker[e] * speakerProj[e * LG + li * G + j] }
                b[j] += sum
            }
        }
        return model
    }

    /// Random initialisation: N(0, 1) embeddings, then the stack's and the post-net's (`CausalConvStack.initialize`).
    public func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        parameters.initNormal("input_embedding", std: 1, rng: &rng)
        stack.initialize(parameters, rng: &rng)
        postNet.initialize(parameters, rng: &rng)
    }

    /// The teacher-forced pass over `ws.inputs` (time-major token ids): logits `[time, batch, vocab]` in `ws.logits`.
    public func forward(_ ws: TokenStackWorkspace) {
        let N = ws.stack.time * ws.stack.batch
        Layers.embeddingForward(table: parameters.values + embedding, dim: config.residualChannels, indices: ws.inputs,
                                rows: N, out: ws.stack.h)
        stack.forward(ws.stack, parameters: parameters)
        postNet.forward(skip: ws.stack.skip, rows: N, hidden: ws.hidden, logits: ws.logits, parameters: parameters)
    }

    /// Backward of `forward` from the gradient of the logits (in `ws.logits`): accumulates every parameter's gradient.
    public func backward(_ ws: TokenStackWorkspace) {
        let N = ws.stack.time * ws.stack.batch
        postNet.backward(skip: ws.stack.skip, hidden: ws.hidden, dLogits: ws.logits, rows: N, dHidden: ws.dHidden,
                         dSkip: ws.stack.dSkip, parameters: parameters)
        stack.backward(ws.stack, parameters: parameters)
        Layers.embeddingBackward(dOut: ws.stack.dh, indices: ws.inputs, rows: N, dim: config.residualChannels,
                                 dTable: parameters.grads + embedding)
    }

    public func workspace(batch: Int, time: Int) -> TokenStackWorkspace {
        workspaces.workspace(for: [time, batch]) { TokenStackWorkspace(config, time: time, batch: batch) }
    }
}

/// Activations of one teacher-forced pass of a token WaveNet over `[time, batch]` (time-major), allocated once per shape.
public final class TokenStackWorkspace: TokenWorkspace {
    let scratch = Scratch()
    let stack: CausalConvWorkspace
    let hidden, dHidden: UnsafeMutablePointer<Float>  // [N, S], [N, S]
    public let logits: UnsafeMutablePointer<Float>    // [N, vocab]
    public let inputs, targets: UnsafeMutablePointer<Int32>  // [N]

    init(_ c: WaveNetTokenConfig, time: Int, batch: Int) {
        let N = time * batch
        stack = CausalConvWorkspace(c.stack, time: time, batch: batch)
        hidden = scratch.floats(N * c.skipChannels); dHidden = scratch.floats(N * c.skipChannels)
        logits = scratch.floats(N * c.vocabSize)
        inputs = .allocate(capacity: N); targets = .allocate(capacity: N)
        inputs.initialize(repeating: 0, count: N); targets.initialize(repeating: -1, count: N)
    }

    deinit { inputs.deallocate(); targets.deallocate() }
}

extension WaveNetTokenConfig: ModelConfiguration {}

extension WaveNetTokenModel: TokenModel {
    public static let modelType = "wavenet_tokens"
    public static let kind = "music WaveNet over tokens"
    public static let usage = "synth music generate --model"

    public var summary: String {
        let c = config
        return "wavenet over tokens: \(c.dilations.count) layers, receptive field \(c.receptiveField) tokens, residual \(c.residualChannels), \(parameters.count) parameters"
    }
}

extension WaveNetTokenModel: TeacherForcedTokenModel {
    public var tokenLayout: TokenBatch.Layout { .timeMajor }
}

/// The cached state of `WaveNetTokenModel.step`: the stack's queues for every sequence and the post-net's hidden rows.
public typealias WaveNetTokenState = StackDecodingState

extension WaveNetTokenModel: AutoregressiveModel {
    public var vocabularySize: Int { config.vocabSize }
    public var contextLength: Int { Int.max }

    /// Teacher-forced logits `[batch, time, vocab]` (transposed from the stack's time-major layout).
    public func logits(_ tokens: [[Int]]) -> [Float] {
        let (B, T) = logitsShape(tokens)
        let V = config.vocabSize
        let ws = workspace(batch: B, time: T)
        TokenBatch(tokens: tokens.map { $0 + [-1] }).teacherForcing(vocabularySize: V, layout: .timeMajor, inputs: ws.inputs,
                                                                    targets: ws.targets)
        forward(ws)
        return Layers.batchMajor(ws.logits, time: T, batch: B, width: V)
    }

    public func makeState(batch: Int) -> WaveNetTokenState { StackDecodingState(config.stack, rows: batch) }

    public func reset(_ state: inout WaveNetTokenState) { state.reset() }

    /// Feeds one token per sequence through the stack's queues and writes the next-token logits `[batch, vocab]`.
    /// O(layers) work; allocates nothing.
    public func step(_ tokens: [Int], state: inout WaveNetTokenState, logits: UnsafeMutablePointer<Float>) {
        let s = state.conv, R = config.residualChannels, V = config.vocabSize
        precondition(tokens.count == s.rows, "step: \(tokens.count) tokens for a batch of \(s.rows)")
        for (b, tok) in tokens.enumerated() {
            precondition(tok >= 0 && tok < V, "step: token \(tok) outside the vocabulary")
            (s.input + b * R).update(from: parameters.values + embedding + tok * R, count: R)
        }
        postNet.step(stack, state: state, logits: logits, parameters: parameters)
    }
}
