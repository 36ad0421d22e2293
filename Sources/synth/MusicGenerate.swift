// `synth music generate` (placeholder until the generator lands).
import ArgumentParser
struct MusicGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Continue a MIDI prime with a music model.")
}
