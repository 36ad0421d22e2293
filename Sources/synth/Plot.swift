// `synth plot`: the command group for pictures (spectrograms, training curves), drawn with cairo.
import ArgumentParser

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw pictures as PNG: spectrograms of recordings, loss curves of a training run.",
        discussion: """
              synth plot spectrogram speech.wav out/vocoded.wav -o out/spec.png
              synth plot training runs/myvoice -o out/loss.png
            """,
        subcommands: [PlotSpectrogram.self, PlotTraining.self])
}
