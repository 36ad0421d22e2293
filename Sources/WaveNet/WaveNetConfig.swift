// WaveNet hyper-parameters as stored in a voice's config.json (snake_case keys).
import AtomicIO
import DSP
import Foundation
import NNCore

/// Errors about a voice's configuration or files. Each names the file and what is wrong.
public enum VoiceError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(file: String, reason: String)
    case unknownSpeaker(name: String, available: [String])
    case incompatibleFeatures(reason: String)
    case cannotGrow(reason: String)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .invalidConfig(let f, let r): return "\(f): invalid voice config: \(r)"
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

    /// Pitch conditioning: each conditioning frame carries two more columns after the mels, the normalised
    /// log-F0 `(ln F0 - f0_mean) / f0_std` (F0 from pYIN, interpolated through unvoiced frames) and the voicing
    /// (1 voiced, 0 not). Off (the default, and voices saved before it) = mels only.
    public var pitch = false
    /// Settings of the pitch tracker (`DSP.PitchEstimator`) used when `pitch` is on.
    public var pitchConfig: PitchConfig = .default
    /// Mean and standard deviation of ln F0 (F0 in Hz) over the training data's voiced frames.
    public var f0Mean: Float = 5
    public var f0Std: Float = 0.3
    /// Harmonic source (NSF, Wang and Yamagishi): a per-sample input of `2 * source_harmonics + 1` channels, sines
    /// and cosines at F0 and its harmonics where voiced, noise where not (`DSP.HarmonicSource`), projected into
    /// the residual stream's input. Needs `pitch`.
    public var source = false
    public var sourceHarmonics: Int = 8
    /// Linear prediction (LPCNet, Valin and Skoglund 2019): per frame, order-`lpc_order` predictor coefficients
    /// derived from the log-mel alone (`DSP.MelLPC`) predict each pre-emphasised sample from the last `lpc_order`
    /// mu-law-decoded ones, `p[t]`; the network then predicts the excitation `e[t] = s[t] - p[t]` in mu-law,
    /// reading the classes of `s[t-1]`, `p[t]` and `e[t-1]`, and generation adds `p[t]` back.
    public var lpc = false
    public var lpcOrder: Int = 16
    /// With `lpc`: an absolute white-noise floor under the LPC analysis, in dB relative to full scale (RMS of the
    /// pre-emphasised waveform), under the optional key `lpc_noise_floor_db` (nil: none, as voices saved before it).
    /// Frames well below it get nearly flat predictors, as LPCNet's constant added to `ac[0]` does (`DSP.MelLPC`).
    public var lpcNoiseFloorDB: Float?
    /// With `lpc` and `pitch`: the network also reads the class of the excitation one pitch period back,
    /// `e[t - P]` with `P = round(sample_rate / F0)` of `t`'s frame (clamped to `pitchLagRange`), under the key
    /// `pitch_lag` (absent: off, as voices saved before it). FARGAN's pitch lookback (Opus 1.5) and a CELP coder's
    /// adaptive codebook: a voiced excitation repeats each period, and this hands the network the period it would
    /// repeat instead of leaving it to find it in its receptive field.
    public var pitchLag = false
    /// A DC blocker on the generated waveform after the de-emphasis (`DSP.DCBlocker`), corner frequency in Hz, under
    /// the optional key `output_highpass_hz` (nil: none, as voices saved before it). The de-emphasis integrates:
    /// its gain at 0 Hz is `1 / (1 - preemphasis)` (6.7 at 0.85), so a small offset in the generated pre-emphasised
    /// signal becomes a large one in the output; the blocker removes it. It acts on the output only (the network
    /// reads and predicts the pre-emphasised signal), so training is unchanged.
    public var outputHighpassHz: Float?
    /// The voice's default strength of the long-term postfilter on its output (`DSP.PitchPostfilter`, 0...1), under
    /// the optional key `pitch_postfilter` (nil: none, as voices saved before it). `synth vocode --pitch-postfilter`
    /// overrides it. Like the DC blocker it acts on the output only.
    public var pitchPostfilter: Float?
    /// The voice's default number of rounds of mel-envelope correction of its output toward the log-mels it was
    /// conditioned on (`DSP.MelEnvelopeCorrection`, 0...100; 0 = off), under the optional key `mel_correction` (nil:
    /// none, as voices saved before it). `synth vocode --mel-correction` overrides it. It acts on the output only.
    public var melCorrection: Int?
    /// The momentum of those rounds (`DSP.MelEnvelopeCorrection.momentum`, in [0, 1); 0 = plain rounds), under the
    /// optional key `mel_correction_momentum` (nil: 0, as voices saved before it). `--mel-correction-momentum`
    /// overrides it.
    public var melCorrectionMomentum: Float?
    /// The speakers' Gaussian mixtures that choose a speaker for `--speaker auto` (`SpeakerStatistics`), under the
    /// optional key `speaker_statistics` (nil: none; voices saved before them load as they were).
    public var speakerStatistics: SpeakerStatistics?

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
        case pitch, source, lpc
        case pitchConfig = "pitch_config"
        case f0Mean = "f0_mean"
        case f0Std = "f0_std"
        case sourceHarmonics = "source_harmonics"
        case lpcOrder = "lpc_order"
        case lpcNoiseFloorDB = "lpc_noise_floor_db"
        case pitchLag = "pitch_lag"
        case outputHighpassHz = "output_highpass_hz"
        case pitchPostfilter = "pitch_postfilter"
        case melCorrection = "mel_correction"
        case melCorrectionMomentum = "mel_correction_momentum"
        case speakerStatistics = "speaker_statistics"
    }

    public init(
        dilations: [Int], residualChannels: Int, gateChannels: Int, skipChannels: Int, classes: Int = 256,
        condChannels: Int, speakerEmbeddingDim: Int, speakers: [String], features: FeatureConfig = .default,
        preemphasis: Float = 0, condLayers: Int = 0, pitch: Bool = false, source: Bool = false, lpc: Bool = false
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
        self.pitch = pitch
        self.source = source
        self.lpc = lpc
    }

    /// Decodes config.json; `kernel_size`, `classes`, `preemphasis`, `cond_layers`, the pitch, source and LPC keys and
    /// `speaker_statistics` may be absent (their defaults: voices saved before them load as they were).
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
        pitch = try k.decodeIfPresent(Bool.self, forKey: .pitch) ?? false
        pitchConfig = try k.decodeIfPresent(PitchConfig.self, forKey: .pitchConfig) ?? .default
        f0Mean = try k.decodeIfPresent(Float.self, forKey: .f0Mean) ?? 5
        f0Std = try k.decodeIfPresent(Float.self, forKey: .f0Std) ?? 0.3
        source = try k.decodeIfPresent(Bool.self, forKey: .source) ?? false
        sourceHarmonics = try k.decodeIfPresent(Int.self, forKey: .sourceHarmonics) ?? 8
        lpc = try k.decodeIfPresent(Bool.self, forKey: .lpc) ?? false
        lpcOrder = try k.decodeIfPresent(Int.self, forKey: .lpcOrder) ?? 16
        lpcNoiseFloorDB = try k.decodeIfPresent(Float.self, forKey: .lpcNoiseFloorDB)
        pitchLag = try k.decodeIfPresent(Bool.self, forKey: .pitchLag) ?? false
        outputHighpassHz = try k.decodeIfPresent(Float.self, forKey: .outputHighpassHz)
        pitchPostfilter = try k.decodeIfPresent(Float.self, forKey: .pitchPostfilter)
        melCorrection = try k.decodeIfPresent(Int.self, forKey: .melCorrection)
        melCorrectionMomentum = try k.decodeIfPresent(Float.self, forKey: .melCorrectionMomentum)
        speakerStatistics = try k.decodeIfPresent(SpeakerStatistics.self, forKey: .speakerStatistics)
    }

    /// Writes every key, but the pitch, source and LPC keys only when their switch is on and `speaker_statistics` only
    /// when there are statistics, so a voice without them keeps the config.json it always had.
    public func encode(to encoder: Encoder) throws {
        var k = encoder.container(keyedBy: CodingKeys.self)
        try k.encode(dilations, forKey: .dilations)
        try k.encode(kernelSize, forKey: .kernelSize)
        try k.encode(residualChannels, forKey: .residualChannels)
        try k.encode(gateChannels, forKey: .gateChannels)
        try k.encode(skipChannels, forKey: .skipChannels)
        try k.encode(classes, forKey: .classes)
        try k.encode(condChannels, forKey: .condChannels)
        try k.encode(condLayers, forKey: .condLayers)
        try k.encode(speakerEmbeddingDim, forKey: .speakerEmbeddingDim)
        try k.encode(speakers, forKey: .speakers)
        try k.encode(features, forKey: .features)
        try k.encode(featureMean, forKey: .featureMean)
        try k.encode(featureStd, forKey: .featureStd)
        try k.encode(preemphasis, forKey: .preemphasis)
        if pitch {
            try k.encode(pitch, forKey: .pitch)
            try k.encode(pitchConfig, forKey: .pitchConfig)
            try k.encode(f0Mean, forKey: .f0Mean)
            try k.encode(f0Std, forKey: .f0Std)
        }
        if source {
            try k.encode(source, forKey: .source)
            try k.encode(sourceHarmonics, forKey: .sourceHarmonics)
        }
        if lpc {
            try k.encode(lpc, forKey: .lpc)
            try k.encode(lpcOrder, forKey: .lpcOrder)
            try k.encodeIfPresent(lpcNoiseFloorDB, forKey: .lpcNoiseFloorDB)
            if pitchLag { try k.encode(pitchLag, forKey: .pitchLag) }
        }
        try k.encodeIfPresent(outputHighpassHz, forKey: .outputHighpassHz)
        try k.encodeIfPresent(pitchPostfilter, forKey: .pitchPostfilter)
        try k.encodeIfPresent(melCorrection, forKey: .melCorrection)
        try k.encodeIfPresent(melCorrectionMomentum, forKey: .melCorrectionMomentum)
        try k.encodeIfPresent(speakerStatistics, forKey: .speakerStatistics)
    }

    /// Columns of one conditioning frame: the mel bins, then (with `pitch`) normalised ln F0 and voicing.
    public var frameFeatures: Int { melBins + (pitch ? 2 : 0) }
    /// The pitch periods `pitch_lag` reads back, in samples: 2 ... `sample_rate / 40` (F0 of 40 Hz and up; F0 is
    /// clamped to this range's ends).
    public var pitchLagRange: ClosedRange<Int> { 2...max(2, features.sampleRate / 40) }
    /// Channels of the per-sample harmonic source (0 without `source`).
    public var sourceChannels: Int { source ? 2 * sourceHarmonics + 1 : 0 }
    /// The column layout of a conditioning frame, for messages: "80 normalised log-mels, normalised ln F0, voicing".
    public var frameLayout: String {
        "\(melBins) normalised log-mels" + (pitch ? ", normalised ln F0 and voicing" : "")
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
    /// The residual stack's sizes (`NNCore.CausalConvStack`).
    public var stack: CausalConvShape {
        CausalConvShape(dilations: dilations, residualChannels: residualChannels, gateChannels: gateChannels, skipChannels: skipChannels)
    }
    /// Receptive field in samples: 1 + sum of (kernel - 1) * dilation, plus 1 for the input shift.
    public var receptiveField: Int { dilations.reduce(1) { $0 + (kernelSize - 1) * $1 } + 1 }
    public var melBins: Int { features.nMels }

    /// Conditioning frames `[frames, frame_features]`: the raw natural-log mels `[frames, mel_bins]` normalised per
    /// bin, `(log_mel - feature_mean) / feature_std`, and with `pitch` the normalised ln F0 of `f0` (Hz, continuous:
    /// every value > 0) and the voicing `[frames]`.
    public func frameFeatures(logMel: [Float], f0: [Float], voicing: [Float]) -> [Float] {
        let M = melBins, F = logMel.count / M, W = frameFeatures
        guard pitch else { return normalize(logMel: logMel) }
        precondition(f0.count == F && voicing.count == F, "frameFeatures: f0 and voicing need one value per frame")
        var out = [Float](repeating: 0, count: F * W)
        for f in 0..<F {
            for k in 0..<M { out[f * W + k] = (logMel[f * M + k] - featureMean[k]) / featureStd[k] }
            out[f * W + M] = (log(f0[f]) - f0Mean) / f0Std
            out[f * W + M + 1] = voicing[f]
        }
        return out
    }

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
            + sourceChannels * residualChannels + (lpc ? lpcOrder : 0)
    }

    /// Largest `residual_channels`, `gate_channels`, `skip_channels`, `cond_channels` and `speaker_embedding_dim`.
    public static let maxChannels = 4096
    /// Most layers (entries of `dilations`) and most speakers.
    public static let maxLayers = 1024, maxSpeakers = 65536

    /// Checks every field against its range (the bounds above, and those of `FeatureConfig`), then the totals
    /// against `ModelLimits` (parameters; the generator's queues, `sum(dilations) x residual_channels` floats),
    /// so that nothing built from a validated config overflows or allocates without bound.
    /// - Throws: `VoiceError.invalidConfig` naming the field and value.
    public func validate(file: String = "config.json") throws {
        func fail(_ r: String) -> VoiceError { .invalidConfig(file: file, reason: r) }
        func channels(_ name: String, _ v: Int) throws {
            guard (1...Self.maxChannels).contains(v) else { throw fail("\(name) must be in 1...\(Self.maxChannels), got \(v)") }
        }
        guard (1...Self.maxLayers).contains(dilations.count) else {
            throw fail("dilations must list 1...\(Self.maxLayers) layers, got \(dilations.count)")
        }
        if let d = dilations.first(where: { !(1...65536).contains($0) }) { throw fail("dilations must be in 1...65536, got \(d)") }
        guard kernelSize == 2 else { throw fail("kernel_size must be 2, got \(kernelSize)") }
        try channels("residual_channels", residualChannels)
        try channels("gate_channels", gateChannels)
        guard gateChannels % 2 == 0 else { throw fail("gate_channels must be even, got \(gateChannels)") }
        try channels("skip_channels", skipChannels)
        guard classes >= 2, classes <= 65536 else { throw fail("classes must be in 2...65536, got \(classes)") }
        try channels("cond_channels", condChannels)
        guard (0...16).contains(condLayers) else { throw fail("cond_layers must be in 0...16, got \(condLayers)") }
        try channels("speaker_embedding_dim", speakerEmbeddingDim)
        guard !speakers.isEmpty else { throw fail("speakers must not be empty") }
        guard speakers.count <= Self.maxSpeakers else { throw fail("speakers must list at most \(Self.maxSpeakers) names, got \(speakers.count)") }
        guard Set(speakers).count == speakers.count else { throw fail("speakers contains duplicate names") }
        do { try features.validate() } catch { throw fail("features: \(error)") }
        guard featureMean.count == melBins, featureStd.count == melBins else {
            throw fail("feature_mean and feature_std must have n_mels = \(melBins) values, got \(featureMean.count) and \(featureStd.count)")
        }
        guard featureStd.allSatisfy({ $0 > 0 && $0.isFinite }), featureMean.allSatisfy({ $0.isFinite }) else {
            throw fail("feature_std must be positive and finite, feature_mean finite")
        }
        guard preemphasis >= 0, preemphasis < 1 else { throw fail("preemphasis must be in [0, 1), got \(preemphasis)") }
        if pitch {
            do { try pitchConfig.validate(sampleRate: features.sampleRate) } catch { throw fail("\(error)") }
            guard f0Mean.isFinite, f0Std.isFinite, f0Std > 0 else { throw fail("f0_std must be positive and finite, f0_mean finite") }
        }
        guard !source || pitch else { throw fail("source needs pitch (the harmonic source follows the F0 track)") }
        guard (1...64).contains(sourceHarmonics) else { throw fail("source_harmonics must be in 1...64, got \(sourceHarmonics)") }
        guard (1...64).contains(lpcOrder) else { throw fail("lpc_order must be in 1...64, got \(lpcOrder)") }
        guard !pitchLag || (lpc && pitch) else { throw fail("pitch_lag needs lpc and pitch (it reads the excitation one F0 period back)") }
        if let hz = outputHighpassHz {
            guard hz.isFinite, hz >= 1, hz <= 200, Int(hz) < features.sampleRate / 2 else {
                throw fail("output_highpass_hz must be in 1...200 Hz (and below half the sample rate), got \(hz)")
            }
        }
        if let g = pitchPostfilter {
            guard g.isFinite, (0...1).contains(g) else { throw fail("pitch_postfilter must be in 0...1, got \(g)") }
        }
        if let n = melCorrection {
            guard (0...100).contains(n) else { throw fail("mel_correction must be in 0...100 rounds, got \(n)") }
        }
        if let b = melCorrectionMomentum {
            guard b.isFinite, b >= 0, b < 1 else { throw fail("mel_correction_momentum must be in [0, 1), got \(b)") }
        }
        if let db = lpcNoiseFloorDB {
            guard db.isFinite, (-120 ... -10).contains(db) else { throw fail("lpc_noise_floor_db must be in -120...-10 dB, got \(db)") }
        }
        if let statistics = speakerStatistics {
            do { try statistics.validate(melBins: melBins) } catch { throw fail("speaker_statistics: \(error)") }
        }
        // The bounds above keep these totals within 64 bits; these bound what the model would allocate.
        let parameters = WaveNetModel.layout(self).count
        guard parameters <= ModelLimits.maxParameters else {
            throw fail("the model would have \(parameters) parameters, more than the limit of \(ModelLimits.maxParameters)")
        }
        let queues = dilations.reduce(0, +) * residualChannels
        guard queues <= ModelLimits.maxStateFloats else {
            throw fail("the generator's queues would hold sum(dilations) x residual_channels = \(queues) floats, more than the limit of \(ModelLimits.maxStateFloats)")
        }
    }

    /// Index of a speaker. - Throws: `VoiceError.unknownSpeaker` listing the valid names.
    public func speakerIndex(_ name: String) throws -> Int {
        guard let i = speakers.firstIndex(of: name) else { throw VoiceError.unknownSpeaker(name: name, available: speakers) }
        return i
    }
}
