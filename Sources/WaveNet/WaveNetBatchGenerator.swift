// Lockstep Fast WaveNet generation for B independent streams (batched queues, row-batched matrix kernels).
import CKernels
import DSP
import NNCore

/// Cached-state generator for up to `slots` (B) utterances at once, each in its own slot.
///
/// Every `step` advances all active slots by one sample. The per-layer queues are laid out
/// `[dilation, B, R]` with one shared read/write position per layer, so the past taps of all slots are
/// contiguous rows and each weight matrix is streamed once per step for all slots
/// (`synth_vecmat_rows_acc`) instead of once per slot.
///
/// Slots are independent: `start(slot:...)` zeroes that slot's queue rows and projects its conditioning
/// (frame rate, once per utterance, exactly as `WaveNetGenerator.start`), `stop(slot:)` takes it out of
/// the step. A slot can be restarted with the next utterance while the others keep going (continuous
/// batching). The arithmetic for each slot is the same, operation for operation, as `WaveNetGenerator`'s,
/// so a slot's logits are bitwise equal to generating that utterance alone.
///
/// Buffers are allocated in `init` (and per-slot conditioning grows in `start` when a longer utterance
/// arrives); `step` allocates nothing.
public final class WaveNetBatchGenerator {
    public let model: WaveNetModel
    /// Number of slots (B).
    public let slots: Int
    let scratch = Scratch()
    /// The residual stack's queues (`[dilation, B, R]` per layer) and step buffers, one row per slot.
    let state: CausalConvState
    let gate, y2: UnsafeMutablePointer<Float>     // [B, L*G] each slot's conditioning of every layer's gate, [B, S]
    /// Raw logits of the latest step, `[B, classes]` (nats, before softmax); rows of inactive slots are stale.
    public let logits: UnsafeMutablePointer<Float>
    var condH: [UnsafeMutablePointer<Float>]     // slot b: [F_b + 2 reach, condActivationsPerFrame]
    var condP: [UnsafeMutablePointer<Float>]     // slot b: [F_b + 2 reach, L*G] per-frame projections (the first F_b used)
    var capacity: [Int]                          // frames (with padding) allocated in condH/condP of each slot
    let spkE, spkP: UnsafeMutablePointer<Float>  // [B, E], [B, L*G]
    let speakerIndex: UnsafeMutablePointer<Int32>
    let streams: [SampleStream]                  // slot b: its linear predictor and harmonic source
    let rows: UnsafeMutablePointer<Int32>        // active slot indices, ascending
    /// Conditioning frames of each slot's utterance.
    public private(set) var frames: [Int]
    /// Index of the next sample each slot generates.
    public private(set) var time: [Int]
    /// Whether each slot takes part in `step`.
    public private(set) var active: [Bool]
    public private(set) var activeCount = 0

    public init(model: WaveNetModel, slots: Int) {
        precondition(slots >= 1, "a batch generator needs at least one slot")
        self.model = model
        self.slots = slots
        let c = model.config, B = slots, LG = c.layers * c.gateChannels
        let m = scratch
        state = CausalConvState(c.stack, rows: B)
        gate = m.floats(B * LG); y2 = m.floats(B * c.skipChannels)
        logits = m.floats(B * c.classes)
        condH = []; condP = []
        capacity = [Int](repeating: 0, count: B)
        spkE = m.floats(B * c.speakerEmbeddingDim); spkP = m.floats(B * LG)
        speakerIndex = .allocate(capacity: 1)
        rows = .allocate(capacity: B)
        frames = [Int](repeating: 0, count: B)
        time = [Int](repeating: 0, count: B)
        active = [Bool](repeating: false, count: B)
        for _ in 0..<B { condH.append(m.floats(1)); condP.append(m.floats(1)) }
        streams = (0..<B).map { _ in SampleStream(config: c, maxFrames: 1, scratch: m) }
    }

    deinit {
        speakerIndex.deallocate(); rows.deallocate()
    }

    /// Starts a new utterance in `slot` (which may be active: its old utterance is dropped).
    /// - Parameters:
    ///   - mels: normalised conditioning frames `[frames, frame_features]`.
    ///   - speaker: row of the speaker embedding.
    public func start(slot b: Int, mels: [Float], frames F: Int, speaker: Int) {
        let c = model.config, LG = c.layers * c.gateChannels
        precondition(b >= 0 && b < slots, "slot \(b) out of range 0..<\(slots)")
        precondition(F >= 1 && mels.count == F * c.frameFeatures, "bad conditioning shape")
        precondition(speaker >= 0 && speaker < c.speakers.count, "speaker index out of range")
        let padded = F + 2 * c.conditioningReach
        if capacity[b] < padded {
            condH[b] = scratch.floats(padded * c.condActivationsPerFrame)
            condP[b] = scratch.floats(padded * LG)
            capacity[b] = padded
        }
        state.reset(row: b)
        speakerIndex.pointee = Int32(speaker)
        mels.withUnsafeBufferPointer { mp in
            model.utteranceConditioning(mels: mp.baseAddress!, frames: F, speaker: speakerIndex,
                                        condH: condH[b], condP: condP[b],
                                        spkE: spkE + b * c.speakerEmbeddingDim, spkP: spkP + b * LG)
        }
        streams[b].start(FrameConditioning(config: c, features: mels, frames: F, lpc: streams[b].lpc))
        frames[b] = F
        time[b] = 0
        if !active[b] { active[b] = true; activeCount += 1 }
    }

    /// Takes `slot` out of the step (its utterance is finished or abandoned).
    public func stop(slot b: Int) {
        if active[b] { active[b] = false; activeCount -= 1 }
    }

    /// Computes the logits of the next sample of every active slot, given the class drawn for each slot's
    /// previous sample (`previous[b]`: its mu-law class, or with `lpc` its excitation's, as
    /// `WaveNetGenerator.step(previous:)`; the silence class for a slot's first sample; entries of inactive slots
    /// are ignored), and advances their `time`. Returns `logits` (`[B, classes]`).
    @discardableResult
    public func step(previous: UnsafePointer<Int32>) -> UnsafeMutablePointer<Float> {
        let c = model.config, R = c.residualChannels, LG = c.layers * c.gateChannels, hop = c.features.hopLength
        var n = 0
        for b in 0..<slots where active[b] {
            rows[n] = Int32(b); n += 1
            let (f0, f1, w) = WaveNetModel.framePosition(sample: time[b], hop: hop, frames: frames[b])
            let classes = streams[b].advance(time: time[b], previous: Int(previous[b]), signalClass: nil)
            model.inputVector(classes, stream: streams[b], into: state.input + b * R)
            let c0 = condP[b] + f0 * LG, c1 = condP[b] + f1 * LG, sp = spkP + b * LG, g = gate + b * LG
            for j in 0..<LG { g[j] = (1 - w) * c0[j] + w * c1[j] + sp[j] }
        }
        guard n > 0 else { return logits }
        model.stack.step(state, parameters: model.parameters, rows: rows, count: n, gate: gate, gateStride: LG)
        model.postNet.step(skip: state.skip, hidden: y2, logits: logits, rows: rows, count: n, parameters: model.parameters)
        for r in 0..<n {
            let b = Int(rows[r])
            streams[b].sharpen(logits + b * c.classes, time: time[b])
            time[b] += 1
        }
        return logits
    }

    /// `WaveNetGenerator.voicedTemperature` for every slot (1 = off, the default).
    public var voicedTemperature: Float {
        get { streams[0].voicedTemperature }
        set { for s in streams { s.voicedTemperature = newValue } }
    }

    /// The output sample of the class drawn for `slot` from the latest step (see `WaveNetGenerator.value(ofClass:)`).
    @inline(__always)
    public func value(ofClass k: Int, slot b: Int) -> Float { streams[b].value(ofClass: k) }
}
