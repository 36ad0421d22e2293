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
            Draw 64 handwritten threes from the digit PixelCNN into a PNG grid:
              synth image sample --digit 3 --count 64 -o grid.png
            """,
        version: "synth \(synthVersion)",
        subcommands: [Vocode.self, Render.self, Features.self, Generate.self, Voices.self, Speakers.self, Train.self, Eval.self,
                      MusicCommand.self, TextCommand.self, ImageCommand.self, ForecastCommand.self, PlotCommand.self, Bench.self, BenchRender.self]
    )

    /// Parses and runs a subcommand. A usage error found only while running (`ValidationError` from `run()`,
    /// e.g. `generate --speaker auto`) is reported with that subcommand's usage line and exit status 64, as a
    /// parse-time error is; `ParsableCommand.main()` would print the root's `synth <subcommand>` instead.
    static func main() {
        if let message = unknownSubcommand(Array(CommandLine.arguments.dropFirst())) {
            printErr(message)
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
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

    /// The error for a mistyped subcommand (`synth vocod x.wav`), which the parser would report as "2 unexpected
    /// arguments": names the word, the closest subcommand within two edits, and the valid ones. Nil when `args`
    /// name a subcommand path (or start with an option, or `help`).
    static func unknownSubcommand(_ args: [String]) -> String? {
        var command: any ParsableCommand.Type = Synth.self
        var path = ["synth"]
        for word in args {
            let subcommands = command.configuration.subcommands
            if subcommands.isEmpty || word.hasPrefix("-") || word == "help" { return nil }
            guard let next = subcommands.first(where: { $0._commandName == word }) else {
                let names = subcommands.map { $0._commandName }
                let closest = names.map { ($0, editDistance($0, word)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
                let guess = closest.map { " (did you mean '\($0)'?)" } ?? ""
                let place = path.joined(separator: " ")
                return "Error: '\(word)' is not a command of \(place)\(guess); the commands are \(names.joined(separator: ", "))\n"
                    + "  See '\(place) --help' for more information."
            }
            command = next
            path.append(word)
        }
        return nil
    }

    /// Levenshtein distance between two short words (insertions, deletions and substitutions each cost 1).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)  // distances from a[..<i] to each prefix of b
        for (i, x) in a.enumerated() {
            var diagonal = row[0]
            row[0] = i + 1
            for (j, y) in b.enumerated() {
                let above = row[j + 1]
                row[j + 1] = min(above + 1, row[j] + 1, diagonal + (x == y ? 0 : 1))
                diagonal = above
            }
        }
        return row[b.count]
    }
}
