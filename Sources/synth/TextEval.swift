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

            With --dynamic-lr, the model is also scored under dynamic evaluation (Krause et al. 2018): each file is read in segments of --segment bytes, each segment is scored and then the model takes one gradient step on it, so it adapts to the text it has already read (every byte is still predicted only from what precedes it). A recurrent model carries its state across segments. The weights on disk are not changed. Example: synth text eval --data ../shared/data/text --dynamic-lr 3e-4

            With --adapt-ngram, the n-gram counts each byte once it has scored it, adapting as a compressor does. With --interpolate, the model is also scored mixed with the n-gram, P = λ P_model + (1 - λ) P_ngram, one λ per n-gram match (the longest history seen, and how often), fitted by EM on a 20th of the train split that an n-gram of the rest scores (never on the split evaluated); with --dynamic-lr too, the dynamically evaluated model is mixed as well. This gives the model the training text as context, as a compressor given it would have. Example: synth text eval --data ../shared/data/text --order 14 --interpolate --adapt-ngram
            """)

    @Option(help: ArgumentHelp("Text folder or .txt file (repeatable).", valueName: "DIR|FILE"))
    var data: [String]
    @Option(help: "Split to score.")
    var split = "valid"
    @OptionGroup var modelOption: TextModelOption
    @Flag(help: "Only fit and score the n-gram baseline.")
    var ngramOnly = false
    @Option(parsing: .unconditional, help: "Order of the Kneser-Ney n-gram baseline (1...14).")
    var order = 5
    @Option(parsing: .unconditional, help: "Window length in bytes for models without a fixed context (LSTM, GRU, WaveNet; 2...65536).")
    var context = 1024
    @Option(parsing: .unconditional, help: ArgumentHelp("Also score with dynamic evaluation at this learning rate (try 3e-4 with --dynamic-rule rms, 0.02 with sgd; default: none, static evaluation only).", valueName: "LR"))
    var dynamicLr: Float?
    @Option(help: ArgumentHelp("Dynamic evaluation's update: rms (each step divided by the gradient's RMS on the train split, and the decay scaled by it) or sgd.", valueName: "rms|sgd"))
    var dynamicRule = DynamicRule.rms
    @Option(parsing: .unconditional, help: ArgumentHelp("Dynamic evaluation: pull toward the trained weights per segment (0...1).", valueName: "LAMBDA"))
    var dynamicDecay: Float = 0.01
    @Option(parsing: .unconditional, help: "Dynamic evaluation: bytes per segment, one update each (1...65536).")
    var segment = 50
    @Flag(help: "The n-gram adds each byte to its counts once it has scored it, adapting to the text it reads as a compressor does (in the held-out text for --interpolate too).")
    var adaptNgram = false
    @Flag(help: "Also score the model interpolated with the n-gram (one weight per n-gram match: the longest history seen and how often; fitted by EM on a 20th of the train split held out).")
    var interpolate = false
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        if let lr = dynamicLr, !(lr >= 0 && lr <= 100) { throw ValidationError("--dynamic-lr must be in 0...100, got \(lr)") }
        guard dynamicDecay >= 0 && dynamicDecay <= 1 else { throw ValidationError("--dynamic-decay must be in 0...1, got \(dynamicDecay)") }
        guard (1...65536).contains(segment) else { throw ValidationError("--segment must be in 1...65536, got \(segment)") }
        if dynamicLr == nil && (dynamicDecay != 0.01 || segment != 50 || dynamicRule != .rms) {
            throw ValidationError("--dynamic-rule, --dynamic-decay and --segment set dynamic evaluation: give --dynamic-lr too")
        }
        if ngramOnly && dynamicLr != nil { throw ValidationError("--dynamic-lr scores a model: drop --ngram-only") }
        if ngramOnly && interpolate { throw ValidationError("--interpolate scores a model with the n-gram: drop --ngram-only") }
        guard (1...NGramModel.maxOrder(vocabularySize: ByteTokenizer.vocabularySize)).contains(order) else { throw ValidationError("--order must be in 1...\(NGramModel.maxOrder(vocabularySize: ByteTokenizer.vocabularySize)), got \(order)") }
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
        let window = net?.window(fallback: context) ?? context
        var settings: DynamicEvaluation?
        if let lr = dynamicLr {
            settings = DynamicEvaluation(learningRate: lr, decay: dynamicDecay, segment: segment, rmsNormalized: dynamicRule == .rms)
        }
        // Each scored byte's probability under the model (static, and with dynamic evaluation), kept for --interpolate.
        var staticProbabilities: [Double] = [], dynamicProbabilities: [Double] = []
        // Each result is printed as soon as it is known (with --json, all at the end).
        func emit(_ text: String) { if !jsonOption.json { print(text) } }
        if let net {
            let start = Date()
            let bar = ProgressLine("scoring \(modelOption.model)")
            let nats: Double
            if interpolate {
                staticProbabilities = net.tokenProbabilities([eval], context: window) { bar.update($0) }
                nats = -staticProbabilities.reduce(0) { $0 + log($1) } / Double(max(staticProbabilities.count, 1))
            } else {
                nats = net.evaluate([eval], context: window) { bar.update($0) }.nats
            }
            let dt = Date().timeIntervalSince(start)
            result["model"] = ["name": modelOption.model, "summary": net.summary, "nats_per_byte": jsonNumber(nats),
                               "bits_per_byte": jsonNumber(nats / log(2.0)), "seconds": dt]
            emit(line("model \(modelOption.model) (\(net.summary))", nats) + String(format: " [%.1f s]", dt))
            if let settings {
                let start = Date()
                let bar = ProgressLine("dynamic evaluation")
                let d = net.evaluateDynamically([eval], settings, calibration: [train],
                                                scored: interpolate ? { dynamicProbabilities.append($0) } : nil) { bar.update($0) }
                let dt = Date().timeIntervalSince(start), seg = min(segment, net.contextLength)
                result["dynamic"] = ["rule": dynamicRule.rawValue, "learning_rate": Double(settings.learningRate),
                                     "decay": Double(dynamicDecay), "segment": seg,
                                     "nats_per_byte": jsonNumber(d.nats), "bits_per_byte": jsonNumber(d.nats / log(2.0)),
                                     "seconds": dt]
                let name = String(format: "model \(modelOption.model), dynamic evaluation (\(dynamicRule.rawValue), lr %g, decay %g, segments of \(seg))",
                                  Double(settings.learningRate), Double(dynamicDecay))
                emit(line(name, d.nats) + String(format: " [%.1f s]", dt))
            }
        }
        let start = Date()
        let ngram = NGramModel(order: order, vocabularySize: ByteTokenizer.vocabularySize, sequences: [train])
        let scoredByNGram = adaptNgram ? ngram.scoreTokensAdapting([eval]) : ngram.scoreTokens([eval])
        let nats = -scoredByNGram.reduce(0) { $0 + log($1.probability) } / Double(max(scored, 1))
        let dt = Date().timeIntervalSince(start)
        result["ngram"] = ["order": order, "train_tokens": train.count, "adapting": adaptNgram, "nats_per_byte": jsonNumber(nats),
                           "bits_per_byte": jsonNumber(nats / log(2.0)), "seconds": dt]
        emit(line("Kneser-Ney \(order)-gram (fitted on \(train.count) train tokens\(adaptNgram ? ", adapting to the scored text" : ""))", nats)
                     + String(format: " [%.1f s]", dt))
        if interpolate, let net {
            // The weights are fitted on train text that the n-gram scoring it has not seen.
            var start = Date()
            let bar = ProgressLine("held-out text for the weights")
            let heldOut: HeldOutInterpolation
            do {
                heldOut = try textHeldOut(net, train: train, order: order, adapt: adaptNgram, window: window) { bar.update($0) }
            } catch let e as RuntimeError { throw RuntimeError("--interpolate: \(e.description)") }
            func report(_ key: String, _ name: String, _ mix: NGramInterpolation, evalModel: [Double]) {
                let mixed = mix.nats(model: evalModel, ngram: scoredByNGram)
                let dt = Date().timeIntervalSince(start)
                result[key] = ["order": order, "weights": mix.weights, "held_out_tokens": heldOut.ngram.count,
                               "nats_per_byte": jsonNumber(mixed), "bits_per_byte": jsonNumber(mixed / log(2.0)), "seconds": dt]
                emit(line("\(name) + Kneser-Ney \(order)-gram, interpolated (\(mix.weights.count) weights fitted on \(heldOut.ngram.count) held-out train tokens)", mixed)
                             + String(format: " [%.1f s]", dt))
            }
            report("interpolated", "model \(modelOption.model)", heldOut.weights, evalModel: staticProbabilities)
            if let settings {
                start = Date()
                var model: [Double] = []
                let bar = ProgressLine("held-out text, dynamic evaluation")
                _ = net.evaluateDynamically(heldOut.split.heldOut, settings, calibration: [train], scored: { model.append($0) }) { bar.update($0) }
                report("interpolated_dynamic", "model \(modelOption.model), dynamic evaluation,",
                       NGramInterpolation.fit(model: model, ngram: heldOut.ngram, order: order), evalModel: dynamicProbabilities)
            }
        }
        if jsonOption.json { printJSON(result) }
    }
}

/// The update rule of `synth text eval`'s dynamic evaluation (`DynamicEvaluation.rmsNormalized`).
enum DynamicRule: String, ExpressibleByArgument, CaseIterable {
    case rms, sgd
}
