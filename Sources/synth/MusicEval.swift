// `synth music eval`: NLL (nats and bits per token) of a music model and of a Kneser-Ney n-gram baseline.
import AREngine
import ArgumentParser
import Foundation
import MIDI
import Music
import NNCore

struct MusicEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Report the NLL of a music model and of an n-gram baseline on a split.",
        discussion: """
            Both are scored on the same tokens: every token after each piece's BOS in the chosen split (performance encoding, no augmentation). The baseline is an interpolated Kneser-Ney n-gram fitted on the train split. The model reads non-overlapping windows of its context length. Results on stdout (one JSON object with --json), progress on stderr.
            """)

    @Option(help: ArgumentHelp("MIDI manifest (TSV/CSV with path, collection, split).", valueName: "MANIFEST"))
    var data: String
    @Option(help: ArgumentHelp("Split to score: valid or train.", valueName: "SPLIT"))
    var split = "valid"
    @OptionGroup var modelOption: MusicModelOption
    @Flag(help: "Only fit and score the n-gram baseline.")
    var ngramOnly = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Order of the Kneser-Ney n-gram baseline (1...7).", valueName: "N"))
    var order = 5
    @Option(parsing: .unconditional, help: ArgumentHelp("Window length in tokens for models without a fixed context (token WaveNet).", valueName: "N"))
    var context = 256
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard (1...7).contains(order) else { throw ValidationError("--order must be in 1...7, got \(order)") }
        guard context >= 2 else { throw ValidationError("--context must be >= 2, got \(context)") }
        try requireFile(data, option: "--data")
    }

    func run() throws {
        BLAS.setThreads(1)
        let manifest = URL(fileURLWithPath: data)
        let net = ngramOnly ? nil : try modelOption.load()
        func skipped(_ s: SkippedFile) { printErr(s.description) }
        let train = try MusicCorpus.load(manifest: manifest, split: "train", skipped: skipped)
        guard !train.isEmpty else { throw MusicDataError.empty(path: manifest.path, split: "train") }
        let eval = split == "train" ? train : try MusicCorpus.load(manifest: manifest, split: split, skipped: skipped)
        guard !eval.isEmpty else { throw MusicDataError.empty(path: manifest.path, split: split) }
        let seqs = eval.map(\.tokens)
        let scored = seqs.reduce(0) { $0 + $1.count - 1 }
        var result: [String: Any] = ["command": "music eval", "manifest": manifest.path, "split": split, "pieces": eval.count,
                                     "scored_tokens": scored]
        if !jsonOption.json { print("split \(split): \(eval.count) pieces, \(scored) scored tokens") }
        func line(_ name: String, _ nats: Double) -> String {
            String(format: "%@: %.4f nats/token, %.4f bits/token", name, nats, nats / log(2.0))
        }
        if let net {
            let start = Date()
            let bar = ProgressLine("scoring \(modelOption.model)")
            let r = net.evaluate(seqs, context: context) { bar.update($0) }
            let dt = Date().timeIntervalSince(start)
            result["model"] = ["name": modelOption.model, "summary": net.summary, "nats_per_token": jsonNumber(r.nats),
                               "bits_per_token": jsonNumber(r.nats / log(2.0)), "seconds": dt]
            if !jsonOption.json { print(line("model \(modelOption.model) (\(net.summary))", r.nats) + String(format: " [%.1f s]", dt)) }
        }
        let ngram = NGramModel(order: order, vocabularySize: PerformanceTokenizer.vocabularySize, sequences: train.map(\.tokens))
        let trainTokens = train.reduce(0) { $0 + $1.tokens.count }
        let nats = ngram.evaluate(seqs).nats
        result["ngram"] = ["order": order, "train_pieces": train.count, "train_tokens": trainTokens, "nats_per_token": jsonNumber(nats),
                           "bits_per_token": jsonNumber(nats / log(2.0))]
        if jsonOption.json {
            printJSON(result)
        } else {
            print(line("Kneser-Ney \(order)-gram (fitted on \(train.count) train pieces, \(trainTokens) tokens)", nats))
        }
    }
}
