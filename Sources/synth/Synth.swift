// The synth command line: the root only dispatches to one subcommand per file.
import ArgumentParser

@main
struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Autoregressive audio and music synthesis on the CPU: a WaveNet vocoder and a MIDI music model.",
        discussion: """
            Vocode a recording through a trained voice:
              synth vocode speech.wav -o out.wav
            Train a voice (manifest: TSV with path, speaker, split):
              synth train --data MANIFEST.tsv --out runs/myvoice
            Score a voice on held-out recordings (nats per sample):
              synth eval --data MANIFEST.tsv --voice runs/myvoice/best
            Continue a chorale opening with the music model and render it through FluidSynth:
              synth music generate --prime opening.mid --seconds 20 -o out.mid --wav out.wav
            """,
        subcommands: [Vocode.self, Render.self, Features.self, Generate.self, Voices.self, Train.self, Eval.self, MusicCommand.self, Bench.self, BenchRender.self]
    )
}
