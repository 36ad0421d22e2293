// `synth vocode`: re-synthesises a recording (or log-mels from .npy) through a WaveNet voice.
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

            --speaker auto scores the first 1.5 s of speech in IN under every speaker of the voice (one teacher-forced forward pass each) and uses the one under which it is most likely; a speaker whose pitch and recording conditions resemble IN's sounds clearer.

            IN may also be a .npy float32 array [frames, mel_bins] of normalised log-mels (see `synth features`).
            """)

    @Argument(help: ArgumentHelp("Input audio file (WAV, FLAC, OGG, ...) or .npy log-mels.", valueName: "IN"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Output WAV file (16-bit PCM, written atomically).", valueName: "OUT.wav"))
    var output: String

    @OptionGroup var voiceOption: VoiceOption
    @OptionGroup var speakerOption: SpeakerOption
    @OptionGroup var sampling: SamplingOptions

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case wavenet
        case griffinLim = "griffin-lim"
    }

    @Option(help: ArgumentHelp("wavenet (the voice's network) or griffin-lim (the classical baseline: phase reconstruction from the same log-mels, 60 iterations, Griffin and Lim 1984; ignores the speaker and sampling options).", valueName: "METHOD"))
    var vocoder: Method = .wavenet

    func validate() throws {
        try checkOutputPath(output, option: "-o")
    }

    func run() throws {
        let voice = try voiceOption.load()
        let vocoder = try Vocoder(voice: voice)
        let cond = try vocoder.conditioning(for: URL(fileURLWithPath: input))
        if self.vocoder == .griffinLim {
            let start = Date()
            let y = try vocoder.griffinLim(mels: cond.mels, frames: cond.frames, sampleCount: cond.sampleCount)
            let dt = Date().timeIntervalSince(start), c = voice.config
            try AudioIO.writeWAV(y, sampleRate: c.features.sampleRate, to: URL(fileURLWithPath: output))
            let audio = Double(cond.sampleCount) / Double(c.features.sampleRate)
            printErr(String(format: "wrote %@ (Griffin-Lim, 60 iterations, on voice %@'s features): %.2f s of audio in %.2f s, %@",
                            output, voice.name, audio, dt, realTimeText(audioSeconds: audio, computeSeconds: dt)))
            return
        }
        let speaker: Int
        var scoring = ""
        if speakerOption.isAuto {
            guard let x = cond.samples else {
                throw ValidationError("--speaker auto needs an audio input to score, not log-mels (.npy); name a speaker instead")
            }
            let t0 = Date()
            speaker = chooseSpeaker(vocoder, samples: x)
            scoring = String(format: " (after %.2f s scoring speakers)", Date().timeIntervalSince(t0))
        } else {
            speaker = try speakerOption.index(in: voice)
        }
        let c = voice.config
        let (mels, frames, count) = (cond.mels, cond.frames, cond.sampleCount)
        var sampler = try sampling.makeSampler()
        let bar = ProgressLine("vocoding")
        let start = Date()
        let y = vocoder.generate(mels: mels, frames: frames, sampleCount: count, speaker: speaker, sampler: &sampler) { bar.update($0) }
        let dt = Date().timeIntervalSince(start)
        try AudioIO.writeWAV(y, sampleRate: c.features.sampleRate, to: URL(fileURLWithPath: output))
        let audio = Double(count) / Double(c.features.sampleRate)
        printErr(String(format: "wrote %@ (speaker %@): %.2f s of audio generated in %.2f s%@, %@, %.0f samples/s",
                        output, c.speakers[speaker], audio, dt, scoring, realTimeText(audioSeconds: audio, computeSeconds: dt),
                        Double(count) / dt))
    }
}

/// `--speaker auto`: the speaker under which the voice finds the input most likely, with the scores on stderr.
func chooseSpeaker(_ vocoder: Vocoder, samples: [Float]) -> Int {
    let names = vocoder.voice.config.speakers
    let bar = ProgressLine("scoring speakers")
    let (best, scores) = vocoder.bestSpeaker(samples: samples) { bar.update($0) }
    let ranked = scores.indices.sorted { scores[$0] < scores[$1] }.prefix(3)
        .map { String(format: "%@ %.3f", names[$0], scores[$0]) }.joined(separator: ", ")
    printErr("speaker auto: \(names[best]) (nats/sample of the input, best first: \(ranked))")
    return best
}
