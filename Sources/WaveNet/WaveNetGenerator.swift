// Incremental WaveNet generation with per-layer activation queues (Fast WaveNet, Paine et al. 2016).
import CKernels
import DSP
import NNCore

/// Cached-state generator: one sample per `step`, O(layers) work per sample.
///
/// Each layer `l` keeps a ring buffer (queue) of its last `dilation[l]` inputs, so the dilated
/// convolution's past tap `h_l[t - d]` is read instead of recomputed, and the receptive field is never
/// re-run. Conditioning is projected once per frame in `start` (frame rate) and only interpolated per
/// sample. All buffers are allocated in `init`; `step` allocates nothing.
///
/// A voice with `lpc` predicts the excitation: `step(previous:)` then takes the class of the excitation drawn
/// at the previous step, rebuilds that sample as `s = p + decode(e)`, advances the linear predictor and feeds the
/// network the classes of `s[t-1]`, `p[t]` and `e[t-1]`; `value(ofClass:)` turns the class drawn for this step into
/// the output sample. A voice with `source` also computes the harmonic source of each sample here.
public final class WaveNetGenerator {
    public let model: WaveNetModel
    let maxFrames: Int
    let scratch = Scratch()
    /// The residual stack's queues and step buffers (one row).
    let state: CausalConvState
    let gate, y2: UnsafeMutablePointer<Float>              // [L*G] this sample's conditioning of every layer's gate, [S]
    /// Raw logits of the latest step, `[classes]` (nats, before softmax).
    public let logits: UnsafeMutablePointer<Float>
    var condH, condP: UnsafeMutablePointer<Float>          // [F + 2 reach, condActivationsPerFrame], [F + 2 reach, L*G] (the first F of condP used)
    let spkE, spkP: UnsafeMutablePointer<Float>           // [E], [L*G]
    let speakerIndex: UnsafeMutablePointer<Int32>
    let stream: SampleStream
    public private(set) var frames = 0
    /// Index of the next sample to generate.
    public private(set) var time = 0
    // Streaming (WaveNetStreaming.swift): `condP` holds frames `condFirst ..< condFirst + condHeld`, all of them unless
    // `start` was given a window, in which case `step` slides it along with `streaming`'s frames.
    var condFirst = 0, condHeld = 0
    var streaming: (cond: FrameConditioning, window: Int)?

    /// - Parameter maxFrames: the most conditioning frames `start` will accept.
    public init(model: WaveNetModel, maxFrames: Int) {
        self.model = model
        self.maxFrames = maxFrames
        let c = model.config, G = c.gateChannels, LG = c.layers * G
        let m = scratch
        state = CausalConvState(c.stack, rows: 1)
        gate = m.floats(LG); y2 = m.floats(c.skipChannels)
        logits = m.floats(c.classes)
        let padded = maxFrames + 2 * c.conditioningReach
        condH = m.floats(padded * c.condActivationsPerFrame); condP = m.floats(padded * LG)
        spkE = m.floats(c.speakerEmbeddingDim); spkP = m.floats(LG)
        speakerIndex = .allocate(capacity: 1)
        stream = SampleStream(config: c, maxFrames: maxFrames, scratch: m)
    }

    deinit { speakerIndex.deallocate() }

    /// Resets the queues and projects the conditioning for a new utterance.
    /// - Parameters:
    ///   - mels: normalised conditioning frames `[frames, frame_features]` (the mels, and with `pitch` ln F0 and
    ///     voicing), `frames <= maxFrames`.
    ///   - speaker: row of the speaker embedding.
    public func start(mels: [Float], frames: Int, speaker: Int) {
        let c = model.config
        precondition(frames >= 1 && frames <= maxFrames && mels.count == frames * c.frameFeatures, "bad conditioning shape")
        start(FrameConditioning(config: c, features: mels, frames: frames, lpc: stream.lpc), speaker: speaker)
    }

    /// `start(mels:frames:speaker:)` from an utterance's conditioning, already derived. With a `window`, only that
    /// many frames are projected at a time (`maxFrames >= window + 1`), so an utterance of any length fits.
    public func start(_ cond: FrameConditioning, speaker: Int, window: Int? = nil) {
        let c = model.config, frames = cond.frames
        precondition(frames >= 1 && (window.map { $0 >= 2 && $0 + 1 <= maxFrames } ?? (frames <= maxFrames)), "bad conditioning shape")
        precondition(speaker >= 0 && speaker < c.speakers.count, "speaker index out of range")
        self.frames = frames
        time = 0
        state.reset()
        speakerIndex.pointee = Int32(speaker)
        streaming = window.map { (cond, $0) }
        if let window {
            projectWindow(from: 0, count: min(window, frames))
        } else {
            cond.features.withUnsafeBufferPointer { mp in
                model.utteranceConditioning(mels: mp.baseAddress!, frames: frames, speaker: speakerIndex,
                                            condH: condH, condP: condP, spkE: spkE, spkP: spkP)
            }
            (condFirst, condHeld) = (0, frames)
        }
        stream.start(cond)
    }

    /// Computes the logits of sample `time` given the class drawn at the previous step (the mu-law class of sample
    /// `time - 1`, or with `lpc` of its excitation; the silence class for the first sample), advances `time`, and
    /// returns `logits` (`[classes]`).
    @discardableResult
    public func step(previous input: Int) -> UnsafeMutablePointer<Float> {
        step(previous: input, signalClass: nil)
    }

    /// Teacher forcing for an `lpc` voice: as `step(previous:)`, but sample `time - 1`'s own class is given
    /// (`signalClass`, from the recording) instead of rebuilt from the prediction and the excitation class.
    @discardableResult
    public func step(previous input: Int, signalClass: Int?) -> UnsafeMutablePointer<Float> {
        let c = model.config, LG = c.layers * c.gateChannels
        let (g0, g1, w) = WaveNetModel.framePosition(sample: time, hop: c.features.hopLength, frames: frames)
        if g1 >= condFirst + condHeld, let window = streaming?.window { projectWindow(from: g0, count: min(window, frames - g0)) }
        let f0 = g0 - condFirst, f1 = g1 - condFirst
        model.inputVector(stream.advance(time: time, previous: input, signalClass: signalClass), stream: stream, into: state.input)
        let c0 = condP + f0 * LG, c1 = condP + f1 * LG
        for j in 0..<LG { gate[j] = (1 - w) * c0[j] + w * c1[j] + spkP[j] }
        model.stack.step(state, parameters: model.parameters, rows: state.allRows, count: 1, gate: gate, gateStride: LG)
        model.postNet.step(skip: state.skip, hidden: y2, logits: logits, rows: state.allRows, count: 1, parameters: model.parameters)
        stream.sharpen(logits, time: time)
        time += 1
        return logits
    }

    /// A factor on the sampling temperature in voiced frames (`pitch` voices; 1 = off, the default): `step`'s logits
    /// are scaled by `1 + voicing * (1 / voicedTemperature - 1)` (see `SampleStream.sharpen`). Generation only.
    public var voicedTemperature: Float {
        get { stream.voicedTemperature }
        set { stream.voicedTemperature = newValue }
    }

    /// The output sample (pre-emphasised, in [-1, 1]) of the class drawn from the latest step's logits:
    /// `decode(class)`, or with `lpc` the prediction plus the decoded excitation.
    @inline(__always)
    public func value(ofClass k: Int) -> Float { stream.value(ofClass: k) }
}

/// The mu-law classes the network reads at one sample: the previous sample's, and with `lpc` the prediction's and the
/// previous excitation's, with `pitch_lag` the excitation's one pitch period back (unused where its switch is off).
struct StepClasses {
    let signal, prediction, excitation, lag: Int
}

/// The per-sample inputs of one stream beyond the network: with `lpc` the linear predictor, with `source` the
/// harmonic source, both driven by one utterance's `FrameConditioning` (copied into buffers allocated once).
final class SampleStream {
    let config: WaveNetConfig
    let lpc: MelLPC?
    let harmonic: HarmonicSource
    var predictor: LinearPredictor
    let decode: UnsafeMutablePointer<Float>       // [classes]
    var f0, voicing, coefficients: UnsafeMutablePointer<Float>  // [capacity], [capacity], [capacity, order]
    var lags: UnsafeMutablePointer<Int32>          // [capacity], with pitch_lag
    /// With `pitch_lag`: the drawn excitation classes of the last `lagCapacity` samples, a ring indexed by `t % lagCapacity`.
    let drawn: UnsafeMutablePointer<Int32>
    let lagCapacity: Int
    var phases: UnsafeMutablePointer<Double>       // [capacity]
    let source: UnsafeMutablePointer<Float>        // [source channels] of the current sample
    private(set) var capacity = 0
    var frames = 0
    let silence: Int

    init(config c: WaveNetConfig, maxFrames: Int, scratch: Scratch) {
        config = c
        // The config was validated when the voice was loaded, so its LPC analysis can be built.
        lpc = try! c.makeMelLPC()
        harmonic = c.harmonicSource
        predictor = LinearPredictor(order: c.lpc ? c.lpcOrder : 0)
        decode = scratch.floats(c.classes)
        for k in 0..<c.classes { decode[k] = MuLaw.decode(k, classes: c.classes) }
        f0 = .allocate(capacity: 1); voicing = .allocate(capacity: 1); coefficients = .allocate(capacity: 1)
        phases = .allocate(capacity: 1); lags = .allocate(capacity: 1)
        lagCapacity = c.pitchLagRange.upperBound + 1
        drawn = .allocate(capacity: c.pitchLag ? lagCapacity : 1)
        source = scratch.floats(max(1, c.sourceChannels))
        silence = MuLaw.encode(0, classes: c.classes)
        reserve(frames: maxFrames)
    }

    deinit {
        predictor.deallocate(); f0.deallocate(); voicing.deallocate(); coefficients.deallocate(); phases.deallocate()
        lags.deallocate(); drawn.deallocate()
    }

    /// Makes room for an utterance of `frames` frames (frame rate: allocates only when it grows).
    func reserve(frames n: Int) {
        guard n > capacity else { return }
        f0.deallocate(); voicing.deallocate(); coefficients.deallocate(); phases.deallocate(); lags.deallocate()
        f0 = .allocate(capacity: n); voicing = .allocate(capacity: n); phases = .allocate(capacity: n); lags = .allocate(capacity: n)
        coefficients = .allocate(capacity: n * max(1, config.lpcOrder))
        capacity = n
    }

    func start(_ cond: FrameConditioning) {
        reserve(frames: cond.frames)
        frames = cond.frames
        predictor.reset()
        if config.pitch { voicing.update(from: cond.voicing, count: frames) }
        if config.source {
            f0.update(from: cond.f0, count: frames)
            phases.update(from: cond.phases, count: frames)
        }
        if config.lpc { coefficients.update(from: cond.coefficients, count: frames * config.lpcOrder) }
        if config.pitchLag { lags.update(from: cond.lags, count: frames) }
    }

    /// The classes the network reads at sample `t`: the previous sample's, and with `lpc` the prediction's and the
    /// previous excitation's, with `pitch_lag` the excitation's one pitch period back, from a ring of the classes
    /// `previous` gave (see `WaveNetGenerator.step(previous:signalClass:)`). Also computes the source.
    @inline(__always)
    func advance(time t: Int, previous: Int, signalClass: Int?) -> StepClasses {
        let c = config
        if c.source { harmonic.fill(sample: t, f0: f0, voicing: voicing, phases: phases, frames: frames, out: source) }
        guard c.lpc else { return StepClasses(signal: previous, prediction: 0, excitation: 0, lag: 0) }
        var signal = silence, excitation = silence
        if t > 0 {
            excitation = previous
            signal = signalClass ?? MuLaw.encode(predictor.prediction + decode[previous], classes: c.classes)
            predictor.push(decode[signal])
        }
        let f = MelLPC.frame(ofSample: t, hop: c.features.hopLength, frames: frames)
        let p = predictor.predict(coefficients: coefficients + f * c.lpcOrder)
        var lag = silence
        if c.pitchLag {
            if t > 0 { drawn[(t - 1) % lagCapacity] = Int32(excitation) }
            let back = t - Int(lags[f])
            if back >= 0 { lag = Int(drawn[back % lagCapacity]) }
        }
        return StepClasses(signal: signal, prediction: MuLaw.encode(p, classes: c.classes), excitation: excitation, lag: lag)
    }

    @inline(__always)
    func value(ofClass k: Int) -> Float {
        config.lpc ? min(max(predictor.prediction + decode[k], -1), 1) : decode[k]
    }

    /// Voicing-dependent sampling temperature (LPCNet's pitch-dependent temperature, Valin and Skoglund 2019): a
    /// factor on the sampler's temperature in voiced frames, 1 = off. Generation only; teacher forcing never sets it.
    var voicedTemperature: Float = 1

    /// Multiplies sample `t`'s logits `[classes]` by `1 + v (1 / voicedTemperature - 1)`, `v` the voicing of `t`'s
    /// frame in [0, 1]: so the sampler's temperature `T` becomes `T * voicedTemperature` where `v = 1`, stays `T`
    /// where `v = 0`, and is interpolated in `1 / T` between (LPCNet raises the distribution to `1 + boost`).
    @inline(__always)
    func sharpen(_ logits: UnsafeMutablePointer<Float>, time t: Int) {
        guard voicedTemperature != 1, config.pitch else { return }
        let v = voicing[MelLPC.frame(ofSample: t, hop: config.features.hopLength, frames: frames)]
        let scale = 1 + v * (1 / voicedTemperature - 1)
        if scale != 1 { for k in 0..<config.classes { logits[k] *= scale } }
    }
}

extension WaveNetModel {
    /// The residual stream's input for one sample into `h` `[R]`, as `inputForward` computes it for a batch.
    @inline(__always)
    func inputVector(_ classes: StepClasses, stream: SampleStream, into h: UnsafeMutablePointer<Float>) {
        let c = config, W = parameters.values, R = c.residualChannels, o = input
        h.update(from: W + o.embedding + classes.signal * R, count: R)
        if c.lpc {
            let a = W + o.predictionEmbedding + classes.prediction * R, b = W + o.excitationEmbedding + classes.excitation * R
            for i in 0..<R { h[i] += a[i] + b[i] }
        }
        if c.pitchLag {
            let a = W + o.lagEmbedding + classes.lag * R
            for i in 0..<R { h[i] += a[i] }
        }
        if c.source { synth_vecmat_acc(stream.source, W + o.source, c.sourceChannels, R, h) }
    }
}
