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
            The manifest is TSV or CSV with a header naming `path`, `collection` and `split` (`train` or `valid`); paths are relative to the manifest. Files that fail to parse or hold no notes are listed and skipped. Training draws random windows of --context + 1 tokens, each from a piece transposed by a random -3...+3 semitones and time-stretched by a random factor in [0.95, 1.05] (--no-augment to disable). Validation covers every valid-split token once, unaugmented. It logs train and valid loss (nats and bits per token), checkpoints every --checkpoint-every steps and on Ctrl-C, SIGTERM or SIGUSR1 (a stop before the first validation also validates, so OUT/best/ exists), and keeps the best model by validation loss in OUT/best/ (a model folder). Resume with --resume.
            """)

    @Option(help: ArgumentHelp("MIDI manifest (TSV/CSV with path, collection, split).", valueName: "MANIFEST"))
    var data: String
    @Option(help: ArgumentHelp("Run folder for checkpoints, train.log and the best model.", valueName: "DIR"))
    var out: String
    @Flag(help: "Continue the newest complete checkpoint in --out (model flags then come from it).")
    var resume = false
    @Option(help: ArgumentHelp("Start from this music model's weights (name in voices/ or folder), e.g. a performance model for a performance_programs run: tensors of the same name are copied, the vocabulary's leading rows where it grew. The model flags must give its sizes.", valueName: "NAME|DIR"))
    var initFrom: String?

    @Option(help: ArgumentHelp("Model family: transformer or wavenet.", valueName: "FAMILY"))
    var model = "transformer"
    @Option(help: ArgumentHelp("Token encoding: performance (390 tokens, one piano stream) or performance_programs (519 tokens: instruments, drums, every note kept). A resumed run keeps its own.", valueName: "NAME"))
    var encoding = "performance"
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
    @Flag(help: "With --encoding performance_programs: give each track of a training window a random General MIDI program (3 in 4 tracks, or --random-program-share), so a model of one-instrument pieces learns to keep its prime's instruments.")
    var randomPrograms = false
    @Option(parsing: .unconditional, help: ArgumentHelp("The probability in (0, 1] that a track of a training window plays a random program (implies --random-programs; default 0.75). Lower keeps more of the data's own instruments, which is what validation scores.", valueName: "P"))
    var randomProgramShare: Double?
    @OptionGroup var training: TrainingFlags
    @OptionGroup var jsonOption: JSONOption
    @Option(parsing: .unconditional, help: ArgumentHelp("Use at most N files per split (quick experiments); 0 = all.", valueName: "N"))
    var maxFiles = 0

    func validate() throws {
        guard ["transformer", "wavenet"].contains(model) else { throw ValidationError("--model must be transformer or wavenet, got \(model)") }
        guard MusicEncoding(rawValue: encoding) != nil else {
            throw ValidationError("--encoding must be \(MusicEncoding.allCases.map(\.rawValue).joined(separator: " or ")), got \(encoding)")
        }
        guard steps > 0, batch > 0 else { throw ValidationError("--steps and --batch must be > 0") }
        guard context >= 2, context <= 8192 else { throw ValidationError("--context must be in 2...8192, got \(context)") }
        guard dModel > 0, heads > 0, dModel % heads == 0 else { throw ValidationError("--heads must divide --d-model (\(dModel)), got \(heads)") }
        guard layers > 0, dFF >= 0 else { throw ValidationError("--layers must be > 0 and --d-ff >= 0") }
        guard dilationCycle >= 1, dilationCycle <= 14, stacks >= 1, residual > 0 else { throw ValidationError("--dilation-cycle must be in 1...14, --stacks and --residual > 0") }
        if let p = randomProgramShare, !(p > 0 && p <= 1) {
            throw ValidationError("--random-program-share must be in (0, 1], got \(p)")
        }
        if randomPrograms || randomProgramShare != nil, !resume, encoding != MusicEncoding.performancePrograms.rawValue {
            throw ValidationError("--random-programs needs --encoding performance_programs (a \(encoding) model has no instrument tokens)")
        }
        try requireFile(data, option: "--data")
    }

    func run() throws { try withTrainingRanks { try run(ranks: $0) } }

    /// The run on this process, one of `comm.size` ranks (one without mpirun).
    func run(ranks comm: any Communicator) throws {
        BLAS.setThreads(training.threads)
        let store = CheckpointStore(runDirectory: URL(fileURLWithPath: out))
        if resume {
            let latest = try store.latest()
            let net = try ModelRegistry.synth.untrainedTokenModel(latest, as: .musicModel)
            let e = try MusicEncoding.of(folder: latest)
            try e.check(vocabularySize: net.vocabularySize, file: latest.appendingPathComponent(ModelFolder.configName).path)
            try train(net, encoding: e, store: store, resumeFrom: latest, ranks: comm)
            return
        }
        if !store.completeCheckpoints().isEmpty {
            throw ValidationError("\(out) already holds checkpoints; pass --resume to continue or choose another --out")
        }
        let e = MusicEncoding(rawValue: encoding) ?? .performance
        let V = e.vocabularySize
        let net: any TokenModel = model == "transformer"
            ? TransformerModel(config: TransformerConfig(vocabSize: V, contextLength: context, dModel: dModel, nHeads: heads,
                                                         nLayers: layers, dFF: dFF > 0 ? dFF : 4 * dModel))
            : WaveNetTokenModel(config: WaveNetTokenConfig(vocabSize: V, dilations: (0..<stacks).flatMap { _ in (0..<dilationCycle).map { 1 << $0 } },
                                                           residualChannels: residual, gateChannels: 2 * residual, skipChannels: 2 * residual))
        net.initialize(seed: training.seed)
        if let from = initFrom {
            let dir = try ModelRegistry.synth.resolve(from, as: .musicModel)
            let source = try ModelRegistry.synth.loadTokenModel(dir, as: .musicModel)
            let sourceEncoding = try MusicEncoding.of(folder: dir)
            guard sourceEncoding == e || (sourceEncoding == .performance && e == .performancePrograms) else {
                throw RuntimeError("\(dir.path): a \(sourceEncoding.rawValue) model cannot start a \(e.rawValue) one (its token ids mean other things)")
            }
            do {
                let (whole, partial) = try MusicWarmStart.copy(from: source.parameters, into: net.parameters)
                printErr("init: \(whole) tensors copied from \(dir.path), \(partial) in part (the \(V - source.vocabularySize) new tokens start as initialised)")
            } catch {
                throw RuntimeError("\(dir.path): \(error)")
            }
        }
        try train(net, encoding: e, store: store, resumeFrom: nil, ranks: comm)
    }

    /// Trains `net` (new, or to be resumed from a checkpoint) on the manifest's pieces with the shared trainer.
    func train<M: TokenModel>(_ net: M, encoding: MusicEncoding, store: CheckpointStore, resumeFrom: URL?, ranks comm: any Communicator) throws {
        let manifest = URL(fileURLWithPath: data)
        // A model with a context of its own (a resumed transformer) keeps it.
        let window = net.window(fallback: context)
        var skippedCount = 0
        func skipped(_ s: SkippedFile) { printErr(s.description); skippedCount += 1 }
        let train = try MusicCorpus.load(manifest: manifest, split: "train", limit: maxFiles, encoding: encoding, skipped: skipped)
        guard !train.isEmpty else { throw MusicDataError.empty(path: manifest.path, split: "train") }
        let valid = try MusicCorpus.load(manifest: manifest, split: "valid", limit: maxFiles, encoding: encoding, skipped: skipped)
        let share = randomProgramShare ?? (randomPrograms ? MusicAugmentation.defaultRandomProgramShare : 0)
        if share > 0 && encoding != .performancePrograms {
            throw RuntimeError("--random-programs needs a performance_programs model (this run's is \(encoding.rawValue), without instrument tokens)")
        }
        let dataset = MusicTrainingData(train: train, valid: valid, context: window, batchSize: batch,
                                        augmentation: noAugment ? MusicAugmentation(maxTranspose: 0, maxStretch: 0, randomProgramShare: share)
                                            : MusicAugmentation(maxTranspose: 3, maxStretch: 0.05, randomProgramShare: share))
        printErr("data: \(train.count) train pieces (\(train.reduce(0) { $0 + $1.tokens.count }) tokens), " +
                 "\(valid.count) valid (\(dataset.validationTokenCount) scored tokens), \(skippedCount) skipped")
        printErr("model: \(net.summary), encoding \(encoding.rawValue)")
        let settings = [("--data", manifest.standardizedFileURL.path), ("--batch", "\(batch)")] + training.settings +
            [("--no-augment", noAugment ? "given" : "not given"), ("--max-files", "\(maxFiles)")] +
            (share > 0 ? [("--random-program-share", "\(share)")] : [])
        try runTraining(Trainer(model: net, options: training.options(steps: steps), checkpoints: store, communicator: comm), data: dataset,
                        configJSON: try encoding.configJSON(net.config, modelType: M.modelType), runDirectory: store.runDirectory,
                        resumeFrom: resumeFrom, timeLimit: training.timeLimit, unit: "tokens", positionsPerStep: batch * window,
                        settings: settings, json: jsonOption.json, command: "music train",
                        fingerprint: rankFingerprint(comm, files: [manifest]))
    }
}
