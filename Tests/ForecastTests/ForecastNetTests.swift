// The neural forecaster: gradients against finite differences, cached steps equal to the full pass, the folder round
// trip through the registry, and the scaling between values and bins.
import AREngine
import DSP
import NNCore
import TestSupport
import XCTest
@testable import Forecast

final class ForecastNetTests: XCTestCase {
    func tinyModel() -> ForecastNet {
        let scaling = SeriesScaling(trend: true, intercept: 3, slope: 0.5, low: -2, high: 4)
        let m = ForecastNet(config: ForecastNetConfig(bins: 11, dilations: [1, 2, 4, 1], residualChannels: 4, gateChannels: 6,
                                                      skipChannels: 5, scaling: scaling))
        m.initialize(seed: 4)
        var rng = Xoshiro256(seed: 8)
        for i in 0..<m.parameters.count { m.parameters.values[i] += rng.nextGaussian() * 0.2 }
        return m
    }

    func testCachedStepMatchesFullForward() {
        assertCachedStepsMatchFullForward(tinyModel(), [[0, 3, 7, 7, 1, 10, 2, 4, 5, 9], [9, 8, 1, 2, 3, 4, 6, 6, 0, 1]])
    }

    func testLossGradientsMatchFiniteDifferences() {
        let m = tinyModel()
        let batch = SeriesBatch(windows: [[1, 4, 2, 9, 10, 3, 3, 0], [5, 5, 6, 7, 8, 2, 1, 1]], scoredFrom: 2)
        m.parameters.zeroGrads()
        let (_, count) = m.loss(batch, backward: true)
        XCTAssertEqual(count, 10)  // targets 3...7 of each window
        let analytic = Array(UnsafeBufferPointer(start: m.parameters.grads, count: m.parameters.count))
        func loss() -> Double { let r = m.loss(batch, backward: false); return r.sum / Double(r.count) }
        for name in ["input.weight", "input.bias", "layers.1.conv.weight", "layers.3.out.weight", "post.conv2.weight", "layers.2.conv.bias"] {
            let e = m.parameters.entry(name)!
            analytic.withUnsafeBufferPointer { a in
                assertGradientsMatch(name, x: m.parameters.values + e.offset, count: e.count, analytic: a.baseAddress! + e.offset,
                                     tolerance: GradientTolerance(maxChecks: 8, rtol: 3e-2, atol: 1e-3, eps: 1e-2), loss: loss)
            }
        }
    }

    func testLossScoresOnlyTargetsAfterScoredFrom() {
        let m = tinyModel()
        let windows = [[1, 4, 2, 9, 10, 3]]
        let all = m.loss(SeriesBatch(windows: windows, scoredFrom: 0), backward: false)
        let late = m.loss(SeriesBatch(windows: windows, scoredFrom: 3), backward: false)
        XCTAssertEqual(all.count, 5)
        XCTAssertEqual(late.count, 2)
        // The same logits: the late sum is the last two positions' cross-entropy.
        let logits = m.logits([[1, 4, 2, 9, 10]]), V = 11
        var expected = 0.0
        for (t, y) in [(3, 10), (4, 3)] {
            let row = logits[(t * V)..<((t + 1) * V)].map(Double.init), mx = row.max()!
            expected += log(row.map { exp($0 - mx) }.reduce(0, +)) + mx - row[y]
        }
        XCTAssertEqual(late.sum, expected, accuracy: 1e-4)
    }

    func testFolderRoundTripThroughRegistry() throws {
        let m = tinyModel()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forecast-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFolder.save(m, to: dir)
        let json = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertTrue(json.contains("\"model_type\" : \"forecast_wavenet\""), json)
        let registry = ModelRegistry([ForecastNet.self])
        let back = try registry.load(ForecastNet.self, from: dir, noun: "forecaster")
        XCTAssertEqual(back.config, m.config)
        XCTAssertEqual(back.logits([[1, 2, 3]]), m.logits([[1, 2, 3]]))
    }

    func testConfigValidationNamesTheField() {
        var c = tinyModel().config
        c.gateChannels = 5
        XCTAssertThrowsError(try c.validate(file: "f.json")) {
            XCTAssertEqual("\($0)", "f.json: gate_channels must be even, got 5")
        }
        c = tinyModel().config
        c.scaling.high = c.scaling.low
        XCTAssertThrowsError(try c.validate(file: "f.json")) { XCTAssertTrue("\($0)".contains("low < high"), "\($0)") }
    }

    func testScalingMapsValuesToBinsAndBack() throws {
        // x = 10 + 2 t + (-1, +1 alternating): the trend fit is numpy.polyfit's line, the residual range [-1, 1] widened by 25 %.
        let x: [Double] = (0..<20).map { (t: Int) -> Double in 10 + 2 * Double(t) + (t % 2 == 0 ? -1.0 : 1.0) }
        let s = try SeriesScaling.fit(x, trend: true)
        // numpy.polyfit(t, x, 1) on these values: slope 2.015037593984962, intercept 9.857142857142861.
        XCTAssertEqual(s.slope, 2.015037593984962, accuracy: 1e-12)
        XCTAssertEqual(s.intercept, 9.857142857142861, accuracy: 1e-12)
        let bins = 101
        for t in [0, 7, 19] {
            let q = s.bin(x[t], at: t, bins: bins)
            XCTAssertEqual(s.value(bin: q, at: t, bins: bins), x[t], accuracy: (s.high - s.low) / Double(bins - 1) / 2 + 1e-12)
        }
        XCTAssertEqual(s.bin(1e9, at: 0, bins: bins), bins - 1)
        XCTAssertEqual(s.bin(-1e9, at: 0, bins: bins), 0)
        XCTAssertEqual(SeriesScaling.input(bin: 0, bins: bins), -1)
        XCTAssertEqual(SeriesScaling.input(bin: 100, bins: bins), 1)
    }

    /// A config.json written before `difference` existed reads as false; differences are modelled one fewer than values.
    func testScalingOfDifferences() throws {
        let old = #"{"trend": false, "intercept": 1.5, "slope": 0, "low": -2, "high": 3}"#
        let s = try JSONDecoder().decode(SeriesScaling.self, from: Data(old.utf8))
        XCTAssertFalse(s.difference)
        let x: [Double] = [1, 4, 2, 7, 8]
        XCTAssertEqual(s.modelled(x), x)
        let d = try SeriesScaling.fit(x, trend: false, difference: true)
        XCTAssertEqual(d.modelled(x), [3, -2, 5, 1])
        XCTAssertEqual(d.intercept, 1.75, accuracy: 1e-12)  // the mean difference (the drift)
        XCTAssertEqual(d.low, -2 - 1.75 - 0.25 * 7, accuracy: 1e-12)
        XCTAssertEqual(d.high, 5 - 1.75 + 0.25 * 7, accuracy: 1e-12)
    }

    func testQuantileIsNumpysLinear() {
        // numpy.quantile([1, 2, 4, 8, 16], [0.025, 0.5, 0.975]) = [1.1, 4.0, 15.2]
        let s = [1.0, 2, 4, 8, 16]
        XCTAssertEqual(NeuralForecaster.quantile(s, 0.025), 1.1, accuracy: 1e-12)
        XCTAssertEqual(NeuralForecaster.quantile(s, 0.5), 4.0, accuracy: 1e-12)
        XCTAssertEqual(NeuralForecaster.quantile(s, 0.975), 15.2, accuracy: 1e-12)
    }

    /// A sine of period 12 with a little noise: the trained forecaster continues it (a few seconds of training).
    func testTrainedForecasterContinuesASine() throws {
        var rng = Xoshiro256(seed: 3)
        let x: [Double] = (0..<240).map { (t: Int) -> Double in
            let noise = Double(rng.nextGaussian())
            return 50 + 20 * sin(2 * Double.pi * Double(t) / 12) + noise
        }
        var f = NeuralForecaster()
        f.layers = 5; f.channels = 8; f.steps = 150; f.paths = 20; f.bins = 32
        let net = try f.makeModel(for: Array(x.prefix(228)))
        _ = try f.train(net, on: Array(x.prefix(228)))
        let table = try f.forecast(net, after: Array(x.prefix(228)), horizon: 12, level: 0.9)
        let truth: [Double] = (228..<240).map { (t: Int) -> Double in 50 + 20 * sin(2 * Double.pi * Double(t) / 12) }
        let s = table.scores(against: truth)
        XCTAssertLessThan(s.mae, 4, "MAE \(s.mae) on a sine of amplitude 20")
        XCTAssertTrue(table.rows.allSatisfy { $0.lower <= $0.point && $0.point <= $0.upper })
    }
}
