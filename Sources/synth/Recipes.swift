// Named training configurations for `synth train --recipe NAME`: train flags applied before the command line's own.

/// The recipes `synth train --recipe` knows. Each is a list of `synth train` flags that is put in front of the
/// command line, so every flag the command line gives wins and every flag it leaves out takes the recipe's value.
/// `default` is the configuration of the shipped voice (voices/default, docs/voices.md); update it when a new
/// voice ships.
enum TrainRecipes {
    struct Recipe {
        let name: String
        let summary: String
        let arguments: [String]
    }

    static let all: [Recipe] = [
        Recipe(name: "default",
               summary: "the shipped voice, voices/default: 20 layers (2 x 10 dilations), residual 64, gate 128, skip 128, 4 conditioning blocks of 64 channels, speaker embedding 16, pre-emphasis 0.85, batch 6 x 4000 samples",
               arguments: ["--dilation-cycle", "10", "--stacks", "2", "--residual", "64", "--gate", "128", "--skip", "128",
                           "--cond-channels", "64", "--cond-layers", "4", "--speaker-dim", "16", "--preemphasis", "0.85",
                           "--batch", "6", "--segment", "4000"]),
        Recipe(name: "pitch-lpc",
               summary: "the design under training (docs/voices.md, not yet shipped): the default recipe's network with pitch, the harmonic source and LPC (order 16, over a -50 dBFS noise floor) predicting the excitation, trained with LPCNet's noise injection (2 classes), and a 50 Hz high-pass (DC blocker) on the output; start it from the default voice with --init-from default --grow",
               arguments: ["--dilation-cycle", "10", "--stacks", "2", "--residual", "64", "--gate", "128", "--skip", "128",
                           "--cond-channels", "64", "--cond-layers", "4", "--speaker-dim", "16", "--preemphasis", "0.85",
                           "--pitch", "--source", "--lpc", "--lpc-noise-floor", "-50", "--output-highpass", "50",
                           "--input-noise", "2", "--batch", "6", "--segment", "4000"]),
    ]

    static func named(_ name: String) -> Recipe? { all.first { $0.name == name } }

    /// "default (the shipped voice ...: --dilation-cycle 10 ...)" for each recipe, for `--help`.
    static var help: String {
        all.map { "\($0.name): \($0.summary) (\($0.arguments.joined(separator: " ")))" }.joined(separator: "; ")
    }
}
