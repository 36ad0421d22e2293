// What `synth train` and `synth music train` share: optimizer and schedule flags, and the run loop with
// train.log, Ctrl-C/SIGTERM checkpoints, a wall-clock limit and progress lines with ETA.
import AREngine
import ArgumentParser
import AtomicIO
import Cluster
import Foundation
import NNCore
import WaveNet

/// Set by SIGINT/SIGTERM; the trainer checks it every step, saves a checkpoint and stops.
nonisolated(unsafe) var stopRequested: Int32 = 0

/// True on the ranks other than 0 of a data-parallel run: `printErr` and progress lines stay silent there (errors
/// still reach stderr), so the job's output is rank 0's.
nonisolated(unsafe) var quietStderr = false

/// Runs a training command's body on the ranks of this job: MPI's when `mpirun`/`srun` started synth
/// (`MPICommunicator.isLaunched`), one process otherwise (then nothing changes: no MPI call is made).
/// A rank whose body fails prints its error (errors every rank meets alike, such as the start-up check's, only on
/// rank 0) and, if the others may still be waiting for it in a collective, ends the job with `MPI_Abort`.
func withTrainingRanks(_ body: (any Communicator) throws -> Void) throws {
    guard let mpi = try MPICommunicator.launched() else { return try body(SingleProcess()) }
    quietStderr = mpi.rank != 0
    do {
        try body(mpi)
    } catch {
        if mpi.size == 1 {  // `mpirun -np 1`: as without a launcher
            mpi.finalize()
            throw error
        }
        let everyRank = (error as? DataParallelError).map { if case .communication = $0 { return false } else { return true } } ?? false
        if !everyRank {
            let message = (error as? ValidationError)?.message ?? String(describing: error)
            FileHandle.standardError.write(Data("Error: rank \(mpi.rank) of \(mpi.size): \(message)\n".utf8))
            mpi.abort(code: 1)
        }
        // Every rank met this error (the start-up check's): rank 0 says it, the others wait until it has, then all end.
        if mpi.rank == 0 { FileHandle.standardError.write(Data("Error: \(error)\n".utf8)) }
        try? mpi.barrier()
        mpi.finalize()
        exit(1)
    }
    mpi.finalize()
}

/// What the ranks of a data-parallel run must share besides the model config and flags (compared at start-up):
/// the bytes of `files` (the manifest) and of this synth binary. Empty on one process, where nothing is compared.
func rankFingerprint(_ comm: any Communicator, files: [URL]) -> Data {
    guard comm.size > 1 else { return Data() }
    var hash = Fingerprint()
    for url in files + [URL(fileURLWithPath: "/proc/self/exe")] {
        hash.combine((try? Data(contentsOf: url)) ?? Data(url.path.utf8))
    }
    return withUnsafeBytes(of: hash.value) { Data($0) }
}

/// Optimizer, schedule and bookkeeping options common to every training command.
struct TrainingFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Peak learning rate (Adam).", valueName: "LR"))
    var lr: Float = 1e-3
    @Option(parsing: .unconditional, help: ArgumentHelp("Linear warm-up steps before cosine decay (to lr/20 at --steps).", valueName: "STEPS"))
    var warmup = 200
    @Option(parsing: .unconditional, help: ArgumentHelp("Global gradient-norm clipping threshold.", valueName: "NORM"))
    var clip: Float = 1
    @Option(parsing: .unconditional, help: ArgumentHelp("Save a checkpoint every N steps.", valueName: "N"))
    var checkpointEvery = 250
    @Option(parsing: .unconditional, help: ArgumentHelp("Compute validation loss every N steps.", valueName: "N"))
    var validateEvery = 250
    @Option(parsing: .unconditional, help: ArgumentHelp("Print train loss every N steps.", valueName: "N"))
    var logEvery = 25
    @Option(parsing: .unconditional, help: ArgumentHelp("Stop (with a checkpoint) after this many minutes of wall-clock time; 0 = no limit.", valueName: "MINUTES"))
    var timeLimit: Double = 0
    @Option(parsing: .unconditional, help: ArgumentHelp("OpenBLAS threads.", valueName: "N"))
    var threads = 1
    @Option(parsing: .unconditional, help: ArgumentHelp("Random seed (initialisation and batches).", valueName: "N"))
    var seed: UInt64 = 1

    func validate() throws {
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be finite and > 0, got \(lr)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be >= 0, got \(warmup)") }
        guard clip >= 0, clip.isFinite else { throw ValidationError("--clip must be finite and >= 0, got \(clip)") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be in 1...256, got \(threads)") }
        for (flag, n) in [("--checkpoint-every", checkpointEvery), ("--validate-every", validateEvery), ("--log-every", logEvery)] where n < 1 {
            throw ValidationError("\(flag) must be >= 1, got \(n)")
        }
        guard timeLimit >= 0, timeLimit.isFinite else { throw ValidationError("--time-limit must be finite and >= 0, got \(timeLimit)") }
    }

    /// The flags that shape how a run trains but are not in its checkpoints, as (flag, value) for `runTraining`.
    var settings: [(String, String)] {
        [("--lr", "\(lr)"), ("--warmup", "\(warmup)"), ("--clip", "\(clip)")]
    }

    func options(steps: Int) -> TrainingOptions {
        TrainingOptions(
            steps: steps, schedule: LearningRateSchedule(peak: lr, warmupSteps: warmup, totalSteps: steps, minLR: lr / 20),
            clipNorm: clip, checkpointEvery: checkpointEvery, validateEvery: validateEvery, logEvery: logEvery, seed: seed)
    }
}

/// Runs `trainer` to its step count, appending every progress line to `RUN/train.log` as well as stderr.
/// Each invocation first logs a `#` line with the UTC time and the command line, then `header` (lines already
/// shown on stderr, such as the data and model summary), so the log alone tells how the run was made.
/// - Parameters:
///   - unit: what a position is ("samples", "tokens"), for the throughput and bits lines.
///   - positionsPerStep: scored positions per step, for the ETA.
///   - settings: (flag, value) pairs that the command line gives anew on every invocation (batch, learning rate,
///     augmentation...). They are kept in `RUN/settings.json`; a resumed invocation notes on stderr each one that
///     differs from the previous invocation's, so a flag left off `--resume` does not change the run silently.
///   - json: print the run's result (step, best valid loss, time) as one JSON object on stdout at the end.
///   - fingerprint: with several ranks, what else they must agree on (`rankFingerprint`).
/// With several ranks (`trainer.communicator`), every rank calls this and only rank 0 writes train.log and
/// settings.json and prints.
func runTraining<M: TrainableModel, D: TrainingData>(
    _ trainer: Trainer<M>, data: D, configJSON: Data, runDirectory: URL, resumeFrom: URL?, timeLimit: Double,
    unit: String, positionsPerStep: Int, header: [String] = [], settings: [(String, String)] = [], json: Bool = false, command: String = "train",
    fingerprint: Data = Data(),
    cpuLimit: Double = 0
) throws where D.Batch == M.Batch {
    let isRoot = trainer.communicator.rank == 0
    var log: FileHandle?
    if isRoot {
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        let logURL = runDirectory.appendingPathComponent("train.log")
        if !FileManager.default.fileExists(atPath: logURL.path) { _ = FileManager.default.createFile(atPath: logURL.path, contents: nil) }
        log = try FileHandle(forWritingTo: logURL)
        _ = log?.seekToEndOfFile()
    }
    defer { try? log?.close() }
    func logOnly(_ s: String) { log?.write(Data((s + "\n").utf8)) }
    func emit(_ s: String) {
        printErr(s)
        logOnly(s)
    }
    logOnly("# \(ISO8601DateFormatter().string(from: Date())) " + CommandLine.arguments.joined(separator: " "))
    header.forEach(logOnly)
    let settingsURL = runDirectory.appendingPathComponent("settings.json")
    if isRoot, resumeFrom != nil, let data = try? Data(contentsOf: settingsURL),
       let previous = try? JSONDecoder().decode([String: String].self, from: data) {
        for (flag, value) in settings {
            if let was = previous[flag], was != value {
                emit("note: \(flag) was \(was) in this run's previous invocation and is now \(value)")
            }
        }
    }
    if isRoot { try FileIO.writeJSON(Dictionary(settings, uniquingKeysWith: { $1 }), to: settingsURL) }
    if trainer.communicator.size > 1 { emit("data-parallel: \(trainer.communicator.size) ranks (MPI), each computing its part of every batch") }
    if let from = resumeFrom {
        try trainer.resume(from: from)
        emit("resumed from \(from.path) at step \(trainer.state.step)")
    }
    let steps = trainer.options.steps
    if trainer.state.step >= steps {
        printErr("already at step \(trainer.state.step) of --steps \(steps); raise --steps to train further")
        return
    }
    if trainer.options.schedule.warmupSteps >= steps {
        printErr("note: --warmup \(trainer.options.schedule.warmupSteps) >= --steps \(steps): the learning rate never leaves warm-up")
    }
    if data.validationBatches().isEmpty {
        printErr("note: no validation data (no usable valid-split rows): best/ will hold the latest weights at each validation step")
    }
    signal(SIGINT) { _ in stopRequested = 1 }
    signal(SIGTERM) { _ in stopRequested = 1 }
    // What mpirun forwards to every rank without ending the job (it answers SIGTERM and SIGINT by killing the ranks
    // shortly after forwarding them): `kill -USR1 <mpirun>` stops a data-parallel run with a checkpoint.
    signal(SIGUSR1) { _ in stopRequested = 1 }
    let deadline = timeLimit > 0 ? Date().addingTimeInterval(timeLimit * 60) : Date.distantFuture
    let cpuStart = processCPUSeconds()
    func overCPU() -> Bool { cpuLimit > 0 && processCPUSeconds() - cpuStart > cpuLimit * 60 }
    let singular = unit.hasSuffix("s") ? String(unit.dropLast()) : unit
    try trainer.train(data, configJSON: configJSON, fingerprint: fingerprint, shouldStop: { stopRequested != 0 || Date() > deadline || overCPU() }) { event in
        switch event {
        case let .train(step, loss, lr, norm, pps, elapsed):
            let eta = Double((steps - step) * positionsPerStep) / max(pps, 1)
            emit(String(format: "step %d/%d  train %.4f nats  lr %.2e  |g| %.2f  %.0f %@/s  %@ trained  ETA %@",
                        step, steps, loss, lr, norm, pps, unit, formatDuration(elapsed), formatDuration(eta)))
        case let .validation(step, loss, _, _) where loss.isNaN:
            emit("step \(step)  no validation data; best/ holds these weights")
        case let .validation(step, loss, bits, best):
            emit(String(format: "step %d  valid %.4f nats (%.3f bits/%@)%@", step, loss, bits, singular, best ? "  best" : ""))
        case let .validationSetChanged(from, to, rescored):
            let was = from.map { "was \($0)" } ?? "an older checkpoint did not record it"
            emit("note: the validation set changed (now \(to); \(was)); " + (rescored.map {
                String(format: "best/ re-scored on it: %.4f nats", $0) } ?? "the next validation sets best/"))
        case let .checkpoint(step, path):
            emit("step \(step)  checkpoint \(path)")
        case let .communication(step, ranks, bytes, wait, allreduce, stepTime):
            emit(String(format: "step %d  %d ranks: gradient allreduce (%.1f MB) %.1f ms/step, waiting for the slowest rank %.1f ms/step, of %.0f ms/step",
                        step, ranks, Double(bytes) / 1e6, allreduce * 1e3, wait * 1e3, stepTime * 1e3))
        }
    }
    var stopped = "steps"
    if stopRequested != 0 { emit("stopped on signal; resume with --resume"); stopped = "signal" }
    else if Date() > deadline { emit("stopped at the --time-limit of \(timeLimit) minutes; resume with --resume"); stopped = "time-limit" }
    else if overCPU() { emit("stopped at the --cpu-limit of \(cpuLimit) minutes of CPU time; resume with --resume"); stopped = "cpu-limit" }
    if json && isRoot {
        let st = trainer.state
        printJSON(["command": command, "out": runDirectory.path, "step": st.step, "steps": steps, "stopped_by": stopped,
                   "best_valid_loss": st.bestValidLoss.map(jsonNumber) ?? NSNull(), "unit": singular,
                   "positions_seen": st.positionsSeen, "seconds_trained": st.secondsTrained,
                   "best": runDirectory.appendingPathComponent("best").path])
    }
}

/// CPU time of this process (user + system, all threads) in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// One split of a speech manifest as utterances (`SpeechManifest.utterances`), with a progress line on stderr.
func loadSplit(_ rows: [ManifestRow], _ split: String, manifest: URL, speakers: [String], loader: SpeechLoader,
               limit: Int, label: String? = nil) throws -> [Utterance] {
    let bar = ProgressLine("loading \(label ?? split)")
    return try SpeechManifest.utterances(rows, split: split, manifest: manifest, speakers: speakers, loader: loader,
                                         limit: limit) { bar.update($0) }
}
