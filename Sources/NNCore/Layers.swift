// Layers with explicit forward and backward passes on time-major activations [time, batch, channels].
import CKernels

/// The NN core's layers. Activations are row-major `[rows, channels]` where, for sequences,
/// `rows = time * batch` and row `t * batch + b` holds time step `t` of sequence `b`
/// (layout `[time, batch, channels]`). Shifting a sequence by `d` steps is then an offset of
/// `d * batch` rows, so a dilated convolution over the whole batch is one GEMM per tap.
///
/// Every backward *accumulates* (`+=`) into the gradients it is given, and the model calls the
/// backwards in exact reverse order of the forwards.
public enum Layers {
    // MARK: Dense (1x1 convolution)

    /// `y[n, out] (=|+=) x[n, in] · W[in, out] + b[out]`. `b` may be nil.
    public static func denseForward(
        x: UnsafePointer<Float>, rows n: Int, inDim: Int, weight w: UnsafePointer<Float>,
        bias b: UnsafePointer<Float>?, outDim: Int, y: UnsafeMutablePointer<Float>, accumulate: Bool = false
    ) {
        if let b, !accumulate {
            for r in 0..<n { (y + r * outDim).update(from: b, count: outDim) }
            BLAS.gemm(m: n, n: outDim, k: inDim, a: x, b: w, beta: 1, c: y)
        } else {
            BLAS.gemm(m: n, n: outDim, k: inDim, a: x, b: w, beta: accumulate ? 1 : 0, c: y)
            if let b, accumulate {
                for r in 0..<n { let yr = y + r * outDim; for o in 0..<outDim { yr[o] += b[o] } }
            }
        }
    }

    /// Backward of `denseForward`: `dx += dy · Wᵀ`, `dW += xᵀ · dy`, `db += Σ_rows dy`. Any gradient may be nil.
    public static func denseBackward(
        x: UnsafePointer<Float>, rows n: Int, inDim: Int, weight w: UnsafePointer<Float>, outDim: Int,
        dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        dBias: UnsafeMutablePointer<Float>?
    ) {
        if let dx { BLAS.gemm(transB: true, m: n, n: inDim, k: outDim, a: dy, b: w, beta: 1, c: dx) }
        if let dWeight { BLAS.gemm(transA: true, m: inDim, n: outDim, k: n, a: x, b: dy, beta: 1, c: dWeight) }
        if let dBias { for r in 0..<n { let d = dy + r * outDim; for o in 0..<outDim { dBias[o] += d[o] } } }
    }

    // MARK: Conv1d with taps (causal dilated convolution)

    /// One-dimensional convolution over time with arbitrary tap offsets, zero-padded at both ends:
    /// `y[t, b] (=|+=) bias + Σ_k x[t + offsets[k], b] · W[k]`, with `W` `[taps, inC, outC]`.
    /// A causal dilated convolution of kernel 2 and dilation `d` has `offsets = [-d, 0]`
    /// (van den Oord et al. 2016). `x` is `[time, batch, inC]`, `y` is `[time, batch, outC]`.
    public static func conv1dForward(
        x: UnsafePointer<Float>, time: Int, batch: Int, inC: Int, weight w: UnsafePointer<Float>,
        offsets: [Int], bias: UnsafePointer<Float>?, outC: Int, y: UnsafeMutablePointer<Float>,
        accumulate: Bool = false
    ) {
        let n = time * batch
        if !accumulate {
            if let bias { for r in 0..<n { (y + r * outC).update(from: bias, count: outC) } }
            else { y.update(repeating: 0, count: n * outC) }
        } else if let bias {
            for r in 0..<n { let yr = y + r * outC; for o in 0..<outC { yr[o] += bias[o] } }
        }
        for (k, off) in offsets.enumerated() {
            let t0 = max(0, -off), t1 = min(time, time - off)
            guard t1 > t0 else { continue }
            BLAS.gemm(
                m: (t1 - t0) * batch, n: outC, k: inC,
                a: x + (t0 + off) * batch * inC, b: w + k * inC * outC, beta: 1, c: y + t0 * batch * outC)
        }
    }

    /// Backward of `conv1dForward`: accumulates into `dx` `[time, batch, inC]`, `dWeight` `[taps, inC, outC]`
    /// and `dBias` `[outC]` (each may be nil).
    public static func conv1dBackward(
        x: UnsafePointer<Float>, time: Int, batch: Int, inC: Int, weight w: UnsafePointer<Float>,
        offsets: [Int], outC: Int, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
        dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?
    ) {
        for (k, off) in offsets.enumerated() {
            let t0 = max(0, -off), t1 = min(time, time - off)
            guard t1 > t0 else { continue }
            let rows = (t1 - t0) * batch
            let xs = x + (t0 + off) * batch * inC, dys = dy + t0 * batch * outC
            if let dx {
                BLAS.gemm(transB: true, m: rows, n: inC, k: outC, a: dys, b: w + k * inC * outC,
                          beta: 1, c: dx + (t0 + off) * batch * inC)
            }
            if let dWeight {
                BLAS.gemm(transA: true, m: inC, n: outC, k: rows, a: xs, b: dys, beta: 1,
                          c: dWeight + k * inC * outC)
            }
        }
        if let dBias {
            for r in 0..<(time * batch) { let d = dy + r * outC; for o in 0..<outC { dBias[o] += d[o] } }
        }
    }

    // MARK: Embedding

    /// `out[r] = table[indices[r]]`; `table` is `[vocab, dim]`. - Precondition: indices in range.
    public static func embeddingForward(
        table: UnsafePointer<Float>, dim: Int, indices: UnsafePointer<Int32>, rows n: Int,
        out: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<n { (out + r * dim).update(from: table + Int(indices[r]) * dim, count: dim) }
    }

    /// Backward of `embeddingForward`: `dTable[indices[r]] += dOut[r]`.
    public static func embeddingBackward(
        dOut: UnsafePointer<Float>, indices: UnsafePointer<Int32>, rows n: Int, dim: Int,
        dTable: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<n {
            let d = dTable + Int(indices[r]) * dim, g = dOut + r * dim
            for i in 0..<dim { d[i] += g[i] }
        }
    }

    // MARK: Gated activation, ReLU, softmax cross-entropy

    /// Gated activation `a = tanh(z[:, :h]) ⊙ σ(z[:, h:])` over `[n, 2h]` → `[n, h]`, saving `t` and `s` for backward.
    public static func gateForward(
        z: UnsafePointer<Float>, rows n: Int, half h: Int, t: UnsafeMutablePointer<Float>?,
        s: UnsafeMutablePointer<Float>?, a: UnsafeMutablePointer<Float>
    ) {
        synth_gate_forward(z, n, h, t, s, a)
    }

    /// Backward of the gate: *overwrites* `dz` `[n, 2h]` from `da` `[n, h]` and the saved `t`, `s`.
    public static func gateBackward(
        da: UnsafePointer<Float>, t: UnsafePointer<Float>, s: UnsafePointer<Float>, rows n: Int, half h: Int,
        dz: UnsafeMutablePointer<Float>
    ) {
        synth_gate_backward(da, t, s, n, h, dz)
    }

    /// `y = max(x, 0)` elementwise over `count` values (`y` may alias `x`).
    public static func reluForward(x: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>) {
        synth_relu(x, count, y)
    }

    /// ReLU backward: `dx = dy` where `y > 0`, else 0 (overwrites `dx`, which may alias `dy`).
    public static func reluBackward(
        dy: UnsafePointer<Float>, y: UnsafePointer<Float>, count: Int, dx: UnsafeMutablePointer<Float>
    ) {
        synth_relu_backward(dy, y, count, dx)
    }

    /// Softmax cross-entropy over `[n, vocab]` logits and `n` targets (negative targets are ignored).
    /// Writes `scale · ∂loss/∂logits` into `dLogits` (which may alias `logits`) and returns the summed
    /// loss in nats over the counted rows.
    @discardableResult
    public static func softmaxCrossEntropy(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows n: Int, vocab: Int, scale: Float,
        dLogits: UnsafeMutablePointer<Float>
    ) -> Double {
        synth_softmax_xent(logits, targets, n, vocab, scale, dLogits)
    }

    // MARK: Layout

    /// Time-major rows `x` `[time, batch, width]` copied batch-major, `[batch, time, width]`: row `t * batch + b` of
    /// `x` becomes row `b * time + t` of the result, values unchanged. The models whose activations are time-major
    /// (the WaveNet stacks, the recurrent layers, the PixelCNN) return their teacher-forced logits
    /// `[time, batch, vocab]` through this as `AutoregressiveModel.logits` promises them, `[batch, time, vocab]`.
    /// `x` holds at least `time * batch * width` floats. Allocates the result (for whole-batch scoring, not for
    /// per-token decoding).
    public static func batchMajor(_ x: UnsafePointer<Float>, time T: Int, batch B: Int, width V: Int) -> [Float] {
        var out = [Float](repeating: 0, count: B * T * V)
        for t in 0..<T { for b in 0..<B { for v in 0..<V { out[(b * T + t) * V + v] = x[(t * B + b) * V + v] } } }
        return out
    }
}
