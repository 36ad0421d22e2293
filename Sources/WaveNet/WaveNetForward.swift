// Teacher-forced forward pass and its explicit backward for WaveNet (whole batch, time-major).
import NNCore

extension WaveNetModel {
    /// Position of sample `t` between conditioning frames: frame `f` and weight `w` of frame `f + 1`
    /// (linear interpolation; frame `f` is centred on sample `f * hop`). Shared by training and generation
    /// so both compute identical conditioning.
    @inline(__always)
    static func framePosition(sample t: Int, hop: Int, frames: Int) -> (f0: Int, f1: Int, w: Float) {
        let f = min(t / hop, frames - 1)
        return (f, min(f + 1, frames - 1), Float(t - f * hop) / Float(hop))
    }

    /// Frame-rate conditioning, shared with generation. With `X = F * batch * C` floats per stage, `condH` holds
    /// (time-major, `[frames, batch, C]` each) `h_0 = ReLU(conv3(mels))`, then for each residual block k
    /// `u_k = ReLU(conv3_k(h_k))` and `h_(k+1) = h_k + u_k · W_k + b_k`, at offsets `(2k + 1) X` and `(2k + 2) X`;
    /// `condP = h_K · cond.proj` (K = cond_layers) and `spkP = speaker_embedding[spk] · speaker.proj`.
    /// `condH` must hold `frames * batch * condActivationsPerFrame` floats.
    func conditioningForward(
        mels: UnsafePointer<Float>, frames: Int, batch: Int, speakers: UnsafePointer<Int32>,
        condH: UnsafeMutablePointer<Float>, condP: UnsafeMutablePointer<Float>,
        spkE: UnsafeMutablePointer<Float>, spkP: UnsafeMutablePointer<Float>
    ) {
        let c = config, W = parameters.values, o = cond, LG = c.layers * c.gateChannels, C = c.condChannels
        Layers.conv1dForward(x: mels, time: frames, batch: batch, inC: c.frameFeatures, weight: W + o.conv,
                             offsets: [-1, 0, 1], bias: W + o.convBias, outC: C, y: condH)
        let X = frames * batch * C
        Layers.reluForward(x: condH, count: X, y: condH)
        for (k, blk) in o.blocks.enumerated() {
            let hk = condH + 2 * k * X, uk = hk + X, next = uk + X
            Layers.conv1dForward(x: hk, time: frames, batch: batch, inC: C, weight: W + blk.conv,
                                 offsets: [-1, 0, 1], bias: W + blk.convBias, outC: C, y: uk)
            Layers.reluForward(x: uk, count: X, y: uk)
            next.update(from: hk, count: X)
            Layers.denseForward(x: uk, rows: frames * batch, inDim: C, weight: W + blk.out, bias: W + blk.outBias, outDim: C,
                                y: next, accumulate: true)
        }
        Layers.denseForward(x: condH + 2 * c.condLayers * X, rows: frames * batch, inDim: C, weight: W + o.proj,
                            bias: nil, outDim: LG, y: condP)
        Layers.embeddingForward(table: W + o.speakerEmbedding, dim: c.speakerEmbeddingDim, indices: speakers, rows: batch, out: spkE)
        Layers.denseForward(x: spkE, rows: batch, inDim: c.speakerEmbeddingDim, weight: W + o.speakerProj,
                            bias: nil, outDim: LG, y: spkP)
    }

    /// Conditioning of one whole utterance for generation, computed as training computes it for a segment
    /// (`WaveNetBatch.framePad`): the frames `[frames, frame_features]` with `conditioningReach` zero frames on each side
    /// go through `conditioningForward`; `condP` then holds the utterance's own frames, `[frames, L*G]`, from
    /// its start. `condH` and `condP` must hold `frames + 2 * conditioningReach` frames. Not per sample: it
    /// allocates the padded copy of the mels.
    func utteranceConditioning(
        mels: UnsafePointer<Float>, frames: Int, speaker: UnsafePointer<Int32>,
        condH: UnsafeMutablePointer<Float>, condP: UnsafeMutablePointer<Float>,
        spkE: UnsafeMutablePointer<Float>, spkP: UnsafeMutablePointer<Float>
    ) {
        let c = config, P = c.conditioningReach, M = c.frameFeatures, LG = c.layers * c.gateChannels
        var padded = [Float](repeating: 0, count: (frames + 2 * P) * M)
        padded.withUnsafeMutableBufferPointer { p in
            (p.baseAddress! + P * M).update(from: mels, count: frames * M)
            conditioningForward(mels: p.baseAddress!, frames: frames + 2 * P, batch: 1, speakers: speaker,
                                condH: condH, condP: condP, spkE: spkE, spkP: spkP)
        }
        // Drop the padding frames: move frames P..<P+frames to the front (forward copy; the target is lower).
        let src = condP + P * LG
        for i in 0..<(frames * LG) { condP[i] = src[i] }
    }

    /// The residual stream's input `h_0 [N, R]` (into `ws.stack.h`): the embedding of the previous sample's class, plus
    /// with `lpc` the embeddings of the prediction's and the previous excitation's classes (with `pitch_lag` also of the
    /// excitation one pitch period back), plus with `source` the
    /// projected harmonic source.
    func inputForward(workspace ws: WaveNetWorkspace, rows N: Int) {
        let c = config, W = parameters.values, o = input, R = c.residualChannels, h = ws.stack.h
        Layers.embeddingForward(table: W + o.embedding, dim: R, indices: ws.inputs, rows: N, out: h)
        if c.lpc {
            let ep = W + o.predictionEmbedding, ee = W + o.excitationEmbedding
            for r in 0..<N {
                let dst = h + r * R, a = ep + Int(ws.predictions[r]) * R, b = ee + Int(ws.excitations[r]) * R
                for i in 0..<R { dst[i] += a[i] + b[i] }
            }
        }
        if c.pitchLag {
            let el = W + o.lagEmbedding
            for r in 0..<N {
                let dst = h + r * R, a = el + Int(ws.lags[r]) * R
                for i in 0..<R { dst[i] += a[i] }
            }
        }
        if c.source {
            Layers.denseForward(x: ws.source, rows: N, inDim: c.sourceChannels, weight: W + o.source,
                                bias: nil, outDim: R, y: h, accumulate: true)
        }
    }

    /// Backward of `inputForward`, given `ws.stack.dh` = d loss / d h_0.
    func inputBackward(workspace ws: WaveNetWorkspace, rows N: Int) {
        let c = config, W = parameters.values, G = parameters.grads, o = input, R = c.residualChannels, dh = ws.stack.dh
        Layers.embeddingBackward(dOut: dh, indices: ws.inputs, rows: N, dim: R, dTable: G + o.embedding)
        if c.lpc {
            Layers.embeddingBackward(dOut: dh, indices: ws.predictions, rows: N, dim: R, dTable: G + o.predictionEmbedding)
            Layers.embeddingBackward(dOut: dh, indices: ws.excitations, rows: N, dim: R, dTable: G + o.excitationEmbedding)
        }
        if c.pitchLag { Layers.embeddingBackward(dOut: dh, indices: ws.lags, rows: N, dim: R, dTable: G + o.lagEmbedding) }
        if c.source {
            Layers.denseBackward(x: ws.source, rows: N, inDim: c.sourceChannels, weight: W + o.source, outDim: R,
                                 dy: dh, dx: nil, dWeight: G + o.source, dBias: nil)
        }
    }

    /// Runs the teacher-forced forward pass; with `backward`, also accumulates every parameter's gradient
    /// of the mean cross-entropy into `parameters.grads` (it does not zero them first).
    ///
    /// - Returns: summed cross-entropy in nats and the number of scored steps. The logits `[time, batch, classes]`
    ///   are left in `ws.logits` when `backward` is false.
    @discardableResult
    public func run(_ b: WaveNetBatch, workspace ws: WaveNetWorkspace, backward: Bool) -> (loss: Double, count: Int) {
        let count = load(b, into: ws)
        b.mels.withUnsafeBufferPointer { forward(ws, mels: $0.baseAddress!, framePad: b.framePad) }
        let N = ws.time * ws.batch, V = config.classes
        guard backward else {
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: N * V)
            defer { tmp.deallocate() }
            let loss = Layers.softmaxCrossEntropy(logits: ws.logits, targets: ws.targets, rows: N, vocab: V, scale: 0, dLogits: tmp)
            return (loss, count)
        }
        let scale: Float = count > 0 ? 1 / Float(count) : 0
        let loss = Layers.softmaxCrossEntropy(logits: ws.logits, targets: ws.targets, rows: N, vocab: V, scale: scale, dLogits: ws.logits)
        b.mels.withUnsafeBufferPointer { self.backward(ws, mels: $0.baseAddress!, framePad: b.framePad) }
        return (loss, count)
    }

    /// Copies a batch into the workspace. - Returns: the number of scored steps (targets >= 0).
    func load(_ b: WaveNetBatch, into ws: WaveNetWorkspace) -> Int {
        let c = config, T = b.time, B = b.batch, N = T * B, F = b.frames
        precondition(ws.time == T && ws.batch == B && ws.frames == F, "workspace built for another batch size")
        precondition(b.inputs.count == N && b.targets.count == N && b.speakers.count == B && b.mels.count == F * B * c.frameFeatures,
                     "batch arrays do not match time \(T), batch \(B), frames \(F)")
        precondition(!c.lpc || (b.predictions.count == N && b.excitations.count == N), "an LPC voice's batch needs predictions and excitations")
        precondition(!c.pitchLag || b.lags.count == N, "a pitch_lag voice's batch needs lags")
        precondition(b.source.count == N * c.sourceChannels, "the batch's source must be [time, batch, \(c.sourceChannels)]")
        precondition(b.framePad >= 0 && F - 2 * b.framePad >= 1, "framePad \(b.framePad) leaves no frames of the \(F)")
        var count = 0
        for i in 0..<N {
            ws.inputs[i] = b.inputs[i]
            ws.targets[i] = b.targets[i]
            if b.targets[i] >= 0 { count += 1 }
        }
        if c.lpc { for i in 0..<N { ws.predictions[i] = b.predictions[i]; ws.excitations[i] = b.excitations[i] } }
        if c.pitchLag { for i in 0..<N { ws.lags[i] = b.lags[i] } }
        if c.source { ws.source.update(from: b.source, count: b.source.count) }
        for i in 0..<B { ws.speakers[i] = b.speakers[i] }
        return count
    }

    /// The teacher-forced pass over a loaded workspace: conditioning at frame rate, upsampled to every sample with the
    /// speaker term (`condUp`), the input embeddings, the residual stack with `condUp` added to its gates, and the
    /// post-net. The logits `[time, batch, classes]` are left in `ws.logits`.
    /// - Parameter mels: the batch's conditioning frames `[frames, batch, frame_features]`.
    func forward(_ ws: WaveNetWorkspace, mels: UnsafePointer<Float>, framePad P: Int) {
        let c = config, T = ws.time, B = ws.batch, N = T * B, F = ws.frames, LG = c.layers * c.gateChannels
        conditioningForward(mels: mels, frames: F, batch: B, speakers: ws.speakers,
                            condH: ws.condH, condP: ws.condP, spkE: ws.spkE, spkP: ws.spkP)
        // Upsample the conditioning to the sample rate (linear interpolation) and add the speaker term.
        for t in 0..<T {
            let (f0, f1, w) = Self.framePosition(sample: t, hop: c.features.hopLength, frames: F - 2 * P)
            for bi in 0..<B {
                let dst = ws.condUp + (t * B + bi) * LG
                let c0 = ws.condP + ((P + f0) * B + bi) * LG, c1 = ws.condP + ((P + f1) * B + bi) * LG, sp = ws.spkP + bi * LG
                for j in 0..<LG { dst[j] = (1 - w) * c0[j] + w * c1[j] + sp[j] }
            }
        }
        inputForward(workspace: ws, rows: N)
        stack.forward(ws.stack, parameters: parameters, gate: ws.condUp, gateStride: LG)
        postNet.forward(skip: ws.stack.skip, rows: N, hidden: ws.y2, logits: ws.logits, parameters: parameters)
    }

    /// Backward of `forward` from the gradient of the logits (in `ws.logits`): accumulates every parameter's gradient.
    func backward(_ ws: WaveNetWorkspace, mels: UnsafePointer<Float>, framePad P: Int) {
        let c = config, T = ws.time, B = ws.batch, N = T * B, F = ws.frames, LG = c.layers * c.gateChannels
        postNet.backward(skip: ws.stack.skip, hidden: ws.y2, dLogits: ws.logits, rows: N, dHidden: ws.dY,
                         dSkip: ws.stack.dSkip, parameters: parameters)
        ws.dCondUp.update(repeating: 0, count: N * LG)
        stack.backward(ws.stack, parameters: parameters, dGate: ws.dCondUp, gateStride: LG)
        inputBackward(workspace: ws, rows: N)
        // De-interpolate to frames, sum the speaker term over time.
        ws.dCondP.update(repeating: 0, count: F * B * LG)
        ws.dSpkP.update(repeating: 0, count: B * LG)
        for t in 0..<T {
            let (f0, f1, w) = Self.framePosition(sample: t, hop: c.features.hopLength, frames: F - 2 * P)
            for bi in 0..<B {
                let src = ws.dCondUp + (t * B + bi) * LG
                let c0 = ws.dCondP + ((P + f0) * B + bi) * LG, c1 = ws.dCondP + ((P + f1) * B + bi) * LG, sp = ws.dSpkP + bi * LG
                for j in 0..<LG { let g = src[j]; c0[j] += (1 - w) * g; c1[j] += w * g; sp[j] += g }
            }
        }
        conditioningBackward(ws, mels: mels)
    }

    /// Backward of `conditioningForward` from `ws.dCondP` and `ws.dSpkP`.
    func conditioningBackward(_ ws: WaveNetWorkspace, mels: UnsafePointer<Float>) {
        let c = config, W = parameters.values, G = parameters.grads, o = cond, B = ws.batch, F = ws.frames
        let LG = c.layers * c.gateChannels, C = c.condChannels, E = c.speakerEmbeddingDim, X = F * B * C, K = c.condLayers
        // ws.dCondH holds ∂loss/∂h_k, then (after it) scratch for ∂loss/∂u_k.
        let dH = ws.dCondH, dU = ws.dCondH + X
        dH.update(repeating: 0, count: X)
        Layers.denseBackward(x: ws.condH + 2 * K * X, rows: F * B, inDim: C, weight: W + o.proj, outDim: LG,
                             dy: ws.dCondP, dx: dH, dWeight: G + o.proj, dBias: nil)
        for (k, blk) in o.blocks.enumerated().reversed() {
            // h_(k+1) = h_k + u_k · W_k + b_k: dH passes through unchanged and the block adds its share.
            let hk = ws.condH + 2 * k * X, uk = hk + X
            dU.update(repeating: 0, count: X)
            Layers.denseBackward(x: uk, rows: F * B, inDim: C, weight: W + blk.out, outDim: C,
                                 dy: dH, dx: dU, dWeight: G + blk.out, dBias: G + blk.outBias)
            Layers.reluBackward(dy: dU, y: uk, count: X, dx: dU)
            Layers.conv1dBackward(x: hk, time: F, batch: B, inC: C, weight: W + blk.conv, offsets: [-1, 0, 1], outC: C,
                                  dy: dU, dx: dH, dWeight: G + blk.conv, dBias: G + blk.convBias)
        }
        Layers.reluBackward(dy: dH, y: ws.condH, count: X, dx: dH)
        Layers.conv1dBackward(x: mels, time: F, batch: B, inC: c.frameFeatures, weight: W + o.conv, offsets: [-1, 0, 1],
                              outC: C, dy: ws.dCondH, dx: nil, dWeight: G + o.conv, dBias: G + o.convBias)
        ws.dSpkE.update(repeating: 0, count: B * E)
        Layers.denseBackward(x: ws.spkE, rows: B, inDim: E, weight: W + o.speakerProj, outDim: LG,
                             dy: ws.dSpkP, dx: ws.dSpkE, dWeight: G + o.speakerProj, dBias: nil)
        Layers.embeddingBackward(dOut: ws.dSpkE, indices: ws.speakers, rows: B, dim: E, dTable: G + o.speakerEmbedding)
    }
}
