// End-to-end: `synth forecast` through the real binary on the real series (sunspots, Mauna Loa CO2) and on bad inputs.
import Foundation
import XCTest

final class ForecastCLITests: XCTestCase {
    var dir: URL!
    let sunspots = CLI.fixture("timeseries/sunspots.csv")
    let co2 = CLI.fixture("timeseries/co2_weekly.csv")

    override func setUpWithError() throws {
        dir = try temporaryFolder("forecast")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func rows(_ url: URL) throws -> [[String]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    /// AR by AIC on sunspots 1700-1968, scored on 1969-1988 (the figures docs/forecasting.md reports), with a plot.
    func testARForecastOfHeldOutSunspotYears() throws {
        let out = dir.appendingPathComponent("f.csv"), png = dir.appendingPathComponent("f.png")
        let r = try CLI.run(["forecast", "--data", sunspots.path, "--column", "sunactivity", "--holdout", "20", "-o", out.path,
                             "--plot", png.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try CLI.json(r)
        XCTAssertEqual(j["values"] as? Int, 269)
        XCTAssertEqual(j["horizon"] as? Int, 20)
        let mae = try XCTUnwrap(j["mae"] as? Double), rmse = try XCTUnwrap(j["rmse"] as? Double)
        XCTAssertEqual(mae, 29.0899, accuracy: 1e-3)  // statsmodels: AutoReg(9) by OLS 26.85, ARIMA(9,0,0) 27.47 (docs/forecasting.md)
        XCTAssertEqual(rmse, 37.2564, accuracy: 1e-3)
        let t = try rows(out)
        XCTAssertEqual(t[0], ["year", "forecast", "lower", "upper", "actual"])
        XCTAssertEqual(t.count, 21)
        XCTAssertEqual(t[1][0], "1969")  // the year column continued after 1968, the last value used
        XCTAssertEqual(t[20][0], "1988")
        XCTAssertEqual(t[1][4], "105.5")  // 1969's sunspot activity, held out
        for row in t.dropFirst() {
            let v = row.prefix(4).compactMap(Double.init)
            XCTAssertEqual(v.count, 4)
            XCTAssertTrue(v[2] <= v[1] && v[1] <= v[3], "interval around the forecast: \(row)")
        }
        let pngData = try Data(contentsOf: png)
        XCTAssertEqual(Array(pngData.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }

    /// CO2 has 59 empty fields: they are filled, reported on stderr, and the forecast with a trend follows the rise.
    func testMissingValuesAreReportedAndTheTrendFollowed() throws {
        let out = dir.appendingPathComponent("co2.csv")
        let r = try CLI.run(["forecast", "--data", co2.path, "--column", "co2_ppm", "--horizon", "52", "--trend", "--max-order", "60",
                             "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("59 missing values (empty fields, first at line 8): 59 filled by linear interpolation"), r.stderr)
        let t = try rows(out)
        XCTAssertEqual(t.count, 53)
        XCTAssertEqual(t[0][0], "step", "the date column (19580329, 19580405, ...) is not evenly spaced as a number")
        XCTAssertEqual(t.dropFirst().map { $0[0] }, (1...52).map(String.init))
        let last = try XCTUnwrap(Double(t[52][1]))
        XCTAssertGreaterThan(last, 367.3, "a year on, the forecast is above the last week's 367.3 ppm")
        XCTAssertLessThan(last, 372)
    }

    /// A few seconds of training: the neural forecaster writes a forecast with its sampled interval, and a model folder
    /// that forecasts the same again when loaded.
    func testNeuralForecastAndSavedModel() throws {
        let out = dir.appendingPathComponent("n.csv"), model = dir.appendingPathComponent("model")
        let common = ["forecast", "--data", sunspots.path, "--column", "sunactivity", "--horizon", "11", "--model", "neural",
                      "--steps", "60", "--paths", "20", "--layers", "5", "--channels", "8"]
        let r = try CLI.run(common + ["-o", out.path, "--save-model", model.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let t = try rows(out)
        XCTAssertEqual(t.count, 12)
        for row in t.dropFirst() {
            let v = row.compactMap(Double.init)
            XCTAssertTrue(v[2] <= v[1] && v[1] <= v[3] && v[2] >= -100 && v[3] <= 400, "\(row)")
        }
        let again = dir.appendingPathComponent("again.csv")
        let l = try CLI.run(["forecast", "--data", sunspots.path, "--column", "sunactivity", "--horizon", "11", "--model", "neural",
                             "--paths", "20", "--load-model", model.path, "-o", again.path])
        XCTAssertEqual(l.status, 0, l.stderr)
        XCTAssertEqual(try Data(contentsOf: again), try Data(contentsOf: out))
    }

    /// A forecast after the last value continues the year column: sunspots end in 1988.
    func testForecastContinuesTheYearColumn() throws {
        let out = dir.appendingPathComponent("y.csv")
        let r = try CLI.run(["forecast", "--data", sunspots.path, "--column", "sunactivity", "--horizon", "3", "-o", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let t = try rows(out)
        XCTAssertEqual(t.map { $0[0] }, ["year", "1989", "1990", "1991"])
    }

    /// Out-of-range numbers are usage errors (exit 64), one line naming the option, its range and the value.
    func testOutOfRangeOptionsAreUsageErrors() throws {
        let out = dir.appendingPathComponent("r.csv")
        let cases: [([String], String)] = [
            (["--horizon", "0"], "--horizon must be in 1...100000, got 0"),
            (["--horizon", "5", "--holdout", "0"], "--holdout must be in 1...100000, got 0"),
            (["--horizon", "5", "--level", "1"], "--level must be in (0, 1), got 1.0"),
            (["--horizon", "5", "--order", "-1"], "--order must be in 0...10000, got -1"),
            (["--horizon", "5", "--max-order", "10001"], "--max-order must be in 0...10000, got 10001"),
            (["--horizon", "5", "--model", "neural", "--steps", "0"], "--steps must be in 1...1000000, got 0"),
            (["--horizon", "5", "--model", "neural", "--paths", "0"], "--paths must be in 1...100000, got 0"),
            (["--horizon", "5", "--model", "neural", "--bins", "1"], "--bins must be in 2...4096, got 1"),
            (["--horizon", "5", "--model", "neural", "--layers", "15"], "--layers must be in 1...14, got 15"),
            (["--horizon", "5", "--model", "neural", "--channels", "0"], "--channels must be in 1...512, got 0"),
            (["--horizon", "5", "--model", "neural", "--noise", "2"], "--noise must be in 0...1, got 2.0"),
        ]
        for (args, message) in cases {
            let r = try CLI.run(["forecast", "--data", sunspots.path, "--column", "sunactivity", "-o", out.path] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            assertFails(r, message, output: out)
        }
    }

    func testBadInputsFailInOneLineAndWriteNothing() throws {
        let out = dir.appendingPathComponent("bad.csv")
        func write(_ name: String, _ text: String) throws -> String {
            let u = dir.appendingPathComponent(name)
            try text.write(to: u, atomically: true, encoding: .utf8)
            return u.path
        }
        func run(_ data: String, _ column: String, _ extra: [String] = []) throws -> RunResult {
            try CLI.run(["forecast", "--data", data, "--column", column, "--horizon", "5", "-o", out.path] + extra)
        }
        assertFails(try run(sunspots.path, "spots"), "sunspots.csv:1: no column 'spots'; the header names 'year', 'sunactivity'", output: out)
        let text = try write("text.csv", "year,v\n2000,1\n2001,2\n2002,three\n2003,4\n")
        assertFails(try run(text, "v"), "text.csv:4: column 'v': 'three' is not a number", output: out)
        let short = try write("short.csv", "t,v\n1,5\n2,3\n3,8\n4,1\n")
        assertFails(try run(short, "v", ["--order", "9"]), "short.csv: column 'v' has 4 values; AR(9) needs at least 11", output: out)
        let empty = try write("empty.csv", "t,v\n1,\n2,\n3,\n")
        assertFails(try run(empty, "v"), "empty.csv: column 'v' has no values (all 3 rows are empty)", output: out)
        let constant = try write("constant.csv", "t,v\n1,7\n2,7\n3,\n4,7\n5,7\n")
        assertFails(try run(constant, "v"), "constant.csv: column 'v' is constant (every value is 7.0)", output: out)
        let longConstant = try write("constant20.csv", "t,v\n" + (1...20).map { "\($0),2.5\n" }.joined())
        assertFails(try run(longConstant, "v", ["--model", "neural"]), "constant20.csv: column 'v' is constant (every value is 2.5)", output: out)
        let ragged = try write("ragged.csv", "t,v\n1,2\n2,3,4\n")
        assertFails(try run(ragged, "v"), "ragged.csv:3: expected 2 comma-separated fields (t, v), got 3", output: out)
        assertFails(try run(dir.appendingPathComponent("missing.csv").path, "v"), "--data: no such file", output: out)
        XCTAssertEqual(listing(dir).filter { $0.hasPrefix("bad") }, [])
    }
}
