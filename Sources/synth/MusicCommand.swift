// `synth music`: the command group for the symbolic-music model (train, generate, eval).
import ArgumentParser
import Foundation

struct MusicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "music",
        abstract: "Train, sample and evaluate autoregressive models of MIDI performances.",
        discussion: """
            Music is encoded as Magenta performance events (390 tokens: note-on, note-off, 10 ms time shifts, velocity bins, BOS, EOS). Models are folders holding config.json (with "model_type") and model.safetensors; the shipped one is voices/music. The Bach chorales used below sit beside a checkout of this repository, in ../shared/data/midi.

              synth music train --data ../shared/data/midi/MANIFEST.tsv --out runs/music
              synth music generate --prime opening.mid --seconds 20 -o out.mid --wav out.wav
              synth music eval --data ../shared/data/midi/MANIFEST.tsv --split valid
            """,
        subcommands: [MusicTrain.self, MusicGenerate.self, MusicEval.self]
    )
}

/// A run-time failure shown to the user as one line ("Error: ...") with a non-zero exit.
struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
