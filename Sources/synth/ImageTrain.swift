// `synth image train`: fits a gated PixelCNN on an image CSV with the shared trainer, with resume.
import AREngine
import ArgumentParser
import Foundation
import Image
import NNCore

struct ImageTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a gated PixelCNN on the images of a CSV file.",
        discussion: """
            Each step draws --batch random images of --train (teacher forcing: every pixel is predicted from the pixels before it in raster order, and from the digit unless --unconditional). Validation scores every image of --valid once. It logs train and valid loss (nats and bits per pixel), checkpoints every --checkpoint-every steps and on Ctrl-C or SIGTERM, and keeps the best model by validation loss in OUT/best/ (a model folder). Resume with --resume. Bad input (a wrong number of columns, a value outside 0...16, a label outside 0...9) stops with FILE:LINE: reason and exit status 1.
            """)

    @Option(help: ArgumentHelp("Training images (CSV: p0...p63, label).", valueName: "FILE.csv"))
    var train: String
    @Option(help: ArgumentHelp("Validation images (same format; default: none, no validation).", valueName: "FILE.csv"))
    var valid: String?
    @Option(help: ArgumentHelp("Run folder for checkpoints, train.log and the best model.", valueName: "DIR"))
    var out: String
    @Flag(help: "Continue the newest complete checkpoint in --out (model flags then come from it).")
    var resume = false
    @Flag(help: "No class conditioning: model p(image) instead of p(image | digit).")
    var unconditional = false
    @Flag(help: "Augment: move each training image by up to one pixel each way when no ink leaves the frame.")
    var shift = false
    @Option(parsing: .unconditional, help: "Total optimizer steps (a resumed run continues up to this; 1...10000000).")
    var steps = 1500
    @Option(parsing: .unconditional, help: "Images per batch (1...4096).")
    var batch = 32
    @Option(parsing: .unconditional, help: "Features per pixel in each stack (1...1024).")
    var channels = 16
    @Option(parsing: .unconditional, help: "Gated layers (the first masked A; 1...64).")
    var layers = 8
    @Option(parsing: .unconditional, help: "Odd width of the masked kernels (3...15).")
    var kernel = 3
    @OptionGroup var training: TrainingFlags

    func validate() throws {
        guard (1...10_000_000).contains(steps) else { throw ValidationError("--steps must be in 1...10000000, got \(steps)") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be in 1...4096, got \(batch)") }
        guard (1...1024).contains(channels) else { throw ValidationError("--channels must be in 1...1024, got \(channels)") }
        guard (1...64).contains(layers) else { throw ValidationError("--layers must be in 1...64, got \(layers)") }
        guard (3...15).contains(kernel), kernel % 2 == 1 else { throw ValidationError("--kernel must be odd, in 3...15, got \(kernel)") }
        do {
            try PixelCNNConfig(classes: unconditional ? 0 : 10, channels: channels, layers: layers, kernel: kernel).validate(file: "--channels/--layers/--kernel")
        } catch { throw ValidationError("\(error)") }
        try requireFile(train, option: "--train")
        if let valid { try requireFile(valid, option: "--valid") }
    }

    func run() throws {
        BLAS.setThreads(training.threads)
        let store = CheckpointStore(runDirectory: URL(fileURLWithPath: out))
        let config: PixelCNNConfig
        var resumeFrom: URL?
        if resume {
            let latest = try store.latest()
            config = try ModelRegistry.synth.config(PixelCNNModel.self, in: latest, as: .imageModel)
            resumeFrom = latest
        } else {
            if !store.completeCheckpoints().isEmpty {
                throw ValidationError("\(out) already holds checkpoints; pass --resume to continue or choose another --out")
            }
            config = PixelCNNConfig(classes: unconditional ? 0 : 10, channels: channels, layers: layers, kernel: kernel)
        }
        let model = PixelCNNModel(config: config)
        if resumeFrom == nil { model.initialize(seed: training.seed) }
        let trainSet = try ImageSet.read(URL(fileURLWithPath: train), height: config.height, width: config.width, levels: config.levels)
        let validSet = try valid.map { try ImageSet.read(URL(fileURLWithPath: $0), height: config.height, width: config.width, levels: config.levels) }
        let data = try ImageTrainingData(model: model, train: trainSet, valid: validSet, batchSize: batch, shift: shift)
        let header = ["data: \(trainSet.count) train images, \(validSet?.count ?? 0) valid", "model: \(model.summary)"]
        header.forEach(printErr)
        let settings = [("--train", URL(fileURLWithPath: train).standardizedFileURL.path), ("--batch", "\(batch)"), ("--shift", shift ? "given" : "not given")] + training.settings
        try runTraining(Trainer(model: model, options: training.options(steps: steps), checkpoints: store), data: data,
                        configJSON: try ModelFolder.encode(config, modelType: PixelCNNModel.modelType), runDirectory: store.runDirectory,
                        resumeFrom: resumeFrom, timeLimit: training.timeLimit, unit: "pixels", positionsPerStep: batch * config.pixels,
                        header: header, settings: settings)
    }
}
