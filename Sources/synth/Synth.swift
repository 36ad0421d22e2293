// The synth command line: the root only dispatches to one subcommand per file.
import ArgumentParser
import Foundation

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

    /// Parses and runs a subcommand. A usage error found only while running (`ValidationError` from `run()`,
    /// e.g. `generate --speaker auto`) is reported with that subcommand's usage line and exit status 64, as a
    /// parse-time error is; `ParsableCommand.main()` would print the root's `synth <subcommand>` instead.
    static func main() {
        var command: any ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do { try command.run() } catch let error as ValidationError {
            let usage = usageString(for: type(of: command))
            // The usage line starts with the command path ("synth music generate"), then its arguments.
            let path = usage.split(separator: " ").prefix { !"<[-".contains($0.first ?? "-") }.joined(separator: " ")
            printErr("Error: \(error.message)\nUsage: \(usage)\n  See '\(path) --help' for more information.")
            Foundation.exit(ExitCode.validationFailure.rawValue)
        } catch { exit(withError: error) }
    }
}
