// `synth text generate`: continues a prompt with a text model, streaming the bytes to stdout as they are drawn.
import AREngine
import ArgumentParser
import Foundation
import NNCore
import Text

struct TextGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a text model; the prompt and the continuation go to stdout.",
        discussion: """
            The prompt is read as its UTF-8 bytes (an argument that is not UTF-8 is taken as its bytes, with a note); an empty prompt starts from BOS alone. Bytes are written as they are drawn, except that an incomplete UTF-8 sequence is held back until it is whole (an ill-formed one is written as U+FFFD). Generation stops after --tokens bytes or at EOS. A model with a finite context (a transformer) reads the last context-length tokens of a longer prompt (a note says so) and slides to the last half of its context when it fills.
            """)

    @OptionGroup var modelOption: TextModelOption
    @Option(help: "Text to continue (default: none; start from BOS).")
    var prompt = ""
    @Option(parsing: .unconditional, help: "Bytes to generate at most (1...10000000).")
    var tokens = 500
    @OptionGroup var sampling: SamplingOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("Repetition penalty over the last 64 bytes (1 = off). (default: the model's generation_config.json, else 1)", valueName: "X"))
    var repetitionPenalty: Float?
    @Option(parsing: .unconditional, help: "Beam search with N beams (1...256) instead of sampling (slow: O(N × context) per byte; default: no beam search, sampling).")
    var beam: Int?
    @Option(parsing: .unconditional, help: "Beam search length penalty (score = log-prob / length^penalty).")
    var lengthPenalty: Float = 1.0
    @Flag(help: "Print only the continuation, not the prompt.")
    var noEcho = false
    @Option(help: ArgumentHelp("Mix the model with a Kneser-Ney n-gram of this corpus's train split (a text folder or .txt file, repeatable, as for text eval): each byte is drawn from λ P_model + (1 - λ) P_ngram, λ fitted on held-out train text as text eval --interpolate fits it. Building takes seconds (the KJV at order 12: about 20 s and 1.3 GB). (default: none, the model alone)", valueName: "DIR|FILE"))
    var ngramData: [String] = []
    @Option(parsing: .unconditional, help: "Order of the --ngram-data n-gram (1...14).")
    var ngramOrder = 12

    func validate() throws {
        _ = try sampling.makeSampler(repetitionPenalty: repetitionPenalty)
        guard tokens >= 1 && tokens <= 10_000_000 else { throw ValidationError("--tokens must be in 1...10000000, got \(tokens)") }
        guard (1...NGramModel.maxOrder(vocabularySize: ByteTokenizer.vocabularySize)).contains(ngramOrder) else {
            throw ValidationError("--ngram-order must be in 1...\(NGramModel.maxOrder(vocabularySize: ByteTokenizer.vocabularySize)), got \(ngramOrder)")
        }
        if !ngramData.isEmpty && beam != nil { throw ValidationError("--ngram-data mixes the n-gram into sampling: drop --beam") }
        if ngramData.isEmpty && ngramOrder != 12 { throw ValidationError("--ngram-order sets the --ngram-data n-gram: give --ngram-data too") }
        for d in ngramData { try requireFile(d, option: "--ngram-data") }
        if let b = beam {
            guard (1...256).contains(b) else { throw ValidationError("--beam must be in 1...256, got \(b)") }
            guard lengthPenalty.isFinite else { throw ValidationError("--length-penalty must be finite, got \(lengthPenalty)") }
            do { _ = try BeamSearch(beamWidth: b, lengthPenalty: lengthPenalty, maxLength: tokens, eosToken: ByteTokenizer.eos) } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    /// The prompt's bytes as the shell passed them (Swift repairs ill-formed UTF-8 in `CommandLine.arguments`), and
    /// whether they are valid UTF-8.
    func promptBytes() -> (bytes: [UInt8], valid: Bool) {
        var raw: [UInt8]? = nil
        let argv = (0..<Int(CommandLine.argc)).map { i -> [UInt8] in
            guard let p = CommandLine.unsafeArgv[i] else { return [] }
            return Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
        }
        for (i, a) in argv.enumerated() {
            if a == Array("--prompt".utf8), i + 1 < argv.count { raw = argv[i + 1] }
            else if a.starts(with: Array("--prompt=".utf8)) { raw = Array(a.dropFirst(9)) }
        }
        let bytes = raw ?? Array(prompt.utf8)
        return (bytes, String(validating: bytes, as: UTF8.self) != nil)
    }

    func run() throws {
        BLAS.setThreads(1)
        let net = try modelOption.load()
        // The n-gram's corpus is read first, so that a bad one is refused before anything else is said.
        let ngramTrain = try ngramData.isEmpty ? nil : ngramTrainText()
        // Made before anything is printed, so that a bad generation_config.json stops the command with no output.
        let sampler = beam == nil ? try sampling.makeSampler(repetitionPenalty: repetitionPenalty, folder: try modelOption.folder()) : nil
        let mixture = try ngramTrain.map { try ngramMixture(net, train: $0) }
        let (bytes, valid) = promptBytes()
        if !valid { printErr("note: the prompt is not valid UTF-8; its \(bytes.count) bytes are continued as they are") }
        let promptTokens = ByteTokenizer.encode(bytes)
        if promptTokens.count > net.contextLength {
            printErr("note: the prompt has \(promptTokens.count) tokens (BOS included), more than the model's context of \(net.contextLength); the model reads its last \(net.contextLength)")
        }
        let out = ByteStream()
        if !noEcho { bytes.forEach(out.write) }
        out.flush()
        let start = Date()
        let generated = try continuation(net, prompt: promptTokens, sampler: sampler, mixture: mixture, stream: out)
        out.finish()
        let dt = Date().timeIntervalSince(start)
        let n = generated.filter { $0 < 256 }.count
        printErr(String(format: "\ngenerated %d bytes%@ in %.2f s, %.0f bytes/s (%@)", n, generated.last == ByteTokenizer.eos ? " and EOS" : "",
                        dt, Double(generated.count) / max(dt, 1e-9), net.summary))
    }

    /// The tokens of --ngram-data's train split.
    /// - Throws: `RuntimeError` for a corpus without a train split, or with an empty or binary file.
    func ngramTrainText() throws -> [Int] {
        do {
            return try TextCorpus(paths: ngramData).tokens("train")
        } catch let e as TextDataError { throw RuntimeError("--ngram-data: \(e.description)") }
    }

    /// The n-gram of --ngram-data's train split and the interpolation weights, fitted on its held-out text.
    /// - Throws: `RuntimeError` for too short a train text.
    func ngramMixture(_ net: any TokenModel, train: [Int]) throws -> (ngram: NGramModel, weights: NGramInterpolation) {
        let start = Date()
        let bar = ProgressLine("--ngram-data: held-out text for the weights")
        let heldOut: HeldOutInterpolation
        do {
            heldOut = try textHeldOut(net, train: train, order: ngramOrder, adapt: false, window: net.window(fallback: 1024)) { bar.update($0) }
        } catch let e as RuntimeError { throw RuntimeError("--ngram-data: \(e.description)") }
        let ngram = NGramModel(order: ngramOrder, vocabularySize: ByteTokenizer.vocabularySize, sequences: [train])
        printErr(String(format: "note: mixing the model with a Kneser-Ney %d-gram of %d train bytes (weights fitted on %d held-out bytes) [%.1f s]",
                        ngramOrder, train.count, heldOut.ngram.count, Date().timeIntervalSince(start)))
        return (ngram, heldOut.weights)
    }

    /// Beam search with --beam (printed at the end), else sampling with `sampler` (from the mixture with the n-gram,
    /// when given), each byte streamed as it is drawn.
    func continuation<M: TokenModel>(_ model: M, prompt: [Int], sampler: Sampler?,
                                     mixture: (ngram: NGramModel, weights: NGramInterpolation)?, stream: ByteStream) throws -> [Int] {
        if let b = beam {
            let search = try BeamSearch(beamWidth: b, lengthPenalty: lengthPenalty, maxLength: tokens, eosToken: ByteTokenizer.eos)
            let toks = Generation.beam(model, prompt: prompt, search: search, bannedTokens: [ByteTokenizer.bos])
            ByteTokenizer.decode(toks).forEach(stream.write)
            return toks
        }
        guard var sampler else { throw RuntimeError("no sampler without --beam") }
        // The tokens so far, for the n-gram's history (its last order - 1 are read; trimmed now and then).
        var history = prompt
        var options = GenerationOptions(maxNewTokens: tokens, bannedTokens: [ByteTokenizer.bos], stopToken: ByteTokenizer.eos,
                                        penaltyWindow: 64, slidingWindow: true) { t in
            if mixture != nil {
                history.append(t)
                if history.count > 1 << 16 { history.removeFirst(history.count - NGramModel.maxOrder(vocabularySize: ByteTokenizer.vocabularySize)) }
            }
            if t < 256 { stream.write(UInt8(t)); stream.flush() }
            return false
        }
        if let mixture {
            var scratch = [Double](repeating: 0, count: model.vocabularySize)
            let order = mixture.ngram.order
            options.logitsProcessor = { logits in
                mixture.weights.mix(logits: logits, ngram: mixture.ngram, history: history.suffix(order - 1), scratch: &scratch)
            }
        }
        return Generation.sample(model, prompt: prompt, options: options, sampler: &sampler).tokens
    }
}

/// Bytes to stdout as valid UTF-8: complete sequences are written, an incomplete one is held back.
final class ByteStream {
    private var decoder = UTF8StreamDecoder()
    private var buffer: [UInt8] = []

    func write(_ b: UInt8) { buffer += decoder.feed(b) }

    func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() {
        buffer += decoder.finish()
        flush()
    }
}
