// WaveNet hyper-parameters as stored in a voice's config.json (snake_case keys).
import DSP
import Foundation

/// Errors about a voice's configuration or files. Each names the file and what is wrong.
public enum VoiceError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(file: String, reason: String)
    /// A valid model folder of another kind (a music model), named where a vocoder voice is expected.
    case notAVoice(file: String, modelType: String)
    case unknownVoice(name: String, searched: [String], available: [String])
    case unknownSpeaker(name: String, available: [String])
    case incompatibleFeatures(reason: String)
    case cannotGrow(reason: String)

    public var description: String {
        switch self {
        case .invalidConfig(let f, let r): return "\(f): invalid voice config: \(r)"
        case .notAVoice(let f, let t):
            return "\(f): this folder holds a music model (model_type \(t)), not a vocoder voice; use it with `synth music generate --model`"
        case .unknownVoice(let n, let s, let a):
            let list = a.isEmpty ? "no voices installed" : "available: \(a.joined(separator: ", "))"
            return "unknown voice '\(n)' (looked in \(s.joined(separator: ", "))); \(list)"
        case .unknownSpeaker(let n, let a):
            return "unknown speaker '\(n)'; this voice has: \(a.joined(separator: ", "))"
        case .incompatibleFeatures(let r): return "features do not match the voice: \(r)"
        case .cannotGrow(let r): return "cannot grow the voice: \(r)"
        }
    }
}

/// Hyper-parameters of a WaveNet vocoder (van den Oord et al. 2016) with local conditioning on
/// log-mel frames and global conditioning on a speaker embedding.
///
/// Channel names follow the paper and common implementations: `residual_channels` (R) flow through
/// the stack, each dilated causal convolution (kernel 2) produces `gate_channels` (G = 2 x G/2, the
/// tanh and sigmoid halves), and each layer adds G/2 -> `skip_channels` (S) to the skip sum.
public struct WaveNetConfig: Codable, Equatable, Sendable {
    /// Dilation of each layer, in samples; e.g. 1, 2, ..., 128 repeated for stacks.
    public var dilations: [Int]
    /// Kernel size of the dilated convolutions; only 2 is supported (queues hold one past input).
    public var kernelSize: Int = 2
    public var residualChannels: Int
    public var gateChannels: Int
    public var skipChannels: Int
    /// Output classes of the mu-law softmax (256 = 8-bit mu-law).
    public var classes: Int = 256
    /// Hidden channels of the frame-rate conditioning network (a kernel-3 convolution over mel frames + ReLU,
    /// then `condLayers` residual blocks).
    public var condChannels: Int
    /// Residual blocks of the conditioning network after its first convolution, each
    /// `h += ReLU(conv3(h)) · W + b` on `[frames, C]`: every block widens the mel context the network sees by one
    /// frame on each side (3 + 2 x `condLayers` frames in all). 0 (the default, and the value of voices saved
    /// without the field) is the single convolution.
    public var condLayers: Int = 0
    /// Size of the learned speaker embedding (global conditioning).
    public var speakerEmbeddingDim: Int
    /// Speaker names, in embedding-row order.
    public var speakers: [String]
    /// Feature extraction parameters; must match between training and vocoding.
    public var features: FeatureConfig
    /// Per-mel-bin mean and standard deviation of the training log-mels; inputs are normalised as
    /// `(log_mel - mean) / std` before entering the network. `[n_mels]` each.
    public var featureMean: [Float]
    public var featureStd: [Float]
    /// Pre-emphasis coefficient applied to the waveform before mu-law encoding (0 = none);
    /// generation applies the matching de-emphasis filter `y[t] = x[t] + coef * y[t-1]`.
    public var preemphasis: Float = 0

    enum CodingKeys: String, CodingKey {
        case dilations, classes, speakers, features, preemphasis
        case kernelSize = "kernel_size"
        case residualChannels = "residual_channels"
        case gateChannels = "gate_channels"
        case skipChannels = "skip_channels"
        case condChannels = "cond_channels"
        case condLayers = "cond_layers"
        case speakerEmbeddingDim = "speaker_embedding_dim"
        case featureMean = "feature_mean"
        case featureStd = "feature_std"
    }

    public init(
        dilations: [Int], residualChannels: Int, gateChannels: Int, skipChannels: Int, classes: Int = 256,
        condChannels: Int, speakerEmbeddingDim: Int, speakers: [String], features: FeatureConfig = .default,
        preemphasis: Float = 0, condLayers: Int = 0
    ) {
        self.dilations = dilations
        self.residualChannels = residualChannels
        self.gateChannels = gateChannels
        self.skipChannels = skipChannels
        self.classes = classes
        self.condChannels = condChannels
        self.speakerEmbeddingDim = speakerEmbeddingDim
        self.speakers = speakers
        self.features = features
        self.featureMean = [Float](repeating: 0, count: features.nMels)
        self.featureStd = [Float](repeating: 1, count: features.nMels)
        self.preemphasis = preemphasis
        self.condLayers = condLayers
    }

    /// Decodes config.json; `kernel_size`, `classes`, `preemphasis` and `cond_layers` may be absent (their defaults).
    public init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        dilations = try k.decode([Int].self, forKey: .dilations)
        kernelSize = try k.decodeIfPresent(Int.self, forKey: .kernelSize) ?? 2
        residualChannels = try k.decode(Int.self, forKey: .residualChannels)
        gateChannels = try k.decode(Int.self, forKey: .gateChannels)
        skipChannels = try k.decode(Int.self, forKey: .skipChannels)
        classes = try k.decodeIfPresent(Int.self, forKey: .classes) ?? 256
        condChannels = try k.decode(Int.self, forKey: .condChannels)
        condLayers = try k.decodeIfPresent(Int.self, forKey: .condLayers) ?? 0
        speakerEmbeddingDim = try k.decode(Int.self, forKey: .speakerEmbeddingDim)
        speakers = try k.decode([String].self, forKey: .speakers)
        features = try k.decode(FeatureConfig.self, forKey: .features)
        featureMean = try k.decode([Float].self, forKey: .featureMean)
        featureStd = try k.decode([Float].self, forKey: .featureStd)
        preemphasis = try k.decodeIfPresent(Float.self, forKey: .preemphasis) ?? 0
    }

    /// Floats of saved conditioning activations per frame: the first convolution's output and, per residual
    /// block, its ReLU output and its result (`C x (1 + 2 x condLayers)`); the last `C` are the network's output.
    public var condActivationsPerFrame: Int { condChannels * (1 + 2 * condLayers) }

    /// Frames on each side of a frame that the conditioning network reads (its kernel-3 convolutions):
    /// `condLayers + 1`. Training segments carry this many context frames on each side (`WaveNetBatch.framePad`).
    public var conditioningReach: Int { condLayers + 1 }

    /// Dilations 1, 2, 4, ..., 2^(cycle-1), repeated `stacks` times.
    public static func dilations(stacks: Int, cycle: Int) -> [Int] {
        (0..<stacks).flatMap { _ in (0..<cycle).map { 1 << $0 } }
    }

    public var layers: Int { dilations.count }
    /// Receptive field in samples: 1 + sum of (kernel - 1) * dilation, plus 1 for the input shift.
    public var receptiveField: Int { dilations.reduce(1) { $0 + (kernelSize - 1) * $1 } + 1 }
    public var melBins: Int { features.nMels }

    /// Raw natural-log mels `[frames, mel_bins]` normalised per bin: `(log_mel - feature_mean) / feature_std`.
    public func normalize(logMel: [Float]) -> [Float] {
        let M = melBins
        var out = logMel
        for i in out.indices { out[i] = (logMel[i] - featureMean[i % M]) / featureStd[i % M] }
        return out
    }

    /// Multiply-adds per generated sample (the per-sample network, excluding frame-rate conditioning).
    public var macsPerSample: Int {
        let g2 = gateChannels / 2
        return layers * (2 * residualChannels * gateChannels + g2 * (residualChannels + skipChannels))
            + skipChannels * skipChannels + skipChannels * classes
    }

    /// Checks every field. - Throws: `VoiceError.invalidConfig` naming the field and value.
    public func validate(file: String = "config.json") throws {
        func fail(_ r: String) -> VoiceError { .invalidConfig(file: file, reason: r) }
        guard !dilations.isEmpty, dilations.allSatisfy({ $0 >= 1 && $0 <= 65536 }) else {
            throw fail("dilations must be a non-empty list of values in 1...65536, got \(dilations)")
        }
        guard kernelSize == 2 else { throw fail("kernel_size must be 2, got \(kernelSize)") }
        guard residualChannels > 0 else { throw fail("residual_channels must be > 0, got \(residualChannels)") }
        guard gateChannels > 0, gateChannels % 2 == 0 else { throw fail("gate_channels must be even and > 0, got \(gateChannels)") }
        guard skipChannels > 0 else { throw fail("skip_channels must be > 0, got \(skipChannels)") }
        guard classes >= 2, classes <= 65536 else { throw fail("classes must be in 2...65536, got \(classes)") }
        guard condChannels > 0 else { throw fail("cond_channels must be > 0, got \(condChannels)") }
        guard (0...16).contains(condLayers) else { throw fail("cond_layers must be in 0...16, got \(condLayers)") }
        guard speakerEmbeddingDim > 0 else { throw fail("speaker_embedding_dim must be > 0, got \(speakerEmbeddingDim)") }
        guard !speakers.isEmpty else { throw fail("speakers must not be empty") }
        guard Set(speakers).count == speakers.count else { throw fail("speakers contains duplicate names") }
        do { try features.validate() } catch { throw fail("features: \(error)") }
        guard featureMean.count == melBins, featureStd.count == melBins else {
            throw fail("feature_mean and feature_std must have n_mels = \(melBins) values, got \(featureMean.count) and \(featureStd.count)")
        }
        guard featureStd.allSatisfy({ $0 > 0 && $0.isFinite }), featureMean.allSatisfy({ $0.isFinite }) else {
            throw fail("feature_std must be positive and finite, feature_mean finite")
        }
        guard preemphasis >= 0, preemphasis < 1 else { throw fail("preemphasis must be in [0, 1), got \(preemphasis)") }
    }

    /// Index of a speaker. - Throws: `VoiceError.unknownSpeaker` listing the valid names.
    public func speakerIndex(_ name: String) throws -> Int {
        guard let i = speakers.firstIndex(of: name) else { throw VoiceError.unknownSpeaker(name: name, available: speakers) }
        return i
    }
}
