// `synth features`: writes a voice's normalised log-mels of a recording as a NumPy .npy array.
import ArgumentParser
import Audio
import Foundation
import WaveNet

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the voice's normalised log-mel features of a recording as .npy.",
        discussion: """
            OUT.npy is float32, C order, shape [frames, mel_bins], frames = 1 + samples / hop_length, holding (ln(max(mel_power, log_floor)) - feature_mean) / feature_std with the voice's config.json values (librosa-compatible mel power spectrogram, centred frames). For a voice with pitch conditioning it has two more columns: (ln F0 - f0_mean) / f0_std, F0 in Hz from pYIN (as librosa.pyin) interpolated through unvoiced frames, and the voicing (1 voiced, 0 not). Any such array, e.g. from an external acoustic model, can be rendered with `synth vocode X.npy` or as a `synth render` input. See docs/features.md.
            """)

    @Argument(help: ArgumentHelp("Input audio file (WAV, FLAC, OGG, ...).", valueName: "IN"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Output .npy file (written atomically).", valueName: "OUT.npy"))
    var output: String

    @OptionGroup var voiceOption: VoiceOption

    func validate() throws {
        guard !input.lowercased().hasSuffix(".npy") else { throw ValidationError("IN must be audio, not .npy (it already holds features)") }
        try checkOutputPath(output, option: "-o")
    }

    func run() throws {
        let v = try voiceOption.load()
        let cond = try Vocoder(voice: v).conditioning(for: URL(fileURLWithPath: input))
        try NPY.write(NPYArray(shape: [cond.frames, v.config.frameFeatures], data: cond.mels), to: URL(fileURLWithPath: output))
        printErr("wrote \(output): float32 [\(cond.frames), \(v.config.frameFeatures)]: \(v.config.frameLayout) (voice \(v.name))")
    }
}
