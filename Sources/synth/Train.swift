// `synth train`: fits a WaveNet voice on a speech manifest by teacher forcing, with checkpoints and resume.
import AREngine
import ArgumentParser
import DSP
import Foundation
import NNCore
import WaveNet

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a WaveNet voice on recordings listed in a manifest.",
        discussion: """
            The manifest is TSV or CSV with a header naming `path` and `speaker` columns and an optional `split` column (`train` or `valid`); paths are relative to the manifest. Audio is read with libsndfile (WAV, FLAC, OGG...), mixed to mono, resampled to --sample-rate, and trimmed of leading and trailing silence.

            Training is teacher forcing on random segments with cross-entropy over 256 mu-law classes. It logs train loss, validation loss (nats and bits per sample) and samples/s, saves a checkpoint (weights, Adam state, step, RNG) every --checkpoint-every steps and on Ctrl-C, SIGTERM or SIGUSR1 (a stop before the first validation also validates, so OUT/best/ exists), and keeps the best model by validation loss in OUT/best/ (a voice folder: copy it into voices/). Resume an interrupted run with --resume (model flags are then taken from the checkpoint).

            Data-parallel on several processes or machines: `mpirun -np N synth train ...` (or srun). --batch is then the global batch, split between the ranks; rank 0 alone logs and writes checkpoints; stop the job with `kill -USR1 <mpirun's pid>` or --time-limit to get a checkpoint. See docs/scale-out.md.

            Fine-tune an existing voice on your own recordings with --init-from (e.g. `--init-from default --lr 3e-4 --steps 2000`): the voice's weights, size, features and speakers are kept and the manifest's new speakers are added.

            Reproduce the shipped voice's configuration with --recipe default (e.g. `synth train --recipe default --data MANIFEST.tsv --out runs/myvoice`): a recipe fills every flag the command line leaves out; flags given on the command line win. Without a recipe, the defaults below make a smaller, faster model (16 layers, no conditioning blocks, no pre-emphasis).

            Grow a voice into a larger model with --init-from and --grow (e.g. `--init-from default --grow --residual 96 --gate 192 --skip 192`): the new model starts out computing exactly what the voice computes (new channels and layers begin with zero read-out weights, after Net2Net, Chen et al. 2016) and training then puts the new capacity to use, so a bigger voice does not start again from noise.
            """)

    @Option(help: ArgumentHelp("Speech manifest (TSV/CSV with path, speaker[, split]).", valueName: "MANIFEST"))
    var data: String

    @Option(help: ArgumentHelp("Run folder for checkpoints, logs and the best voice.", valueName: "DIR"))
    var out: String

    @Flag(help: "Continue the newest complete checkpoint in --out.")
    var resume = false

    @Option(help: ArgumentHelp("Fill the flags not given on the command line from a named configuration. \(TrainRecipes.help).", valueName: "NAME"))
    var recipe: String?

    @Option(help: ArgumentHelp("Fine-tune: start from this voice's weights instead of random ones. Its shape (unless --grow), features, normalisation and pre-emphasis are kept (the model-shape flags below are ignored without --grow); manifest speakers it does not know are added, starting from its average speaker. Use a lower --lr (e.g. 3e-4) and fewer --steps.", valueName: "NAME|DIR"))
    var initFrom: String?

    @Flag(help: "With --init-from: grow the voice to the model-shape flags below (sizes not given keep the voice's; channels can only grow; new dilations can be inserted anywhere), keeping its outputs unchanged at the start.")
    var grow = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Total optimizer steps (a resumed run continues up to this).", valueName: "N"))
    var steps = 20000
    @Option(parsing: .unconditional, help: ArgumentHelp("Segments per batch.", valueName: "N"))
    var batch = 8
    @Option(parsing: .unconditional, help: ArgumentHelp("Segment length in samples (rounded down to a multiple of hop length).", valueName: "SAMPLES"))
    var segment = 4000
    @OptionGroup var training: TrainingFlags
    @OptionGroup var jsonOption: JSONOption
    @Option(parsing: .unconditional, help: ArgumentHelp("Noise injection: Gaussian noise of this standard deviation, in mu-law classes, so the model learns to recover from its own draws; 0 = off. Without --lpc it is added to the teacher-forced input samples (FFTNet, Jin et al. 2018); with --lpc to the fed-back excitation, the segment rebuilt through the predictor as generation rebuilds it and the target the excitation back to the recording (LPCNet, Valin and Skoglund 2019). 2 is a good start with --lpc. Give it again on --resume (a resumed run notes any such flag that changed).", valueName: "CLASSES"))
    var inputNoise: Float = 0
    @Option(parsing: .unconditional, help: ArgumentHelp("Speed perturbation (Ko et al. 2015): also train on copies of every training file played this many times faster, resampled with libsamplerate (pitch and formants move with the speed), e.g. `0.9,1.1` triples the training audio. The valid split and the feature normalisation stay unperturbed. Factors in 0.5...2, comma-separated; give it again on --resume (a resumed run notes any such flag that changed).", valueName: "FACTORS"))
    var speedPerturb: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Use at most N utterances per split, the first N in the manifest (for quick experiments); the voice then knows only their speakers. 0 = all.", valueName: "N"))
    var maxUtterances = 0
    @Option(parsing: .unconditional, help: ArgumentHelp("Validation segments of --segment samples, spread evenly over the valid split's audio (rounded up to a multiple of --batch). More is steadier and slower; `synth eval` scores every sample.", valueName: "N"))
    var validSegments = 96

    // Model shape: a new run's, or with --init-from --grow the grown voice's (unset sizes keep the voice's).
    // Ignored, with a note, by --resume (the checkpoint holds the shape) and by --init-from without --grow.
    @Option(parsing: .unconditional, help: ArgumentHelp("Dilation cycle length: dilations 1, 2, ..., 2^(cycle-1) (default 8).", valueName: "N"))
    var dilationCycle: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Number of dilation cycles (stacks) (default 2).", valueName: "N"))
    var stacks: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Residual channels (default 64).", valueName: "N"))
    var residual: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Gate channels, tanh half + sigmoid half (default 128).", valueName: "N"))
    var gate: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Skip channels (default 128).", valueName: "N"))
    var skip: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Channels of the frame-rate conditioning network (default 64).", valueName: "N"))
    var condChannels: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Residual blocks (kernel-3 conv, ReLU, 1x1) after the first conditioning conv; each widens the mel context by a frame on each side (default 0).", valueName: "N"))
    var condLayers: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Speaker embedding size (default 16).", valueName: "N"))
    var speakerDim: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Pre-emphasis coefficient before mu-law, 0 = off (default 0; a new run only).", valueName: "COEF"))
    var preemphasis: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("Sample rate of the voice in Hz (default 16000; a new run only).", valueName: "HZ"))
    var sampleRate: Int?
    @Flag(help: "Pitch conditioning (a new run only): each conditioning frame also carries ln F0 and voicing from pYIN (docs/voices.md).")
    var pitch = false
    @Flag(help: "Harmonic source (a new run only; implies --pitch): sines at F0 and its harmonics where voiced, noise where not, fed to the network per sample (NSF, Wang and Yamagishi).")
    var source = false
    @Flag(help: "Linear prediction (a new run only): LPC from the mel predicts each sample and the network predicts the excitation, as LPCNet (Valin and Skoglund 2019).")
    var lpc = false
    @Flag(help: "Pitch lag (a new run, or --init-from VOICE --grow; implies --pitch and --lpc): the network also reads the excitation one pitch period back, e[t - P] with P = sample rate / F0, as FARGAN's pitch lookback and a CELP coder's adaptive codebook do, so a voiced excitation can repeat its last period. Grown onto a voice, its input starts at zero.")
    var pitchLag = false
    @Option(parsing: .unconditional, help: ArgumentHelp("With --lpc (a new run, or --init-from an LPC voice): an absolute white-noise floor under the LPC analysis, in dB relative to full scale (e.g. -50): frames much quieter get nearly flat predictors, so the synthesis filter of a near-silent frame cannot resonate (LPCNet adds such a constant to its autocorrelation). Default: none.", valueName: "DB"))
    var lpcNoiseFloor: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("A first-order high-pass (DC blocker) on the generated waveform, corner frequency in Hz (1...200; e.g. 50, the mels' lowest frequency, below which the conditioning says nothing), saved in the voice (a new run, or --init-from): it removes the slow offsets and wander that the de-emphasis (gain 1 / (1 - preemphasis) at 0 Hz) would amplify. It acts on the output only, so training is unchanged. Default: none.", valueName: "HZ"))
    var outputHighpass: Float?

    /// The model-shape flags given on the command line, as `--name`.
    var shapeFlagsGiven: [String] {
        [("--dilation-cycle", dilationCycle != nil), ("--stacks", stacks != nil), ("--residual", residual != nil),
         ("--gate", gate != nil), ("--skip", skip != nil), ("--cond-channels", condChannels != nil),
         ("--cond-layers", condLayers != nil),
         ("--speaker-dim", speakerDim != nil), ("--preemphasis", preemphasis != nil), ("--sample-rate", sampleRate != nil),
         ("--pitch", pitch), ("--source", source), ("--lpc", lpc), ("--pitch-lag", pitchLag), ("--lpc-noise-floor", lpcNoiseFloor != nil),
         ("--output-highpass", outputHighpass != nil)]
            .filter(\.1).map(\.0)
    }

    /// The model-shape flags given with a value other than `config`'s (what --resume ignores, worth a note).
    func shapeFlagsDiffering(from c: WaveNetConfig) -> [String] {
        func differs<T: Equatable>(_ given: T?, _ current: T) -> Bool { given.map { $0 != current } ?? false }
        let dilations = stacks != nil || dilationCycle != nil ? WaveNetConfig.dilations(stacks: stacks ?? 2, cycle: dilationCycle ?? 8) : nil
        var out: [String] = []
        if differs(dilations, c.dilations) { out += [("--dilation-cycle", dilationCycle), ("--stacks", stacks)].filter { $0.1 != nil }.map(\.0) }
        let sizes: [(String, Bool)] = [
            ("--residual", differs(residual, c.residualChannels)), ("--gate", differs(gate, c.gateChannels)),
            ("--skip", differs(skip, c.skipChannels)), ("--cond-channels", differs(condChannels, c.condChannels)),
            ("--cond-layers", differs(condLayers, c.condLayers)), ("--speaker-dim", differs(speakerDim, c.speakerEmbeddingDim)),
            ("--preemphasis", differs(preemphasis, c.preemphasis)), ("--sample-rate", differs(sampleRate, c.features.sampleRate)),
            ("--pitch", pitch && !c.pitch), ("--source", source && !c.source), ("--lpc", lpc && !c.lpc),
            ("--pitch-lag", pitchLag && !c.pitchLag),
            ("--lpc-noise-floor", differs(lpcNoiseFloor, c.lpcNoiseFloorDB ?? .nan)),
            ("--output-highpass", differs(outputHighpass, c.outputHighpassHz ?? .nan)),
        ]
        return out + sizes.filter(\.1).map(\.0)
    }

    /// The shape of a new model: the flags given, and for the rest `base`'s sizes (growing) or the defaults.
    func shape(growing base: WaveNetConfig?) -> WaveNetConfig {
        var features = base?.features ?? FeatureConfig.default
        if base == nil, let sampleRate { features.sampleRate = sampleRate }
        var dilations = WaveNetConfig.dilations(stacks: stacks ?? 2, cycle: dilationCycle ?? 8)
        if let base, stacks == nil && dilationCycle == nil { dilations = base.dilations }
        var c = WaveNetConfig(
            dilations: dilations, residualChannels: residual ?? base?.residualChannels ?? 64,
            gateChannels: gate ?? base?.gateChannels ?? 128, skipChannels: skip ?? base?.skipChannels ?? 128,
            condChannels: condChannels ?? base?.condChannels ?? 64,
            speakerEmbeddingDim: speakerDim ?? base?.speakerEmbeddingDim ?? 16,
            speakers: ["?"], features: features, preemphasis: base?.preemphasis ?? preemphasis ?? 0,
            condLayers: condLayers ?? base?.condLayers ?? 0,
            pitch: (base?.pitch ?? false) || pitch || source || pitchLag, source: (base?.source ?? false) || source,
            lpc: (base?.lpc ?? false) || lpc || pitchLag)
        c.pitchLag = (base?.pitchLag ?? false) || pitchLag
        return c
    }

    /// The --speed-perturb factors other than 1, in the order given.
    func speedFactors() throws -> [Double] {
        guard let speedPerturb else { return [] }
        var factors: [Double] = []
        for field in speedPerturb.split(separator: ",", omittingEmptySubsequences: false) {
            let t = field.trimmingCharacters(in: .whitespaces)
            guard let f = Double(t), (0.5...2).contains(f) else {
                throw ValidationError("--speed-perturb takes comma-separated factors in 0.5...2 (e.g. 0.9,1.1), got '\(t)'")
            }
            if f != 1 && !factors.contains(f) { factors.append(f) }
        }
        guard !factors.isEmpty else {
            throw ValidationError("--speed-perturb \(speedPerturb) adds nothing: the recordings at speed 1 are always used; give other factors, e.g. 0.9,1.1")
        }
        return factors
    }

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be > 0, got \(steps)") }
        guard batch > 0 else { throw ValidationError("--batch must be > 0, got \(batch)") }
        guard segment >= 400 else { throw ValidationError("--segment must be at least 400 samples, got \(segment)") }
        guard inputNoise >= 0, inputNoise.isFinite else { throw ValidationError("--input-noise must be >= 0, got \(inputNoise)") }
        _ = try speedFactors()
        guard validSegments > 0 else { throw ValidationError("--valid-segments must be > 0, got \(validSegments)") }
        guard (1...14).contains(dilationCycle ?? 8), (stacks ?? 2) >= 1 else {
            throw ValidationError("--dilation-cycle must be in 1...14 and --stacks >= 1")
        }
        guard [residual, gate, skip, condChannels, speakerDim].allSatisfy({ ($0 ?? 1) > 0 }), (gate ?? 2) % 2 == 0 else {
            throw ValidationError("channel counts must be > 0 and --gate even")
        }
        guard (0...16).contains(condLayers ?? 0) else { throw ValidationError("--cond-layers must be in 0...16, got \(condLayers!)") }
        if grow && initFrom == nil {
            throw ValidationError("--grow needs --init-from VOICE (the voice to grow)")
        }
        try requireFile(data, option: "--data")
        if let recipe, TrainRecipes.named(recipe) == nil {
            throw ValidationError("--recipe: unknown recipe '\(recipe)'; the recipes are \(TrainRecipes.all.map(\.name).joined(separator: ", "))")
        }
    }

    /// With --recipe, parses the recipe's flags followed by this command line's (so the command line wins) and trains
    /// with the result; otherwise trains with the flags as given.
    func run() throws {
        guard let name = recipe, let r = TrainRecipes.named(name) else { return try train() }
        let args = Array(CommandLine.arguments.dropFirst())
        let own = args.firstIndex(of: "train").map { Array(args[($0 + 1)...]) } ?? args
        let expanded = try Train.parse(r.arguments + own)
        try expanded.train()
    }

    /// Trains on the ranks of this job (one process without mpirun).
    func train() throws { try withTrainingRanks { try train(ranks: $0) } }

    /// The run on this process, one of `comm.size` ranks.
    func train(ranks comm: any Communicator) throws {
        BLAS.setThreads(training.threads)
        let summary = RunSummary()
        if let name = recipe, let r = TrainRecipes.named(name) {
            summary("recipe \(name): " + r.arguments.joined(separator: " ") + " (flags given on the command line win)")
        }
        let manifestURL = URL(fileURLWithPath: data)
        let runDir = URL(fileURLWithPath: out)
        let store = CheckpointStore(runDirectory: runDir)
        var start = try resolveStart(store: store, summary: summary)
        let utterances = try loadUtterances(manifest: manifestURL, start: start)
        if !resume { setDataStatistics(&start, utterances) }
        try start.config.validate()
        let dataset = try makeDataset(config: start.config, utterances: utterances, summary: summary)
        let model = makeModel(start: start, speakers: utterances.speakers, summary: summary)
        let trainer = Trainer(model: WaveNetTrainable(model: model), options: training.options(steps: steps), checkpoints: store,
                              communicator: comm)
        if !resume {
            start.statistics = fitSpeakerStatistics(config: start.config, utterances: utterances, baseVoice: start.baseVoice,
                                                    summary: summary)
        }
        start.config.speakerStatistics = start.statistics
        let configJSON = try ModelFolder.encode(start.config, modelType: WaveNetModel.modelType)
        try runTraining(trainer, data: dataset, configJSON: configJSON, runDirectory: runDir, resumeFrom: start.resumeFrom,
                        timeLimit: training.timeLimit, unit: "samples", positionsPerStep: batch * dataset.segment, header: summary.lines,
                        settings: [("--data", manifestURL.standardizedFileURL.path), ("--batch", "\(batch)"), ("--segment", "\(segment)")]
                            + training.settings + [("--input-noise", "\(inputNoise)"), ("--speed-perturb", speedPerturb ?? "off"),
                                                   ("--max-utterances", "\(maxUtterances)")], json: jsonOption.json,
                        fingerprint: rankFingerprint(comm, files: [manifestURL]))
    }

    /// Where the run starts: the newest checkpoint (--resume), a voice to fine-tune or grow (--init-from [--grow]),
    /// or a new model of the shape flags. Notes on flags that are not used go to `summary`.
    private func resolveStart(store: CheckpointStore, summary: RunSummary) throws -> RunStart {
        if resume {
            if initFrom != nil {
                // "The same command plus --resume" continues a fine-tuning or growing run.
                summary("note: --resume continues the checkpoint in \(out); --init-from\(grow ? " and --grow are" : " is") not used again")
            }
            let latest = try store.latest()
            let config = try ModelRegistry.synth.config(WaveNetModel.self, in: latest, as: .voice)
            // The same flags again are expected ("the same command plus --resume"); other values are worth a note.
            let differing = shapeFlagsDiffering(from: config)
            if !differing.isEmpty {
                summary("note: --resume takes the model's shape and features from the checkpoint; ignored: " +
                        differing.joined(separator: ", "))
            }
            return RunStart(config: config, resumeFrom: latest, statistics: config.speakerStatistics)
        }
        if !store.completeCheckpoints().isEmpty {
            throw ValidationError("\(out) already holds checkpoints; pass --resume to continue or choose another --out")
        }
        var start: RunStart
        if let initFrom {
            start = try startFromVoice(initFrom, summary: summary)
        } else {
            start = RunStart(config: shape(growing: nil))
        }
        if let lpcNoiseFloor {
            guard start.config.lpc else { throw ValidationError("--lpc-noise-floor needs an LPC voice: pass --lpc (or --init-from an LPC voice)") }
            start.config.lpcNoiseFloorDB = lpcNoiseFloor
        }
        if let outputHighpass { start.config.outputHighpassHz = outputHighpass }
        return start
    }

    /// The start of a run with --init-from: the voice, grown to the shape flags with --grow.
    private func startFromVoice(_ initFrom: String, summary: RunSummary) throws -> RunStart {
        var voice = try loadVoice(initFrom)
        var pitchSwitchedOn = false
        // Growing uses the size flags; the voice's features (and, without --grow, its shape) stay.
        let ignored = (grow ? shapeFlagsGiven.filter { $0 == "--preemphasis" || $0 == "--sample-rate" } : shapeFlagsGiven)
            .filter { $0 != "--lpc-noise-floor" && $0 != "--output-highpass" }
        if !ignored.isEmpty {
            summary("note: --init-from keeps the voice's \(grow ? "features" : "shape and features"); ignored: " +
                     ignored.joined(separator: ", ") + (grow ? "" : " (add --grow to grow it)"))
        }
        if grow {
            let grown = try WaveNetModel.growing(voice.model, to: shape(growing: voice.config), seed: training.seed)
            pitchSwitchedOn = grown.config.pitch && !voice.config.pitch
            let g = grown.config
            let shapeText = "residual \(g.residualChannels), gate \(g.gateChannels), skip \(g.skipChannels), " +
                "\(plural(g.layers, "layer")), \(plural(g.condLayers, "conditioning block")) of \(g.condChannels) channels"
            if grown.parameters.count == voice.model.parameters.count {
                summary("note: --grow: the voice already has this shape (\(shapeText)); nothing grows. Pass larger sizes to grow it.")
            }
            summary("growing voice '\(voice.name)': \(voice.model.parameters.count) -> \(grown.parameters.count) parameters (\(shapeText))")
            voice = Voice(name: voice.name, directory: voice.directory, model: grown)
        }
        return RunStart(config: voice.config, baseVoice: voice, pitchSwitchedOn: pitchSwitchedOn)
    }

    /// Reads the manifest and loads the train and valid splits (and the --speed-perturb copies of train) with the
    /// features of `start.config`.
    private func loadUtterances(manifest manifestURL: URL, start: RunStart) throws -> RunUtterances {
        let config = start.config
        let rows = try SpeechManifest.read(manifestURL)
        // With --max-utterances, only the speakers of the rows that are loaded (the first N of each split).
        let usedRows = maxUtterances > 0
            ? ["train", "valid"].flatMap { split in rows.filter { $0.split == split }.prefix(maxUtterances) } : rows
        let manifestSpeakers = Array(Set(usedRows.map(\.speaker))).sorted()
        // A resumed run knows its speakers; fine-tuning keeps the base voice's (same indices) and appends new ones.
        let speakers = resume ? config.speakers
            : start.baseVoice != nil ? config.speakers + manifestSpeakers.filter { !config.speakers.contains($0) }
            : manifestSpeakers
        let loader = try SpeechLoader(config: config)
        func load(_ split: String) throws -> [Utterance] {
            try loadSplit(rows, split, manifest: manifestURL, speakers: speakers, loader: loader, limit: maxUtterances)
        }
        let trainUtts = try load("train")
        guard !trainUtts.isEmpty else { throw DatasetError.empty(path: manifestURL.path, split: "train") }
        let validUtts = try load("valid")
        var perturbed: [Utterance] = []
        for f in try speedFactors() {
            var l = loader
            l.speed = f
            perturbed += try loadSplit(rows, "train", manifest: manifestURL, speakers: speakers, loader: l, limit: maxUtterances,
                                       label: "train at speed \(f)")
        }
        return RunUtterances(speakers: speakers, train: trainUtts, valid: validUtts, perturbed: perturbed)
    }

    /// A new or fine-tuning run (not --resume): sets the run's speakers and the statistics taken from the train split.
    private func setDataStatistics(_ start: inout RunStart, _ utterances: RunUtterances) {
        start.config.speakers = utterances.speakers
        // A fine-tuned voice keeps the normalisation its weights were trained with.
        if start.baseVoice == nil {
            let stats = SpeechTrainingData.featureStatistics(utterances.train, melBins: start.config.melBins)
            start.config.featureMean = stats.mean
            start.config.featureStd = stats.std
            if start.config.pitch { (start.config.f0Mean, start.config.f0Std) = SpeechTrainingData.pitchStatistics(utterances.train) }
        } else if start.pitchSwitchedOn {
            // Pitch switched on by --grow: its statistics come from this data (the weights reading it start at zero).
            (start.config.f0Mean, start.config.f0Std) = SpeechTrainingData.pitchStatistics(utterances.train)
        }
    }

    /// The data summary lines and the training data (random train segments, fixed validation segments).
    private func makeDataset(config: WaveNetConfig, utterances u: RunUtterances, summary: RunSummary) throws -> SpeechTrainingData {
        let seconds = Double(u.train.reduce(0) { $0 + $1.sampleCount }) / Double(config.features.sampleRate)
        summary(String(format: "data: %@ (%.1f min after trimming), %d valid, %@",
                       plural(u.train.count, "train utterance"), seconds / 60, u.valid.count, plural(u.speakers.count, "speaker")))
        if !u.perturbed.isEmpty {
            let extra = Double(u.perturbed.reduce(0) { $0 + $1.sampleCount }) / Double(config.features.sampleRate)
            summary(String(format: "speed perturbation: %@: %d more train utterances (%.1f min)",
                           try speedFactors().map { "x\($0)" }.joined(separator: ", "), u.perturbed.count, extra / 60))
        }
        let dataset = try SpeechTrainingData(config: config, train: u.train + u.perturbed, valid: u.valid, segment: segment, batchSize: batch,
                                                validationSegments: validSegments)
        summary("validation: \(dataset.validationSignature)")
        dataset.inputNoise = inputNoise
        if inputNoise > 0 { summary(String(format: "input noise: %.2f mu-law classes (std) on %@", inputNoise, config.lpc ? "the fed-back excitation (LPCNet)" : "teacher-forced inputs")) }
        return dataset
    }

    /// The model to train (the base voice extended to `speakers`, or a new one initialised from --seed) and its summary line.
    private func makeModel(start: RunStart, speakers: [String], summary: RunSummary) -> WaveNetModel {
        let config = start.config
        let model: WaveNetModel
        if let base = start.baseVoice {
            // The extended voice's config differs from the run's only in statistics set from this data (pitch switched on).
            model = WaveNetModel.extending(base.model, speakers: speakers).reconfigured(config)
            let added = speakers.filter { !base.config.speakers.contains($0) }
            summary("fine-tuning voice '\(base.name)': \(plural(base.config.speakers.count, "speaker")) kept, " +
                    (added.isEmpty ? "none added" : "added \(added.joined(separator: ", "))"))
        } else {
            model = WaveNetModel(config: config)
            model.initialize(seed: training.seed)
        }
        summary("model: \(plural(config.layers, "layer")), receptive field \(config.receptiveField) samples " +
                String(format: "(%.1f ms), %d parameters, %.2f MFLOP/sample",
                       1000 * Double(config.receptiveField) / Double(config.features.sampleRate),
                       model.parameters.count, 2 * Double(config.macsPerSample) / 1e6) +
                ", conditioning on \(3 + 2 * config.condLayers) mel frames (\(plural(config.condLayers, "residual block")))" +
                (config.pitch ? String(format: ", pitch (ln F0 %.2f ± %.2f)", config.f0Mean, config.f0Std) : "") +
                (config.source ? ", harmonic source (\(config.sourceHarmonics) harmonics)" : "") +
                (config.lpc ? ", LPC order \(config.lpcOrder) (the network predicts the excitation)" : "") +
                (config.pitchLag ? ", pitch lag (the excitation one F0 period back)" : "") +
                (config.lpcNoiseFloorDB.map { String(format: ", LPC noise floor %.0f dBFS", $0) } ?? "") +
                (config.outputHighpassHz.map { String(format: ", output DC blocker at %g Hz", $0) } ?? ""))
        return model
    }

    /// Speaker statistics for `--speaker auto` (config.json's `speaker_statistics`), fitted on the train split and
    /// calibrated on the valid split; a fine-tuned voice keeps its own for speakers the manifest lacks. When the base
    /// voice's statistics already hold every train speaker's mixture, fitted on as many frames as the train split
    /// gives that speaker (the same recordings, so the same mixture), they are kept as they are (a fit takes a minute
    /// or more). When they have a background mixture, a fine-tune keeps it, with the threshold and the fallback, and
    /// fits only the mixtures of new speakers (or of speakers whose frames changed).
    private func fitSpeakerStatistics(config: WaveNetConfig, utterances: RunUtterances, baseVoice: Voice?,
                                      summary: RunSummary) -> SpeakerStatistics {
        let t0 = Date()
        let cepstra = SpeakerStatistics.cepstra(of: utterances.train, config: config)
        let old = baseVoice.flatMap(SpeakerStatistics.read(voice:))
        if let old, old.background != nil, old.coefficients == SpeakerStatistics.defaultCoefficients {
            // A fine-tune keeps the base voice's background mixture, threshold and fallback, so an input counts as
            // recognised exactly as before: refitted on the new speakers' frames too, the background moves and
            // recognises voices the model never heard (docs/voices.md, nineteenth session). Mixtures are fitted for
            // the train speakers the base lacks, or whose frames changed; each is fitted alone, so the others stay.
            let refit = cepstra.filter { name, x in old.speakers[name]?.frames != x.count / old.coefficients }
            if refit.isEmpty {
                summary("speaker statistics for --speaker auto: the base voice's, kept (its mixtures of these \(plural(cepstra.count, "speaker")) " +
                        "were fitted on the same number of frames)")
                return old
            }
            var kept = old
            let bar = ProgressLine("fitting speaker statistics", total: refit.count, unit: "mixtures", delay: 1)
            let fitted = SpeakerStatistics.fit(refit, components: old.components, background: false) { bar.update($0) }
            for (name, m) in fitted.speakers { kept.speakers[name] = m }
            summary(String(format: "speaker statistics for --speaker auto: the base voice's background, threshold and fallback kept, %@ fitted in %.1f s",
                           plural(refit.count, "speaker mixture"), Date().timeIntervalSince(t0)))
            return kept
        }
        let bar = ProgressLine("fitting speaker statistics", total: config.speakers.count + 1, unit: "mixtures", delay: 1)
        var fitted = SpeakerStatistics.fit(cepstra) { bar.update($0) }
        if let old, old.coefficients == fitted.coefficients {
            for (name, m) in old.speakers where fitted.speakers[name] == nil { fitted.speakers[name] = m }
        }
        // Held-out files of the run's own speakers set the threshold for recognising a speaker (20 or more).
        fitted.calibrate(heldOut: utterances.valid.map { (config.frameFeatures(logMel: $0.logMel, f0: $0.f0, voicing: $0.voicing), $0.frames) },
                         config: config)
        if let old {
            fitted.fallback = old.fallback
            if fitted.threshold == nil { fitted.threshold = old.threshold }
        }
        summary(String(format: "speaker statistics for --speaker auto: %@ (Gaussian mixtures over the cepstrum), fitted in %.1f s",
                       plural(fitted.speakers.count, "speaker"), Date().timeIntervalSince(t0)))
        return fitted
    }
}

/// The summary lines and notes of a training run: each goes to stderr at once and, at the start of training, to the
/// head of this invocation's part of train.log.
private final class RunSummary {
    private(set) var lines: [String] = []

    func callAsFunction(_ line: String) {
        printErr(line)
        lines.append(line)
    }
}

/// Where a training run starts, before its data is read.
private struct RunStart {
    /// The run's config: the checkpoint's, the (grown) base voice's or a new shape's; completed from the data later.
    var config: WaveNetConfig
    /// The checkpoint to continue (--resume).
    var resumeFrom: URL?
    /// The voice to fine-tune (--init-from), grown with --grow.
    var baseVoice: Voice?
    /// Speaker statistics kept from the checkpoint on --resume; else fitted on the train split before training.
    var statistics: SpeakerStatistics?
    /// Pitch conditioning switched on by --grow: its statistics then come from this run's data.
    var pitchSwitchedOn = false
}

/// The utterances a training run reads from its manifest.
private struct RunUtterances {
    /// The run's speakers, in embedding order.
    var speakers: [String]
    var train: [Utterance]
    var valid: [Utterance]
    /// The train split again at each --speed-perturb factor.
    var perturbed: [Utterance]
}
