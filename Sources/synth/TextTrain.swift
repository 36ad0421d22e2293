// `synth text train`: fits a byte-level model (LSTM, GRU, transformer, WaveNet over bytes) with the shared trainer.
import AREngine
import ArgumentParser
import Foundation
import Music
import NNCore
import Text

struct TextTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level text model on a folder of .txt files.",
        discussion: """
            --data is a folder (its *.train.txt and *.valid.txt files) or files named so; give it more than once for several. A missing split, an empty file or one that is not UTF-8 text is refused. Training draws --batch random windows of --context + 1 bytes of the train text; each window starts from a zero state (the recurrent models backpropagate through the whole window). Validation scores --valid-windows fixed windows spread over the valid text. It logs train and valid loss (nats and bits per byte), checkpoints every --checkpoint-every steps and on Ctrl-C or SIGTERM, and keeps the best model in OUT/best/ (a model folder for synth text generate --model). Resume with --resume.
            """)

    @Option(help: ArgumentHelp("Text folder or .txt file (repeatable).", valueName: "DIR|FILE"))
    var data: [String]
    @Option(help: ArgumentHelp("Run folder for checkpoints, train.log and the best model.", valueName: "DIR"))
    var out: String
    @Flag(help: "Continue the newest complete checkpoint in --out (model flags then come from it).")
    var resume = false

    @Option(help: "Model family: lstm, gru, transformer or wavenet.")
    var model = "lstm"
    @Option(parsing: .unconditional, help: "Total optimizer steps (a resumed run continues up to this; 1...10000000).")
    var steps = 20000
    @Option(parsing: .unconditional, help: "Windows per batch (1...4096).")
    var batch = 32
    @Option(parsing: .unconditional, help: "Window length in bytes (the transformer's positions; 2...8192).")
    var context = 256
    @Option(parsing: .unconditional, help: "LSTM/GRU units per layer (1...8192).")
    var hidden = 512
    @Option(parsing: .unconditional, help: "LSTM/GRU byte embedding width (1...8192).")
    var embedding = 64
    @Option(parsing: .unconditional, help: "Stacked layers (LSTM/GRU) or blocks (transformer) (1...64).")
    var layers = 1
    @Option(parsing: .unconditional, help: "Transformer width (1...8192).")
    var dModel = 256
    @Option(parsing: .unconditional, help: "Transformer attention heads (must divide --d-model).")
    var heads = 4
    @Option(parsing: .unconditional, help: "Transformer MLP width (0...65536; 0 = 4 × d-model).")
    var dFF = 0
    @Option(parsing: .unconditional, help: "WaveNet dilation cycle (dilations 1 ... 2^(cycle-1); 1...14).")
    var dilationCycle = 8
    @Option(parsing: .unconditional, help: "WaveNet dilation cycles (1...64).")
    var stacks = 2
    @Option(parsing: .unconditional, help: "WaveNet residual channels (gate = 2×, skip = 2×; 1...2048).")
    var residual = 128
    @Option(parsing: .unconditional, help: "Validation windows spread over the valid text (1...100000).")
    var validWindows = 128
    @Option(parsing: .unconditional, help: "Stop (with a checkpoint) after this many minutes of CPU time of this invocation; 0 = no limit. On a shared machine, the fair budget for comparing runs (--time-limit counts wall-clock time).")
    var cpuLimit: Double = 0
    @OptionGroup var training: TrainingFlags
    @OptionGroup var jsonOption: JSONOption

    static let families = ["lstm", "gru", "transformer", "wavenet"]

    func validate() throws {
        guard Self.families.contains(model) else { throw ValidationError("--model must be lstm, gru, transformer or wavenet, got \(model)") }
        guard (1...10_000_000).contains(steps) else { throw ValidationError("--steps must be in 1...10000000, got \(steps)") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must be in 1...4096, got \(batch)") }
        guard (2...8192).contains(context) else { throw ValidationError("--context must be in 2...8192, got \(context)") }
        guard (1...8192).contains(hidden) else { throw ValidationError("--hidden must be in 1...8192, got \(hidden)") }
        guard (1...8192).contains(embedding) else { throw ValidationError("--embedding must be in 1...8192, got \(embedding)") }
        guard (1...64).contains(layers) else { throw ValidationError("--layers must be in 1...64, got \(layers)") }
        guard (1...8192).contains(dModel) else { throw ValidationError("--d-model must be in 1...8192, got \(dModel)") }
        guard heads > 0, dModel % heads == 0 else { throw ValidationError("--heads must divide --d-model (\(dModel)), got \(heads)") }
        guard (0...65536).contains(dFF) else { throw ValidationError("--d-ff must be in 0...65536, got \(dFF)") }
        guard (1...14).contains(dilationCycle) else { throw ValidationError("--dilation-cycle must be in 1...14, got \(dilationCycle)") }
        guard (1...64).contains(stacks) else { throw ValidationError("--stacks must be in 1...64, got \(stacks)") }
        guard (1...2048).contains(residual) else { throw ValidationError("--residual must be in 1...2048, got \(residual)") }
        guard cpuLimit >= 0, cpuLimit.isFinite else { throw ValidationError("--cpu-limit must be finite and >= 0, got \(cpuLimit)") }
        guard (1...100_000).contains(validWindows) else { throw ValidationError("--valid-windows must be in 1...100000, got \(validWindows)") }
        // The totals (parameters, cache) the family's config bounds.
        do { try newConfig().validate(file: "the --model \(model) flags") } catch { throw ValidationError("\(error)") }
        guard !data.isEmpty else { throw ValidationError("give --data") }
        for d in data { try requireFile(d, option: "--data") }
    }

    /// The config of the family and sizes the flags ask for.
    func newConfig() -> any ModelConfiguration {
        let V = ByteTokenizer.vocabularySize
        switch model {
        case "transformer":
            return TransformerConfig(vocabSize: V, contextLength: context, dModel: dModel, nHeads: heads, nLayers: layers,
                                     dFF: dFF > 0 ? dFF : 4 * dModel)
        case "wavenet":
            return WaveNetTokenConfig(vocabSize: V, dilations: (0..<stacks).flatMap { _ in (0..<dilationCycle).map { 1 << $0 } },
                                      residualChannels: residual, gateChannels: 2 * residual, skipChannels: 2 * residual)
        default:
            return RecurrentLMConfig(cell: model == "gru" ? .gru : .lstm, embeddingDim: embedding, hiddenSize: hidden, numLayers: layers)
        }
    }

    /// A fresh model of the family and sizes the flags ask for (zero weights).
    func newModel() -> any TokenModel {
        switch newConfig() {
        case let c as TransformerConfig: return TransformerModel(config: c)
        case let c as WaveNetTokenConfig: return WaveNetTokenModel(config: c)
        case let c as RecurrentLMConfig: return RecurrentLanguageModel(config: c)
        default: preconditionFailure("no token model family for --model \(model)")
        }
    }

    func run() throws {
        BLAS.setThreads(training.threads)
        let store = CheckpointStore(runDirectory: URL(fileURLWithPath: out))
        if resume {
            let latest = try store.latest()
            let net = try ModelRegistry.synth.untrainedTokenModel(latest, as: .textModel)
            try requireByteVocabulary(net, folder: latest.path)
            try train(net, store: store, resumeFrom: latest)
            return
        }
        if !store.completeCheckpoints().isEmpty {
            throw ValidationError("\(out) already holds checkpoints; pass --resume to continue or choose another --out")
        }
        let net = newModel()
        net.initialize(seed: training.seed)
        try train(net, store: store, resumeFrom: nil)
    }

    /// Trains `net` (new, or to be resumed from a checkpoint) on the corpus with the shared trainer.
    func train<M: TokenModel>(_ net: M, store: CheckpointStore, resumeFrom: URL?) throws {
        let corpus: TextCorpus
        do { corpus = try TextCorpus(paths: data) } catch let e as TextDataError { throw RuntimeError(e.description) }
        let train = try loadTextSplit(corpus, "train"), valid = try loadTextSplit(corpus, "valid")
        // A model with a context of its own (a resumed transformer) keeps it.
        let window = net.window(fallback: context)
        guard train.count > window + 1 else { throw RuntimeError("the train text holds \(train.count) tokens, fewer than one window of \(window + 1)") }
        let dataset = TextTrainingData(train: train, valid: valid, context: window, batchSize: batch, validationWindows: validWindows)
        printErr("data: \(train.count) train tokens, \(valid.count) valid (\(dataset.validationTokenCount) scored per validation)")
        printErr("model: \(net.summary)")
        let settings = [("--data", data.map { URL(fileURLWithPath: $0).standardizedFileURL.path }.joined(separator: ",")),
                        ("--batch", "\(batch)"), ("--valid-windows", "\(validWindows)")] + training.settings
        try runTraining(Trainer(model: net, options: training.options(steps: steps), checkpoints: store), data: dataset,
                        configJSON: try ModelFolder.encode(net.config, modelType: M.modelType), runDirectory: store.runDirectory,
                        resumeFrom: resumeFrom, timeLimit: training.timeLimit, unit: "bytes", positionsPerStep: batch * window,
                        settings: settings, json: jsonOption.json, command: "text train", cpuLimit: cpuLimit)
    }
}
