// `synth music eval` (placeholder until the n-gram baseline lands).
import ArgumentParser
struct MusicEval: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Report NLL of a music model and an n-gram baseline.")
}
