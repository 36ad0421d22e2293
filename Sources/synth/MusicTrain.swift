// `synth music train`: fits a transformer (or a token WaveNet) on a MIDI manifest, with augmentation and resume.
import AREngine
import ArgumentParser
import Foundation
import MIDI
import Music
import NNCore

struct MusicTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a music model on the MIDI files of a manifest.",
        discussion: """
            The manifest is TSV or CSV with a header naming `path`, `collection` and `split` (`train` or `valid`); paths are relative to the manifest. Files that fail to parse or hold no notes are listed and skipped. Training draws random windows of --context + 1 tokens, each from a piece transposed by a random -3...+3 semitones and time-stretched by a random factor in [0.95, 1.05] (--no-augment to disable). Validation covers every valid-split token once, unaugmented. It logs train and valid loss (nats and bits per token), checkpoints every --checkpoint-every steps and on Ctrl-C or SIGTERM (a stop before the first validation also validates, so OUT/best/ exists), and keeps the best model by validation loss in OUT/best/ (a model folder). Resume with --resume.
            """)

    @Option(help: ArgumentHelp("MIDI manifest (TSV/CSV with path, collection, split).", valueName: "MANIFEST"))
    var data: String
    @Option(help: ArgumentHelp("Run folder for checkpoints, train.log and the best model.", valueName: "DIR"))
    var out: String
    @Flag(help: "Continue the newest complete checkpoint in --out (model flags then come from it).")
    var resume = false

    @Option(help: ArgumentHelp("Model family: transformer or wavenet.", valueName: "FAMILY"))
    var model = "transformer"
    @Option(parsing: .unconditional, help: ArgumentHelp("Total optimizer steps (a resumed run continues up to this).", valueName: "N"))
    var steps = 20000
    @Option(parsing: .unconditional, help: ArgumentHelp("Windows per batch.", valueName: "N"))
    var batch = 16
    @Option(parsing: .unconditional, help: ArgumentHelp("Context length in tokens (window length; the transformer's positions).", valueName: "TOKENS"))
    var context = 256
    @Option(parsing: .unconditional, help: ArgumentHelp("Transformer width.", valueName: "N"))
    var dModel = 128
    @Option(parsing: .unconditional, help: ArgumentHelp("Transformer attention heads.", valueName: "N"))
    var heads = 4
    @Option(parsing: .unconditional, help: ArgumentHelp("Transformer blocks.", valueName: "N"))
    var layers = 4
    @Option(parsing: .unconditional, help: ArgumentHelp("Transformer MLP width (0 = 4 × d-model).", valueName: "N"))
    var dFF = 0
    @Option(parsing: .unconditional, help: ArgumentHelp("WaveNet dilation cycle (dilations 1 ... 2^(cycle-1)).", valueName: "N"))
    var dilationCycle = 7
    @Option(parsing: .unconditional, help: ArgumentHelp("WaveNet dilation cycles.", valueName: "N"))
    var stacks = 2
    @Option(parsing: .unconditional, help: ArgumentHelp("WaveNet residual channels (gate = 2×, skip = 2×).", valueName: "N"))
    var residual = 64
    @Flag(help: "Disable transposition and time-stretch augmentation.")
    var noAugment = false
    @OptionGroup var training: TrainingFlags
    @OptionGroup var jsonOption: JSONOption
    @Option(parsing: .unconditional, help: ArgumentHelp("Use at most N files per split (quick experiments); 0 = all.", valueName: "N"))
    var maxFiles = 0

    func validate() throws {
        guard ["transformer", "wavenet"].contains(model) else { throw ValidationError("--model must be transformer or wavenet, got \(model)") }
        guard steps > 0, batch > 0 else { throw ValidationError("--steps and --batch must be > 0") }
        guard context >= 2, context <= 8192 else { throw ValidationError("--context must be in 2...8192, got \(context)") }
        guard dModel > 0, heads > 0, dModel % heads == 0 else { throw ValidationError("--heads must divide --d-model (\(dModel)), got \(heads)") }
        guard layers > 0, dFF >= 0 else { throw ValidationError("--layers must be > 0 and --d-ff >= 0") }
        guard dilationCycle >= 1, dilationCycle <= 14, stacks >= 1, residual > 0 else { throw ValidationError("--dilation-cycle must be in 1...14, --stacks and --residual > 0") }
        guard FileManager.default.fileExists(atPath: data) else { throw ValidationError("--data: no such file: \(data)") }
    }

    func run() throws {
        BLAS.setThreads(training.threads)
        let manifest = URL(fileURLWithPath: data), runDir = URL(fileURLWithPath: out)
        let store = CheckpointStore(runDirectory: runDir)
        let net: MusicModel
        var resumeFrom: URL?
        if resume {
            let latest = try store.latest()
            net = try MusicModel.fromConfig(try Data(contentsOf: latest.appendingPathComponent("config.json")),
                                            file: latest.appendingPathComponent("config.json").path)
            resumeFrom = latest
        } else {
            if !store.completeCheckpoints().isEmpty {
                throw ValidationError("\(out) already holds checkpoints; pass --resume to continue or choose another --out")
            }
            let V = PerformanceTokenizer.vocabularySize
            if model == "transformer" {
                let m = TransformerModel(config: TransformerConfig(vocabSize: V, contextLength: context, dModel: dModel, nHeads: heads,
                                                                   nLayers: layers, dFF: dFF > 0 ? dFF : 4 * dModel))
                m.initialize(seed: training.seed)
                net = .transformer(m)
            } else {
                let m = WaveNetTokenModel(config: WaveNetTokenConfig(
                    vocabSize: V, dilations: (0..<stacks).flatMap { _ in (0..<dilationCycle).map { 1 << $0 } },
                    residualChannels: residual, gateChannels: 2 * residual, skipChannels: 2 * residual))
                m.initialize(seed: training.seed)
                net = .wavenet(m)
            }
        }
        // A resumed transformer keeps its own context length.
        var window = context
        if case .transformer(let m) = net { window = m.config.contextLength }

        var skippedCount = 0
        func skipped(_ s: SkippedFile) { printErr(s.description); skippedCount += 1 }
        let train = try MusicCorpus.load(manifest: manifest, split: "train", limit: maxFiles, skipped: skipped)
        guard !train.isEmpty else { throw MusicDataError.empty(path: manifest.path, split: "train") }
        let valid = try MusicCorpus.load(manifest: manifest, split: "valid", limit: maxFiles, skipped: skipped)
        let dataset = MusicTrainingData(train: train, valid: valid, context: window, batchSize: batch,
                                        augmentation: noAugment ? .none : .standard)
        printErr("data: \(train.count) train pieces (\(train.reduce(0) { $0 + $1.tokens.count }) tokens), " +
                 "\(valid.count) valid (\(dataset.validationTokenCount) scored tokens), \(skippedCount) skipped")
        printErr("model: \(net.summary)")

        let options = training.options(steps: steps), configJSON = try net.configJSON()
        let perStep = batch * window
        let settings = [("--data", manifest.standardizedFileURL.path), ("--batch", "\(batch)")] + training.settings +
            [("--no-augment", noAugment ? "given" : "not given"), ("--max-files", "\(maxFiles)")]
        switch net {
        case .transformer(let m):
            try runTraining(Trainer(model: m, options: options, checkpoints: store), data: dataset, configJSON: configJSON,
                            runDirectory: runDir, resumeFrom: resumeFrom, timeLimit: training.timeLimit, unit: "tokens", positionsPerStep: perStep,
                            settings: settings, json: jsonOption.json, command: "music train")
        case .wavenet(let m):
            try runTraining(Trainer(model: m, options: options, checkpoints: store), data: dataset, configJSON: configJSON,
                            runDirectory: runDir, resumeFrom: resumeFrom, timeLimit: training.timeLimit, unit: "tokens", positionsPerStep: perStep,
                            settings: settings, json: jsonOption.json, command: "music train")
        }
    }
}
