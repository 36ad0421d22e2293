// A forecast as a table: one row per step ahead with a point forecast and a central interval, scores against held-out
// values, and the CSV synth writes.
import AtomicIO
import Foundation

/// A forecast of `horizon` steps after the last value of a series.
public struct ForecastTable: Sendable, Equatable {
    /// One step ahead.
    public struct Row: Sendable, Equatable {
        /// Steps after the last value, from 1.
        public var step: Int
        /// The point forecast: the mean of a Gaussian AR forecast (also its median), the median of sampled futures.
        public var point: Double
        /// The bounds of the central interval of probability `level`.
        public var lower: Double
        public var upper: Double
    }

    public var rows: [Row]
    /// The interval's probability, in (0, 1).
    public var level: Double
    /// What made it ("AR(9) by Yule-Walker, order by AIC", ...).
    public var model: String

    public init(rows: [Row], level: Double, model: String) {
        self.rows = rows
        self.level = level
        self.model = model
    }

    /// Mean absolute error and root mean squared error of the point forecasts against `actual` (the first
    /// `min(rows, actual)` steps), in the series' units, and the fraction of actual values inside the interval.
    public func scores(against actual: [Double]) -> (mae: Double, rmse: Double, coverage: Double) {
        let n = min(rows.count, actual.count)
        precondition(n > 0, "scores need at least one actual value")
        var abs = 0.0, sq = 0.0, inside = 0
        for i in 0..<n {
            let e = rows[i].point - actual[i]
            abs += Swift.abs(e); sq += e * e
            if actual[i] >= rows[i].lower && actual[i] <= rows[i].upper { inside += 1 }
        }
        return (abs / Double(n), (sq / Double(n)).squareRoot(), Double(inside) / Double(n))
    }

    /// The CSV: header `step,forecast,lower,upper` (and `actual` when given, one per row or empty), numbers with up to
    /// 8 significant digits as `%.8g` writes them. With `times` (a name and one label per row, e.g. the input's time
    /// column continued: `SeriesColumn.times`), the first column is that name and those labels instead of the steps.
    public func csv(actual: [Double]? = nil, times: (name: String, labels: [String])? = nil) -> String {
        precondition(times.map { $0.labels.count == rows.count } ?? true, "one time label per row")
        var s = (times?.name ?? "step") + ",forecast,lower,upper" + (actual == nil ? "" : ",actual") + "\n"
        for (i, r) in rows.enumerated() {
            s += "\(times?.labels[i] ?? String(r.step)),\(Self.number(r.point)),\(Self.number(r.lower)),\(Self.number(r.upper))"
            if let a = actual { s += "," + (i < a.count ? Self.number(a[i]) : "") }
            s += "\n"
        }
        return s
    }

    /// Writes `csv(actual:)` to `url` atomically (`AtomicFile`). - Throws: `AtomicFile.WriteError`.
    public func write(to url: URL, actual: [Double]? = nil) throws {
        try AtomicFile.write(Data(csv(actual: actual).utf8), to: url)
    }

    static func number(_ x: Double) -> String { String(format: "%.8g", x) }
}
