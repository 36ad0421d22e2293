// Raster-order decoding of the PixelCNN with a cache: each row's vertical stack once, each pixel's horizontal stack once.
import AREngine
import NNCore

/// The cached state of `PixelCNNModel.step` for `batch` images generated in lockstep: the stack's activations over
/// the whole image (`PixelCNNWorkspace`), filled as pixels arrive, and each image's gate term.
///
/// What the cache saves: without it, each new pixel would rerun the network over the whole image (P positions per
/// pixel, P²/2 ≈ 2,048 pixel-evaluations of every layer per 8x8 image in the best case of recomputing only the prefix).
/// With it, row `i`'s vertical stack runs once, when row `i - 1` is complete (it depends on the rows above only), and
/// each pixel's horizontal stack and head run once: exactly P pixel-evaluations of every layer per image, the work of
/// one teacher-forced pass.
public final class PixelCNNState {
    let cache: PixelCNNWorkspace
    let scratch = Scratch()
    let gate: UnsafeMutablePointer<Float>         // [batch, layers × 2C]
    let hidden, logits: UnsafeMutablePointer<Float>  // [batch, C], [batch, levels]
    /// Tokens fed so far (the start token, then pixels).
    var fed = 0

    init(_ c: PixelCNNConfig, batch: Int) {
        cache = PixelCNNWorkspace(c.stack, batch: batch)
        gate = scratch.floats(batch * c.layers * 2 * c.channels)
        hidden = scratch.floats(batch * c.channels)
        logits = scratch.floats(batch * c.levels)
    }
}

extension PixelCNNModel: AutoregressiveModel {
    public var vocabularySize: Int { config.vocabSize }
    /// A start token and `P - 1` pixels give the distributions of all `P` pixels.
    public var contextLength: Int { config.pixels }

    /// Teacher-forced logits `[batch, time, vocab]` of rows `[start, pixels...]` of at most `P` tokens (the rest of
    /// the image is padded with level 0, which no earlier position reads).
    public func logits(_ tokens: [[Int]]) -> [Float] {
        let B = tokens.count, T = tokens.first?.count ?? 0, V = config.vocabSize, P = config.pixels
        precondition(B > 0 && T > 0 && T <= P && tokens.allSatisfy { $0.count == T }, "logits: rows of 1...\(P) tokens, all the same length")
        let ws = workspace(batch: B, time: P)
        TokenBatch(tokens: tokens.map { $0 + [Int](repeating: 0, count: P + 1 - T) })
            .teacherForcing(vocabularySize: V, layout: .timeMajor, inputs: ws.inputs, targets: ws.targets)
        forward(ws)
        return Layers.batchMajor(ws.logits, time: T, batch: B, width: V)
    }

    public func makeState(batch: Int) -> PixelCNNState { PixelCNNState(config, batch: batch) }

    public func reset(_ state: inout PixelCNNState) {
        state.cache.reset()
        state.fed = 0
    }

    /// Feeds one token per image (first the start tokens, then each image's latest pixel) and writes the logits of the
    /// next pixel `[batch, vocab]`: a new row's vertical stack when a row starts, then this pixel's horizontal stack
    /// and head. Allocates nothing.
    public func step(_ tokens: [Int], state: inout PixelCNNState, logits: UnsafeMutablePointer<Float>) {
        let s = state, ws = s.cache, B = ws.batch, C = config.channels, W = config.width, P = config.pixels
        precondition(tokens.count == B, "step: \(tokens.count) tokens for a batch of \(B)")
        precondition(s.fed < P, "step: an image has \(P) pixels; reset the state for the next one")
        let p = s.fed  // the pixel whose distribution this step gives
        if p == 0 {
            writeGates(starts: { tokens[$0] }, batch: B, into: s.gate)
        } else {
            for (b, tok) in tokens.enumerated() {
                precondition(tok >= 0 && tok < config.levels, "step: pixel tokens must be grey levels, got \(tok)")
                (ws.input + ((p - 1) * B + b) * C).update(from: parameters.values + embedding + tok * C, count: C)
            }
        }
        let row = p % W == 0 ? (p / W)..<(p / W + 1) : 0..<0
        stack.forward(ws, parameters: parameters, gate: labels == nil ? nil : s.gate, gateStride: config.layers * 2 * C,
                      rows: row, pixels: p..<(p + 1))
        head.forward(skip: ws.output + p * B * C, rows: B, hidden: s.hidden, logits: s.logits, parameters: parameters)
        spreadLogits(s.logits, rows: B, into: logits)
        s.fed += 1
    }
}

/// The PixelCNN without its cache, to measure what the cache saves: each step reruns the teacher-forced pass over the
/// whole image from the tokens so far (`logits`), as a decoder without state would. Same distributions as the cached
/// `step` (to float rounding), P passes per image instead of one.
public final class RecomputingPixelCNN: AutoregressiveModel {
    public let model: PixelCNNModel
    public init(_ model: PixelCNNModel) { self.model = model }

    public var vocabularySize: Int { model.vocabularySize }
    public var contextLength: Int { model.contextLength }
    public func logits(_ tokens: [[Int]]) -> [Float] { model.logits(tokens) }
    public func makeState(batch: Int) -> [[Int]] { [[Int]](repeating: [], count: batch) }
    public func reset(_ state: inout [[Int]]) { for b in state.indices { state[b].removeAll(keepingCapacity: true) } }

    public func step(_ tokens: [Int], state: inout [[Int]], logits: UnsafeMutablePointer<Float>) {
        for (b, t) in tokens.enumerated() { state[b].append(t) }
        let V = vocabularySize, T = state[0].count, all = model.logits(state)
        all.withUnsafeBufferPointer { a in
            for b in 0..<tokens.count {
                let row: Int = (b * T + T - 1) * V
                (logits + b * V).update(from: a.baseAddress! + row, count: V)
            }
        }
    }
}
