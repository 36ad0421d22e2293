// `synth image eval`: nats per image and bits per pixel of a PixelCNN and of two count baselines on the same images.
import AREngine
import ArgumentParser
import Foundation
import Image
import NNCore

struct ImageEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Report the NLL of a PixelCNN and of two count baselines on held-out images.",
        discussion: """
            All three are scored on the same pixels of --data, in nats per image and bits per pixel (dimension, over the 17 grey levels). The baselines are fitted on --train: an independent categorical per pixel position, and counts over each pixel's position, left and upper neighbours (both with add-1/2 smoothing). A class-conditional model is reported twice: -log p(x) (the digit marginalised out with the training set's digit frequencies, comparable with the baselines) and -log p(x | digit) with the true digits.
            """)

    @Option(help: ArgumentHelp("Images to score (CSV: p0...p63, label).", valueName: "FILE.csv"))
    var data: String
    @Option(help: ArgumentHelp("Training images, for the baselines and the digit frequencies.", valueName: "FILE.csv"))
    var train: String
    @OptionGroup var modelOption: ImageModelOption
    @Flag(help: "Only fit and score the baselines.")
    var baselinesOnly = false
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        try requireFile(data, option: "--data")
        try requireFile(train, option: "--train")
    }

    func run() throws {
        BLAS.setThreads(1)
        let model = baselinesOnly ? nil : try modelOption.load()
        let c = model?.config ?? PixelCNNConfig()
        let trainSet = try ImageSet.read(URL(fileURLWithPath: train), height: c.height, width: c.width, levels: c.levels)
        let evalSet = try ImageSet.read(URL(fileURLWithPath: data), height: c.height, width: c.width, levels: c.levels)
        let P = c.pixels, n = Double(evalSet.count)
        let say: (String) -> Void = jsonOption.json ? printErr : { print($0) }
        say("\(data): \(evalSet.count) images, \(evalSet.count * P) pixels; baselines fitted on \(trainSet.count) train images")
        var results: [[String: Any]] = []
        func report(_ name: String, _ nats: Double, _ key: String) {
            let bits = PixelCNNScore.bitsPerPixel(nats, pixels: P)
            say(String(format: "%@: %.2f nats/image, %.4f bits/pixel", name, nats, bits))
            results.append(["model": key, "nats_per_image": nats, "bits_per_pixel": bits])
        }
        let position = PositionCategorical(train: trainSet), neighbours = CausalNeighbourCounts(train: trainSet)
        report("per-position categorical", evalSet.pixels.map(position.nats).reduce(0, +) / n, "position_categorical")
        report("counts over position, left and upper neighbours", evalSet.pixels.map(neighbours.nats).reduce(0, +) / n, "neighbour_counts")
        if let model {
            let start = Date()
            let score = try model.score(evalSet, prior: trainSet.classPrior(classes: c.classes))
            let seconds = Date().timeIntervalSince(start)
            let name = "PixelCNN \(modelOption.model) (\(model.summary))"
            report(c.classes > 0 ? "\(name), digit marginalised" : name, score.nats, "pixelcnn")
            if let cond = score.conditionalNats { report("PixelCNN given the true digit", cond, "pixelcnn_given_digit") }
            say(String(format: "scored in %.2f s", seconds))
        }
        if jsonOption.json {
            printJSON(["command": "image eval", "data": data, "images": evalSet.count, "pixels": evalSet.count * P, "results": results])
        }
    }
}
