// Causal multi-head scaled dot-product attention (Vaswani et al. 2017): BLAS forward/backward, a plain-loop
// reference, and the single-query step over a KV cache used for incremental decoding.
import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Attention kernels. Activations are batch-major: row `b * time + t` holds position `t` of sequence `b`.
///
/// The packed projection `qkv` is `[batch * time, 3C]`: columns `0..<C` are the queries, `C..<2C` the keys,
/// `2C..<3C` the values; head `h` owns columns `h*hs ..< (h+1)*hs` of each block (`hs = C / heads`).
/// The output `out` is `[batch * time, C]` with the heads concatenated in the same order.
public enum Attention {
    /// Causal self-attention: `out[t] = Σ_{s<=t} softmax_s(q_t·k_s / √hs) v_s` per head.
    /// Saves the probabilities `att` `[batch, heads, time, time]` (zero above the diagonal) for backward.
    public static func forward(
        qkv: UnsafePointer<Float>, batch B: Int, time T: Int, channels C: Int, heads H: Int,
        att: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        precondition(C % H == 0, "channels \(C) must be divisible by heads \(H)")
        let hs = C / H, C3 = 3 * C, scale = 1 / Float(hs).squareRoot()
        for b in 0..<B {
            let base = qkv + b * T * C3
            for h in 0..<H {
                let q = base + h * hs, k = base + C + h * hs, v = base + 2 * C + h * hs
                let a = att + (b * H + h) * T * T
                BLAS.gemm(transB: true, m: T, n: T, k: hs, alpha: scale, a: q, lda: C3, b: k, ldb: C3, beta: 0, c: a)
                for t in 0..<T {
                    let row = a + t * T
                    synth_softmax_row(row, t + 1)
                    if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
                }
                BLAS.gemm(m: T, n: hs, k: T, a: a, b: v, ldb: C3, beta: 0, c: out + b * T * C + h * hs, ldc: C)
            }
        }
    }

    /// Backward of `forward`: accumulates into `dqkv` `[batch * time, 3C]` from `dOut` `[batch * time, C]`.
    /// `dAtt` is scratch of `time * time` floats.
    public static func backward(
        qkv: UnsafePointer<Float>, att: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
        batch B: Int, time T: Int, channels C: Int, heads H: Int,
        dqkv: UnsafeMutablePointer<Float>, dAtt: UnsafeMutablePointer<Float>
    ) {
        let hs = C / H, C3 = 3 * C, scale = 1 / Float(hs).squareRoot()
        for b in 0..<B {
            let base = qkv + b * T * C3, dbase = dqkv + b * T * C3
            for h in 0..<H {
                let q = base + h * hs, k = base + C + h * hs, v = base + 2 * C + h * hs
                let dq = dbase + h * hs, dk = dbase + C + h * hs, dv = dbase + 2 * C + h * hs
                let a = att + (b * H + h) * T * T, dO = dOut + b * T * C + h * hs
                // dP = dOut · Vᵀ; dV += Pᵀ · dOut.
                BLAS.gemm(transB: true, m: T, n: T, k: hs, a: dO, lda: C, b: v, ldb: C3, beta: 0, c: dAtt)
                BLAS.gemm(transA: true, m: T, n: hs, k: T, a: a, b: dO, ldb: C, beta: 1, c: dv, ldc: C3)
                // Softmax backward row by row (causal: only s <= t), folded with the 1/√hs scale.
                for t in 0..<T {
                    let p = a + t * T, d = dAtt + t * T
                    var dot: Float = 0
                    for s in 0...t { dot += p[s] * d[s] }
                    for s in 0...t { d[s] = scale * p[s] * (d[s] - dot) }
                    if t + 1 < T { (d + t + 1).update(repeating: 0, count: T - t - 1) }
                }
                // dQ += dS · K; dK += dSᵀ · Q.
                BLAS.gemm(m: T, n: hs, k: T, a: dAtt, b: k, ldb: C3, beta: 1, c: dq, ldc: C3)
                BLAS.gemm(transA: true, m: T, n: hs, k: T, a: dAtt, b: q, ldb: C3, beta: 1, c: dk, ldc: C3)
            }
        }
    }

    /// Plain-loop reference of `forward` (same layout, no BLAS), for tests.
    public static func forwardReference(
        qkv: UnsafePointer<Float>, batch B: Int, time T: Int, channels C: Int, heads H: Int,
        out: UnsafeMutablePointer<Float>
    ) {
        let hs = C / H, C3 = 3 * C, scale = 1 / Float(hs).squareRoot()
        var w = [Float](repeating: 0, count: T)
        for b in 0..<B {
            for h in 0..<H {
                for t in 0..<T {
                    let q = qkv + (b * T + t) * C3 + h * hs
                    var mx = -Float.infinity
                    for s in 0...t {
                        let k = qkv + (b * T + s) * C3 + C + h * hs
                        var d: Float = 0
                        for i in 0..<hs { d += q[i] * k[i] }
                        w[s] = d * scale
                        mx = max(mx, w[s])
                    }
                    var sum: Float = 0
                    for s in 0...t { w[s] = expf(w[s] - mx); sum += w[s] }
                    let o = out + (b * T + t) * C + h * hs
                    for i in 0..<hs { o[i] = 0 }
                    for s in 0...t {
                        let v = qkv + (b * T + s) * C3 + 2 * C + h * hs
                        for i in 0..<hs { o[i] += w[s] / sum * v[i] }
                    }
                }
            }
        }
    }

    /// One query against a KV cache: for each head, `out = Σ_{s<n} softmax_s(q·k_s / √hs) v_s`.
    /// `q`, `out` are `[C]`; `keys`, `values` are `[n, C]` rows (the cache's first `n` positions);
    /// `scores` is scratch of `n` floats. Allocates nothing.
    public static func step(
        q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, count n: Int,
        channels C: Int, heads H: Int, scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        let hs = C / H, scale = 1 / Float(hs).squareRoot()
        for h in 0..<H {
            let qh = q + h * hs
            for s in 0..<n {
                let k = keys + s * C + h * hs
                var d: Float = 0
                for i in 0..<hs { d += qh[i] * k[i] }
                scores[s] = d * scale
            }
            synth_softmax_row(scores, n)
            let o = out + h * hs
            for i in 0..<hs { o[i] = 0 }
            for s in 0..<n {
                let v = values + s * C + h * hs, p = scores[s]
                for i in 0..<hs { o[i] += p * v[i] }
            }
        }
    }
}
