// WaveNet parameters and the teacher-forced forward and backward pass over a batch of segments.
import NNCore

/// Names and shapes of a WaveNet's tensors, all in one `ParameterSet` (names are the safetensors keys).
///
/// | name | shape |
/// |---|---|
/// | `input_embedding` | `[classes, R]` (embedding of the previous sample's mu-law class) |
/// | `lpc.prediction_embedding`, `lpc.excitation_embedding` | `[classes, R]` each, with `lpc` only (classes of `p[t]` and `e[t-1]`) |
/// | `lpc.lag_embedding` | `[classes, R]`, with `pitch_lag` only (class of `e[t - P]`, one pitch period back) |
/// | `source.proj.weight` | `[2 * source_harmonics + 1, R]`, with `source` only (the harmonic source into the residual input) |
/// | `cond.conv.weight`, `cond.conv.bias` | `[3, frame_features, C]`, `[C]` (frame-rate conv, kernel 3, then ReLU; `frame_features` = mel bins, + 2 with `pitch`) |
/// | `cond.blocks.{k}.conv.weight`, `.conv.bias` | `[3, C, C]`, `[C]` (residual block k < cond_layers: kernel-3 conv, ReLU) |
/// | `cond.blocks.{k}.out.weight`, `.out.bias` | `[C, C]`, `[C]` (the block's 1x1 read-out, added to its input) |
/// | `cond.proj.weight` | `[C, layers*G]` (every layer's conditioning projection, once per frame) |
/// | `speaker_embedding` | `[speakers, E]` |
/// | `speaker.proj.weight` | `[E, layers*G]` |
/// | `layers.{l}.conv.weight`, `.conv.bias` | `[2, R, G]` (taps t-d and t), `[G]` |
/// | `layers.{l}.out.weight`, `.out.bias` | `[G/2, R+S]` (residual columns, then skip columns), `[R+S]` |
/// | `post.conv1.weight`, `.bias` | `[S, S]`, `[S]` |
/// | `post.conv2.weight`, `.bias` | `[S, classes]`, `[classes]` |
public final class WaveNetModel {
    public let config: WaveNetConfig
    public let parameters: ParameterSet
    /// The residual stack (`layers.*`) and the post-net (`post.*`), shared with every model built on them.
    public let stack: CausalConvStack
    public let postNet: PostNet
    /// Offsets of the input embeddings and the source projection (-1 where the switch is off), resolved once.
    struct InputOffsets { let embedding, predictionEmbedding, excitationEmbedding, lagEmbedding, source: Int }
    /// Offsets of the frame-rate conditioning network and the speaker conditioning, resolved once.
    struct ConditioningOffsets {
        struct Block { let conv, convBias, out, outBias: Int }
        let conv, convBias: Int
        let blocks: [Block]
        let proj, speakerEmbedding, speakerProj: Int
    }
    let input: InputOffsets
    let cond: ConditioningOffsets

    /// A model of `config` with zero weights. - Precondition: `config.validate()` passes (its bounds keep every
    /// size here within `Int` and memory).
    public init(config: WaveNetConfig) {
        self.config = config
        let layout = Self.layout(config)
        parameters = ParameterSet(layout: layout)
        stack = CausalConvStack(config.stack, layout: layout)
        postNet = PostNet(skip: config.skipChannels, classes: config.classes, layout: layout)
        func at(_ name: String) -> Int { layout.entry(name)?.offset ?? -1 }
        input = InputOffsets(embedding: at("input_embedding"), predictionEmbedding: at("lpc.prediction_embedding"),
                             excitationEmbedding: at("lpc.excitation_embedding"), lagEmbedding: at("lpc.lag_embedding"),
                             source: at("source.proj.weight"))
        cond = ConditioningOffsets(
            conv: at("cond.conv.weight"), convBias: at("cond.conv.bias"),
            blocks: (0..<config.condLayers).map { k in
                ConditioningOffsets.Block(conv: at("cond.blocks.\(k).conv.weight"), convBias: at("cond.blocks.\(k).conv.bias"),
                                          out: at("cond.blocks.\(k).out.weight"), outBias: at("cond.blocks.\(k).out.bias"))
            },
            proj: at("cond.proj.weight"), speakerEmbedding: at("speaker_embedding"), speakerProj: at("speaker.proj.weight"))
    }

    /// The tensors of a model of `config` (the table above), without allocating them: what loading checks a
    /// weights file against before anything is allocated.
    public static func layout(_ config: WaveNetConfig) -> ParameterLayout {
        var p = ParameterLayout()
        let c = config, R = c.residualChannels, G = c.gateChannels, L = c.layers
        p.add("input_embedding", shape: [c.classes, R])
        if c.lpc {
            p.add("lpc.prediction_embedding", shape: [c.classes, R])
            p.add("lpc.excitation_embedding", shape: [c.classes, R])
        }
        if c.pitchLag { p.add("lpc.lag_embedding", shape: [c.classes, R]) }
        if c.source { p.add("source.proj.weight", shape: [c.sourceChannels, R]) }
        p.add("cond.conv.weight", shape: [3, c.frameFeatures, c.condChannels])
        p.add("cond.conv.bias", shape: [c.condChannels])
        for k in 0..<c.condLayers {
            p.add("cond.blocks.\(k).conv.weight", shape: [3, c.condChannels, c.condChannels])
            p.add("cond.blocks.\(k).conv.bias", shape: [c.condChannels])
            p.add("cond.blocks.\(k).out.weight", shape: [c.condChannels, c.condChannels])
            p.add("cond.blocks.\(k).out.bias", shape: [c.condChannels])
        }
        p.add("cond.proj.weight", shape: [c.condChannels, L * G])
        p.add("speaker_embedding", shape: [c.speakers.count, c.speakerEmbeddingDim])
        p.add("speaker.proj.weight", shape: [c.speakerEmbeddingDim, L * G])
        CausalConvStack.addParameters(c.stack, to: &p)
        PostNet.addParameters(skip: c.skipChannels, classes: c.classes, to: &p)
        return p
    }

    /// Random initialisation: N(0, 1/fan_in) style scaling, zero biases, small output layers.
    public func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        let c = config
        func he(_ fanIn: Int) -> Float { (1 / Float(fanIn)).squareRoot() }
        parameters.initNormal("input_embedding", std: 1, rng: &rng)
        if c.lpc {
            parameters.initNormal("lpc.prediction_embedding", std: 1, rng: &rng)
            parameters.initNormal("lpc.excitation_embedding", std: 1, rng: &rng)
        }
        if c.pitchLag { parameters.initNormal("lpc.lag_embedding", std: 1, rng: &rng) }
        if c.source { parameters.initNormal("source.proj.weight", std: he(c.sourceChannels), rng: &rng) }
        parameters.initNormal("cond.conv.weight", std: he(3 * c.frameFeatures), rng: &rng)
        for k in 0..<c.condLayers {
            parameters.initNormal("cond.blocks.\(k).conv.weight", std: he(3 * c.condChannels), rng: &rng)
            parameters.initNormal("cond.blocks.\(k).out.weight", std: 0.5 * he(c.condChannels), rng: &rng)
        }
        parameters.initNormal("cond.proj.weight", std: he(c.condChannels), rng: &rng)
        parameters.initNormal("speaker_embedding", std: 1, rng: &rng)
        parameters.initNormal("speaker.proj.weight", std: 0.1 * he(c.speakerEmbeddingDim), rng: &rng)
        stack.initialize(parameters, rng: &rng)
        postNet.initialize(parameters, rng: &rng)
    }

    /// A copy of `base` for fine-tuning that knows `newSpeakers` as well as the base's speakers.
    ///
    /// The speaker list becomes the base's speakers (same indices) followed by the names of `newSpeakers` that
    /// the base does not know, in the order given. Every tensor is copied; the `speaker_embedding` rows of the
    /// new speakers start at the mean of the base's rows, so a new speaker begins as the "average" voice.
    public static func extending(_ base: WaveNetModel, speakers newSpeakers: [String]) -> WaveNetModel {
        var config = base.config
        var seen = Set(config.speakers)
        for s in newSpeakers where seen.insert(s).inserted { config.speakers.append(s) }
        let model = WaveNetModel(config: config)
        for e in base.parameters.entries where e.name != "speaker_embedding" {
            model.parameters.value(e.name).update(from: base.parameters.values + e.offset, count: e.count)
        }
        let E = config.speakerEmbeddingDim, old = base.config.speakers.count
        let src = base.parameters.value("speaker_embedding"), dst = model.parameters.value("speaker_embedding")
        dst.update(from: src, count: old * E)
        for k in 0..<E {
            var mean: Float = 0
            for s in 0..<old { mean += src[s * E + k] }
            mean /= Float(old)
            for s in old..<config.speakers.count { dst[s * E + k] = mean }
        }
        return model
    }

    /// A copy with the same tensors under another config whose shapes are the same (e.g. new normalisation
    /// statistics). - Precondition: `config` gives every tensor the shape it has here.
    public func reconfigured(_ config: WaveNetConfig) -> WaveNetModel {
        let model = WaveNetModel(config: config)
        precondition(model.parameters.entries.map(\.shape) == parameters.entries.map(\.shape), "reconfigured: the tensor shapes differ")
        model.parameters.values.update(from: parameters.values, count: parameters.count)
        return model
    }
}

/// One teacher-forcing batch, time-major: row `t * batch + b` is time step `t` of segment `b`.
public struct WaveNetBatch {
    public var time: Int
    public var batch: Int
    /// mu-law class of the *previous* sample at each step, `[time, batch]`.
    public var inputs: [Int32]
    /// mu-law class to predict at each step, `[time, batch]` (the excitation's with `lpc`); negative entries are
    /// not scored.
    public var targets: [Int32]
    /// With `lpc`: mu-law class of the prediction `p[t]` and of the previous excitation `e[t-1]`, `[time, batch]`
    /// each; empty otherwise.
    public var predictions: [Int32] = []
    public var excitations: [Int32] = []
    /// With `pitch_lag`: mu-law class of the excitation one pitch period back, `e[t - P]` (the silence class before
    /// the utterance's start), `[time, batch]`; empty otherwise.
    public var lags: [Int32] = []
    /// With `source`: the harmonic source, `[time, batch, source channels]`; empty otherwise.
    public var source: [Float] = []
    /// Normalised conditioning frames, `[frames, batch, frame_features]` (the mels, then with `pitch` ln F0 and
    /// voicing). Sample `t` of a segment sits at frame
    /// position `framePad + t / hop_length` (frame `f` is centred on sample `f * hop_length`, as librosa's
    /// `center=True`), so `frames >= time / hop_length + 1 + 2 * framePad`.
    public var mels: [Float]
    public var frames: Int
    /// Frames of context before the segment's first frame and after its last: the conditioning network
    /// reads them (so a segment's edge frames see the neighbours they have in the whole utterance, as in
    /// generation) but no sample sits at them. 0 = none.
    public var framePad: Int
    /// Speaker index of each segment, `[batch]`.
    public var speakers: [Int32]

    public init(time: Int, batch: Int, inputs: [Int32], targets: [Int32], mels: [Float], frames: Int, speakers: [Int32],
                framePad: Int = 0) {
        self.time = time
        self.batch = batch
        self.inputs = inputs
        self.targets = targets
        self.mels = mels
        self.frames = frames
        self.speakers = speakers
        self.framePad = framePad
    }
}

/// Scratch space and saved activations for one forward/backward over batches of a fixed size.
/// Allocated once per (time, batch, frames) and reused across steps.
public final class WaveNetWorkspace {
    public let time, batch, frames: Int
    let scratch = Scratch()
    /// The residual stack's activations: the input embeddings go into `stack.h`, the post-net reads `stack.skip`.
    let stack: CausalConvWorkspace
    let y2: UnsafeMutablePointer<Float>       // [N, S] post-net hidden (after ReLU)
    /// Logits `[time, batch, classes]` after `run(_:workspace:backward: false)`; overwritten by their gradient otherwise.
    public let logits: UnsafeMutablePointer<Float>
    let condH: UnsafeMutablePointer<Float>    // [F, B, condActivationsPerFrame] conditioning activations (see conditioningForward)
    let condP: UnsafeMutablePointer<Float>    // [F, B, L*G] per-frame projections of every layer
    let spkE, spkP: UnsafeMutablePointer<Float> // [B, E], [B, L*G]
    let condUp: UnsafeMutablePointer<Float>   // [N, L*G] per-sample conditioning (interpolated frames + speaker)
    let dY: UnsafeMutablePointer<Float>
    let dCondUp, dCondP, dCondH, dSpkP, dSpkE: UnsafeMutablePointer<Float>
    let targets, inputs, speakers: UnsafeMutablePointer<Int32>
    let predictions, excitations: UnsafeMutablePointer<Int32>  // [N] each, with lpc
    let lags: UnsafeMutablePointer<Int32>                     // [N], with pitch_lag
    let source: UnsafeMutablePointer<Float>                   // [N, source channels], with source

    public init(config c: WaveNetConfig, time: Int, batch: Int, frames: Int) {
        self.time = time
        self.batch = batch
        self.frames = frames
        let N = time * batch, S = c.skipChannels, LG = c.layers * c.gateChannels, FB = frames * batch
        let m = scratch
        stack = CausalConvWorkspace(c.stack, time: time, batch: batch)
        y2 = m.floats(N * S); logits = m.floats(N * c.classes)
        condH = m.floats(FB * c.condActivationsPerFrame); condP = m.floats(FB * LG)
        spkE = m.floats(batch * c.speakerEmbeddingDim); spkP = m.floats(batch * LG)
        condUp = m.floats(N * LG)
        dY = m.floats(N * S)
        dCondUp = m.floats(N * LG); dCondP = m.floats(FB * LG); dCondH = m.floats(2 * FB * c.condChannels)
        dSpkP = m.floats(batch * LG); dSpkE = m.floats(batch * c.speakerEmbeddingDim)
        targets = .allocate(capacity: N); inputs = .allocate(capacity: N); speakers = .allocate(capacity: batch)
        predictions = .allocate(capacity: c.lpc ? N : 1); excitations = .allocate(capacity: c.lpc ? N : 1)
        lags = .allocate(capacity: c.pitchLag ? N : 1)
        source = m.floats(max(1, N * c.sourceChannels))
    }

    deinit {
        targets.deallocate(); inputs.deallocate(); speakers.deallocate(); predictions.deallocate(); excitations.deallocate()
        lags.deallocate()
    }

    /// Bytes held by the workspace.
    public var bytes: Int { (scratch.totalFloats + stack.floats) * 4 }
}
