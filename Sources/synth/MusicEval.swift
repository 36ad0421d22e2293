// `synth music eval`: NLL of a music model (per token, per note, per second of music) and of a Kneser-Ney baseline.
import AREngine
import ArgumentParser
import AtomicIO
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

            A model whose generation_config.json has an ngram_cache (voices/music-programs) is also scored as synth music generate plays it: mixed with an n-gram cache of each piece's own past tokens, λ P_model + (1 - λ) P_cache, one λ per cache match (its longest history seen earlier in the piece, and how often); every token is still predicted only from what precedes it. --fit-ngram-cache N fits such weights for any model by EM on every 20th train piece, and --save-ngram-cache writes them into the model folder. Example: synth music eval --data ../shared/data/midi/MANIFEST.tsv --model voices/music-programs --fit-ngram-cache 12 --save-ngram-cache

            --interpolate mixes the model with the train split's n-gram instead, weights fitted likewise; with --adapt-ngram that n-gram also counts each piece's tokens as it scores them (forgetting them at the piece's end).
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
    @Flag(help: "The n-gram adds each token to its counts once it has scored it, adapting to the piece it reads; each piece starts from the train counts (in the held-out pieces for --interpolate too).")
    var adaptNgram = false
    @Flag(help: "Also score the model interpolated with the n-gram (one weight per n-gram match: the longest history seen and how often; fitted by EM on every 20th train piece, held out from the n-gram). Needs a train split.")
    var interpolate = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Fit the weights of an n-gram cache of order N (1...12) for the model on every 20th train piece and score the model with it (instead of its generation_config.json ngram_cache). Needs a train split.", valueName: "N"))
    var fitNgramCache: Int?
    @Flag(help: "Write the weights of --fit-ngram-cache into the model folder's generation_config.json as ngram_cache (other keys kept), so synth music generate mixes the cache in.")
    var saveNgramCache = false
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard (1...NGramModel.maxOrder).contains(order) else { throw ValidationError("--order must be in 1...\(NGramModel.maxOrder), got \(order)") }
        guard context >= 2 else { throw ValidationError("--context must be >= 2, got \(context)") }
        if let k = keyBias, !MusicGenerationConfig.isValidKeyBias(k) { throw ValidationError("--key-bias must be in [0, 100], got \(k)") }
        if let k = keyProfileBias, !MusicGenerationConfig.isValidKeyBias(k) { throw ValidationError("--key-profile-bias must be in [0, 100], got \(k)") }
        guard MusicEncoding(rawValue: encoding) != nil else {
            throw ValidationError("--encoding must be \(MusicEncoding.allCases.map(\.rawValue).joined(separator: " or ")), got \(encoding)")
        }
        if ngramOnly && interpolate { throw ValidationError("--interpolate scores a model with the n-gram: drop --ngram-only") }
        if let n = fitNgramCache {
            guard (1...NGramModel.maxOrder).contains(n) else { throw ValidationError("--fit-ngram-cache must be in 1...\(NGramModel.maxOrder), got \(n)") }
            if ngramOnly { throw ValidationError("--fit-ngram-cache fits a model's cache: drop --ngram-only") }
        }
        if saveNgramCache && fitNgramCache == nil { throw ValidationError("--save-ngram-cache writes the weights of --fit-ngram-cache N: give it too") }
        try requireFile(data, option: "--data")
    }

    func run() throws {
        BLAS.setThreads(1)
        let manifest = URL(fileURLWithPath: data)
        let loaded = ngramOnly ? nil : try modelOption.loadWithEncoding()
        let enc = loaded?.encoding ?? MusicEncoding(rawValue: encoding) ?? .performance
        func skipped(_ s: SkippedFile) { printErr(s.description) }
        let hasTrain = try MusicCorpus.readManifest(manifest).contains { $0.split == "train" }
        for (flag, set, what) in [("--ngram-only", ngramOnly, "the n-gram"), ("--interpolate", interpolate, "the n-gram"),
                                  ("--fit-ngram-cache", fitNgramCache != nil, "the cache's weights")] where set && !hasTrain {
            throw RuntimeError("\(manifest.path): \(flag) needs a train split to fit \(what), and the manifest has none")
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
        // Each scored token's probability under the model, kept for the mixtures.
        var staticProbabilities: [Double] = []
        let folderCache = ngramOnly ? nil : try MusicGenerationConfig.load(folder: try modelOption.folder())?.ngramCache
        if let (net, _) = loaded {
            let start = Date()
            let bar = ProgressLine("scoring \(modelOption.name)")
            staticProbabilities = net.tokenProbabilities(seqs, context: net.window(fallback: context)) { bar.update($0) }
            let r = (nats: -staticProbabilities.reduce(0) { $0 + log($1) } / Double(max(staticProbabilities.count, 1)), tokens: staticProbabilities.count)
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
        /// The model mixed with an n-gram cache of each piece, as `synth music generate` plays it.
        func scoreWithCache(_ net: any TokenModel, _ c: NGramCacheSettings, source: String) throws {
            if let problem = c.problem(vocabularySize: net.vocabularySize) { throw RuntimeError("ngram_cache: \(problem)") }
            let matches = NGramCache.matches(seqs, order: c.order, vocabularySize: net.vocabularySize)
            let mixed = c.interpolation.nats(model: staticProbabilities, ngram: matches)
            result["ngram_cache"] = ["order": c.order, "weights": c.weights, "source": source].merging(figures(mixed, matches.count)) { a, _ in a }
            if !jsonOption.json {
                print(line("model \(modelOption.name) with an n-gram cache of each piece (order \(c.order), weights \(source))", mixed, matches.count))
            }
        }
        if let (net, _) = loaded, fitNgramCache == nil, let c = folderCache {
            try scoreWithCache(net, c, source: "of its generation_config.json")
        }
        if hasTrain {
            let train = split == "train" ? eval : try MusicCorpus.load(manifest: manifest, split: "train", encoding: enc, skipped: skipped)
            guard !train.isEmpty else { throw MusicDataError.empty(path: manifest.path, split: "train") }
            if let n = fitNgramCache, let (net, _) = loaded {
                let held = NGramInterpolation.heldOutSequences(train.map(\.tokens)).heldOut.filter { $0.count >= 2 }
                guard !held.isEmpty else {
                    throw RuntimeError("\(manifest.path): --fit-ngram-cache: the train split (\(train.count) pieces) is too small to hold out a piece for the cache weights")
                }
                let bar = ProgressLine("held-out train pieces for the cache weights")
                let c = NGramCache.fit(net, sequences: held, order: n, window: net.window(fallback: context)) { bar.update($0) }
                try scoreWithCache(net, c, source: "fitted on \(held.count) held-out train pieces")
                if saveNgramCache {
                    let url = try modelOption.folder().appendingPathComponent(GenerationConfig.fileName)
                    try saveCache(c, to: url)
                    printErr("wrote ngram_cache (order \(n)) into \(url.path)")
                }
            }
            let ngram = NGramModel(order: order, vocabularySize: enc.vocabularySize, sequences: train.map(\.tokens))
            let trainTokens = train.reduce(0) { $0 + $1.tokens.count }
            let adaptation: NGramModel.Adaptation = adaptNgram ? .perSequence : .off
            let scoredByNGram = ngram.scoreTokens(seqs, adaptation: adaptation)
            let nats = -scoredByNGram.reduce(0) { $0 + log($1.probability) } / Double(max(scoredByNGram.count, 1))
            result["ngram"] = ["order": order, "train_pieces": train.count, "train_tokens": trainTokens, "adapting": adaptNgram]
                .merging(figures(nats, scoredByNGram.count)) { a, _ in a }
            if !jsonOption.json {
                print(line("Kneser-Ney \(order)-gram (fitted on \(train.count) train pieces, \(trainTokens) tokens\(adaptNgram ? ", adapting to the scored pieces" : ""))",
                           nats, scoredByNGram.count))
            }
            if interpolate, let (net, _) = loaded {
                let start = Date()
                let bar = ProgressLine("held-out train pieces for the weights")
                guard let heldOut = HeldOutInterpolation(net, split: NGramInterpolation.heldOutSequences(train.map(\.tokens)), order: order,
                                                         adaptation: adaptation, window: net.window(fallback: context), progress: { bar.update($0) }) else {
                    throw RuntimeError("\(manifest.path): --interpolate: the train split (\(train.count) pieces) is too small to hold out a piece for the interpolation weights")
                }
                let mixed = heldOut.weights.nats(model: staticProbabilities, ngram: scoredByNGram)
                let dt = Date().timeIntervalSince(start)
                result["interpolated"] = ["order": order, "weights": heldOut.weights.weights, "held_out_pieces": heldOut.split.heldOut.count,
                                          "held_out_tokens": heldOut.ngram.count, "seconds": dt]
                    .merging(figures(mixed, scoredByNGram.count)) { a, _ in a }
                if !jsonOption.json {
                    print(line("model \(modelOption.name) + Kneser-Ney \(order)-gram, interpolated (\(heldOut.weights.weights.count) weights fitted on \(heldOut.split.heldOut.count) held-out train pieces, \(heldOut.ngram.count) tokens)",
                               mixed, scoredByNGram.count) + String(format: " [%.1f s]", dt))
                }
            }
        } else if !jsonOption.json {
            print("n-gram baseline: not fitted (the manifest has no train split)")
        }
        if jsonOption.json { printJSON(result) }
    }

    /// Sets `ngram_cache` in the generation_config.json at `url` (created if missing; its other keys kept), atomically.
    /// - Throws: `RuntimeError` for a file that is not a JSON object or cannot be written.
    func saveCache(_ c: NGramCacheSettings, to url: URL) throws {
        var object: [String: Any] = [:]
        if let (data, file) = try GenerationConfig.contents(folder: url.deletingLastPathComponent()) {
            guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw RuntimeError("\(file): not a JSON object; --save-ngram-cache leaves it as it is")
            }
            object = o
        }
        object["ngram_cache"] = ["order": c.order, "weights": c.weights]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        do { try AtomicFile.write(data + Data("\n".utf8), to: url) } catch { throw RuntimeError("\(url.path): \(error)") }
    }
}
