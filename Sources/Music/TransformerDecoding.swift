// Incremental transformer decoding with a preallocated KV cache, and the teacher-forced `logits(_:)`.
import AREngine
import CKernels
import NNCore

/// KV cache and per-token scratch for `TransformerModel.step`: keys and values `[batch, layers, context, C]`
/// plus the position of the next token. Allocated once by `makeState`; `reset` only rewinds the position.
public final class TransformerState {
    public let batch: Int
    /// Tokens fed so far (the position of the next token), the same for every sequence of the batch.
    public internal(set) var position = 0
    let scratch = Scratch()
    let keys, values: UnsafeMutablePointer<Float>
    let x, ln, qkv, attOut, hidden, act, scores: UnsafeMutablePointer<Float>

    init(config c: TransformerConfig, batch: Int) {
        self.batch = batch
        let C = c.dModel, m = scratch, cache = batch * c.nLayers * c.contextLength * C
        keys = m.floats(cache); values = m.floats(cache)
        x = m.floats(C); ln = m.floats(C); qkv = m.floats(3 * C); attOut = m.floats(C)
        hidden = m.floats(c.dFF); act = m.floats(c.dFF); scores = m.floats(c.contextLength)
    }
}

extension TransformerModel: AutoregressiveModel {
    public var vocabularySize: Int { config.vocabSize }
    public var contextLength: Int { config.contextLength }

    /// Teacher-forced logits `[batch, time, vocab]` for `tokens` `[batch][time]`, `time <= context_length`.
    public func logits(_ tokens: [[Int]]) -> [Float] {
        let (B, T) = logitsShape(tokens)
        precondition(T <= config.contextLength, "logits: \(T) tokens exceed the context length \(config.contextLength)")
        let ws = workspace(batch: B, time: T)
        for b in 0..<B { for t in 0..<T { ws.inputs[b * T + t] = Int32(tokens[b][t]) } }
        forward(ws)
        return Array(UnsafeBufferPointer(start: ws.logits, count: B * T * config.vocabSize))
    }

    public func makeState(batch: Int) -> TransformerState { TransformerState(config: config, batch: batch) }

    public func reset(_ state: inout TransformerState) { state.position = 0 }

    /// Feeds one token per sequence at position `state.position`, appends its keys and values to the cache,
    /// and writes the next-token logits `[batch, vocab]`. O(position) attention work; allocates nothing.
    public func step(_ tokens: [Int], state: inout TransformerState, logits: UnsafeMutablePointer<Float>) {
        let c = config, W = parameters.values, s = state
        let C = c.dModel, F = c.dFF, V = c.vocabSize, ctx = c.contextLength, p = s.position
        precondition(tokens.count == s.batch, "step: \(tokens.count) tokens for a batch of \(s.batch)")
        precondition(p < ctx, "step: the KV cache is full (\(ctx) positions)")
        for b in 0..<s.batch {
            let tok = tokens[b]
            precondition(tok >= 0 && tok < V, "step: token \(tok) outside the vocabulary")
            s.x.update(from: W + tokEmb + tok * C, count: C)
            let pe = W + posEmb + p * C
            for i in 0..<C { s.x[i] += pe[i] }
            for (l, o) in blocks.enumerated() {
                let kCache = s.keys + (b * c.nLayers + l) * ctx * C, vCache = s.values + (b * c.nLayers + l) * ctx * C
                Layers.layerNormForward(x: s.x, rows: 1, channels: C, gamma: W + o.ln1w, beta: W + o.ln1b, y: s.ln,
                                        mean: nil, rstd: nil)
                synth_vecmat(s.ln, W + o.qkvW, W + o.qkvB, C, 3 * C, s.qkv)
                (kCache + p * C).update(from: s.qkv + C, count: C)
                (vCache + p * C).update(from: s.qkv + 2 * C, count: C)
                Attention.step(q: s.qkv, keys: kCache, values: vCache, count: p + 1, channels: C, heads: c.nHeads,
                               scores: s.scores, out: s.attOut)
                synth_vecmat_acc(s.attOut, W + o.projW, C, C, s.x)
                for i in 0..<C { s.x[i] += W[o.projB + i] }
                Layers.layerNormForward(x: s.x, rows: 1, channels: C, gamma: W + o.ln2w, beta: W + o.ln2b, y: s.ln,
                                        mean: nil, rstd: nil)
                synth_vecmat(s.ln, W + o.fcW, W + o.fcB, C, F, s.hidden)
                Layers.geluForward(x: s.hidden, count: F, y: s.act)
                synth_vecmat_acc(s.act, W + o.mlpW, F, C, s.x)
                for i in 0..<C { s.x[i] += W[o.mlpB + i] }
            }
            Layers.layerNormForward(x: s.x, rows: 1, channels: C, gamma: W + lnfW, beta: W + lnfB, y: s.ln, mean: nil, rstd: nil)
            synth_vecmat(s.ln, W + headW, W + headB, C, V, logits + b * V)
        }
        s.position = p + 1
    }
}
