// The gated PixelCNN family: grey-level embeddings into NNCore's gated PixelCNN stack, a class embedding as the
// global gate term, WaveNet's post-net as the head; a token model, so the shared trainer and generation loop serve it.
import AREngine
import Foundation
import NNCore

/// A gated PixelCNN over `levels` grey levels (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
/// Decoders"): `input_embedding` `[levels, C]` feeds `GatedPixelCNNStack` (`layers.*`), `PostNet` (`post.*`, `[C, C]`
/// then `[C, levels]`) turns `h_L` into logits, and with classes `label_embedding` `[classes, layers × 2C]` adds the
/// class's vector to both gates of every layer (global conditioning, as the vocoder's speaker embedding).
///
/// As a token model it reads `[start, pixel 0, ..., pixel P-2]` and predicts pixels `0...P-1`: position `t` holds
/// the distribution of pixel `t` given the class and pixels `< t`; logits of the start tokens are `-inf`.
public final class PixelCNNModel {
    public let config: PixelCNNConfig
    public let parameters: ParameterSet
    let embedding: Int
    let labels: Int?
    let stack: GatedPixelCNNStack
    let head: PostNet
    let workspaces = WorkspaceCache<PixelCNNTokenWorkspace>()

    /// A model of `config` with zero weights. - Precondition: `config` is valid.
    public init(config: PixelCNNConfig) {
        self.config = config
        let layout = Self.layout(config)
        parameters = ParameterSet(layout: layout)
        embedding = layout.offset("input_embedding")
        labels = config.classes > 0 ? layout.offset("label_embedding") : nil
        stack = GatedPixelCNNStack(config.stack, layout: layout)
        head = PostNet(skip: config.channels, classes: config.levels, layout: layout)
    }

    /// The tensors of `config`: `input_embedding`, `label_embedding` (with classes), the stack, the post-net.
    public static func layout(_ c: PixelCNNConfig) -> ParameterLayout {
        var p = ParameterLayout()
        p.add("input_embedding", shape: [c.levels, c.channels])
        if c.classes > 0 { p.add("label_embedding", shape: [c.classes, c.layers * 2 * c.channels]) }
        GatedPixelCNNStack.addParameters(c.stack, to: &p)
        PostNet.addParameters(skip: c.channels, classes: c.levels, to: &p)
        return p
    }

    /// Random initialisation: N(0, 1) grey-level embeddings, N(0, 0.1²) class embeddings, then the stack and the head.
    public func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        parameters.initNormal("input_embedding", std: 1, rng: &rng)
        if config.classes > 0 { parameters.initNormal("label_embedding", std: 0.1, rng: &rng) }
        stack.initialize(parameters, rng: &rng)
        head.initialize(parameters, rng: &rng)
    }

    /// The start token of an image of class `label` (nil: unconditional).
    /// - Throws: `ImageError.label` when the model has no classes and one is asked for, or has classes and none is.
    public func startToken(label: Int?) throws -> Int {
        let c = config
        switch (label, c.classes) {
        case (nil, 0): return c.levels
        case (nil, let k): throw ImageError.label(reason: "this PixelCNN is class-conditional: give a class in 0...\(k - 1) (--digit)")
        case (let l?, 0): throw ImageError.label(reason: "this PixelCNN is unconditional: it takes no --digit (asked for \(l))")
        case (let l?, let k):
            guard (0..<k).contains(l) else { throw ImageError.label(reason: "this PixelCNN knows classes 0...\(k - 1), got \(l)") }
            return c.levels + l
        }
    }

    /// The class read from a start token (nil for an unconditional model). - Precondition: it is a start token.
    func label(ofStart token: Int) -> Int? {
        precondition(token >= config.levels && token < config.vocabSize, "the first token of an image must be a start token, got \(token)")
        return config.classes > 0 ? token - config.levels : nil
    }

    /// Writes each image's gate term `[batch, layers × 2C]` from its start token (class embeddings; nothing without classes).
    func writeGates(starts: (Int) -> Int, batch B: Int, into gate: UnsafeMutablePointer<Float>) {
        guard let labels else { return }
        let G = config.layers * 2 * config.channels
        for b in 0..<B {
            let l = label(ofStart: starts(b))!
            (gate + b * G).update(from: parameters.values + labels + l * G, count: G)
        }
    }

    /// The pixel embeddings of `ws.inputs` (time-major `[start, pixel 0...P-2]`) placed at their pixels: pixel `p` of
    /// image `b` (row `p * B + b`) is token `p + 1`; the last pixel, which no output reads, stays zero.
    func writeInputs(_ ws: PixelCNNTokenWorkspace) {
        let B = ws.stack.batch, C = config.channels, P = config.pixels
        for p in 0..<(P - 1) {
            for b in 0..<B {
                let tok = Int(ws.inputs[(p + 1) * B + b])
                precondition(tok >= 0 && tok < config.levels, "pixel tokens must be grey levels, got \(tok)")
                (ws.stack.input + (p * B + b) * C).update(from: parameters.values + embedding + tok * C, count: C)
            }
        }
        (ws.stack.input + (P - 1) * B * C).update(repeating: 0, count: B * C)
    }

    /// The teacher-forced pass over whole images: logits `[P × batch, vocab]` (time-major) in `ws.logits`.
    public func forward(_ ws: PixelCNNTokenWorkspace) {
        let B = ws.stack.batch, N = config.pixels * B
        writeInputs(ws)
        writeGates(starts: { Int(ws.inputs[$0]) }, batch: B, into: ws.gate)
        stack.forward(ws.stack, parameters: parameters, gate: labels == nil ? nil : ws.gate, gateStride: config.layers * 2 * config.channels)
        head.forward(skip: ws.stack.output, rows: N, hidden: ws.hidden, logits: ws.levelLogits, parameters: parameters)
        spreadLogits(ws.levelLogits, rows: N, into: ws.logits)
    }

    /// Copies `[rows, levels]` logits into `[rows, vocab]` with `-inf` for the start tokens.
    func spreadLogits(_ src: UnsafePointer<Float>, rows n: Int, into dst: UnsafeMutablePointer<Float>) {
        let L = config.levels, V = config.vocabSize
        for r in 0..<n {
            (dst + r * V).update(from: src + r * L, count: L)
            (dst + r * V + L).update(repeating: -.infinity, count: V - L)
        }
    }

    /// Backward of `forward` from the logits' gradient in `ws.logits`: accumulates every parameter's gradient.
    public func backward(_ ws: PixelCNNTokenWorkspace) {
        let B = ws.stack.batch, N = config.pixels * B, C = config.channels, L = config.levels, V = config.vocabSize
        for r in 0..<N { (ws.levelLogits + r * L).update(from: ws.logits + r * V, count: L) }
        let G = config.layers * 2 * C
        head.backward(skip: ws.stack.output, hidden: ws.hidden, dLogits: ws.levelLogits, rows: N, dHidden: ws.dHidden,
                      dSkip: ws.stack.dOutput, parameters: parameters)
        ws.dGate.update(repeating: 0, count: B * G)
        stack.backward(ws.stack, parameters: parameters, dGate: labels == nil ? nil : ws.dGate, gateStride: G)
        for p in 0..<(config.pixels - 1) {
            for b in 0..<B {
                let tok = Int(ws.inputs[(p + 1) * B + b]), d = parameters.grads + embedding + tok * C, g = ws.stack.dInput + (p * B + b) * C
                for i in 0..<C { d[i] += g[i] }
            }
        }
        if let labels {
            for b in 0..<B {
                let l = label(ofStart: Int(ws.inputs[b]))!, d = parameters.grads + labels + l * G, g = ws.dGate + b * G
                for i in 0..<G { d[i] += g[i] }
            }
        }
    }

    /// The workspace for `batch` images. - Precondition: `time` is the pixels per image (a token batch of whole images).
    public func workspace(batch: Int, time: Int) -> PixelCNNTokenWorkspace {
        precondition(time == config.pixels, "a PixelCNN reads whole images: \(config.pixels) positions, got \(time)")
        return workspaces.workspace(for: [batch]) { PixelCNNTokenWorkspace(config, batch: batch) }
    }

    /// The token sequence of an image: its start token, then its pixels in raster order.
    public func sequence(pixels: [Int], label: Int?) throws -> [Int] {
        [try startToken(label: label)] + pixels
    }
}

/// Activations of one teacher-forced pass over `batch` whole images, allocated once per batch size.
public final class PixelCNNTokenWorkspace: TokenWorkspace {
    let scratch = Scratch()
    let stack: PixelCNNWorkspace
    let hidden, dHidden: UnsafeMutablePointer<Float>  // [N, C]
    let levelLogits: UnsafeMutablePointer<Float>      // [N, levels]
    let gate, dGate: UnsafeMutablePointer<Float>      // [batch, layers × 2C]
    public let logits: UnsafeMutablePointer<Float>    // [N, vocab]
    public let inputs, targets: UnsafeMutablePointer<Int32>  // [N]

    init(_ c: PixelCNNConfig, batch: Int) {
        let N = c.pixels * batch, C = c.channels
        stack = PixelCNNWorkspace(c.stack, batch: batch)
        hidden = scratch.floats(N * C); dHidden = scratch.floats(N * C)
        levelLogits = scratch.floats(N * c.levels)
        gate = scratch.floats(batch * c.layers * 2 * C); dGate = scratch.floats(batch * c.layers * 2 * C)
        logits = scratch.floats(N * c.vocabSize)
        inputs = .allocate(capacity: N); targets = .allocate(capacity: N)
        inputs.initialize(repeating: 0, count: N); targets.initialize(repeating: -1, count: N)
    }

    deinit { inputs.deallocate(); targets.deallocate() }
}

extension PixelCNNModel: TokenModel {
    public static let modelType = "pixelcnn"
    public static let kind = "PixelCNN over images"
    public static let usage = "synth image sample --model"

    public var summary: String {
        let c = config
        return "gated PixelCNN \(c.height)x\(c.width), \(c.levels) levels, " + (c.classes > 0 ? "\(c.classes) classes" : "unconditional")
            + ", \(c.layers) layers, \(c.channels) channels, kernel \(c.kernel), \(parameters.count) parameters"
    }
}

extension PixelCNNModel: TeacherForcedTokenModel {
    public var tokenLayout: TokenBatch.Layout { .timeMajor }
}
