// Incremental WaveNet generation with per-layer activation queues (Fast WaveNet, Paine et al. 2016).
import CKernels
import NNCore

/// Cached-state generator: one sample per `step`, O(layers) work per sample.
///
/// Each layer `l` keeps a ring buffer (queue) of its last `dilation[l]` inputs, so the dilated
/// convolution's past tap `h_l[t - d]` is read instead of recomputed, and the receptive field is never
/// re-run. Conditioning is projected once per frame in `start` (frame rate) and only interpolated per
/// sample. All buffers are allocated in `init`; `step` allocates nothing.
public final class WaveNetGenerator {
    public let model: WaveNetModel
    let maxFrames: Int
    let scratch = Scratch()
    let queues: [UnsafeMutablePointer<Float>]   // layer l: [dilation_l, R]
    var queuePos: [Int]
    let h, z, a, o, skip, y2: UnsafeMutablePointer<Float>
    /// Raw logits of the latest step, `[classes]` (nats, before softmax).
    public let logits: UnsafeMutablePointer<Float>
    var condH, condP: UnsafeMutablePointer<Float>          // [F + 2 reach, condActivationsPerFrame], [F + 2 reach, L*G] (the first F of condP used)
    let spkE, spkP: UnsafeMutablePointer<Float>           // [E], [L*G]
    let speakerIndex: UnsafeMutablePointer<Int32>
    public private(set) var frames = 0
    /// Index of the next sample to generate.
    public private(set) var time = 0

    /// - Parameter maxFrames: the most conditioning frames `start` will accept.
    public init(model: WaveNetModel, maxFrames: Int) {
        self.model = model
        self.maxFrames = maxFrames
        let c = model.config, R = c.residualChannels, G = c.gateChannels, S = c.skipChannels
        let m = scratch
        queues = c.dilations.map { m.floats($0 * R) }
        queuePos = [Int](repeating: 0, count: c.layers)
        h = m.floats(R); z = m.floats(G); a = m.floats(G / 2); o = m.floats(R + S); skip = m.floats(S); y2 = m.floats(S)
        logits = m.floats(c.classes)
        let padded = maxFrames + 2 * c.conditioningReach
        condH = m.floats(padded * c.condActivationsPerFrame); condP = m.floats(padded * c.layers * G)
        spkE = m.floats(c.speakerEmbeddingDim); spkP = m.floats(c.layers * G)
        speakerIndex = .allocate(capacity: 1)
    }

    deinit { speakerIndex.deallocate() }

    /// Resets the queues and projects the conditioning for a new utterance.
    /// - Parameters:
    ///   - mels: normalised log-mel frames `[frames, mel_bins]`, `frames <= maxFrames`.
    ///   - speaker: row of the speaker embedding.
    public func start(mels: [Float], frames: Int, speaker: Int) {
        let c = model.config
        precondition(frames >= 1 && frames <= maxFrames && mels.count == frames * c.melBins, "bad conditioning shape")
        precondition(speaker >= 0 && speaker < c.speakers.count, "speaker index out of range")
        self.frames = frames
        time = 0
        for (l, q) in queues.enumerated() { q.update(repeating: 0, count: c.dilations[l] * c.residualChannels) }
        for l in 0..<queuePos.count { queuePos[l] = 0 }
        speakerIndex.pointee = Int32(speaker)
        mels.withUnsafeBufferPointer { mp in
            model.utteranceConditioning(mels: mp.baseAddress!, frames: frames, speaker: speakerIndex,
                                        condH: condH, condP: condP, spkE: spkE, spkP: spkP)
        }
    }

    /// Computes the logits of sample `time` given the mu-law class of sample `time - 1` (the silence
    /// class for the first sample), advances `time`, and returns `logits` (`[classes]`).
    @discardableResult
    public func step(previous input: Int) -> UnsafeMutablePointer<Float> {
        let c = model.config, W = model.params.values
        let R = c.residualChannels, G = c.gateChannels, H = G / 2, S = c.skipChannels, LG = c.layers * G
        let (f0, f1, w) = WaveNetModel.framePosition(sample: time, hop: c.features.hopLength, frames: frames)
        let head = model.headOffsets
        h.update(from: W + head.embedding + input * R, count: R)
        skip.update(repeating: 0, count: S)
        let offs = model.layerOffsets
        for l in 0..<c.layers {
            let off = offs[l], d = c.dilations[l]
            let c0 = condP + f0 * LG + l * G, c1 = condP + f1 * LG + l * G, sp = spkP + l * G, bias = W + off.convBias
            for j in 0..<G { z[j] = (1 - w) * c0[j] + w * c1[j] + sp[j] + bias[j] }
            let q = queues[l] + queuePos[l] * R
            synth_vecmat_acc(q, W + off.conv, R, G, z)          // tap t - d
            synth_vecmat_acc(h, W + off.conv + R * G, R, G, z)  // tap t
            synth_gate_forward(z, 1, H, nil, nil, a)
            synth_vecmat(a, W + off.out, W + off.outBias, H, R + S, o)
            q.update(from: h, count: R)
            queuePos[l] = queuePos[l] + 1 == d ? 0 : queuePos[l] + 1
            for i in 0..<R { h[i] += o[i] }
            for i in 0..<S { skip[i] += o[R + i] }
        }
        synth_relu(skip, S, skip)
        synth_vecmat(skip, W + head.post1W, W + head.post1B, S, S, y2)
        synth_relu(y2, S, y2)
        synth_vecmat(y2, W + head.post2W, W + head.post2B, S, c.classes, logits)
        time += 1
        return logits
    }
}
