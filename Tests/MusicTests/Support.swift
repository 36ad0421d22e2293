// Finite-difference helpers (copied from NNCoreTests: test targets cannot import each other).
import NNCore
import XCTest

/// Central finite difference of `loss` with respect to `x[i]`.
func numericGradient(_ x: UnsafeMutablePointer<Float>, _ i: Int, eps: Float, _ loss: () -> Double) -> Double {
    let old = x[i]
    x[i] = old + eps
    let lp = loss()
    x[i] = old - eps
    let lm = loss()
    x[i] = old
    return (lp - lm) / (2 * Double(eps))
}

/// Asserts that `analytic[i]` matches the finite difference for a sample of `maxChecks` indices.
func assertGradientsMatch(
    _ name: String, x: UnsafeMutablePointer<Float>, count: Int, analytic: UnsafePointer<Float>,
    maxChecks: Int = 24, rtol: Double = 3e-2, atol: Double = 1e-3, eps: Float = 2e-3, seed: UInt64 = 99,
    file: StaticString = #filePath, line: UInt = #line, loss: () -> Double
) {
    var rng = Xoshiro256(seed: seed)
    let indices = count <= maxChecks ? Array(0..<count) : (0..<maxChecks).map { _ in rng.nextInt(below: count) }
    for i in indices {
        let num = numericGradient(x, i, eps: eps, loss)
        let ana = Double(analytic[i])
        let err = abs(num - ana)
        if err > atol + rtol * abs(num) {
            XCTFail("\(name)[\(i)]: analytic \(ana) vs numeric \(num) (|diff| \(err))", file: file, line: line)
            return
        }
    }
}

/// Random floats in [-scale, scale).
func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = Xoshiro256(seed: seed)
    return (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
}

/// Σ y·r: a scalar loss whose gradient with respect to y is r.
func dot(_ y: UnsafePointer<Float>, _ r: [Float]) -> Double {
    var s = 0.0
    for i in 0..<r.count { s += Double(y[i]) * Double(r[i]) }
    return s
}

/// A heap buffer with a stable pointer, so a loss closure can read values a check is perturbing.
final class Buf {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ values: [Float]) {
        count = values.count
        p = .allocate(capacity: max(count, 1))
        p.initialize(from: values, count: count)
    }
    convenience init(zeros n: Int) { self.init([Float](repeating: 0, count: n)) }
    deinit { p.deallocate() }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
    func zero() { p.update(repeating: 0, count: count) }
}
