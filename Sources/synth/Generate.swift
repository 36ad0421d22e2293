// `synth generate`: unconditioned "babble" from a voice, conditioned on a speaker only.
import AREngine
import ArgumentParser
import Audio
import Foundation
import WaveNet

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate babble from a voice, conditioned on a speaker only.",
        discussion: "The log-mel conditioning is held at the voice's mean features (all zeros after normalisation), so what you hear is what the model does with the speaker embedding alone.")

    @OptionGroup var voiceOption: VoiceOption
    @OptionGroup var speakerOption: SpeakerOption
    @OptionGroup var sampling: SamplingOptions

    @Option(parsing: .unconditional, help: "Seconds of audio to generate.")
    var seconds: Double = 2

    @Option(name: .shortAndLong, help: ArgumentHelp("Output WAV file.", valueName: "OUT.wav"))
    var output: String = "babble.wav"

    func validate() throws {
        try checkOutputPath(output, option: "-o")
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600], got \(seconds)") }
    }

    func run() throws {
        let voice = try voiceOption.load()
        let speaker = try speakerOption.index(in: voice)
        let c = voice.config
        let count = Int(seconds * Double(c.features.sampleRate))
        let frames = count / c.features.hopLength + 1
        let vocoder = try Vocoder(voice: voice)
        var sampler = try sampling.makeSampler()
        let bar = ProgressLine("generating")
        let y = vocoder.generate(mels: [Float](repeating: 0, count: frames * c.frameFeatures), frames: frames, sampleCount: count,
                                 speaker: speaker, sampler: &sampler) { bar.update($0) }
        try AudioIO.writeWAV(y, sampleRate: c.features.sampleRate, to: URL(fileURLWithPath: output))
        printErr("wrote \(output): \(String(format: "%.2f", seconds)) s, speaker \(c.speakers[speaker])")
    }
}
