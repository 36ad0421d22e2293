// `synth speakers`: fits a voice's speaker statistics (for `--speaker auto`) on a manifest and measures them.
import AREngine
import ArgumentParser
import AtomicIO
import Foundation
import WaveNet

struct Speakers: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a voice's speaker statistics for --speaker auto and measure them, or show the speaker they choose for inputs.",
        discussion: """
            With inputs (`synth speakers IN...`): prints the speaker `synth vocode --speaker auto` would use for each (audio or .npy), with the three best scores, the likelihood ratio against all speakers together and whether the fallback applies; nothing is written.

            With --data: fits the statistics.
            Reads the train split of a speech manifest (the format `synth train` reads), computes the voice's normalised log-mels of every file, keeps the frames within 40 dB of each file's loudest, and fits a Gaussian mixture (--components diagonal Gaussians, EM) per speaker over the first --coefficients cepstral coefficients (DCT-II of the normalised log-mels) of its frames, and one more over all speakers' frames together (the background). The valid split calibrates the threshold for recognising a speaker at all: the 5th percentile of its files' log-likelihood ratios (best speaker against the background), so an input that no speaker explains better than that (a voice the model never heard) gets the --fallback speaker. Then it names the speaker of every valid-split file and prints the accuracy, the misses and the time per choice.

            The statistics are written into VOICE/config.json under `speaker_statistics` (atomically; other keys unchanged) unless --dry-run is given. `synth train` fits them by itself for new voices; this command adds them to an older voice, or refits them on other recordings. Speakers of the voice that the manifest lacks keep their statistics.
            """)

    @Argument(help: ArgumentHelp("Recordings or .npy features to choose a speaker for (instead of --data).", valueName: "IN"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Speech manifest to fit the statistics on: TSV or CSV with a header naming path and speaker, and optionally split.", valueName: "MANIFEST"))
    var data: String?

    @OptionGroup var voiceOption: VoiceOption

    @Option(parsing: .unconditional, help: ArgumentHelp("Gaussians per speaker (1...64).", valueName: "K"))
    var components = 8

    @Option(parsing: .unconditional, help: ArgumentHelp("Cepstral coefficients per frame (2...80, at most the mel bins).", valueName: "N"))
    var coefficients = 20

    @Option(parsing: .unconditional, help: ArgumentHelp("Use at most N files per split, the first in the manifest (0: all).", valueName: "N"))
    var maxUtterances = 0

    @Option(help: ArgumentHelp("The speaker used for inputs that no speaker's statistics recognise (voices the model never heard), chosen by measurement (docs/voices.md); `none` removes it (default: keep the voice's).", valueName: "NAME|none"))
    var fallback: String?

    @Flag(help: "Measure only; leave config.json as it is.")
    var dryRun = false

    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard (1...64).contains(components) else { throw ValidationError("--components must be in 1...64, got \(components)") }
        guard (2...80).contains(coefficients) else { throw ValidationError("--coefficients must be in 2...80, got \(coefficients)") }
        guard maxUtterances >= 0 else { throw ValidationError("--max-utterances must be >= 0, got \(maxUtterances)") }
        guard (data == nil) != inputs.isEmpty else { throw ValidationError("give --data MANIFEST to fit statistics, or inputs to choose a speaker for, not both") }
        if let data, !FileManager.default.fileExists(atPath: data) { throw ValidationError("--data: no such file: \(data)") }
    }

    func run() throws {
        let voice = try voiceOption.load()
        guard let data else { return try choose(voice) }
        let c = voice.config
        guard coefficients <= c.melBins else {
            throw ValidationError("--coefficients must be at most the voice's \(c.melBins) mel bins, got \(coefficients)")
        }
        let manifest = URL(fileURLWithPath: data)
        let rows = try SpeechManifest.read(manifest)
        let loader = try SpeechLoader(config: c)
        let train = try loadSplit(rows, "train", manifest: manifest, speakers: c.speakers, loader: loader, limit: maxUtterances)
        guard !train.isEmpty else { throw DatasetError.empty(path: manifest.path, split: "train") }
        let valid = try loadSplit(rows, "valid", manifest: manifest, speakers: c.speakers, loader: loader, limit: maxUtterances)
        let (statistics, fitSeconds) = try fit(voice, train: train, valid: valid)
        let measured = measure(statistics, on: valid, config: c)
        let missing = c.speakers.filter { statistics.speakers[$0] == nil }
        if !dryRun {
            // The voice's config.json again, through the one config encoder, with the new statistics.
            var config = voice.config
            config.speakerStatistics = statistics
            try AtomicFile.write(try ModelFolder.encode(config, modelType: WaveNetModel.modelType),
                                 to: voice.directory.appendingPathComponent(ModelFolder.configName))
        }
        report(voice, statistics: statistics, measured: measured, missing: missing, trainFiles: train.count, fitSeconds: fitSeconds)
    }

    /// Fits the statistics on `train` (speakers the manifest lacks keep the voice's, the fallback stays unless
    /// --fallback is given) and calibrates the threshold on `valid`, with a line on each on stderr.
    private func fit(_ voice: Voice, train: [Utterance], valid: [Utterance]) throws -> (SpeakerStatistics, fitSeconds: Double) {
        let c = voice.config
        let t0 = Date()
        let bar = ProgressLine("fitting speaker statistics", total: c.speakers.count + 1, unit: "mixtures")
        var statistics = SpeakerStatistics.fit(SpeakerStatistics.cepstra(of: train, config: c, coefficients: coefficients),
                                               coefficients: coefficients, components: components) { bar.update($0) }
        let fitSeconds = Date().timeIntervalSince(t0)
        // Speakers the manifest lacks keep the statistics the voice had (with the same shape), and the fallback stays.
        let old = SpeakerStatistics.read(voice: voice)
        if let old, old.coefficients == coefficients {
            for (name, m) in old.speakers where statistics.speakers[name] == nil { statistics.speakers[name] = m }
        }
        statistics.fallback = old?.fallback
        if let f = fallback {
            if f == "none" { statistics.fallback = nil } else { _ = try c.speakerIndex(f); statistics.fallback = f }
        }
        printErr(String(format: "fitted %d speakers on %d train files in %.1f s", statistics.speakers.count, train.count, fitSeconds))
        let heldOut = valid.map { (c.frameFeatures(logMel: $0.logMel, f0: $0.f0, voicing: $0.voicing), $0.frames) }
        let ratios = statistics.calibrate(heldOut: heldOut, config: c)
        if let t = statistics.threshold, ratios.count >= 20 {
            let q = { (f: Double) in ratios[min(ratios.count - 1, Int(f * Double(ratios.count)))] }
            printErr(String(format: "likelihood ratio of the best speaker against all speakers together, %d valid files: min %.2f, 5th percentile %.2f (the threshold for recognising a speaker), median %.2f",
                            ratios.count, q(0), t, q(0.5)))
        } else {
            printErr("fewer than 20 valid files: the threshold for recognising a speaker stays \(statistics.threshold.map { String(format: "%.2f", $0) } ?? "0")")
        }
        return (statistics, fitSeconds)
    }

    /// The speaker `statistics` name for each valid-split file, against the manifest's.
    private func measure(_ statistics: SpeakerStatistics, on valid: [Utterance], config c: WaveNetConfig) -> SpeakerMeasurement {
        var m = SpeakerMeasurement(files: valid.count)
        var seconds = 0.0
        for u in valid {
            let features = c.frameFeatures(logMel: u.logMel, f0: u.f0, voicing: u.voicing)
            let t = Date()
            let choice = statistics.choose(features: features, frames: u.frames, config: c)
            seconds += Date().timeIntervalSince(t)
            // Accuracy of the statistics themselves (the best-scoring speaker); the fallback is counted apart.
            let chosen = choice.best
            if !choice.recognised { m.unrecognised.append((u.path as NSString).lastPathComponent) }
            let sorted = choice.scores.sorted(by: >)
            if sorted.count > 1 { m.margins.append(sorted[0] - sorted[1]) }
            if chosen == u.speaker { m.correct += 1 } else {
                m.misses.append("\((u.path as NSString).lastPathComponent) (\(c.speakers[u.speaker])) as \(c.speakers[chosen])")
            }
        }
        m.perChoice = valid.isEmpty ? 0 : seconds / Double(valid.count)
        m.margins.sort()
        return m
    }

    /// The measurement on stdout: lines of text, or with --json one object.
    private func report(_ voice: Voice, statistics: SpeakerStatistics, measured m: SpeakerMeasurement, missing: [String],
                        trainFiles: Int, fitSeconds: Double) {
        let summary = m.files == 0 ? "no valid-split files to measure on"
            : String(format: "%d of %d valid files named correctly (%.1f %%), %.2f ms per choice", m.correct, m.files,
                     100 * Double(m.correct) / Double(m.files), 1000 * m.perChoice)
        if jsonOption.json {
            printJSON(["command": "speakers", "voice": voice.name, "components": components, "coefficients": coefficients,
                       "train_files": trainFiles, "valid_files": m.files, "correct": m.correct, "misses": m.misses,
                       "seconds_per_choice": m.perChoice, "fit_seconds": fitSeconds, "written": !dryRun,
                       "margin_quantiles": ["min": jsonNumber(m.margin(0)), "p05": jsonNumber(m.margin(0.05)), "p10": jsonNumber(m.margin(0.1)),
                                            "median": jsonNumber(m.margin(0.5))],
                       "speakers_without_statistics": missing, "fallback": statistics.fallback ?? NSNull(),
                       "threshold": statistics.threshold.map(jsonNumber) ?? NSNull(),
                       "unrecognised": m.unrecognised])
        } else {
            print("voice \(voice.name): \(summary)")
            if !m.margins.isEmpty {
                print(String(format: "  margin of the best speaker over the second (mean log-likelihood per frame): min %.2f, 5th percentile %.2f, 10th %.2f, median %.2f",
                             m.margin(0), m.margin(0.05), m.margin(0.1), m.margin(0.5)))
            }
            for miss in m.misses { print("  missed: \(miss)") }
            print("  \(m.unrecognised.count) of \(m.files) valid files are not recognised as any speaker (the best one explains them no better than all together)" +
                  (statistics.fallback.map { " and would get the fallback, \($0)" } ?? "; there is no fallback speaker, so they get the best one"))
            if !missing.isEmpty { print("  no statistics for: \(missing.joined(separator: ", ")) (no train files in the manifest)") }
            print(dryRun ? "dry run: \(voice.directory.path)/config.json left as it was"
                         : "wrote speaker_statistics into \(voice.directory.path)/config.json")
        }
    }

    /// `synth speakers IN...`: the choice `--speaker auto` makes for each input.
    func choose(_ voice: Voice) throws {
        let c = voice.config
        guard let statistics = SpeakerStatistics.read(voice: voice) else {
            throw RuntimeError("voice '\(voice.name)' has no speaker statistics; fit them with `synth speakers --data MANIFEST --voice \(voiceOption.voice)`")
        }
        let vocoder = try Vocoder(voice: voice)
        var results: [[String: Any]] = []
        for input in inputs {
            let source = try openInput(input)
            let cond: Vocoder.Conditioning
            do { cond = try vocoder.streamedConditioning(for: source.url) } catch {
                throw RuntimeError(describe(error, input: input, spooled: source))
            }
            let choice = statistics.choose(features: cond.mels, frames: cond.frames, config: c)
            let ratio = choice.likelihoodRatio.map { String(format: "%+.2f", $0) } ?? "-"
            let how = choice.recognised ? "recognised" : choice.index == choice.best ? "not recognised, no fallback" : "not recognised: the fallback"
            if !jsonOption.json {
                print("\(input): \(c.speakers[choice.index]) (\(how); " + ranking(choice.scores, names: c.speakers, higherIsBetter: true) +
                      String(format: "; likelihood ratio %@ against the threshold %.2f)", ratio, statistics.threshold ?? 0))
            }
            results.append(["input": input, "speaker": c.speakers[choice.index], "best": c.speakers[choice.best],
                            "recognised": choice.recognised, "likelihood_ratio": choice.likelihoodRatio.map(jsonNumber) ?? NSNull(),
                            "scores": Dictionary(uniqueKeysWithValues: zip(c.speakers, choice.scores.map(jsonNumber)))])
        }
        if jsonOption.json {
            printJSON(["command": "speakers", "voice": voice.name, "threshold": statistics.threshold.map(jsonNumber) ?? NSNull(),
                       "fallback": statistics.fallback ?? NSNull(), "choices": results])
        }
    }
}

/// How well speaker statistics name the speakers of the valid split (`synth speakers --data`).
private struct SpeakerMeasurement {
    /// Valid-split files measured.
    let files: Int
    /// Files whose best-scoring speaker is the manifest's.
    var correct = 0
    /// "FILE (SPEAKER) as CHOSEN", one per file named wrongly.
    var misses: [String] = []
    /// Files no speaker explains better than all speakers together (the fallback applies).
    var unrecognised: [String] = []
    /// Margins of the best speaker over the second (mean log-likelihood per frame), ascending.
    var margins: [Double] = []
    /// Seconds per choice.
    var perChoice = 0.0

    init(files: Int) { self.files = files }

    /// The q-quantile of the margins (NaN without any).
    func margin(_ q: Double) -> Double { margins.isEmpty ? .nan : margins[min(margins.count - 1, Int(q * Double(margins.count)))] }
}
