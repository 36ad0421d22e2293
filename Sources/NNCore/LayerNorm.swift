// Layer normalisation (Ba et al. 2016) and the GELU activation, forward and backward over rows [n, channels].

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Layers {
    // MARK: LayerNorm

    /// Layer normalisation of each row of `x` `[n, C]`:
    /// `y = (x - mean) / sqrt(var + eps) * gamma + beta`, with the biased variance over the `C` channels.
    /// Saves each row's `mean` and reciprocal standard deviation `rstd` `[n]` for the backward pass
    /// (either may be nil at inference). `y` may not alias `x`.
    public static func layerNormForward(
        x: UnsafePointer<Float>, rows n: Int, channels C: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
        eps: Float = 1e-5
    ) {
        let invC = 1 / Float(C)
        for r in 0..<n {
            let xr = x + r * C, yr = y + r * C
            var m: Float = 0
            for i in 0..<C { m += xr[i] }
            m *= invC
            var v: Float = 0
            for i in 0..<C { let d = xr[i] - m; v += d * d }
            v *= invC
            let s = 1 / (v + eps).squareRoot()
            for i in 0..<C { yr[i] = (xr[i] - m) * s * gamma[i] + beta[i] }
            mean?[r] = m
            rstd?[r] = s
        }
    }

    /// Backward of `layerNormForward`: with `xhat = (x - mean) * rstd` and `g = dy * gamma`,
    /// `dx += rstd * (g - mean(g) - xhat * mean(g * xhat))`, `dGamma += Σ_rows dy * xhat`, `dBeta += Σ_rows dy`.
    /// Any of `dx`, `dGamma`, `dBeta` may be nil.
    public static func layerNormBackward(
        x: UnsafePointer<Float>, rows n: Int, channels C: Int, gamma: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>?, dGamma: UnsafeMutablePointer<Float>?, dBeta: UnsafeMutablePointer<Float>?
    ) {
        let invC = 1 / Float(C)
        for r in 0..<n {
            let xr = x + r * C, dyr = dy + r * C, m = mean[r], s = rstd[r]
            var sumG: Float = 0, sumGX: Float = 0
            for i in 0..<C {
                let xhat = (xr[i] - m) * s, g = dyr[i] * gamma[i]
                sumG += g
                sumGX += g * xhat
                dGamma?[i] += dyr[i] * xhat
                dBeta?[i] += dyr[i]
            }
            guard let dx else { continue }
            let mg = sumG * invC, mgx = sumGX * invC, dxr = dx + r * C
            for i in 0..<C {
                let xhat = (xr[i] - m) * s
                dxr[i] += s * (dyr[i] * gamma[i] - mg - xhat * mgx)
            }
        }
    }

    // MARK: GELU

    /// GELU with the tanh approximation (Hendrycks & Gimpel 2016, as in GPT-2):
    /// `y = 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` over `count` values. `y` may not alias `x`.
    public static func geluForward(x: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>) {
        let k: Float = 0.7978845608  // √(2/π)
        for i in 0..<count {
            let v = x[i]
            y[i] = 0.5 * v * (1 + tanhf(k * (v + 0.044715 * v * v * v)))
        }
    }

    /// GELU backward from the pre-activation `x`: `dx (=|+=) dy * gelu'(x)`. `dx` may alias `dy` when not accumulating.
    public static func geluBackward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, count: Int, dx: UnsafeMutablePointer<Float>,
        accumulate: Bool = false
    ) {
        let k: Float = 0.7978845608
        for i in 0..<count {
            let v = x[i]
            let u = k * (v + 0.044715 * v * v * v)
            let t = tanhf(u)
            let d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v)
            if accumulate { dx[i] += dy[i] * d } else { dx[i] = dy[i] * d }
        }
    }
}
