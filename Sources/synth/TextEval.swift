// `synth text eval`: nats and bits per byte of a text model, beside a Kneser-Ney n-gram on the same bytes.
import AREngine
import ArgumentParser
import Foundation
import Music
import NNCore
import Text

struct TextEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Report the NLL (nats and bits per byte) of a text model and of an n-gram baseline on a split.",
        discussion: """
            Both are scored on the same tokens: every byte of each file of the split, and its EOS (BOS is given). The baseline is an interpolated Kneser-Ney n-gram fitted on the train split. The model reads non-overlapping windows of --context bytes (a transformer: its own context), each from a zero state.
            """)

    @Option(help: ArgumentHelp("Text folder or .txt file (repeatable).", valueName: "DIR|FILE"))
    var data: [String]
    @Option(help: "Split to score.")
    var split = "valid"
    @OptionGroup var modelOption: TextModelOption
    @Flag(help: "Only fit and score the n-gram baseline.")
    var ngramOnly = false
    @Option(parsing: .unconditional, help: "Order of the Kneser-Ney n-gram baseline (1...7).")
    var order = 5
    @Option(parsing: .unconditional, help: "Window length in bytes for models without a fixed context (LSTM, GRU, WaveNet; 2...65536).")
    var context = 1024
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard (1...7).contains(order) else { throw ValidationError("--order must be in 1...7, got \(order)") }
        guard (2...65536).contains(context) else { throw ValidationError("--context must be in 2...65536, got \(context)") }
        guard !data.isEmpty else { throw ValidationError("give --data") }
        for d in data { try requireFile(d, option: "--data") }
    }

    func run() throws {
        BLAS.setThreads(1)
        let net = ngramOnly ? nil : try modelOption.load()
        let corpus: TextCorpus
        do { corpus = try TextCorpus(paths: data) } catch let e as TextDataError { throw RuntimeError(e.description) }
        let train = try loadTextSplit(corpus, "train")
        let eval = split == "train" ? train : try loadTextSplit(corpus, split)
        let scored = eval.count - 1
        var result: [String: Any] = ["command": "text eval", "data": data, "split": split, "scored_tokens": scored]
        if !jsonOption.json { print("split \(split): \(scored) scored tokens") }
        func line(_ name: String, _ nats: Double) -> String {
            String(format: "%@: %.4f nats/byte, %.4f bits/byte", name, nats, nats / log(2.0))
        }
        if let net {
            let start = Date()
            let bar = ProgressLine("scoring \(modelOption.model)")
            let r = net.evaluate([eval], context: net.window(fallback: context)) { bar.update($0) }
            let dt = Date().timeIntervalSince(start)
            result["model"] = ["name": modelOption.model, "summary": net.summary, "nats_per_byte": jsonNumber(r.nats),
                               "bits_per_byte": jsonNumber(r.nats / log(2.0)), "seconds": dt]
            if !jsonOption.json { print(line("model \(modelOption.model) (\(net.summary))", r.nats) + String(format: " [%.1f s]", dt)) }
        }
        let start = Date()
        let ngram = NGramModel(order: order, vocabularySize: ByteTokenizer.vocabularySize, sequences: [train])
        let nats = ngram.evaluate([eval]).nats, dt = Date().timeIntervalSince(start)
        result["ngram"] = ["order": order, "train_tokens": train.count, "nats_per_byte": jsonNumber(nats),
                           "bits_per_byte": jsonNumber(nats / log(2.0)), "seconds": dt]
        if jsonOption.json {
            printJSON(result)
        } else {
            print(line("Kneser-Ney \(order)-gram (fitted on \(train.count) train tokens)", nats) + String(format: " [%.1f s]", dt))
        }
    }
}
