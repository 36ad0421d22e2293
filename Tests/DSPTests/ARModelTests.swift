// AR(p) by Yule-Walker against statsmodels (scripts/fixtures/forecast_fixtures.py), forecasts and bad input.
import Foundation
import XCTest
@testable import DSP

final class ARModelTests: XCTestCase {
    struct YW: Decodable { let coefficients: [Double]; let sigma2: Double; let mean: Double? ; let intercept: Double?; let slope: Double? }
    struct AR: Decodable { let forecast: [Double]; let lower: [Double]; let upper: [Double]; let mae: Double }
    struct AIC: Decodable { let lags: [Int]; let mae: Double }
    struct Ref: Decodable {
        let series: [Double]; let holdout: Int
        let yule_walker_9: YW; let yule_walker_9_trend: YW; let autoreg_9: AR; let autoreg_aic: AIC
    }
    lazy var ref = try! JSONDecoder().decode(Ref.self, from: Data(contentsOf: fixture("ar_sunspots.json")))
    var train: [Double] { Array(ref.series.dropLast(ref.holdout)) }
    var tail: [Double] { Array(ref.series.suffix(ref.holdout)) }

    /// Coefficients and noise variance equal statsmodels' yule_walker(method="mle") to 1e-9 (the same equations,
    /// solved by Levinson-Durbin here and by a Toeplitz solve there).
    func testYuleWalkerMatchesStatsmodels() throws {
        let m = try ARModel.fitYuleWalker(train, order: 9)
        for (a, b) in zip(m.coefficients, ref.yule_walker_9.coefficients) { XCTAssertEqual(a, b, accuracy: 1e-9) }
        XCTAssertEqual(m.noiseVariance, ref.yule_walker_9.sigma2, accuracy: 1e-9 * ref.yule_walker_9.sigma2)
        XCTAssertEqual(m.intercept, ref.yule_walker_9.mean!, accuracy: 1e-9)
        let t = try ARModel.fitYuleWalker(train, order: 9, trend: true)
        for (a, b) in zip(t.coefficients, ref.yule_walker_9_trend.coefficients) { XCTAssertEqual(a, b, accuracy: 1e-9) }
        XCTAssertEqual(t.slope, ref.yule_walker_9_trend.slope!, accuracy: 1e-9)
        XCTAssertEqual(t.intercept, ref.yule_walker_9_trend.intercept!, accuracy: 1e-7)
    }

    /// Forecasts of the 20 held-out years: Yule-Walker and statsmodels' AutoReg (least squares) estimate the same
    /// model differently, so the forecasts are compared by their error on the tail (within 15 % of AutoReg's MAE)
    /// and the 95 % intervals by their width (within 15 %).
    func testForecastIsOnParWithAutoReg() throws {
        let m = try ARModel.fitYuleWalker(train, order: 9)
        let f = m.forecast(history: train, horizon: 20)
        let mae = zip(f, tail).map { abs($0.mean - $1) }.reduce(0, +) / 20
        print(String(format: "sunspots, 20-year tail: MAE %.2f (AutoReg(9) %.2f)", mae, ref.autoreg_9.mae))
        XCTAssertLessThan(mae, 1.15 * ref.autoreg_9.mae)
        for h in [0, 4, 19] {
            let mine = f[h].upper - f[h].lower, theirs = ref.autoreg_9.upper[h] - ref.autoreg_9.lower[h]
            XCTAssertEqual(mine, theirs, accuracy: 0.15 * theirs, "interval width at step \(h + 1)")
            XCTAssertEqual((f[h].upper + f[h].lower) / 2, f[h].mean, accuracy: 1e-9)
        }
    }

    func testOrderSelectionByAIC() throws {
        let (m, aic) = try ARModel.selectOrder(train, maxOrder: 20)
        XCTAssertEqual(aic.count, 21)
        XCTAssertEqual(m.aic, aic.min()!)
        print("sunspots: AIC picks order \(m.order) (statsmodels' ar_select_order: \(ref.autoreg_aic.lags.count))")
        // The cycle of about 11 years needs several lags; statsmodels' least-squares AIC picks 9.
        XCTAssertTrue((6...12).contains(m.order), "order \(m.order)")
    }

    func testNormalQuantile() {
        XCTAssertEqual(ARModel.normalQuantile(0.975), 1.959963984540054, accuracy: 1e-9)
        XCTAssertEqual(ARModel.normalQuantile(0.5), 0, accuracy: 1e-12)
        XCTAssertEqual(ARModel.normalQuantile(0.001), -3.090232306167813, accuracy: 1e-9)
    }

    func testBadSeries() {
        XCTAssertThrowsError(try ARModel.fitYuleWalker([1, 2, 3], order: 5)) { XCTAssertEqual($0 as? ARModelError, .tooShort(count: 3, needed: 7)) }
        XCTAssertThrowsError(try ARModel.fitYuleWalker([Double](repeating: 4, count: 50), order: 2)) { XCTAssertEqual($0 as? ARModelError, .constant) }
        XCTAssertThrowsError(try ARModel.fitYuleWalker([1, .nan, 3, 4, 5], order: 1)) { XCTAssertEqual($0 as? ARModelError, .notFinite(index: 1)) }
        // A straight line is constant once the trend is removed.
        XCTAssertThrowsError(try ARModel.fitYuleWalker((0..<40).map { 2 * Double($0) + 1 }, order: 2, trend: true)) {
            XCTAssertEqual($0 as? ARModelError, .constant)
        }
    }
}
