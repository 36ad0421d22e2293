// `synth music`: the command group for the symbolic-music model (train, generate, eval).
import ArgumentParser
import Foundation

struct MusicCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "music",
        abstract: "Train, sample and evaluate autoregressive models of MIDI performances.",
        discussion: """
            Music is encoded as tokens in one of two encodings (docs/music.md), named by a model folder's config.json under "encoding" and chosen by synth music train --encoding: performance, Magenta's performance events (390 tokens: note-on, note-off, 10 ms time shifts, velocity bins, BOS, EOS; every instrument becomes one piano stream, one voice per pitch), or performance_programs (519 tokens: those, plus instrument changes for the 128 General MIDI programs and drums; every note kept). Models are folders holding config.json (with "model_type") and model.safetensors; the shipped one is voices/music, a transformer over the performance encoding (its config.json names none, which means performance). The Bach chorales used below sit beside a checkout of this repository, in ../shared/data/midi.

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
