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
            Both are scored on the same tokens: every token after each piece's BOS in the chosen split (performance encoding, no augmentation). The baseline is an interpolated Kneser-Ney n-gram fitted on the train split. The model reads non-overlapping windows of its context length.
            """)

    @Option(help: ArgumentHelp("MIDI manifest (TSV/CSV with path, collection, split).", valueName: "MANIFEST"))
    var data: String
    @Option(help: "Split to score.")
    var split = "valid"
    @OptionGroup var modelOption: MusicModelOption
    @Flag(help: "Only fit and score the n-gram baseline.")
    var ngramOnly = false
    @Option(parsing: .unconditional, help: "Order of the Kneser-Ney n-gram baseline (1...7).")
    var order = 5
    @Option(parsing: .unconditional, help: "Window length for models without a fixed context (token WaveNet).")
    var context = 256

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
        print("split \(split): \(eval.count) pieces, \(seqs.reduce(0) { $0 + $1.count - 1 }) scored tokens")
        func line(_ name: String, _ nats: Double) -> String {
            String(format: "%@: %.4f nats/token, %.4f bits/token", name, nats, nats / log(2.0))
        }
        if let net {
            let start = Date()
            let r = net.evaluate(seqs, context: context)
            print(line("model \(modelOption.model) (\(net.summary))", r.nats) + String(format: " [%.1f s]", Date().timeIntervalSince(start)))
        }
        let ngram = NGramModel(order: order, vocabularySize: PerformanceTokenizer.vocabularySize, sequences: train.map(\.tokens))
        let trainTokens = train.reduce(0) { $0 + $1.tokens.count }
        print(line("Kneser-Ney \(order)-gram (fitted on \(train.count) train pieces, \(trainTokens) tokens)", ngram.evaluate(seqs).nats))
    }
}
