// Adam optimizer (Kingma & Ba 2015) with global gradient-norm clipping over a flat ParameterSet.

/// Adam with bias correction and optional global L2 gradient-norm clipping (Pascanu et al. 2013).
/// Its moments live in two flat buffers the size of the parameter set, so a checkpoint saves them
/// with the weights and a resumed run continues exactly.
public final class Adam {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// Gradients whose global L2 norm exceeds this are scaled down to it; 0 disables clipping.
    public var clipNorm: Float
    /// Number of updates taken so far (drives bias correction).
    public private(set) var step: Int = 0
    /// First and second moment estimates, `[parameterCount]`.
    public private(set) var m: [Float]
    public private(set) var v: [Float]

    public init(parameterCount: Int, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, clipNorm: Float = 1) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.clipNorm = clipNorm
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
    }

    /// Restores moments and step from a checkpoint. - Precondition: sizes match.
    public func restore(m: [Float], v: [Float], step: Int) {
        precondition(m.count == self.m.count && v.count == self.v.count, "Adam state size mismatch")
        self.m = m
        self.v = v
        self.step = step
    }

    /// Clips the gradients, then takes one Adam step with learning rate `lr`.
    /// - Returns: the gradient norm before clipping.
    @discardableResult
    public func update(_ params: ParameterSet, lr: Float) -> Float {
        precondition(params.count == m.count, "Adam was built for \(m.count) parameters, got \(params.count)")
        let norm = params.gradNorm()
        var scale: Float = 1
        if clipNorm > 0, norm > clipNorm { scale = clipNorm / norm }
        if !norm.isFinite { return norm } // skip a poisoned step rather than destroy the weights
        step += 1
        let b1 = beta1, b2 = beta2, eps = epsilon
        let c1 = 1 - powf(b1, Float(step)), c2 = 1 - powf(b2, Float(step))
        let stepSize = lr * c2.squareRoot() / c1
        let w = params.values, g = params.grads
        m.withUnsafeMutableBufferPointer { mp in
            v.withUnsafeMutableBufferPointer { vp in
                for i in 0..<params.count {
                    let gi = g[i] * scale
                    mp[i] = b1 * mp[i] + (1 - b1) * gi
                    vp[i] = b2 * vp[i] + (1 - b2) * gi * gi
                    w[i] -= stepSize * mp[i] / (vp[i].squareRoot() + eps)
                }
            }
        }
        return norm
    }
}

/// Learning rate with linear warm-up then cosine decay to `minLR` at `totalSteps` (constant after).
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minLR: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minLR: Float) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minLR = minLR
    }

    /// Learning rate for the 1-based update `step`.
    public func rate(at step: Int) -> Float {
        if warmupSteps > 0, step <= warmupSteps { return peak * Float(step) / Float(warmupSteps) }
        guard totalSteps > warmupSteps else { return peak }
        let p = min(1, Float(step - warmupSteps) / Float(totalSteps - warmupSteps))
        return minLR + 0.5 * (peak - minLR) * (1 + cosf(Float.pi * p))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
