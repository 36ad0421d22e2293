// `synth forecast`: forecasts a column of a CSV file with AR(p) or the neural forecaster; writes the forecast as CSV
// and optionally a plot of history, forecast and interval.
import AREngine
import ArgumentParser
import AtomicIO
import DSP
import Forecast
import Foundation
import NNCore
import Plot

struct ForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast a column of a CSV file with AR(p) or a neural autoregressive model; write CSV and optionally a plot.",
        discussion: """
            The file is CSV (or TSV when the header holds a tab) with a header row; --column names the series, one row per time step (equally spaced). Empty fields are missing values: inside the series they are filled by linear interpolation, before the first or after the last value they are dropped, and a note on stderr says how many (and the first line). A field that is not a number, a row with the wrong number of fields, no such column, no values at all, fewer values than the model needs, or a constant series is an error: one line naming the file (and the line), exit status 1, nothing written.

            --model ar (default): AR(p) by Yule-Walker through Levinson-Durbin, around the mean or with --trend a least-squares line (with --difference, of the first differences, integrated back: ARIMA(p,1,0)), the order chosen by AIC over 0...--max-order (default: a quarter of the values, at most 120) or fixed by --order; intervals from the innovations' variance (Gaussian). --model neural: a WaveNet stack over the values quantised into --bins uniform bins (after removing the mean or the --trend line; with --difference, of the first differences, each sampled future integrated back), trained on the series for --steps Adam steps (seconds to a minute on one core), then --paths futures sampled; the forecast is their per-step median, the interval their central quantiles. --save-model keeps the trained model as a folder; --load-model forecasts with one instead of training.

            --holdout N forecasts the last N values from the ones before them and reports MAE and RMSE (the series' units) and the interval's coverage; --horizon defaults to N.

            Output CSV: step (1 = the step after the last value used), forecast, lower, upper (central interval of probability --level), and with --holdout the actual values. When the file's first column (not --column) is a time column, numbers written plainly (1700, 1958.25; no exponent) that rise evenly from row to row (to 1 % of the step), the first column of the output is that column continued past the last value used (year: 1989, 1990, ...) instead of the step. --plot draws the last values of the history, the forecast and its interval (and the held-out values) as PNG. Files are written atomically (- for standard output).
            """)

    @Option(help: ArgumentHelp("CSV or TSV file with a header row.", valueName: "FILE.csv"))
    var data: String
    @Option(help: ArgumentHelp("Column holding the series (case-insensitive).", valueName: "NAME"))
    var column: String
    @Option(parsing: .unconditional, help: "Steps to forecast (1...100000; default: --holdout's N).")
    var horizon: Int?
    @Option(help: ArgumentHelp("ar (Yule-Walker AR(p)) or neural (WaveNet over quantised values).", valueName: "ar|neural"))
    var model = "ar"
    @Flag(help: "Model the series around a least-squares linear trend instead of its mean (both models).")
    var trend = false
    @Flag(help: "Model the first differences and integrate the forecast (AR: ARIMA(p,1,0); with --trend, the differences' trend).")
    var difference = false
    @Option(parsing: .unconditional, help: "Probability of the central prediction interval, in (0, 1).")
    var level = 0.95
    @Option(parsing: .unconditional, help: ArgumentHelp("Forecast the last N values from the ones before them and score the forecast (1...100000; default: none, forecast after the last value).", valueName: "N"))
    var holdout: Int?
    @Option(parsing: .unconditional, help: "AR: fixed order p (0...10000) instead of choosing it by AIC (default: by AIC).")
    var order: Int?
    @Option(parsing: .unconditional, help: "AR: the largest order AIC considers (0...10000; default: a quarter of the values, at most 120).")
    var maxOrder: Int?
    @OptionGroup var neural: NeuralForecastOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Output CSV file, or - for standard output.", valueName: "OUT.csv"))
    var output: String
    @Option(help: ArgumentHelp("Also draw history, forecast and interval as PNG (default: no plot).", valueName: "OUT.png"))
    var plot: String?
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard ["ar", "neural"].contains(model) else { throw ValidationError("--model must be ar or neural, got '\(model)'") }
        try requireFile(data, option: "--data")
        if let h = holdout, !(1...100_000).contains(h) { throw ValidationError("--holdout must be in 1...100000, got \(h)") }
        guard horizon != nil || holdout != nil else { throw ValidationError("give --horizon H (or --holdout N)") }
        if let h = horizon, !(1...100_000).contains(h) { throw ValidationError("--horizon must be in 1...100000, got \(h)") }
        guard level > 0 && level < 1 else { throw ValidationError("--level must be in (0, 1), got \(level)") }
        if let p = order, !(0...10_000).contains(p) { throw ValidationError("--order must be in 0...10000, got \(p)") }
        if let p = maxOrder, !(0...10_000).contains(p) { throw ValidationError("--max-order must be in 0...10000, got \(p)") }
        if model != "ar" && (order != nil || maxOrder != nil) { throw ValidationError("--order and --max-order are for --model ar") }
        if model != "neural" && neural.given { throw ValidationError("--steps, --paths, --bins, --layers, --channels, --noise, --seed, --save-model and --load-model are for --model neural") }
        try neural.validate()
        try checkOutputPath(output, option: "-o")
        if let plot {
            guard plot.lowercased().hasSuffix(".png") || plot == "-" else { throw ValidationError("--plot: \(plot) is not a .png file name") }
            try checkOutputPath(plot, option: "--plot")
            if isStandardOutput(plot) && isStandardOutput(output) { throw ValidationError("-o and --plot cannot both be standard output") }
        }
    }

    func run() throws {
        BLAS.setThreads(1)
        let series: SeriesColumn
        do { series = try SeriesColumn.read(URL(fileURLWithPath: data), column: column) } catch { throw RuntimeError("\(error)") }
        let held = holdout ?? 0
        let steps = horizon ?? held
        // Values the model needs, plus the held-out tail.
        let needed: Int, name: String
        if model == "ar" {
            needed = ClassicalForecaster(order: order, trend: trend, difference: difference).needed
            name = order.map { "AR(\($0))" } ?? "an AR model"
        } else {
            var f = NeuralForecaster()
            f.difference = difference
            needed = f.needed
            name = "the neural forecaster"
        }
        let all: [Double]
        do { all = try series.values(needed: needed + held, model: held > 0 ? "\(name) with --holdout \(held)" : name) } catch {
            throw RuntimeError("\(error)")
        }
        let history = Array(all.dropLast(held)), actual = held > 0 ? Array(all.suffix(held)) : nil
        guard Set(history).count > 1 else {
            throw RuntimeError("\(SeriesError.constant(path: series.path, column: series.column, value: history[0]))")
        }
        // Reported once the series is known to be usable, so that a refused one gets its one line only.
        if let note = series.missingReport { printErr("note: \(note)") }
        let started = Date()
        let table = try model == "ar" ? forecastAR(history, steps) : forecastNeural(history, steps)
        let seconds = Date().timeIntervalSince(started)
        // Render everything before writing anything, so a failure leaves no file behind.
        let csv = Data(table.csv(actual: actual, times: series.times(after: history.count, horizon: table.rows.count)).utf8)
        let png = try plot.map { _ in try drawPlot(table, history: history, actual: actual, series: series) }
        try AtomicFile.write(csv, to: outputURL(output))
        if let plot, let png { try AtomicFile.write(png, to: outputURL(plot)) }
        report(table, series: series, history: history, actual: actual, seconds: seconds)
    }

    func forecastAR(_ x: [Double], _ steps: Int) throws -> ForecastTable {
        let f = ClassicalForecaster(order: order, maxOrder: maxOrder ?? min(120, x.count / 4), trend: trend, difference: difference)
        do { return try f.forecast(x, horizon: steps, level: level).table } catch { throw RuntimeError("\(data): column '\(column)': \(error)") }
    }

    func forecastNeural(_ x: [Double], _ steps: Int) throws -> ForecastTable {
        var f = neural.forecaster
        f.trend = trend
        f.difference = difference
        let net: ForecastNet
        if let dir = neural.loadModel {
            net = try ModelRegistry.synth.load(try ModelRegistry.synth.resolve(dir, as: .forecaster), as: .forecaster) as! ForecastNet
            printErr("loaded \(dir): \(net.summary)")
        } else {
            do { net = try f.makeModel(for: x) } catch { throw RuntimeError("\(data): column '\(column)': \(error)") }
            let line = ProgressLine("training")
            printErr("training \(net.summary) on \(x.count) values for \(f.steps) steps")
            _ = try f.train(net, on: x) { event in
                if case .train(let step, let loss, _, _, _, _) = event {
                    line.update(ProgressReport(done: step, total: f.steps, unit: "steps"), extra: String(format: " | loss %.3f nats", loss))
                }
            }
            if let dir = neural.saveModel {
                try ModelFolder.save(net, to: URL(fileURLWithPath: dir))
                printErr("saved the model to \(dir)")
            }
        }
        let line = ProgressLine("sampling")
        return try f.forecast(net, after: x, horizon: steps, level: level) { line.update($0) }
    }

    /// The last values of the history (at most max(4 × horizon, 60)), the forecast and its interval, against steps
    /// relative to the last value used (history at 0 and before).
    func drawPlot(_ t: ForecastTable, history: [Double], actual: [Double]?, series: SeriesColumn) throws -> Data {
        let shown = min(history.count, max(4 * t.rows.count, 60))
        let hist = (0..<shown).map { (x: Double($0 - shown + 1), y: history[history.count - shown + $0]) }
        let join = (x: 0.0, y: history.last!)
        var curves = [
            Plot.Series(name: "history", points: hist, color: .black, lineWidth: 1.5),
            Plot.Series(name: "forecast", points: [join] + t.rows.map { (Double($0.step), $0.point) }, color: .blue, lineWidth: 2),
            Plot.Series(name: String(format: "%g %% interval", 100 * t.level), points: [join] + t.rows.map { (Double($0.step), $0.upper) },
                        color: Color(0.55, 0.75, 0.95), lineWidth: 1.2),
            Plot.Series(name: "", points: [join] + t.rows.map { (Double($0.step), $0.lower) }, color: Color(0.55, 0.75, 0.95), lineWidth: 1.2),
        ]
        if let actual {
            curves.append(Plot.Series(name: "held out", points: [join] + actual.enumerated().map { (Double($0.offset + 1), $0.element) },
                                      color: .orange, lineWidth: 1.5, markers: actual.count <= 60))
        }
        let title = "\(URL(fileURLWithPath: series.path).lastPathComponent): \(series.column), \(t.rows.count) steps ahead"
        do {
            return try CurveFigure.png(title: title, subtitle: t.model, panels: [
                CurvePanel(xLabel: "steps after the last value used (history at 0 and before)", yLabel: series.column, series: curves),
            ], skipFraction: 0, legend: .topLeft)
        } catch { throw RuntimeError("--plot: \(error)") }
    }

    func report(_ t: ForecastTable, series: SeriesColumn, history: [Double], actual: [Double]?, seconds: Double) {
        let shown = isStandardOutput(output) ? "- (standard output)" : output
        var result: [String: Any] = ["command": "forecast", "output": output, "model": t.model, "values": history.count,
                                     "horizon": t.rows.count, "level": t.level, "seconds": seconds]
        var lines = ["\(t.model)", "fitted on \(history.count) values of '\(series.column)'; wrote \(t.rows.count) steps to \(shown)"]
        if let actual {
            let s = t.scores(against: actual)
            lines.append(String(format: "held out %d values: MAE %.4f, RMSE %.4f, %.0f %% inside the %g %% interval", actual.count, s.mae,
                                s.rmse, 100 * s.coverage, 100 * t.level))
            result["mae"] = s.mae; result["rmse"] = s.rmse; result["coverage"] = s.coverage; result["holdout"] = actual.count
        }
        if let plot { result["plot"] = plot; lines.append("plot: \(plot)") }
        if jsonOption.json {
            printJSON(result)
        } else if isStandardOutput(output) {
            lines.forEach(printErr)
        } else {
            print(lines.joined(separator: "\n"))
        }
    }
}

/// The options of `synth forecast --model neural`.
struct NeuralForecastOptions: ParsableArguments {
    // Optional only to tell whether they were given (--model ar refuses them); the help states NeuralForecaster's defaults.
    @Option(parsing: .unconditional, help: "Neural: Adam steps of training on the series (1...1000000; default: \(NeuralForecaster().steps)).")
    var steps: Int?
    @Option(parsing: .unconditional, help: "Neural: sampled futures (their median is the forecast; 1...100000; default: \(NeuralForecaster().paths)).")
    var paths: Int?
    @Option(parsing: .unconditional, help: "Neural: uniform bins the values are quantised into (2...4096; default: \(NeuralForecaster().bins)).")
    var bins: Int?
    @Option(parsing: .unconditional, help: "Neural: layers of dilations 1, 2, 4, ... (receptive field 2^layers steps; 1...14; default: \(NeuralForecaster().layers)).")
    var layers: Int?
    @Option(parsing: .unconditional, help: "Neural: residual channels (gate and skip channels are twice as many; 1...512; default: \(NeuralForecaster().channels)).")
    var channels: Int?
    @Option(parsing: .unconditional, help: "Neural: standard deviation of the noise added to the inputs in training (the values span [-1, 1]; 0...1; default: \(NeuralForecaster().noise)).")
    var noise: Float?
    @Option(parsing: .unconditional, help: "Neural: seed of the initialisation, the training batches and the sampling (default: \(NeuralForecaster().seed)).")
    var seed: UInt64?
    @Option(help: ArgumentHelp("Neural: keep the trained model in this folder (default: not kept).", valueName: "DIR"))
    var saveModel: String?
    @Option(help: ArgumentHelp("Neural: forecast with this trained model (a folder, or a name `synth voices` lists) instead of training one (default: train one; --bins, --layers and --channels then come from the model).", valueName: "NAME|DIR"))
    var loadModel: String?

    var given: Bool {
        steps != nil || paths != nil || bins != nil || layers != nil || channels != nil || noise != nil || seed != nil || saveModel != nil || loadModel != nil
    }

    func validate() throws {
        if let s = steps, !(1...1_000_000).contains(s) { throw ValidationError("--steps must be in 1...1000000, got \(s)") }
        if let p = paths, !(1...100_000).contains(p) { throw ValidationError("--paths must be in 1...100000, got \(p)") }
        if let b = bins, !(2...4096).contains(b) { throw ValidationError("--bins must be in 2...4096, got \(b)") }
        if let l = layers, !(1...14).contains(l) { throw ValidationError("--layers must be in 1...14, got \(l)") }
        if let c = channels, !(1...512).contains(c) { throw ValidationError("--channels must be in 1...512, got \(c)") }
        if let n = noise, !(n >= 0 && n <= 1) { throw ValidationError("--noise must be in 0...1, got \(n)") }
        if saveModel != nil && loadModel != nil { throw ValidationError("give --save-model or --load-model, not both") }
        if let d = loadModel, ModelLibrary.resolve(d) == nil { throw ValidationError("--load-model: no model folder or installed model named \(d)") }
    }

    /// The forecaster these options describe (defaults from `NeuralForecaster`).
    var forecaster: NeuralForecaster {
        var f = NeuralForecaster()
        if let steps { f.steps = steps }
        if let paths { f.paths = paths }
        if let bins { f.bins = bins }
        if let layers { f.layers = layers }
        if let channels { f.channels = channels }
        if let noise { f.noise = noise }
        if let seed { f.seed = seed }
        return f
    }
}
