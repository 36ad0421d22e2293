// Finite-difference gradient checks shared by the test targets (NNCoreTests, WaveNetTests, MusicTests).
// A regular target under Tests/: test targets cannot import one another, and no product depends on it,
// so it is built only with the tests.
import NNCore
import XCTest

/// How a finite-difference check samples indices and what error it accepts: it passes when
/// `|analytic - numeric| <= atol + rtol * |numeric|` at every checked index.
public struct GradientTolerance: Sendable {
    /// Indices checked at most (all of them when the tensor is smaller); sampled with `seed`.
    public var maxChecks: Int
    public var rtol: Double
    public var atol: Double
    /// Step of the central difference, in the perturbed value's units.
    public var eps: Float
    public var seed: UInt64

    public init(maxChecks: Int = 64, rtol: Double = 2e-2, atol: Double = 2e-3, eps: Float = 1e-2, seed: UInt64 = 99) {
        self.maxChecks = maxChecks
        self.rtol = rtol
        self.atol = atol
        self.eps = eps
        self.seed = seed
    }

    /// For single layers: large steps are fine because each layer is smooth and cheap to evaluate.
    public static let layer = GradientTolerance()
    /// For attention and transformer blocks: smaller steps (their softmaxes curve more sharply), fewer indices.
    public static let music = GradientTolerance(maxChecks: 24, rtol: 3e-2, atol: 1e-3, eps: 2e-3)

    /// This tolerance with another index budget (and sampling seed).
    public func checking(_ maxChecks: Int, seed: UInt64? = nil) -> GradientTolerance {
        var t = self
        t.maxChecks = maxChecks
        if let seed { t.seed = seed }
        return t
    }
}

/// Central finite difference of `loss` with respect to `x[i]`: (loss(x + eps) - loss(x - eps)) / (2 eps).
/// `x[i]` is restored afterwards.
public func numericGradient(_ x: UnsafeMutablePointer<Float>, _ i: Int, eps: Float, _ loss: () -> Double) -> Double {
    let old = x[i]
    x[i] = old + eps
    let lp = loss()
    x[i] = old - eps
    let lm = loss()
    x[i] = old
    return (lp - lm) / (2 * Double(eps))
}

/// Fails the calling test at the first index where `analytic[i]` and the finite difference of `loss`
/// with respect to `x[i]` disagree beyond `tolerance`.
public func assertGradientsMatch(
    _ name: String, x: UnsafeMutablePointer<Float>, count: Int, analytic: UnsafePointer<Float>,
    tolerance t: GradientTolerance = .layer,
    file: StaticString = #filePath, line: UInt = #line, loss: () -> Double
) {
    var rng = Xoshiro256(seed: t.seed)
    let indices = count <= t.maxChecks ? Array(0..<count) : (0..<t.maxChecks).map { _ in rng.nextInt(below: count) }
    for i in indices {
        let num = numericGradient(x, i, eps: t.eps, loss)
        let ana = Double(analytic[i])
        let err = abs(num - ana)
        if err > t.atol + t.rtol * abs(num) {
            XCTFail("\(name)[\(i)]: analytic \(ana) vs numeric \(num) (|diff| \(err))", file: file, line: line)
            return
        }
    }
}

/// The same check on whole buffers.
public func assertGradientsMatch(
    _ name: String, _ x: Buf, analytic: Buf, tolerance: GradientTolerance = .layer,
    file: StaticString = #filePath, line: UInt = #line, loss: () -> Double
) {
    assertGradientsMatch(name, x: x.p, count: x.count, analytic: analytic.p, tolerance: tolerance,
                         file: file, line: line, loss: loss)
}

/// `n` floats uniform in [-scale, scale), reproducible from `seed`.
public func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = Xoshiro256(seed: seed)
    return (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
}

/// Σ y·r: a scalar loss whose gradient with respect to y is r.
public func dot(_ y: UnsafePointer<Float>, _ r: [Float]) -> Double {
    var s = 0.0
    for i in 0..<r.count { s += Double(y[i]) * Double(r[i]) }
    return s
}

/// A heap buffer with a stable pointer, so a loss closure can read values a check is perturbing.
public final class Buf {
    public let p: UnsafeMutablePointer<Float>
    public let count: Int
    public init(_ values: [Float]) {
        count = values.count
        p = .allocate(capacity: max(count, 1))
        p.initialize(from: values, count: count)
    }
    public convenience init(zeros n: Int) { self.init([Float](repeating: 0, count: n)) }
    deinit { p.deallocate() }
    public var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
    public func zero() { p.update(repeating: 0, count: count) }
}
