// Hyper-parameters of the decoder-only transformer as stored in a model's config.json (snake_case keys).
import AtomicIO
import Foundation
import NNCore

/// A music model's config.json holds a value out of range (the file and the reason). Missing keys, wrong types and
/// folders of another kind are `ModelFolderError`s.
public enum MusicModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(file: String, reason: String)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .invalidConfig(let f, let r): return "\(f): invalid model config: \(r)"
        }
    }
}

/// A GPT-2 style decoder-only transformer (Radford et al. 2019): learned token and position embeddings,
/// `n_layers` pre-LayerNorm blocks of causal multi-head self-attention and a GELU MLP, a final LayerNorm
/// and an untied output projection to `vocab_size` logits.
public struct TransformerConfig: Codable, Equatable, Sendable {
    /// Always "transformer" (lets a model folder say which family it holds).
    public var modelType: String = "transformer"
    /// Number of token classes (390 for `PerformanceTokenizer`).
    public var vocabSize: Int
    /// Longest sequence (positions) the model reads; also the KV cache length.
    public var contextLength: Int
    /// Width of the residual stream (C).
    public var dModel: Int
    /// Attention heads; `d_model` must be a multiple of it.
    public var nHeads: Int
    /// Number of transformer blocks.
    public var nLayers: Int
    /// Hidden width of each block's MLP (usually 4 × d_model).
    public var dFF: Int

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case contextLength = "context_length"
        case dModel = "d_model"
        case nHeads = "n_heads"
        case nLayers = "n_layers"
        case dFF = "d_ff"
    }

    /// Decodes config.json. Every key so far has been written since the first model; a key added later must be read
    /// with `decodeIfPresent` and a default, so that older folders keep loading.
    public init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try k.decodeIfPresent(String.self, forKey: .modelType) ?? "transformer"
        vocabSize = try k.decode(Int.self, forKey: .vocabSize)
        contextLength = try k.decode(Int.self, forKey: .contextLength)
        dModel = try k.decode(Int.self, forKey: .dModel)
        nHeads = try k.decode(Int.self, forKey: .nHeads)
        nLayers = try k.decode(Int.self, forKey: .nLayers)
        dFF = try k.decode(Int.self, forKey: .dFF)
    }

    public init(vocabSize: Int, contextLength: Int, dModel: Int, nHeads: Int, nLayers: Int, dFF: Int) {
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.dModel = dModel
        self.nHeads = nHeads
        self.nLayers = nLayers
        self.dFF = dFF
    }

    /// Checks every field against its range and the totals against `ModelLimits` (parameters, KV cache), so
    /// nothing built from a validated config overflows or allocates without bound.
    /// - Throws: `MusicModelError.invalidConfig` naming the field and value.
    public func validate(file: String = "config.json") throws {
        func fail(_ r: String) -> MusicModelError { .invalidConfig(file: file, reason: r) }
        guard modelType == "transformer" else { throw fail("model_type must be \"transformer\", got \"\(modelType)\"") }
        guard vocabSize >= 2, vocabSize <= 65536 else { throw fail("vocab_size must be in 2...65536, got \(vocabSize)") }
        guard contextLength >= 2, contextLength <= 1 << 16 else { throw fail("context_length must be in 2...65536, got \(contextLength)") }
        guard dModel > 0, dModel <= 8192 else { throw fail("d_model must be in 1...8192, got \(dModel)") }
        guard nHeads > 0, dModel % nHeads == 0 else { throw fail("n_heads must divide d_model \(dModel), got \(nHeads)") }
        guard nLayers > 0, nLayers <= 256 else { throw fail("n_layers must be in 1...256, got \(nLayers)") }
        guard dFF > 0, dFF <= 65536 else { throw fail("d_ff must be in 1...65536, got \(dFF)") }
        // The bounds above keep these products within 64 bits; these bound what the model would allocate.
        guard parameterCount <= ModelLimits.maxParameters else {
            throw fail("the model would have \(parameterCount) parameters, more than the limit of \(ModelLimits.maxParameters) (vocab_size \(vocabSize), context_length \(contextLength), d_model \(dModel), d_ff \(dFF), n_layers \(nLayers))")
        }
        let cache = nLayers * contextLength * dModel
        guard cache <= ModelLimits.maxStateFloats else {
            throw fail("the KV cache would hold n_layers x context_length x d_model = \(cache) floats per sequence for keys (and as many for values), more than the limit of \(ModelLimits.maxStateFloats)")
        }
    }

    /// Number of parameters.
    public var parameterCount: Int {
        let C = dModel, F = dFF
        let block = 4 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * F + F) + (F * C + C)
        return vocabSize * C + contextLength * C + nLayers * block + 2 * C + C * vocabSize + vocabSize
    }
}
