// Decoder-only transformer over event tokens: parameters, teacher-forced forward and explicit backward.
import AREngine
import Foundation
import NNCore

/// A GPT-2 style decoder-only transformer (see `TransformerConfig`) in one `ParameterSet`.
///
/// | name | shape |
/// |---|---|
/// | `tok_embedding.weight` | `[vocab, C]` |
/// | `pos_embedding.weight` | `[context, C]` |
/// | `blocks.{l}.ln1.weight`, `.bias` | `[C]`, `[C]` |
/// | `blocks.{l}.attn.qkv.weight`, `.bias` | `[C, 3C]` (query, key, value columns), `[3C]` |
/// | `blocks.{l}.attn.proj.weight`, `.bias` | `[C, C]`, `[C]` |
/// | `blocks.{l}.ln2.weight`, `.bias` | `[C]`, `[C]` |
/// | `blocks.{l}.mlp.fc.weight`, `.bias` | `[C, F]`, `[F]` |
/// | `blocks.{l}.mlp.proj.weight`, `.bias` | `[F, C]`, `[C]` |
/// | `ln_f.weight`, `.bias` | `[C]`, `[C]` |
/// | `head.weight`, `.bias` | `[C, vocab]`, `[vocab]` |
///
/// Each block is pre-LayerNorm: `x += attn(LN1(x))`, then `x += proj(GELU(fc(LN2(x))))`.
/// Activations are batch-major `[batch, time, channels]` (row `b * time + t`), so each sequence's
/// positions are contiguous for the attention GEMMs.
public final class TransformerModel {
    public let config: TransformerConfig
    public let parameters: ParameterSet
    let workspaces = WorkspaceCache<TransformerWorkspace>()

    /// Offsets of one block's tensors in the flat buffer, resolved once.
    struct BlockOffsets { let ln1w, ln1b, qkvW, qkvB, projW, projB, ln2w, ln2b, fcW, fcB, mlpW, mlpB: Int }
    let blocks: [BlockOffsets]
    let tokEmb, posEmb, lnfW, lnfB, headW, headB: Int

    /// A model of `config` with zero weights and LayerNorm gains 1. - Precondition: `config.validate()` passes.
    public init(config: TransformerConfig) {
        self.config = config
        let layout = Self.layout(config)
        let at = layout.offset
        tokEmb = at("tok_embedding.weight")
        posEmb = at("pos_embedding.weight")
        blocks = (0..<config.nLayers).map { l in
            let n = "blocks.\(l)."
            return BlockOffsets(
                ln1w: at(n + "ln1.weight"), ln1b: at(n + "ln1.bias"), qkvW: at(n + "attn.qkv.weight"), qkvB: at(n + "attn.qkv.bias"),
                projW: at(n + "attn.proj.weight"), projB: at(n + "attn.proj.bias"), ln2w: at(n + "ln2.weight"), ln2b: at(n + "ln2.bias"),
                fcW: at(n + "mlp.fc.weight"), fcB: at(n + "mlp.fc.bias"), mlpW: at(n + "mlp.proj.weight"), mlpB: at(n + "mlp.proj.bias"))
        }
        lnfW = at("ln_f.weight")
        lnfB = at("ln_f.bias")
        headW = at("head.weight")
        headB = at("head.bias")
        let p = ParameterSet(layout: layout)
        parameters = p
        let C = config.dModel
        for b in blocks { for o in [b.ln1w, b.ln2w] { (p.values + o).update(repeating: 1, count: C) } }
        (p.values + lnfW).update(repeating: 1, count: C)
    }

    /// The tensors of a model of `config` (the table above), without allocating them: what loading checks a
    /// weights file against before anything is allocated.
    public static func layout(_ config: TransformerConfig) -> ParameterLayout {
        var p = ParameterLayout()
        let C = config.dModel, F = config.dFF, V = config.vocabSize
        p.add("tok_embedding.weight", shape: [V, C])
        p.add("pos_embedding.weight", shape: [config.contextLength, C])
        for l in 0..<config.nLayers {
            let n = "blocks.\(l)."
            p.add(n + "ln1.weight", shape: [C]); p.add(n + "ln1.bias", shape: [C])
            p.add(n + "attn.qkv.weight", shape: [C, 3 * C]); p.add(n + "attn.qkv.bias", shape: [3 * C])
            p.add(n + "attn.proj.weight", shape: [C, C]); p.add(n + "attn.proj.bias", shape: [C])
            p.add(n + "ln2.weight", shape: [C]); p.add(n + "ln2.bias", shape: [C])
            p.add(n + "mlp.fc.weight", shape: [C, F]); p.add(n + "mlp.fc.bias", shape: [F])
            p.add(n + "mlp.proj.weight", shape: [F, C]); p.add(n + "mlp.proj.bias", shape: [C])
        }
        p.add("ln_f.weight", shape: [C])
        p.add("ln_f.bias", shape: [C])
        p.add("head.weight", shape: [C, V])
        p.add("head.bias", shape: [V])
        return p
    }

    /// GPT-2 initialisation: N(0, 0.02²) weights, residual projections scaled by 1/√(2 layers),
    /// zero biases, LayerNorm gains 1.
    public func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        let resid = 0.02 / Float(2 * config.nLayers).squareRoot()
        parameters.initNormal("tok_embedding.weight", std: 0.02, rng: &rng)
        parameters.initNormal("pos_embedding.weight", std: 0.01, rng: &rng)
        for l in 0..<config.nLayers {
            parameters.initNormal("blocks.\(l).attn.qkv.weight", std: 0.02, rng: &rng)
            parameters.initNormal("blocks.\(l).attn.proj.weight", std: resid, rng: &rng)
            parameters.initNormal("blocks.\(l).mlp.fc.weight", std: 0.02, rng: &rng)
            parameters.initNormal("blocks.\(l).mlp.proj.weight", std: resid, rng: &rng)
        }
        parameters.initNormal("head.weight", std: 0.02, rng: &rng)
    }

    public func workspace(batch: Int, time: Int) -> TransformerWorkspace {
        workspaces.workspace(for: [batch, time]) { TransformerWorkspace(config: config, batch: batch, time: time) }
    }

    /// Teacher-forced forward over `inputs` `[batch, time]` (batch-major, ids in `0..<vocab`); the logits
    /// `[batch, time, vocab]` are left in `ws.logits`. - Precondition: `time <= context_length`.
    public func forward(_ ws: TransformerWorkspace) {
        let c = config, W = parameters.values
        let B = ws.batch, T = ws.time, N = B * T, C = c.dModel, F = c.dFF, V = c.vocabSize, H = c.nHeads
        precondition(T <= c.contextLength, "sequence of \(T) positions exceeds the context length \(c.contextLength)")
        // Embeddings: x0 = tok[input] + pos[t].
        Layers.embeddingForward(table: W + tokEmb, dim: C, indices: ws.inputs, rows: N, out: ws.res)
        for b in 0..<B {
            for t in 0..<T {
                let dst = ws.res + (b * T + t) * C, pe = W + posEmb + t * C
                for i in 0..<C { dst[i] += pe[i] }
            }
        }
        for (l, o) in blocks.enumerated() {
            let x = ws.res + 2 * l * N * C, mid = x + N * C, next = mid + N * C
            let L = ws.layer(l)
            Layers.layerNormForward(x: x, rows: N, channels: C, gamma: W + o.ln1w, beta: W + o.ln1b, y: L.ln1,
                                    mean: L.mean1, rstd: L.rstd1)
            Layers.denseForward(x: L.ln1, rows: N, inDim: C, weight: W + o.qkvW, bias: W + o.qkvB, outDim: 3 * C, y: L.qkv)
            Attention.forward(qkv: L.qkv, batch: B, time: T, channels: C, heads: H, att: L.att, out: L.attOut)
            mid.update(from: x, count: N * C)
            Layers.denseForward(x: L.attOut, rows: N, inDim: C, weight: W + o.projW, bias: W + o.projB, outDim: C,
                                y: mid, accumulate: true)
            Layers.layerNormForward(x: mid, rows: N, channels: C, gamma: W + o.ln2w, beta: W + o.ln2b, y: L.ln2,
                                    mean: L.mean2, rstd: L.rstd2)
            Layers.denseForward(x: L.ln2, rows: N, inDim: C, weight: W + o.fcW, bias: W + o.fcB, outDim: F, y: L.fc)
            Layers.geluForward(x: L.fc, count: N * F, y: L.gelu)
            next.update(from: mid, count: N * C)
            Layers.denseForward(x: L.gelu, rows: N, inDim: F, weight: W + o.mlpW, bias: W + o.mlpB, outDim: C,
                                y: next, accumulate: true)
        }
        let last = ws.res + 2 * c.nLayers * N * C
        Layers.layerNormForward(x: last, rows: N, channels: C, gamma: W + lnfW, beta: W + lnfB, y: ws.lnf,
                                mean: ws.meanF, rstd: ws.rstdF)
        Layers.denseForward(x: ws.lnf, rows: N, inDim: C, weight: W + headW, bias: W + headB, outDim: V, y: ws.logits)
    }

    /// Backward of `forward` from `dLogits` (already in `ws.logits`): accumulates every parameter's gradient.
    public func backward(_ ws: TransformerWorkspace) {
        let c = config, W = parameters.values, G = parameters.grads
        let B = ws.batch, T = ws.time, N = B * T, C = c.dModel, F = c.dFF, V = c.vocabSize, H = c.nHeads
        let last = ws.res + 2 * c.nLayers * N * C
        ws.dA.update(repeating: 0, count: N * C)
        Layers.denseBackward(x: ws.lnf, rows: N, inDim: C, weight: W + headW, outDim: V, dy: ws.logits,
                             dx: ws.dA, dWeight: G + headW, dBias: G + headB)
        ws.dRes.update(repeating: 0, count: N * C)
        Layers.layerNormBackward(x: last, rows: N, channels: C, gamma: W + lnfW, mean: ws.meanF, rstd: ws.rstdF,
                                 dy: ws.dA, dx: ws.dRes, dGamma: G + lnfW, dBeta: G + lnfB)
        for (l, o) in blocks.enumerated().reversed() {
            let x = ws.res + 2 * l * N * C, mid = x + N * C
            let L = ws.layer(l)
            // MLP: next = mid + proj(GELU(fc(LN2(mid)))); dRes holds d(next) and becomes d(mid).
            ws.dF.update(repeating: 0, count: N * F)
            Layers.denseBackward(x: L.gelu, rows: N, inDim: F, weight: W + o.mlpW, outDim: C, dy: ws.dRes,
                                 dx: ws.dF, dWeight: G + o.mlpW, dBias: G + o.mlpB)
            Layers.geluBackward(x: L.fc, dy: ws.dF, count: N * F, dx: ws.dF)
            ws.dA.update(repeating: 0, count: N * C)
            Layers.denseBackward(x: L.ln2, rows: N, inDim: C, weight: W + o.fcW, outDim: F, dy: ws.dF,
                                 dx: ws.dA, dWeight: G + o.fcW, dBias: G + o.fcB)
            Layers.layerNormBackward(x: mid, rows: N, channels: C, gamma: W + o.ln2w, mean: L.mean2, rstd: L.rstd2,
                                     dy: ws.dA, dx: ws.dRes, dGamma: G + o.ln2w, dBeta: G + o.ln2b)
            // Attention: mid = x + proj(attn(qkv(LN1(x)))); dRes becomes d(x).
            ws.dA.update(repeating: 0, count: N * C)
            Layers.denseBackward(x: L.attOut, rows: N, inDim: C, weight: W + o.projW, outDim: C, dy: ws.dRes,
                                 dx: ws.dA, dWeight: G + o.projW, dBias: G + o.projB)
            ws.dQKV.update(repeating: 0, count: N * 3 * C)
            Attention.backward(qkv: L.qkv, att: L.att, dOut: ws.dA, batch: B, time: T, channels: C, heads: H,
                               dqkv: ws.dQKV, dAtt: ws.dAtt)
            ws.dA.update(repeating: 0, count: N * C)
            Layers.denseBackward(x: L.ln1, rows: N, inDim: C, weight: W + o.qkvW, outDim: 3 * C, dy: ws.dQKV,
                                 dx: ws.dA, dWeight: G + o.qkvW, dBias: G + o.qkvB)
            Layers.layerNormBackward(x: x, rows: N, channels: C, gamma: W + o.ln1w, mean: L.mean1, rstd: L.rstd1,
                                     dy: ws.dA, dx: ws.dRes, dGamma: G + o.ln1w, dBeta: G + o.ln1b)
        }
        Layers.embeddingBackward(dOut: ws.dRes, indices: ws.inputs, rows: N, dim: C, dTable: G + tokEmb)
        for b in 0..<B {
            for t in 0..<T {
                let src = ws.dRes + (b * T + t) * C, dst = G + posEmb + t * C
                for i in 0..<C { dst[i] += src[i] }
            }
        }
    }
}

extension TransformerConfig: ModelConfiguration {}

extension TransformerModel: TokenModel {
    public static let modelType = "transformer"
    public static let kind = "music transformer"
    public static let usage = "synth music generate --model"

    public var summary: String {
        let c = config
        return "transformer: \(c.nLayers) layers, d_model \(c.dModel), \(c.nHeads) heads, d_ff \(c.dFF), context \(c.contextLength), \(parameters.count) parameters"
    }
}

extension TransformerModel: TeacherForcedTokenModel {
    public var tokenLayout: TokenBatch.Layout { .batchMajor }
}

/// Saved activations and gradient scratch for one `(batch, time)` shape, allocated once and reused.
public final class TransformerWorkspace: TokenWorkspace {
    let batch, time: Int
    let scratch = Scratch()
    /// Residual stream `[2 * layers + 1, N, C]`: block l reads slice 2l, writes mid 2l+1 and output 2l+2.
    let res: UnsafeMutablePointer<Float>
    struct LayerActs {
        let ln1, qkv, att, attOut, ln2, fc, gelu: UnsafeMutablePointer<Float>
        let mean1, rstd1, mean2, rstd2: UnsafeMutablePointer<Float>
    }
    private let layers: [LayerActs]
    let lnf, meanF, rstdF: UnsafeMutablePointer<Float>
    public let logits: UnsafeMutablePointer<Float>
    let dRes, dA, dF, dQKV, dAtt: UnsafeMutablePointer<Float>
    public let inputs, targets: UnsafeMutablePointer<Int32>

    init(config c: TransformerConfig, batch B: Int, time T: Int) {
        batch = B
        time = T
        let N = B * T, C = c.dModel, F = c.dFF, m = scratch
        res = m.floats((2 * c.nLayers + 1) * N * C)
        layers = (0..<c.nLayers).map { _ in
            LayerActs(ln1: m.floats(N * C), qkv: m.floats(N * 3 * C), att: m.floats(B * c.nHeads * T * T),
                      attOut: m.floats(N * C), ln2: m.floats(N * C), fc: m.floats(N * F), gelu: m.floats(N * F),
                      mean1: m.floats(N), rstd1: m.floats(N), mean2: m.floats(N), rstd2: m.floats(N))
        }
        lnf = m.floats(N * C); meanF = m.floats(N); rstdF = m.floats(N); logits = m.floats(N * c.vocabSize)
        dRes = m.floats(N * C); dA = m.floats(N * C); dF = m.floats(N * F); dQKV = m.floats(N * 3 * C); dAtt = m.floats(T * T)
        inputs = .allocate(capacity: N); targets = .allocate(capacity: N)
        inputs.initialize(repeating: 0, count: N); targets.initialize(repeating: -1, count: N)
    }

    deinit { inputs.deallocate(); targets.deallocate() }

    func layer(_ l: Int) -> LayerActs { layers[l] }
}
