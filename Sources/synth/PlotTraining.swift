// `synth plot training`: a run's train and valid loss against steps and against hours of training, as PNG.
import ArgumentParser
import AtomicIO
import Foundation
import Plot

struct PlotTraining: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "training",
        abstract: "Draw a training run's train and valid loss against steps and hours, as PNG.",
        discussion: """
            Reads RUN/train.log (written by `synth train` and `synth music train`; RUN may also name the log itself). The top panel plots the loss against optimizer steps, the bottom one against hours of training (minutes for a run shorter than an hour; the run's own clock, kept across resumes; valid points are placed by step between the train lines around them). Train loss is the mean over each --log-every window; valid loss is the one validation computes. Both panels share the loss scale, which covers every point after the first 5 % of the steps (the first steps, near ln 256 = 5.5 nats, run off the top). Lines that a resume from an earlier checkpoint logged again replace the earlier ones.

            OUT.png is written atomically (- for standard output).
            """)

    @Argument(help: ArgumentHelp("Run folder (holding train.log) or the log file.", valueName: "RUN"))
    var runFolder: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Output PNG file, or - for standard output.", valueName: "OUT.png"))
    var output: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Width of the picture in pixels (400 to 4000).", valueName: "PIXELS"))
    var width = 1000

    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard (400...4000).contains(width) else { throw ValidationError("--width must be in 400...4000, got \(width)") }
        guard output == "-" || output.lowercased().hasSuffix(".png") else { throw ValidationError("-o: \(output) is not a .png file name") }
        try checkOutputPath(output, option: "-o")
    }

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: runFolder, isDirectory: &isDir) else {
            throw RuntimeError("\(runFolder): no such run folder or log file")
        }
        let logURL = isDir.boolValue ? URL(fileURLWithPath: runFolder).appendingPathComponent("train.log") : URL(fileURLWithPath: runFolder)
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else {
            throw RuntimeError("\(logURL.path): cannot read the training log (is \(runFolder) a run folder of `synth train`?)")
        }
        let log = TrainingLog.parse(text)
        guard !log.train.isEmpty else { throw RuntimeError("\(logURL.path): no train loss lines (\"step N/M  train ...\") yet") }
        let name = isDir.boolValue ? URL(fileURLWithPath: runFolder).standardizedFileURL.lastPathComponent
                                   : logURL.deletingLastPathComponent().lastPathComponent
        let unit = log.unit
        // Time in hours, or in minutes for a run of less than an hour.
        let minutes = (log.train.map(\.hours).filter(\.isFinite).max() ?? 0) < 1
        func series(_ hours: Bool) -> [Series] {
            let x = { (p: TrainingLog.Point) in hours ? p.hours * (minutes ? 60 : 1) : Double(p.step) }
            var s = [Series(name: "train (mean over each log window)", points: log.train.map { (x($0), $0.loss) }, color: .blue)]
            if !log.valid.isEmpty {
                s.append(Series(name: "valid", points: log.valid.map { (x($0), $0.loss) }, color: .orange, lineWidth: 2, markers: true))
            }
            return s
        }
        let last = log.train.last!
        var subtitle = String(format: "step %d%@, %.2f h of training; latest train loss %.4f nats/%@", last.step,
                              log.totalSteps.map { " of \($0)" } ?? "", last.hours.isFinite ? last.hours : 0, last.loss, unit)
        if let best = log.best { subtitle += String(format: "; best valid %.4f nats/%@ at step %d", best.loss, unit, best.step) }
        let yLabel = "loss (nats per \(unit))"
        let png: Data
        do {
            png = try CurveFigure.png(title: "training run \(name)", subtitle: subtitle, panels: [
                CurvePanel(xLabel: "optimizer step", yLabel: yLabel, series: series(false)),
                CurvePanel(xLabel: minutes ? "minutes of training" : "hours of training", yLabel: yLabel, series: series(true)),
            ], width: width)
        } catch { throw RuntimeError("\(error)") }
        try AtomicFile.write(png, to: outputURL(output))
        let shown = isStandardOutput(output) ? "- (standard output)" : output
        printErr("wrote \(shown): \(log.train.count) train and \(log.valid.count) valid points, \(png.count) bytes")
        if jsonOption.json {
            var result: [String: Any] = ["command": "plot training", "output": output, "log": logURL.path, "bytes": png.count,
                                         "train_points": log.train.count, "valid_points": log.valid.count, "last_step": last.step,
                                         "hours": jsonNumber(last.hours), "last_train_loss": last.loss, "unit": unit]
            if let best = log.best { result["best_valid"] = ["step": best.step, "loss": best.loss] }
            printJSON(result)
        }
    }
}
