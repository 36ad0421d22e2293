// The AR forecaster on differences (ARIMA(p,1,0)) against closed forms.
import DSP
import XCTest
@testable import Forecast

final class ClassicalForecasterTests: XCTestCase {
    /// AR(0) of the differences is a random walk with drift: the forecast is the last value plus h times the mean
    /// difference, and the h-step variance h sigma^2 (sigma^2 the differences' biased variance).
    func testRandomWalkWithDriftHasTheClosedForm() throws {
        let x: [Double] = [3, 5, 4, 8, 9, 12, 11, 15, 16, 18]
        let d = zip(x.dropFirst(), x).map { $0 - $1 }
        let mean = d.reduce(0, +) / Double(d.count)
        let variance = d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count)
        let f = ClassicalForecaster(order: 0, difference: true)
        let t = try f.forecast(x, horizon: 4, level: 0.95).table
        let z = 1.959963984540054
        for (i, r) in t.rows.enumerated() {
            let h = Double(i + 1)
            XCTAssertEqual(r.point, 18 + h * mean, accuracy: 1e-9)
            XCTAssertEqual(r.upper - r.point, z * (h * variance).squareRoot(), accuracy: 1e-7)
            XCTAssertEqual(r.point - r.lower, z * (h * variance).squareRoot(), accuracy: 1e-7)
        }
        XCTAssertEqual(f.needed, 3)
    }

    /// AR(1) of the differences: the integrated forecast is the cumulative sum of the AR forecast of the differences.
    func testIntegratedForecastSumsTheDifferencesForecast() throws {
        let x: [Double] = [1, 2, 4, 5, 7, 10, 11, 13, 16, 17, 20, 22]
        let d = zip(x.dropFirst(), x).map { $0 - $1 }
        let m = try ARModel.fitYuleWalker(d, order: 1)
        let df = m.forecast(history: d, horizon: 5)
        let t = try ClassicalForecaster(order: 1, difference: true).forecast(x, horizon: 5, level: 0.9).table
        var v = 22.0
        for h in 0..<5 { v += df[h].mean; XCTAssertEqual(t.rows[h].point, v, accuracy: 1e-9) }
        // psi-weights of AR(1): a^j; integrated: sum_{i<=j} a^i.
        XCTAssertEqual(m.psiWeights(3), [1, m.coefficients[0], m.coefficients[0] * m.coefficients[0]])
    }
}
