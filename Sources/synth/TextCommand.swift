// `synth text`: the command group for byte-level text models (train, generate, eval), and what its files share.
import AREngine
import ArgumentParser
import Foundation
import Music
import NNCore
import Text

struct TextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Train, sample and evaluate byte-level language models of text.",
        discussion: """
            Text is read as bytes (256 values plus BOS and EOS), so any UTF-8 round-trips exactly. A corpus is a folder (or a list of files) of .txt files whose names say their split: NAME.train.txt and NAME.valid.txt. Models are folders holding config.json (with "model_type") and model.safetensors; the shipped one is voices/text, an LSTM trained on the King James Bible in ../shared/data/text.

              synth text train --data ../shared/data/text --model lstm --out runs/text
              synth text generate --prompt "And it came to pass" --tokens 400 --seed 1
              synth text eval --data ../shared/data/text --split valid
              synth text eval --data ../shared/data/text --order 14 \\
                  --interpolate --adapt-ngram
              synth text generate --prompt "And it came to pass" \\
                  --ngram-data ../shared/data/text

            The last two give the model the training text as context: mixed with a Kneser-Ney n-gram of it.
            """,
        subcommands: [TextTrain.self, TextGenerate.self, TextEval.self]
    )
}

extension ModelRole {
    /// What `text generate`, `text eval` and `text train --resume` read: the recurrent LM and the two token families
    /// that serve text as well as music (their vocabulary is checked to be the byte tokenizer's when loaded); not the
    /// PixelCNN, which is a token model over grey levels.
    static let textModel = ModelRole("text model") {
        $0 == RecurrentLanguageModel.self || $0 == TransformerModel.self || $0 == WaveNetTokenModel.self
    }
}

/// `--model`: the text model a command uses, by name or folder.
struct TextModelOption: ParsableArguments {
    @Option(help: ArgumentHelp("Text model name (in voices/) or folder.", valueName: "NAME|DIR"))
    var model = "text"

    /// The model named by `--model`, loaded through the registry, whose vocabulary must be the byte tokenizer's.
    /// - Throws: `ModelFolderError` for an unknown model or a folder of another kind, a `RuntimeError` for a token
    ///   model over another vocabulary (a music model), and the loading errors.
    func load() throws -> any TokenModel {
        let dir = try folder()
        let net = try ModelRegistry.synth.loadTokenModel(dir, as: .textModel)
        try requireByteVocabulary(net, folder: dir.path)
        return net
    }

    /// The folder `--model` names. - Throws: `ModelFolderError.unknownModel`.
    func folder() throws -> URL { try ModelRegistry.synth.resolve(model, as: .textModel) }
}

/// Refuses a token model whose vocabulary is not the byte tokenizer's (e.g. a music model's 390 tokens).
func requireByteVocabulary(_ net: any TokenModel, folder: String) throws {
    guard net.vocabularySize == ByteTokenizer.vocabularySize else {
        throw RuntimeError("\(folder): a model over \(net.vocabularySize) tokens, not a text model (byte models have \(ByteTokenizer.vocabularySize)); use it with synth music")
    }
}

/// The held-out text of `--interpolate` (eval) and `--ngram-data` (generate): a 20th of the train split, in chunks
/// spread through it (`NGramInterpolation.heldOutSplit`), and the weights fitted on it.
/// - Throws: `RuntimeError` when the train split is too short to hold out any text.
func textHeldOut(_ net: any TokenModel, train: [Int], order: Int, adapt: Bool, window: Int,
                 progress: (ProgressReport) -> Void) throws -> HeldOutInterpolation {
    guard let h = HeldOutInterpolation(net, split: NGramInterpolation.heldOutSplit(train), order: order, adaptation: adapt ? .acrossSequences : .off,
                                       window: window, progress: progress) else {
        throw RuntimeError("the train split (\(train.count) bytes) is too short to hold out text for the interpolation weights")
    }
    return h
}

/// The byte tokens of a corpus's split, with the error a user sees for a missing split, an empty or a binary file.
func loadTextSplit(_ corpus: TextCorpus, _ split: String) throws -> [Int] {
    do { return try corpus.tokens(split) } catch let e as TextDataError { throw RuntimeError(e.description) }
}

