// Axis ticks at round numbers and the magma colour map.
import Foundation

/// A linear axis from `lo` to `hi` with ticks at round numbers (1, 2 or 5 times a power of ten).
struct Axis {
    let lo: Double, hi: Double
    let ticks: [Double]
    let step: Double

    /// About `target` ticks between `lo` and `hi` (both finite, `hi > lo`; equal values are widened).
    init(lo: Double, hi: Double, target: Int = 6) {
        var (a, b) = (lo, hi)
        if !(b > a) { a -= 0.5; b += 0.5 }
        self.lo = a
        self.hi = b
        let raw = (b - a) / Double(max(1, target))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        self.step = step
        var t = (a / step).rounded(.up) * step, out: [Double] = []
        while t <= b + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        ticks = out
    }

    /// A tick's label with as many decimals as the step needs ("0.5", "2000", "3.25").
    func label(_ v: Double) -> String {
        let decimals = step >= 1 ? 0 : Int(ceil(-log10(step) - 1e-9))
        return String(format: "%.\(decimals)f", v)
    }

    /// Position of `v` on a pixel span from `p0` (at `lo`) to `p1` (at `hi`).
    func position(_ v: Double, _ p0: Double, _ p1: Double) -> Double { p0 + (v - lo) / (hi - lo) * (p1 - p0) }
}

/// matplotlib's perceptually uniform "magma" colour map, sampled at 9 points and interpolated linearly.
enum Magma {
    static let anchors: [Color] = [
        Color(0.001, 0.000, 0.014), Color(0.079, 0.054, 0.212), Color(0.232, 0.060, 0.438), Color(0.390, 0.100, 0.502),
        Color(0.550, 0.161, 0.506), Color(0.716, 0.215, 0.475), Color(0.869, 0.288, 0.409), Color(0.968, 0.440, 0.360),
        Color(0.995, 0.624, 0.427), Color(0.987, 0.991, 0.750),
    ]
    static let positions: [Double] = [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 0.9375, 1]

    /// The colour of `t` in [0, 1] (clamped).
    static func color(_ t: Double) -> Color {
        let x = min(max(t.isFinite ? t : 0, 0), 1)
        var i = 0
        while i + 2 < positions.count && x > positions[i + 1] { i += 1 }
        let f = (x - positions[i]) / (positions[i + 1] - positions[i])
        let a = anchors[i], b = anchors[i + 1]
        return Color(a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f)
    }
}
