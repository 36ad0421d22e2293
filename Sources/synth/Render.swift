// `synth render`: batch rendering of a manifest (many utterances, many speakers), resumable and shardable.
import AREngine
import ArgumentParser
import Audio
import DSP
import Foundation
import NNCore
import Tabular
import WaveNet

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render many utterances from a manifest, B at a time in lockstep.",
        discussion: """
            MANIFEST is CSV or TSV with a header naming `input` and `speaker`, and optionally `output` and `seed`. `input` is an audio file (any format libsndfile reads) or a .npy float32 [frames, mel_bins] array of normalised log-mels (see `synth features`); relative paths are relative to the manifest's folder. `speaker` names the speaker embedding (it need not be the speaker of the recording), or is `auto` for the speaker chosen from the input (as `synth vocode --speaker auto`: from the voice's speaker statistics when it has them, which works for .npy inputs too; else by likelihood, scored before rendering). `output` is a file name inside --out (default: the input's name with .wav); `seed` defaults to `--seed + FNV-1a-64(output name)` (wrapping), so a line renders the same alone, in any batch, shard or order: `synth vocode IN -o X.wav --speaker S --seed SEED` gives the same file.

            Resumable: outputs that already exist are skipped (they are written atomically, so an existing file is complete); kill and rerun at any time. Bad lines are reported with their line number at the end and do not stop the others. Exit status: 0 if every line of this shard is rendered or skipped, 1 if any failed. Each output's format follows its name's extension (.wav, .flac, .ogg, .mp3, .aiff); --json prints the summary as one JSON object on stdout.

            Sharding: --shard K/N renders data rows i with i mod N == K (K is 0-based, 0 <= K < N). Without --shard, the shard comes from SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) of SLURM_ARRAY_TASK_COUNT in a Slurm job array, or from JOB_COMPLETION_INDEX of SYNTH_SHARDS in a Kubernetes indexed Job; otherwise everything is rendered. Duplicate output names are checked over the whole manifest, so shards never write the same file. See docs/scale-out.md.
            """)

    @Argument(help: ArgumentHelp("CSV/TSV manifest with input, speaker[, output][, seed] columns.", valueName: "MANIFEST"))
    var manifest: String

    @Option(help: ArgumentHelp("Output folder (created if missing).", valueName: "DIR"))
    var out: String

    @OptionGroup var voiceOption: VoiceOption

    @Option(help: ArgumentHelp("Render every line with this speaker's embedding instead of the manifest's speaker column (`auto`: each line's speaker chosen from its input, as `synth vocode --speaker auto`).", valueName: "NAME|auto"))
    var speaker: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Utterances generated in lockstep per thread (B).", valueName: "B"))
    var batch = 16

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads, each rendering its own batch; OpenBLAS is kept single-threaded. The default is the number of cores.", valueName: "N"))
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("Render only data rows i with i mod N == K (0-based K); default from Slurm/Kubernetes variables, else all.", valueName: "K/N"))
    var shard: String?

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var voiced: VoicedTemperatureOption
    @OptionGroup var postfilter: PitchPostfilterOption
    @OptionGroup var correction: MelCorrectionOption

    @Option(help: ArgumentHelp("Sample encoding of the outputs: pcm16, pcm24 or float for .wav/.aiff, pcm16 or pcm24 for .flac (default: pcm16). Each output's format follows its name's extension (.wav, .flac, .ogg, .mp3, .aiff).", valueName: "SUBTYPE"))
    var subtype: String?

    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard batch >= 1, batch <= 1024 else { throw ValidationError("--batch must be in 1...1024, got \(batch)") }
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be in 1...256, got \(threads)") }
        if let subtype {
            do { _ = try AudioFileFormat.resolve(path: "x.wav", subtype: subtype) } catch { throw ValidationError("\(error)") }
        }
        if let shard { do { _ = try RenderShard(parsing: shard) } catch { throw ValidationError("\(error)") } }
    }

    func run() throws {
        let shardSpec = try resolvedShard()
        try requireFile(manifest, option: "MANIFEST")
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
            throw ValidationError("--out: \(out) is a file, not a folder")
        }
        let v = try voiceOption.load()
        let c = v.config
        let statistics = SpeakerStatistics.read(voice: v)
        let overrideSpeaker = try speaker.map { try speakerIndex($0, config: c) }
        let manifestURL = URL(fileURLWithPath: manifest)
        let m = try RenderManifest.read(manifestURL)
        let outDir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        BLAS.setThreads(1)

        var plan = makePlan(m, shard: shardSpec, outDir: outDir, config: c, overrideSpeaker: overrideSpeaker)
        let vocoder = try Vocoder(voice: v)
        vocoder.voicedTemperature = try voiced.factor(for: v)
        if statistics == nil { scoreAutoLines(&plan, vocoder: vocoder, manifestURL: manifestURL) }
        let planned = m.lines.filter { shardSpec.contains($0.index) }.count + m.problems.filter { shardSpec.contains($0.index) }.count
        printErr("render: \(m.rowCount) lines in \(manifest), shard \(shardSpec): \(planned) lines: \(plan.skipped) already done, " +
                 "\(plan.failures.count) refused, \(plan.todo.count) to render with \(threads) thread(s) x batch \(batch); voice \(v.name) (\(c.features.sampleRate) Hz)")

        let (state, autoChoices) = try render(plan.todo, vocoder: vocoder, statistics: statistics, manifestURL: manifestURL, outDir: outDir)
        try finish(plan, state: state, autoChoices: autoChoices, planned: planned, voice: v, shard: shardSpec)
    }

    /// The shard to render: --shard, else the job array's or indexed Job's (`RenderShard.fromEnvironment`), else all.
    private func resolvedShard() throws -> RenderShard {
        do {
            return try shard.map { try RenderShard(parsing: $0) }
                ?? RenderShard.fromEnvironment(ProcessInfo.processInfo.environment) ?? .all
        } catch { throw ValidationError("\(error)") }
    }

    /// The index of speaker `name` in `c`; -1 stands for `auto`: chosen per line, from its features (speaker
    /// statistics) or before rendering from its audio.
    private func speakerIndex(_ name: String, config c: WaveNetConfig) throws -> Int {
        name.lowercased() == "auto" ? -1 : try c.speakerIndex(name)
    }

    /// A line's input, resolved relative to the manifest.
    private func inputURL(_ l: RenderLine, manifestURL: URL) -> URL { Table.resolve(l.input, relativeTo: manifestURL) }

    /// Plan: problems, unknown speakers and outputs in no known format fail, existing outputs are skipped, the rest
    /// are rendered. Removes the temporary files an earlier, killed run left for the lines of this shard.
    private func makePlan(_ m: RenderManifest, shard shardSpec: RenderShard, outDir: URL, config c: WaveNetConfig,
                          overrideSpeaker: Int?) -> RenderPlan {
        var plan = RenderPlan()
        plan.failures = m.problems.filter { shardSpec.contains($0.index) }.map { (line: $0.line, reason: $0.reason) }
        let fm = FileManager.default
        let existing = Set((try? fm.contentsOfDirectory(atPath: outDir.path)) ?? [])
        for l in m.lines where shardSpec.contains(l.index) {
            let spk: Int, format: AudioFileFormat
            do {
                spk = try overrideSpeaker ?? speakerIndex(l.speaker, config: c)
                format = try AudioFileFormat.resolve(path: l.output, subtype: subtype)
            } catch {
                plan.failures.append((l.line, "\(error)"))
                continue
            }
            // Temporary files of an earlier, killed run of this line (only this shard writes this name).
            for name in existing where name.hasPrefix(".\(l.output).tmp-") {
                try? fm.removeItem(at: outDir.appendingPathComponent(name))
            }
            if existing.contains(l.output) { plan.skipped += 1; continue }
            plan.todo.append((l, spk, format))
        }
        return plan
    }

    /// For a voice without speaker statistics: chooses the speaker of the plan's `auto` lines by likelihood, before
    /// rendering; a line whose input cannot be scored becomes a failure.
    private func scoreAutoLines(_ plan: inout RenderPlan, vocoder: Vocoder, manifestURL: URL) {
        let auto = plan.todo.indices.filter { plan.todo[$0].speaker < 0 }
        guard !auto.isEmpty else { return }
        printErr("note: voice '\(vocoder.voice.name)' has no speaker statistics; the `auto` lines are scored by likelihood first (several seconds each; `synth speakers` adds statistics)")
        let chosen = chooseSpeakers(auto.map { inputURL(plan.todo[$0].line, manifestURL: manifestURL) }, vocoder: vocoder, threads: threads)
        for (k, i) in auto.enumerated() {
            switch chosen[k] {
            case .success(let s): plan.todo[i].speaker = s
            case .failure(let e): plan.failures.append((plan.todo[i].line.line, "\(e)"))
            }
        }
        plan.todo.removeAll { $0.speaker < 0 }
    }

    /// Renders `todo` on --threads threads of --batch lines each, writing each output as it is done; the speakers
    /// chosen for `auto` lines from `statistics` are counted in the returned `AutoChoices`.
    private func render(_ todo: [RenderJob], vocoder: Vocoder, statistics: SpeakerStatistics?, manifestURL: URL,
                        outDir: URL) throws -> (RenderState, AutoChoices) {
        let v = vocoder.voice
        let c = v.config
        let state = RenderState(todo: todo.count, sampleRate: c.features.sampleRate)
        let sampler = try sampling.makeSampler(folder: v.directory)
        let renderers = (0..<min(threads, max(1, todo.count))).map { _ in
            BatchRenderer(voice: v, batch: batch, sampler: sampler, voicedTemperature: vocoder.voicedTemperature)
        }
        let lines = todo
        let baseSeed = sampling.seed
        let autoChoices = AutoChoices()
        let tracks = PostfilterTracks(), strength = postfilter.pitchPostfilter ?? c.pitchPostfilter ?? 0
        let rounds = correction.rounds(for: v), momentum = correction.momentum(for: v)
        let url = { (l: RenderLine) in inputURL(l, manifestURL: manifestURL) }
        DispatchQueue.concurrentPerform(iterations: renderers.count) { t in
            renderers[t].run(next: {
                while let i = state.take(max: lines.count) {
                    let (l, given, _) = lines[i]
                    do {
                        let cond = try vocoder.conditioning(for: url(l))
                        // The option, else the voice's default (skipped for a line that gives no F0 to follow).
                        if strength > 0 {
                            if let track = vocoder.postfilterPitch(cond) {
                                tracks.set(i, track)
                            } else if postfilter.pitchPostfilter != nil {
                                state.fail(line: l.line, reason: PitchPostfilterOption.npyRefusal(v))
                                continue
                            }
                        }
                        if url(l).pathExtension.lowercased() == "npy",
                           let warning = c.normalisationWarning(features: cond.mels, frames: cond.frames, path: url(l).path) {
                            printErr("warning: \(manifest):\(l.line): \(warning)")
                        }
                        var spk = given
                        if spk < 0, let statistics {
                            spk = statistics.choose(features: cond.mels, frames: cond.frames, config: c).index  // as vocode
                            autoChoices.add(spk)
                        }
                        state.started(samples: cond.sampleCount)
                        return RenderRequest(id: i, mels: cond.mels, frames: cond.frames, sampleCount: cond.sampleCount,
                                             speaker: spk, seed: RenderManifest.seed(for: l, base: baseSeed))
                    } catch {
                        state.fail(line: l.line, reason: "\(error)")
                    }
                }
                return nil
            }, finished: { r, generated in
                let (l, _, format) = lines[r.id]
                var y = generated
                if let track = tracks.take(r.id) {
                    y = PitchPostfilter.apply(y, strength: strength, f0: track.f0, voicing: track.voicing,
                                              sampleRate: c.features.sampleRate, hopLength: c.features.hopLength)
                }
                do {
                    if rounds > 0 {
                        y = try MelEnvelopeCorrection.apply(y, features: c.features, targetLogMel: vocoder.logMels(r.mels, frames: r.frames),
                                                            frames: r.frames, iterations: rounds, momentum: momentum)
                    }
                    try AudioIO.write(y, sampleRate: c.features.sampleRate, to: outDir.appendingPathComponent(l.output), format: format)
                    state.finish()
                } catch {
                    state.fail(line: l.line, reason: "\(error)")
                }
            }, progress: { state.rendered(thread: t, samples: $0.done) })
        }
        return (state, autoChoices)
    }

    /// The summary on stderr (and with --json on stdout) after rendering; exit status 1 if any line failed.
    private func finish(_ plan: RenderPlan, state: RenderState, autoChoices: AutoChoices, planned: Int, voice v: Voice,
                        shard shardSpec: RenderShard) throws {
        let c = v.config
        state.report(force: true)
        if !autoChoices.counts.isEmpty {
            let summary = autoChoices.counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\(c.speakers[$0.key]) \($0.value)" }
            printErr("speaker auto (speaker statistics): " + summary.joined(separator: ", "))
        }
        var failures = plan.failures + state.failures
        failures.sort { $0.line < $1.line }
        let rendered = plan.todo.count - state.failures.count
        printErr(String(format: "rendered %d, skipped %d (already done), failed %d; %.1f s of audio in %.1f s (%@)",
                        rendered, plan.skipped, failures.count, state.audioSeconds, state.elapsed,
                        realTimeText(audioSeconds: state.audioSeconds, computeSeconds: state.elapsed)))
        if !failures.isEmpty {
            printErr("failures:")
            for f in failures { printErr("  \(manifest):\(f.line): \(f.reason)") }
        }
        if jsonOption.json {
            printJSON(["command": "render", "manifest": manifest, "out": out, "voice": v.name, "shard": "\(shardSpec)",
                       "lines": planned, "rendered": rendered, "skipped": plan.skipped, "failed": failures.count,
                       "failures": failures.map { ["line": $0.line, "reason": $0.reason] },
                       "audio_seconds": state.audioSeconds, "compute_seconds": state.elapsed,
                       "real_time_factor": jsonNumber(state.elapsed / state.audioSeconds)])
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

/// A line to render: the manifest line, its speaker's index (-1: `auto`, still to choose) and its output's format.
private typealias RenderJob = (line: RenderLine, speaker: Int, format: AudioFileFormat)

/// What a render does with the lines of its shard: renders them (`todo`), skips them (the output exists) or reports
/// them as failed (a problem in the manifest, an unknown speaker, an output in no known format).
private struct RenderPlan {
    var todo: [RenderJob] = []
    var failures: [(line: Int, reason: String)] = []
    var skipped = 0
}

/// The F0 tracks of the lines being rendered with `--pitch-postfilter`, by line index (thread-safe).
final class PostfilterTracks: @unchecked Sendable {
    private let lock = NSLock()
    private var tracks: [Int: (f0: [Float], voicing: [Float])] = [:]

    func set(_ id: Int, _ track: (f0: [Float], voicing: [Float])) { lock.withLock { tracks[id] = track } }

    /// The track of line `id`, forgotten once taken (nil without one).
    func take(_ id: Int) -> (f0: [Float], voicing: [Float])? { lock.withLock { tracks.removeValue(forKey: id) } }
}

/// Counts of the speakers chosen for `auto` lines from the speaker statistics (thread-safe).
final class AutoChoices: @unchecked Sendable {
    let lock = NSLock()
    private(set) var counts: [Int: Int] = [:]
    func add(_ s: Int) { lock.withLock { counts[s, default: 0] += 1 } }
}

/// Shared, locked bookkeeping of a render: the work cursor, failures and the progress line
/// (lines done, seconds of audio rendered, real-time factor, ETA), drawn by `ProgressLine`.
final class RenderState: @unchecked Sendable {
    let lock = NSLock()
    let sampleRate: Int
    let start = Date()
    let line = ProgressLine("render")
    var cursor = 0
    var done = 0             // lines of this run finished or failed
    var perThread: [Int: Int] = [:]  // samples generated by each thread's renderer (including unfinished utterances)
    var samplesStarted = 0   // total length of the utterances started so far
    var linesStarted = 0
    var failures: [(line: Int, reason: String)] = []
    /// Lines this run renders (the header's "to render").
    let todo: Int

    init(todo: Int, sampleRate: Int) {
        self.todo = todo
        self.sampleRate = sampleRate
    }

    var elapsed: Double { Date().timeIntervalSince(start) }
    var audioSeconds: Double { lock.withLock { Double(perThread.values.reduce(0, +)) / Double(sampleRate) } }

    func take(max: Int) -> Int? {
        lock.withLock {
            guard cursor < max else { return nil }
            defer { cursor += 1 }
            return cursor
        }
    }

    func started(samples n: Int) { lock.withLock { samplesStarted += n; linesStarted += 1 } }
    func rendered(thread: Int, samples n: Int) { lock.withLock { perThread[thread] = n }; report() }
    func finish() { lock.withLock { done += 1 }; report() }
    func fail(line: Int, reason: String) { lock.withLock { failures.append((line, reason)); done += 1 }; report() }

    /// "render 3/16 lines | 12.4 s of audio | RTF 0.152 (6.58x real time) | ETA 1m10s" on stderr; the real-time
    /// factor and ETA read "-" and "?" until audio has been generated.
    func report(force: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        guard line.due(final: force) else { return }
        let dt = Date().timeIntervalSince(start)
        let samples = perThread.values.reduce(0, +), audio = Double(samples) / Double(sampleRate)
        var speed = "RTF -", eta = "?"
        if audio > 0 {
            let rtf = dt / audio
            speed = String(format: "RTF %.3f (%.2fx real time)", rtf, 1 / rtf)
            // Remaining audio: the rest of the started utterances, plus the average length for lines not yet started.
            let avg = linesStarted > 0 ? Double(samplesStarted) / Double(linesStarted) : 0
            let remaining = Double(max(0, samplesStarted - samples)) + Double(max(0, todo - cursor)) * avg
            eta = formatDuration(remaining / Double(sampleRate) * rtf)
        }
        line.draw("render \(done)/\(todo) lines | " + String(format: "%.1f s of audio | ", audio) + speed + " | ETA \(eta)", final: force)
    }
}

/// `speaker auto` lines of a render: each input's most likely speaker (`Vocoder.bestSpeaker`), scored on
/// `threads` threads, with a summary on stderr. An input that cannot be read, or is `.npy` log-mels, fails.
func chooseSpeakers(_ inputs: [URL], vocoder: Vocoder, threads: Int) -> [Result<Int, Error>] {
    let names = vocoder.voice.config.speakers
    let lock = NSLock()
    var results = [Result<Int, Error>](repeating: .failure(ValidationError("not scored")), count: inputs.count)
    var next = 0
    let bar = ProgressLine("scoring speakers (auto)")
    DispatchQueue.concurrentPerform(iterations: max(1, min(threads, inputs.count))) { _ in
        while true {
            lock.lock(); let i = next; next += 1; lock.unlock()
            guard i < inputs.count else { return }
            let r = Result<Int, Error> {
                // Only the waveform: the features are computed once, when the line is rendered.
                guard inputs[i].pathExtension.lowercased() != "npy" else {
                    throw ValidationError("speaker auto needs an audio input to score, not log-mels (.npy)")
                }
                return vocoder.bestSpeaker(samples: try vocoder.waveform(of: inputs[i])).index
            }
            lock.lock(); results[i] = r; bar.update(ProgressReport(done: min(next, inputs.count), total: inputs.count, unit: "lines")); lock.unlock()
        }
    }
    var counts: [Int: Int] = [:]
    for case .success(let s) in results { counts[s, default: 0] += 1 }
    let summary = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\(names[$0.key]) \($0.value)" }
    printErr("speaker auto: \(counts.values.reduce(0, +)) line(s) scored: " + summary.joined(separator: ", "))
    return results
}
