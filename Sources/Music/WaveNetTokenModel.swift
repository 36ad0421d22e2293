// The WaveNet residual stack over event tokens, trained by the same Trainer as the transformer.
import AREngine
import DSP
import Foundation
import NNCore
import WaveNet

/// Config of a WaveNet over tokens (`"model_type": "wavenet_tokens"`): the vocabulary and a `WaveNetConfig`
/// whose `classes` equal it. The mel conditioning is degenerate (one bin of zeros, one speaker), so the
/// conditioning network reduces to learned biases and the stack models `p(x_t | x_<t)` over its
/// receptive field.
public struct WaveNetTokenConfig: Codable, Equatable, Sendable {
    public var modelType: String = "wavenet_tokens"
    public var vocabSize: Int
    public var wavenet: WaveNetConfig

    enum CodingKeys: String, CodingKey {
        case wavenet
        case modelType = "model_type"
        case vocabSize = "vocab_size"
    }

    /// A token WaveNet: dilations 1...2^(cycle-1) repeated `stacks` times, the given channel widths.
    public init(vocabSize: Int, dilations: [Int], residualChannels: Int, gateChannels: Int, skipChannels: Int) {
        self.vocabSize = vocabSize
        var f = FeatureConfig.default
        f.nMels = 1
        wavenet = WaveNetConfig(dilations: dilations, residualChannels: residualChannels, gateChannels: gateChannels,
                                skipChannels: skipChannels, classes: vocabSize, condChannels: 1, speakerEmbeddingDim: 1,
                                speakers: ["tokens"], features: f)
    }

    /// - Throws: `MusicModelError.invalidConfig` naming the problem.
    public func validate(file: String = "config.json") throws {
        func fail(_ r: String) -> MusicModelError { .invalidConfig(file: file, reason: r) }
        guard modelType == "wavenet_tokens" else { throw fail("model_type must be \"wavenet_tokens\", got \"\(modelType)\"") }
        guard wavenet.classes == vocabSize else { throw fail("wavenet.classes \(wavenet.classes) must equal vocab_size \(vocabSize)") }
        guard wavenet.melBins == 1, wavenet.speakers.count == 1 else { throw fail("a token WaveNet has 1 mel bin and 1 speaker") }
        do { try wavenet.validate(file: file) } catch VoiceError.invalidConfig(_, let reason) { throw fail("wavenet: \(reason)") }
    }
}

/// Adapts `WaveNetModel` to token sequences: `input_embedding` is the token embedding, the
/// conditioning is a single frame of zeros, and incremental decoding uses `WaveNetGenerator`'s queues
/// (O(layers) per token, unbounded context; the receptive field bounds what it can use).
public final class WaveNetTokenModel {
    public let config: WaveNetTokenConfig
    public let model: WaveNetModel
    var workspaces: [String: WaveNetWorkspace] = [:]

    public init(config: WaveNetTokenConfig) {
        self.config = config
        model = WaveNetModel(config: config.wavenet)
    }

    public func initialize(seed: UInt64) { model.initialize(seed: seed) }

    /// Time-major WaveNet batch from batch-major token rows: input `tokens[b][t]` (padding read as 0),
    /// target `tokens[b][t+1]` (the ignore index and out-of-range ids unscored).
    func wavenetBatch(_ tokens: [[Int]], time T: Int, ignoreIndex: Int, targets scored: Bool) -> WaveNetBatch {
        let B = tokens.count, V = config.vocabSize, frames = T / config.wavenet.features.hopLength + 1
        var inputs = [Int32](repeating: 0, count: T * B), targets = [Int32](repeating: -1, count: T * B)
        for b in 0..<B {
            for t in 0..<T {
                let x = tokens[b][t]
                inputs[t * B + b] = Int32(x >= 0 && x < V ? x : 0)
                if scored { let y = tokens[b][t + 1]; if y != ignoreIndex && y >= 0 && y < V { targets[t * B + b] = Int32(y) } }
            }
        }
        return WaveNetBatch(time: T, batch: B, inputs: inputs, targets: targets, mels: [Float](repeating: 0, count: frames * B),
                            frames: frames, speakers: [Int32](repeating: 0, count: B))
    }

    func workspace(_ b: WaveNetBatch) -> WaveNetWorkspace {
        let key = "\(b.time)x\(b.batch)"
        if let ws = workspaces[key] { return ws }
        let ws = WaveNetWorkspace(config: config.wavenet, time: b.time, batch: b.batch, frames: b.frames)
        workspaces[key] = ws
        return ws
    }
}

extension WaveNetTokenModel: TrainableModel {
    public var parameters: ParameterSet { model.params }

    public func loss(_ batch: TokenBatch, backward: Bool) -> (sum: Double, count: Int) {
        let b = wavenetBatch(batch.tokens, time: batch.time, ignoreIndex: batch.ignoreIndex, targets: true)
        let r = model.run(b, workspace: workspace(b), backward: backward)
        return (r.loss, r.count)
    }
}

extension WaveNetTokenModel: AutoregressiveModel {
    public var vocabularySize: Int { config.vocabSize }
    public var contextLength: Int { Int.max }

    /// Teacher-forced logits `[batch, time, vocab]` (transposed from WaveNet's time-major layout).
    public func logits(_ tokens: [[Int]]) -> [Float] {
        let B = tokens.count, T = tokens.first?.count ?? 0, V = config.vocabSize
        precondition(B > 0 && T > 0 && tokens.allSatisfy { $0.count == T }, "logits: rows must be non-empty and of equal length")
        let padded = tokens.map { $0 + [-1] }
        let b = wavenetBatch(padded, time: T, ignoreIndex: -1, targets: false)
        let ws = workspace(b)
        model.run(b, workspace: ws, backward: false)
        var out = [Float](repeating: 0, count: B * T * V)
        for t in 0..<T { for bi in 0..<B { for v in 0..<V { out[(bi * T + t) * V + v] = ws.logits[(t * B + bi) * V + v] } } }
        return out
    }

    /// One `WaveNetGenerator` per sequence.
    public func makeState(batch: Int) -> [WaveNetGenerator] {
        (0..<batch).map { _ in
            let g = WaveNetGenerator(model: model, maxFrames: 1)
            g.start(mels: [0], frames: 1, speaker: 0)
            return g
        }
    }

    public func reset(_ state: inout [WaveNetGenerator]) {
        for g in state { g.start(mels: [0], frames: 1, speaker: 0) }
    }

    public func step(_ tokens: [Int], state: inout [WaveNetGenerator], logits: UnsafeMutablePointer<Float>) {
        precondition(tokens.count == state.count, "step: \(tokens.count) tokens for a batch of \(state.count)")
        let V = config.vocabSize
        for (b, g) in state.enumerated() {
            precondition(tokens[b] >= 0 && tokens[b] < V, "step: token \(tokens[b]) outside the vocabulary")
            (logits + b * V).update(from: g.step(previous: tokens[b]), count: V)
        }
    }
}
