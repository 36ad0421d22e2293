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

            IN may be - (standard input); OUT may be - (standard output). Audio holding NaN or infinite samples is refused (exit 1), as `synth vocode` refuses it: no NaN frames are written.
            """)

    @Argument(help: ArgumentHelp("Input audio file (WAV, FLAC, OGG, ...), or - for standard input.", valueName: "IN"))
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Output .npy file (written atomically), or - for standard output.", valueName: "OUT.npy"))
    var output: String

    @OptionGroup var voiceOption: VoiceOption
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard !input.lowercased().hasSuffix(".npy") else { throw ValidationError("IN must be audio, not .npy (it already holds features)") }
        try checkOutputPath(output, option: "-o")
        if jsonOption.json && isStandardOutput(output) {
            throw ValidationError("--json and -o - both write to standard output; give -o a file")
        }
    }

    func run() throws {
        let v = try voiceOption.load()
        let source = try openInput(input)
        let cond: Vocoder.Conditioning
        let bar = ProgressLine("analysing", total: 1, unit: "samples", delay: 1)
        do {
            cond = try Vocoder(voice: v).streamedConditioning(for: source.url) { bar.update($0) }
        } catch {
            throw RuntimeError(describe(error, input: input, spooled: source))
        }
        try NPY.write(NPYArray(shape: [cond.frames, v.config.frameFeatures], data: cond.mels), to: outputURL(output))
        let shown = isStandardOutput(output) ? "- (standard output)" : output
        printErr("wrote \(shown): float32 [\(cond.frames), \(v.config.frameFeatures)]: \(v.config.frameLayout) (voice \(v.name))")
        if jsonOption.json {
            let s = v.config.summarize(features: cond.mels, frames: cond.frames)
            printJSON(["command": "features", "input": input, "output": output, "voice": v.name, "frames": cond.frames,
                       "columns": v.config.frameFeatures, "layout": v.config.frameLayout, "mean": s.mean, "std": s.std])
        }
    }
}
