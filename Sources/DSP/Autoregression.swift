// Classical autoregressive models AR(p) for time series: Yule-Walker through Levinson-Durbin, AIC order selection,
// multi-step forecasts with prediction intervals.
import Foundation

/// Errors of `ARModel` fitting.
public enum ARModelError: Error, CustomStringConvertible, Equatable {
    case tooShort(count: Int, needed: Int)
    case constant
    case notFinite(index: Int)
    case invalid(String)

    public var description: String {
        switch self {
        case .tooShort(let n, let k): return "the series has \(n) values; an AR model of this order needs at least \(k)"
        case .constant: return "the series is constant: there is nothing to model"
        case .notFinite(let i): return "value \(i + 1) of the series is not a finite number"
        case .invalid(let r): return r
        }
    }
}

/// An autoregressive model of order p around a mean or a linear trend:
/// `x[t] = m(t) + y[t]`, `y[t] = sum_{k=1..p} a_k y[t-k] + e[t]`, `e ~ N(0, sigma^2)`, where `m(t)` is the series'
/// mean, or with `trend` the least-squares line `intercept + slope * t` (t = 0 at the first value).
///
/// Fitted by Yule-Walker (the biased sample autocovariances of `y`, solved by `LinearPrediction.levinsonDurbin`,
/// the routine the vocoder's LPC uses), as statsmodels' `yule_walker(y, order=p, method="mle")`. The noise variance
/// is Levinson-Durbin's final prediction error power.
public struct ARModel: Sendable, Equatable {
    public let order: Int
    /// `a_1 ... a_p`.
    public let coefficients: [Double]
    public let intercept: Double
    /// Per time step; 0 without `trend`.
    public let slope: Double
    public let trend: Bool
    /// sigma^2 of the innovations, in the series' units squared.
    public let noiseVariance: Double
    /// Values the model was fitted on.
    public let sampleCount: Int

    /// Akaike's information criterion of the Gaussian likelihood: `n ln(sigma^2) + 2 (p + 1 + trend terms)`.
    public var aic: Double {
        Double(sampleCount) * log(noiseVariance) + 2 * Double(order + 1 + (trend ? 2 : 1))
    }

    /// The mean or trend at time index `t`.
    public func level(at t: Int) -> Double { intercept + slope * Double(t) }

    /// Fits AR(`order`) to `x` by Yule-Walker.
    /// - Throws: `ARModelError.notFinite`, `.tooShort` (fewer than `order + 2` values, or `order + 3` with `trend`),
    ///   `.constant` (no variance left after removing the mean or trend).
    public static func fitYuleWalker(_ x: [Double], order p: Int, trend: Bool = false) throws -> ARModel {
        guard p >= 0 else { throw ARModelError.invalid("the order must be >= 0, got \(p)") }
        if let i = x.firstIndex(where: { !$0.isFinite }) { throw ARModelError.notFinite(index: i) }
        let n = x.count, needed = p + (trend ? 3 : 2)
        guard n >= needed else { throw ARModelError.tooShort(count: n, needed: needed) }
        var intercept = x.reduce(0, +) / Double(n), slope = 0.0
        if trend {
            let tMean = Double(n - 1) / 2
            var sxy = 0.0, sxx = 0.0
            for (t, v) in x.enumerated() { sxy += (Double(t) - tMean) * (v - intercept); sxx += (Double(t) - tMean) * (Double(t) - tMean) }
            slope = sxy / sxx
            intercept -= slope * tMean
        }
        let y = x.enumerated().map { $0.element - (intercept + slope * Double($0.offset)) }
        let r = LinearPrediction.autocorrelation(y, maxLag: p).map { $0 / Double(n) }
        guard r[0] > 1e-12 * max(1, x.map { $0 * $0 }.max() ?? 1) else { throw ARModelError.constant }
        let (a, err, _) = try LinearPrediction.levinsonDurbin(r, order: p)
        return ARModel(order: p, coefficients: a, intercept: intercept, slope: slope, trend: trend, noiseVariance: err, sampleCount: n)
    }

    /// Fits every order in `0...maxOrder` on the same values and keeps the one with the lowest AIC.
    /// - Returns: the chosen model and the AIC of each order.
    public static func selectOrder(_ x: [Double], maxOrder: Int, trend: Bool = false) throws -> (model: ARModel, aic: [Double]) {
        let top = min(maxOrder, x.count - (trend ? 3 : 2))
        guard top >= 0 else { throw ARModelError.tooShort(count: x.count, needed: trend ? 3 : 2) }
        let models = try (0...top).map { try fitYuleWalker(x, order: $0, trend: trend) }
        let best = models.indices.min { models[$0].aic < models[$1].aic }!
        return (models[best], models.map(\.aic))
    }

    /// One forecast step: the mean and the bounds of the central prediction interval.
    public struct Forecast: Sendable, Equatable {
        public var mean: Double
        public var lower: Double
        public var upper: Double
    }

    /// Forecasts `horizon` steps after `history` (the series the model continues, usually the one it was fitted
    /// on; its last value has time index `history.count - 1` on the model's trend), with central intervals of
    /// probability `level` from the innovations' variance accumulated through the psi-weights of the MA(infinity)
    /// form: `var_h = sigma^2 sum_{j<h} psi_j^2`.
    public func forecast(history: [Double], horizon: Int, level: Double = 0.95) -> [Forecast] {
        let p = order, n = history.count
        var y = history.enumerated().map { $0.element - self.level(at: $0.offset) }
        let psi = psiWeights(max(1, horizon))
        let z = Self.normalQuantile(0.5 + level / 2)
        var out: [Forecast] = []
        var cumulative = 0.0
        for h in 0..<horizon {
            var next = 0.0
            for k in 0..<p where y.count - 1 - k >= 0 { next += coefficients[k] * y[y.count - 1 - k] }
            y.append(next)
            cumulative += psi[h] * psi[h]
            let mean = next + self.level(at: n + h), sd = (noiseVariance * cumulative).squareRoot()
            out.append(Forecast(mean: mean, lower: mean - z * sd, upper: mean + z * sd))
        }
        return out
    }

    /// The first `count` psi-weights of the model's MA(infinity) form, `psi_0 = 1`, `psi_j = sum_{k=1..min(j,p)} a_k psi_{j-k}`
    /// (Box and Jenkins): the h-step forecast error is `sum_{j<h} psi_j e[t+h-j]`.
    public func psiWeights(_ count: Int) -> [Double] {
        var psi = [1.0]
        for j in 1..<max(1, count) {
            var s = 0.0
            for k in 1...max(1, min(j, order)) where k <= order { s += coefficients[k - 1] * psi[j - k] }
            psi.append(s)
        }
        return Array(psi.prefix(count))
    }

    /// The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9 after one
    /// Newton step on the error function).
    public static func normalQuantile(_ q: Double) -> Double {
        precondition(q > 0 && q < 1, "normalQuantile: q must be in (0, 1)")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                 -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                 -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        var x: Double
        if q < 0.02425 {
            let r = (-2 * log(q)).squareRoot()
            x = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1)
        } else if q > 1 - 0.02425 {
            let r = (-2 * log(1 - q)).squareRoot()
            x = -(((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1)
        } else {
            let r = q - 0.5, s = r * r
            x = (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r
                / (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - q
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        return x - u / (1 + x * u / 2)
    }
}
