// `synth music eval`: NLL of a music model (per token, per note, per second of music) and of a Kneser-Ney baseline.
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
            Both are scored on the same tokens: every token after each piece's BOS in the chosen split (the model's own encoding, named in its config.json; no augmentation). Each NLL is given per token, per note (the summed NLL over the split's note-ons) and per second of music (over the split's time shifts). The model reads non-overlapping windows of its context length; it needs no train split. The baseline is an interpolated Kneser-Ney n-gram fitted on the train split, reported only when the manifest has one. Results on stdout (one JSON object with --json), progress on stderr.
            """)

    @Option(help: ArgumentHelp("MIDI manifest (TSV/CSV with path, collection, split).", valueName: "MANIFEST"))
    var data: String
    @Option(help: ArgumentHelp("Split to score (any split of the manifest).", valueName: "SPLIT"))
    var split = "valid"
    @OptionGroup var modelOption: MusicModelOption
    @Flag(help: "Only fit and score the n-gram baseline (needs a train split).")
    var ngramOnly = false
    @Option(help: ArgumentHelp("Token encoding with --ngram-only: performance or performance_programs (otherwise the model's).", valueName: "NAME"))
    var encoding = "performance"
    @Option(parsing: .unconditional, help: ArgumentHelp("Order of the Kneser-Ney n-gram baseline (1...\(NGramModel.maxOrder)).", valueName: "N"))
    var order = 5
    @Option(parsing: .unconditional, help: ArgumentHelp("Window length in tokens for models without a fixed context (token WaveNet).", valueName: "N"))
    var context = 256
    @Option(parsing: .unconditional, help: ArgumentHelp("Also score the model with the --key-bias decoding processor of X nats in each piece's key (that of its first 8 s), to see what it costs in NLL.", valueName: "X"))
    var keyBias: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("Also score the model with the --key-profile-bias decoding processor of weight W in each piece's key (with --key-bias, both together), to see what it costs in NLL.", valueName: "W"))
    var keyProfileBias: Float?
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard (1...NGramModel.maxOrder).contains(order) else { throw ValidationError("--order must be in 1...\(NGramModel.maxOrder), got \(order)") }
        guard context >= 2 else { throw ValidationError("--context must be >= 2, got \(context)") }
        if let k = keyBias, !MusicGenerationConfig.isValidKeyBias(k) { throw ValidationError("--key-bias must be in [0, 100], got \(k)") }
        if let k = keyProfileBias, !MusicGenerationConfig.isValidKeyBias(k) { throw ValidationError("--key-profile-bias must be in [0, 100], got \(k)") }
        guard MusicEncoding(rawValue: encoding) != nil else {
            throw ValidationError("--encoding must be \(MusicEncoding.allCases.map(\.rawValue).joined(separator: " or ")), got \(encoding)")
        }
        try requireFile(data, option: "--data")
    }

    func run() throws {
        BLAS.setThreads(1)
        let manifest = URL(fileURLWithPath: data)
        let loaded = ngramOnly ? nil : try modelOption.loadWithEncoding()
        let enc = loaded?.encoding ?? MusicEncoding(rawValue: encoding) ?? .performance
        func skipped(_ s: SkippedFile) { printErr(s.description) }
        let hasTrain = try MusicCorpus.readManifest(manifest).contains { $0.split == "train" }
        if ngramOnly && !hasTrain {
            throw RuntimeError("\(manifest.path): --ngram-only needs a train split to fit the n-gram, and the manifest has none")
        }
        let eval = try MusicCorpus.load(manifest: manifest, split: split, encoding: enc, skipped: skipped)
        guard !eval.isEmpty else { throw MusicDataError.empty(path: manifest.path, split: split) }
        let seqs = eval.map(\.tokens)
        let scored = seqs.reduce(0) { $0 + $1.count - 1 }
        let notes = seqs.reduce(0) { $0 + $1.filter(enc.isNoteOn).count }
        let seconds = seqs.reduce(0.0) { $0 + MusicGeneration.seconds(of: $1) }
        var result: [String: Any] = ["command": "music eval", "manifest": manifest.path, "split": split, "pieces": eval.count,
                                     "scored_tokens": scored, "notes": notes, "music_seconds": seconds, "encoding": enc.rawValue]
        if !jsonOption.json {
            print(String(format: "split %@: %d pieces, %d scored tokens (%@ encoding), %d notes, %.1f s of music",
                         split, eval.count, scored, enc.rawValue, notes, seconds))
        }
        /// Nats per token, per note and per second from the mean per token over `n` tokens.
        func figures(_ nats: Double, _ n: Int) -> [String: Any] {
            let total = nats * Double(n)
            return ["nats_per_token": jsonNumber(nats), "bits_per_token": jsonNumber(nats / log(2.0)),
                    "nats_per_note": jsonNumber(total / Double(max(1, notes))), "nats_per_second": jsonNumber(total / max(1e-9, seconds))]
        }
        func line(_ name: String, _ nats: Double, _ n: Int) -> String {
            let total = nats * Double(n)
            return String(format: "%@: %.4f nats/token, %.4f bits/token, %.3f nats/note, %.2f nats/s", name, nats, nats / log(2.0),
                          total / Double(max(1, notes)), total / max(1e-9, seconds))
        }
        if let (net, _) = loaded {
            let start = Date()
            let bar = ProgressLine("scoring \(modelOption.name)")
            let r = net.evaluate(seqs, context: net.window(fallback: context)) { bar.update($0) }
            let dt = Date().timeIntervalSince(start)
            result["model"] = ["name": modelOption.name, "summary": net.summary, "seconds": dt].merging(figures(r.nats, r.tokens)) { a, _ in a }
            if !jsonOption.json { print(line("model \(modelOption.name) (\(net.summary))", r.nats, r.tokens) + String(format: " [%.1f s]", dt)) }
            if keyBias != nil || keyProfileBias != nil {
                let k = keyBias ?? 0, w = keyProfileBias ?? 0
                let b = ScaleBias.evaluate(net, sequences: seqs, encoding: enc, penalty: k, profileWeight: w, context: net.window(fallback: context))
                result["model_key_bias"] = ["penalty": Double(k), "profile_weight": Double(w)].merging(figures(b.nats, b.tokens)) { a, _ in a }
                if !jsonOption.json {
                    print(line(String(format: "model with key bias %g", Double(k)) + (w > 0 ? String(format: " and key profile bias %g", Double(w)) : ""),
                               b.nats, b.tokens))
                }
            }
        }
        if hasTrain {
            let train = split == "train" ? eval : try MusicCorpus.load(manifest: manifest, split: "train", encoding: enc, skipped: skipped)
            guard !train.isEmpty else { throw MusicDataError.empty(path: manifest.path, split: "train") }
            let ngram = NGramModel(order: order, vocabularySize: enc.vocabularySize, sequences: train.map(\.tokens))
            let trainTokens = train.reduce(0) { $0 + $1.tokens.count }
            let r = ngram.evaluate(seqs)
            result["ngram"] = ["order": order, "train_pieces": train.count, "train_tokens": trainTokens].merging(figures(r.nats, r.tokens)) { a, _ in a }
            if !jsonOption.json {
                print(line("Kneser-Ney \(order)-gram (fitted on \(train.count) train pieces, \(trainTokens) tokens)", r.nats, r.tokens))
            }
        } else if !jsonOption.json {
            print("n-gram baseline: not fitted (the manifest has no train split)")
        }
        if jsonOption.json { printJSON(result) }
    }
}
