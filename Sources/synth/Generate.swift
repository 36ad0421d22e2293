// `synth generate`: unconditioned "babble" from a voice, conditioned on a speaker only.
import AREngine
import ArgumentParser
import Audio
import Foundation
import WaveNet

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate babble from a voice, conditioned on a speaker only.",
        discussion: """
            The log-mel conditioning is held at the voice's mean features (all zeros after normalisation), so what you hear is what the model does with the speaker embedding alone (the voice's mel-envelope correction, which follows an input's mels, does not apply). Prints the real-time factor when done. The output's format follows its extension (as `synth vocode`'s); - writes WAV to standard output.
            """)

    @OptionGroup var voiceOption: VoiceOption
    @OptionGroup var speakerOption: SpeakerOption
    @OptionGroup var sampling: SamplingOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds of audio to generate, in (0, 600].", valueName: "S"))
    var seconds: Double = 2

    @Option(name: .shortAndLong, help: ArgumentHelp("Output audio file (format by extension), or - for standard output.", valueName: "OUT"))
    var output: String

    @OptionGroup var formatOptions: AudioFormatOptions
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        try checkOutputPath(output, option: "-o")
        _ = try formatOptions.resolve(output)
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600], got \(seconds)") }
        if jsonOption.json && isStandardOutput(output) {
            throw ValidationError("--json and -o - both write to standard output; give -o a file")
        }
    }

    func run() throws {
        let format = try formatOptions.resolve(output)
        let voice = try voiceOption.load()
        let speaker = try speakerOption.index(in: voice)
        let c = voice.config
        let count = Int(seconds * Double(c.features.sampleRate))
        let vocoder = try Vocoder(voice: voice)
        // The neutral conditioning is the voice's mean mel, no input to follow: no mel-envelope correction toward it.
        vocoder.melCorrection = 0
        var sampler = try sampling.makeSampler(folder: voice.directory)
        let cond = Vocoder.Conditioning.neutral(sampleCount: count, config: c)
        let writer: AudioWriter
        do { writer = try AudioWriter(url: outputURL(output), format: format, sampleRate: c.features.sampleRate, frameCount: count) } catch {
            throw RuntimeError("\(error)")
        }
        let bar = ProgressLine("generating", total: count, unit: "samples")
        let start = Date()
        do {
            try vocoder.generate(cond, speaker: speaker, sampler: &sampler, progress: { bar.update($0) }) { try writer.write($0) }
            try writer.finish()
        } catch { throw RuntimeError("\(error)") }
        let dt = Date().timeIntervalSince(start)
        let shown = isStandardOutput(output) ? "- (standard output)" : output
        printErr(String(format: "wrote %@ (%@): %.2f s, speaker %@, generated in %.2f s, %@", shown, format.description, seconds,
                        c.speakers[speaker], dt, realTimeText(audioSeconds: seconds, computeSeconds: dt)))
        if jsonOption.json {
            printJSON(["command": "generate", "output": output, "format": format.description, "voice": voice.name,
                       "speaker": c.speakers[speaker], "sample_rate": c.features.sampleRate, "samples": count,
                       "audio_seconds": seconds, "compute_seconds": dt, "real_time_factor": jsonNumber(dt / seconds),
                       "seed": sampling.seed])
        }
    }
}
