// `synth vocode`: re-synthesises a recording (or log-mels from .npy) through a WaveNet voice, streaming in and out.
import AREngine
import ArgumentParser
import Audio
import DSP
import Foundation
import WaveNet

struct Vocode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-synthesise speech through a WaveNet voice.",
        discussion: """
            Computes the voice's log-mel features from IN (any file libsndfile reads, at any rate and channel count: it is mixed to mono and resampled to the voice's rate), then generates the waveform one sample at a time, conditioned on those features and a speaker embedding. Prints the real-time factor (seconds of compute per second of audio) when done.

            Streams: IN may be - (standard input, any format; it is copied to a temporary file first) and OUT may be - (standard output; WAV unless --format says otherwise), e.g. `cat in.flac | synth vocode - -o - | sox -t wav - -n stat`. Progress and messages go to stderr. The input is analysed and the output written block by block, so memory stays flat however long the input is (docs/benchmarks.md).

            The output's format follows its extension: .wav (16-bit PCM; --subtype pcm24 or float), .flac, .ogg (Vorbis), .mp3, .aiff; any other extension is refused before any work. Files are written atomically; a device, pipe or standard output is written in place.

            Speaker: by default (and with --speaker auto) the voice's speaker statistics choose the speaker whose recordings the input's spectrum resembles most (a Gaussian mixture per speaker over the cepstrum of its log-mels: milliseconds, and it works on .npy input too). When no speaker's recordings match the input better than all speakers' together (a voice the model never heard), the voice's fallback speaker is used, the one measured to render unseen voices best. docs/voices.md has the measurements. A voice without statistics (`synth speakers` adds them) uses its first speaker by default, and --speaker auto then scores the first 1.5 s of speech under every speaker instead (one teacher-forced forward pass each: several seconds).

            IN may also be a .npy float32 array [frames, frame_features] of normalised log-mels (see `synth features`); a warning names its mean and spread when they are far from the voice's normalisation.

            Exit status: 0 on success, 64 for invalid options, 1 for bad input or a failed write.
            """)

    @Argument(help: ArgumentHelp("Input audio file (WAV, FLAC, OGG, ...), .npy log-mels, or - for standard input.", valueName: "IN"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Output audio file (format by extension), or - for standard output.", valueName: "OUT"))
    var output: String

    @OptionGroup var voiceOption: VoiceOption

    @Option(help: ArgumentHelp("Speaker whose embedding conditions the voice, or auto (default: auto when the voice has speaker statistics, else its first speaker).", valueName: "NAME|auto"))
    var speaker: String?

    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var voiced: VoicedTemperatureOption
    @OptionGroup var postfilter: PitchPostfilterOption
    @OptionGroup var correction: MelCorrectionOption
    @OptionGroup var formatOptions: AudioFormatOptions
    @OptionGroup var jsonOption: JSONOption

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case wavenet
        case griffinLim = "griffin-lim"
    }

    @Option(help: ArgumentHelp("wavenet (the voice's network) or griffin-lim (the classical baseline: phase reconstruction from the same log-mels, 60 iterations, Griffin and Lim 1984; ignores the speaker and sampling options, and the voice's output defaults: it takes --mel-correction only when given).", valueName: "METHOD"))
    var vocoder: Method = .wavenet

    func validate() throws {
        try checkOutputPath(output, option: "-o")
        _ = try formatOptions.resolve(output)
        if jsonOption.json && isStandardOutput(output) {
            throw ValidationError("--json and -o - both write to standard output; give -o a file")
        }
    }

    func run() throws {
        let format = try formatOptions.resolve(output)
        let voice = try voiceOption.load()
        let c = voice.config
        let vocoder = try Vocoder(voice: voice)
        vocoder.voicedTemperature = try voiced.factor(for: voice)
        let statistics = SpeakerStatistics.read(voice: voice)
        let auto = speaker?.lowercased() == "auto"
        let source = try openInput(input)
        vocoder.pitchPostfilter = try postfilter.strength(for: voice, input: source.url)
        vocoder.melCorrection = correction.rounds(for: voice)
        vocoder.melCorrectionMomentum = correction.momentum(for: voice)
        // The postfilter of a voice without pitch runs pYIN on the whole input waveform.
        let postfilterNeedsAudio = vocoder.pitchPostfilter > 0 && !c.pitch
        let cond: Vocoder.Conditioning
        do {
            // Without statistics, `auto` scores the first seconds of the waveform.
            let bar = ProgressLine("analysing", total: 1, unit: "samples", delay: 1)
            let keep = postfilterNeedsAudio ? Double(Int32.max) : auto && statistics == nil ? 10 : 0
            cond = try vocoder.streamedConditioning(for: source.url, keepSeconds: keep) { bar.update($0) }
        } catch { throw RuntimeError(describe(error, input: input, spooled: source)) }
        if source.url.pathExtension.lowercased() == "npy",
           let warning = c.normalisationWarning(features: cond.mels, frames: cond.frames, path: input) {
            printErr("warning: \(warning)")
        }

        if self.vocoder == .griffinLim {
            let start = Date()
            var y = try vocoder.griffinLim(mels: cond.mels, frames: cond.frames, sampleCount: cond.sampleCount)
            // Only when asked for: the classical baseline stays plain by default, whatever the voice's default.
            let rounds = correction.melCorrection ?? 0
            if rounds > 0 {
                y = try MelEnvelopeCorrection.apply(y, features: c.features, targetLogMel: vocoder.logMels(cond.mels, frames: cond.frames),
                                                    frames: cond.frames, iterations: rounds, momentum: correction.melCorrectionMomentum ?? 0)
            }
            let dt = Date().timeIntervalSince(start)
            do { try AudioIO.write(y, sampleRate: c.features.sampleRate, to: outputURL(output), format: format) } catch {
                throw RuntimeError("\(error)")
            }
            let audio = Double(cond.sampleCount) / Double(c.features.sampleRate)
            let shown = isStandardOutput(output) ? "- (standard output)" : output
            printErr(String(format: "wrote %@ (%@, Griffin-Lim, 60 iterations%@, on voice %@'s features): %.2f s of audio in %.2f s, %@",
                            shown, format.description, rounds > 0 ? ", mel correction \(rounds) rounds" : "", voice.name, audio, dt,
                            realTimeText(audioSeconds: audio, computeSeconds: dt)))
            if jsonOption.json {
                printJSON(["command": "vocode", "input": input, "output": output, "format": format.description, "voice": voice.name,
                           "vocoder": "griffin-lim", "mel_correction": rounds,
                           "mel_correction_momentum": rounds > 0 ? Double(correction.melCorrectionMomentum ?? 0) : 0, "sample_rate": c.features.sampleRate, "samples": cond.sampleCount,
                           "audio_seconds": audio, "compute_seconds": dt, "real_time_factor": jsonNumber(dt / audio)])
            }
            return
        }
        let choice = try chooseSpeaker(vocoder, cond: cond, statistics: statistics, auto: auto)
        let count = cond.sampleCount
        var sampler = try sampling.makeSampler(folder: voice.directory)
        let writer: AudioWriter
        do {
            writer = try AudioWriter(url: outputURL(output), format: format, sampleRate: c.features.sampleRate, frameCount: count)
        } catch { throw RuntimeError("\(error)") }
        let bar = ProgressLine("vocoding", total: count, unit: "samples")
        let start = Date()
        do {
            try vocoder.generate(cond, speaker: choice.index, sampler: &sampler, progress: { bar.update($0) }) { try writer.write($0) }
            try writer.finish()
        } catch { throw RuntimeError("\(error)") }
        let dt = Date().timeIntervalSince(start)
        let audio = Double(count) / Double(c.features.sampleRate)
        let shown = isStandardOutput(output) ? "- (standard output)" : output
        let filtered = (vocoder.pitchPostfilter > 0 ? String(format: ", pitch postfilter %g", Double(vocoder.pitchPostfilter)) : "")
            + (vocoder.melCorrection > 0 ? ", mel correction \(vocoder.melCorrection) rounds"
                + (vocoder.melCorrectionMomentum > 0 ? String(format: " (momentum %g)", Double(vocoder.melCorrectionMomentum)) : "") : "")
        printErr(String(format: "wrote %@ (%@, speaker %@%@%@): %.2f s of audio generated in %.2f s, %@, %.0f samples/s",
                        shown, format.description, c.speakers[choice.index], choice.how == "given" ? "" : ", \(choice.how)", filtered,
                        audio, dt, realTimeText(audioSeconds: audio, computeSeconds: dt), Double(count) / dt))
        if jsonOption.json {
            var result: [String: Any] = [
                "command": "vocode", "input": input, "output": output, "format": format.description,
                "voice": voice.name, "speaker": c.speakers[choice.index], "speaker_choice": choice.how,
                "sample_rate": c.features.sampleRate, "samples": count, "audio_seconds": audio, "compute_seconds": dt,
                "real_time_factor": jsonNumber(dt / audio), "seed": sampling.seed, "temperature": Double(sampler.temperature),
                "pitch_postfilter": Double(vocoder.pitchPostfilter), "mel_correction": vocoder.melCorrection,
                "mel_correction_momentum": Double(vocoder.melCorrectionMomentum),
            ]
            if let scores = choice.scores {
                result["speaker_scores"] = Dictionary(uniqueKeysWithValues: zip(c.speakers, scores.map(jsonNumber)))
                result["speaker_choice_seconds"] = choice.seconds
            }
            printJSON(result)
        }
    }

    /// The speaker to use: the one named, or (auto, or by default with statistics) the statistics' choice, or
    /// without statistics the likelihood's (auto) or the first speaker (by default).
    func chooseSpeaker(_ vocoder: Vocoder, cond: Vocoder.Conditioning, statistics: SpeakerStatistics?, auto: Bool)
        throws -> (index: Int, how: String, scores: [Double]?, seconds: Double) {
        let c = vocoder.voice.config
        if let name = speaker, !auto { return (try c.speakerIndex(name), "given", nil, 0) }
        let t0 = Date()
        if let statistics {
            let choice = statistics.choose(features: cond.mels, frames: cond.frames, config: c)
            let dt = Date().timeIntervalSince(t0)
            let ratio = choice.likelihoodRatio.map { String(format: "; %+.2f per frame against all speakers together", $0) } ?? ""
            if choice.recognised || choice.index == choice.best {
                printErr("speaker auto: \(c.speakers[choice.index]) (" + ranking(choice.scores, names: c.speakers, higherIsBetter: true) +
                         ratio + String(format: "; chosen from the speaker statistics in %.3f s)", dt))
                return (choice.index, "auto", choice.scores, dt)
            }
            printErr("speaker auto: \(c.speakers[choice.index]), the voice's speaker for voices it does not know: no speaker's " +
                     "recordings match this input clearly (closest: \(c.speakers[choice.best])\(ratio), " +
                     String(format: "below the %.2f that 95 %% of held-out recordings of its speakers reach; chosen in %.3f s; docs/voices.md)",
                            statistics.threshold ?? 0, dt))
            return (choice.index, "auto (unknown voice)", choice.scores, dt)
        }
        guard auto else {
            printErr("note: voice '\(vocoder.voice.name)' has no speaker statistics, so the default is its first speaker, \(c.speakers[0]); add them with `synth speakers`, or pass --speaker")
            return (0, "first", nil, 0)
        }
        guard let x = cond.samples, !x.isEmpty else {
            throw ValidationError("--speaker auto needs an audio input to score, not log-mels (.npy), with a voice without speaker statistics; name a speaker instead")
        }
        let (best, scores) = scoreSpeakers(vocoder, samples: x)
        return (best, "auto (likelihood)", scores.map { -$0 }, Date().timeIntervalSince(t0))
    }
}

/// "klettres-en -12.31, klettres-de -12.90, klettres-nl -13.02": the best three of `scores`.
func ranking(_ scores: [Double], names: [String], higherIsBetter: Bool) -> String {
    let order = scores.indices.sorted { higherIsBetter ? scores[$0] > scores[$1] : scores[$0] < scores[$1] }.prefix(3)
    let what = higherIsBetter ? "mean log-likelihood per frame, best first: " : "nats/sample of the input, best first: "
    return what + order.map { String(format: "%@ %.3f", names[$0], scores[$0]) }.joined(separator: ", ")
}

/// `--speaker auto` without statistics: the speaker under which the voice finds the input most likely, with the
/// scores on stderr.
func scoreSpeakers(_ vocoder: Vocoder, samples: [Float]) -> (Int, [Double]) {
    let names = vocoder.voice.config.speakers
    let bar = ProgressLine("scoring speakers", total: names.count, unit: "speakers")
    let t0 = Date()
    let (best, scores) = vocoder.bestSpeaker(samples: samples) { bar.update($0) }
    printErr("speaker auto: \(names[best]) (" + ranking(scores, names: names, higherIsBetter: false) +
             String(format: "; after %.2f s scoring speakers)", Date().timeIntervalSince(t0)))
    return (best, scores)
}
