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
        let c = config, p = params, LG = c.layers * c.gateChannels, C = c.condChannels
        Layers.conv1dForward(
            x: mels, time: frames, batch: batch, inC: c.frameFeatures, weight: p.value("cond.conv.weight"),
            offsets: [-1, 0, 1], bias: p.value("cond.conv.bias"), outC: C, y: condH)
        let X = frames * batch * C
        Layers.reluForward(x: condH, count: X, y: condH)
        for k in 0..<c.condLayers {
            let hk = condH + 2 * k * X, uk = hk + X, next = uk + X
            Layers.conv1dForward(x: hk, time: frames, batch: batch, inC: C, weight: p.value("cond.blocks.\(k).conv.weight"),
                                 offsets: [-1, 0, 1], bias: p.value("cond.blocks.\(k).conv.bias"), outC: C, y: uk)
            Layers.reluForward(x: uk, count: X, y: uk)
            next.update(from: hk, count: X)
            Layers.denseForward(x: uk, rows: frames * batch, inDim: C, weight: p.value("cond.blocks.\(k).out.weight"),
                                bias: p.value("cond.blocks.\(k).out.bias"), outDim: C, y: next, accumulate: true)
        }
        Layers.denseForward(x: condH + 2 * c.condLayers * X, rows: frames * batch, inDim: C, weight: p.value("cond.proj.weight"),
                            bias: nil, outDim: LG, y: condP)
        Layers.embeddingForward(table: p.value("speaker_embedding"), dim: c.speakerEmbeddingDim,
                                indices: speakers, rows: batch, out: spkE)
        Layers.denseForward(x: spkE, rows: batch, inDim: c.speakerEmbeddingDim, weight: p.value("speaker.proj.weight"),
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

    /// The residual stream's input `h_0 [N, R]`: the embedding of the previous sample's class, plus with `lpc` the
    /// embeddings of the prediction's and the previous excitation's classes, plus with `source` the projected
    /// harmonic source.
    func inputForward(workspace ws: WaveNetWorkspace, rows N: Int) {
        let c = config, p = params, R = c.residualChannels
        Layers.embeddingForward(table: p.value("input_embedding"), dim: R, indices: ws.inputs, rows: N, out: ws.h)
        if c.lpc {
            let ep = p.value("lpc.prediction_embedding"), ee = p.value("lpc.excitation_embedding")
            for r in 0..<N {
                let dst = ws.h + r * R, a = ep + Int(ws.predictions[r]) * R, b = ee + Int(ws.excitations[r]) * R
                for i in 0..<R { dst[i] += a[i] + b[i] }
            }
        }
        if c.source {
            Layers.denseForward(x: ws.source, rows: N, inDim: c.sourceChannels, weight: p.value("source.proj.weight"),
                                bias: nil, outDim: R, y: ws.h, accumulate: true)
        }
    }

    /// Backward of `inputForward`, given `ws.dh` = d loss / d h_0.
    func inputBackward(workspace ws: WaveNetWorkspace, rows N: Int) {
        let c = config, p = params, R = c.residualChannels
        Layers.embeddingBackward(dOut: ws.dh, indices: ws.inputs, rows: N, dim: R, dTable: p.grad("input_embedding"))
        if c.lpc {
            Layers.embeddingBackward(dOut: ws.dh, indices: ws.predictions, rows: N, dim: R, dTable: p.grad("lpc.prediction_embedding"))
            Layers.embeddingBackward(dOut: ws.dh, indices: ws.excitations, rows: N, dim: R, dTable: p.grad("lpc.excitation_embedding"))
        }
        if c.source {
            Layers.denseBackward(x: ws.source, rows: N, inDim: c.sourceChannels, weight: p.value("source.proj.weight"), outDim: R,
                                 dy: ws.dh, dx: nil, dWeight: p.grad("source.proj.weight"), dBias: nil)
        }
    }

    /// Runs the teacher-forced forward pass; with `backward`, also accumulates every parameter's gradient
    /// of the mean cross-entropy into `params.grads` (it does not zero them first).
    ///
    /// - Returns: summed cross-entropy in nats and the number of scored steps. The logits `[time, batch, classes]`
    ///   are left in `ws.logits` when `backward` is false.
    @discardableResult
    public func run(_ b: WaveNetBatch, workspace ws: WaveNetWorkspace, backward: Bool) -> (loss: Double, count: Int) {
        let c = config, p = params
        let T = b.time, B = b.batch, N = T * B, F = b.frames
        precondition(ws.time == T && ws.batch == B && ws.frames == F, "workspace built for another batch size")
        precondition(b.inputs.count == N && b.targets.count == N && b.speakers.count == B && b.mels.count == F * B * c.frameFeatures,
                     "batch arrays do not match time \(T), batch \(B), frames \(F)")
        precondition(!c.lpc || (b.predictions.count == N && b.excitations.count == N), "an LPC voice's batch needs predictions and excitations")
        precondition(b.source.count == N * c.sourceChannels, "the batch's source must be [time, batch, \(c.sourceChannels)]")
        let R = c.residualChannels, G = c.gateChannels, H = G / 2, S = c.skipChannels, L = c.layers, V = c.classes
        let LG = L * G, RS = R + S, hop = c.features.hopLength, P = b.framePad, segFrames = F - 2 * P
        precondition(P >= 0 && segFrames >= 1, "framePad \(P) leaves no frames of the \(F)")
        for i in 0..<N { ws.inputs[i] = b.inputs[i]; ws.targets[i] = b.targets[i] }
        if c.lpc { for i in 0..<N { ws.predictions[i] = b.predictions[i]; ws.excitations[i] = b.excitations[i] } }
        if c.source { ws.source.update(from: b.source, count: b.source.count) }
        for i in 0..<B { ws.speakers[i] = b.speakers[i] }
        b.mels.withUnsafeBufferPointer { mels in
            conditioningForward(mels: mels.baseAddress!, frames: F, batch: B, speakers: ws.speakers,
                                condH: ws.condH, condP: ws.condP, spkE: ws.spkE, spkP: ws.spkP)
        }
        // Upsample the conditioning to the sample rate (linear interpolation) and add the speaker term.
        for t in 0..<T {
            let (f0, f1, w) = Self.framePosition(sample: t, hop: hop, frames: segFrames)
            for bi in 0..<B {
                let dst = ws.condUp + (t * B + bi) * LG
                let c0 = ws.condP + ((P + f0) * B + bi) * LG, c1 = ws.condP + ((P + f1) * B + bi) * LG, sp = ws.spkP + bi * LG
                for j in 0..<LG { dst[j] = (1 - w) * c0[j] + w * c1[j] + sp[j] }
            }
        }
        // Input embedding of the previous sample (+ with lpc those of p[t] and e[t-1], + with source its projection).
        inputForward(workspace: ws, rows: N)
        ws.skip.update(repeating: 0, count: N * S)
        let offs = layerOffsets, W = p.values
        for l in 0..<L {
            let d = c.dilations[l], o = offs[l]
            let hl = ws.h + l * N * R, hn = ws.h + (l + 1) * N * R
            for r in 0..<N { (ws.z + r * G).update(from: ws.condUp + r * LG + l * G, count: G) }
            Layers.conv1dForward(x: hl, time: T, batch: B, inC: R, weight: W + o.conv, offsets: [-d, 0],
                                 bias: W + o.convBias, outC: G, y: ws.z, accumulate: true)
            let tl = ws.t + l * N * H, sl = ws.s + l * N * H, al = ws.a + l * N * H
            Layers.gateForward(z: ws.z, rows: N, half: H, t: tl, s: sl, a: al)
            // Residual: h_{l+1} = h_l + a · W_res + b_res; skip += a · W_skip + b_skip.
            for r in 0..<N {
                let dst = hn + r * R, src = hl + r * R, bias = W + o.outBias
                for i in 0..<R { dst[i] = src[i] + bias[i] }
                let sk = ws.skip + r * S, sb = W + o.outBias + R
                for i in 0..<S { sk[i] += sb[i] }
            }
            BLAS.gemm(m: N, n: R, k: H, a: al, b: W + o.out, ldb: RS, beta: 1, c: hn)
            BLAS.gemm(m: N, n: S, k: H, a: al, b: W + o.out + R, ldb: RS, beta: 1, c: ws.skip)
        }
        // Post-net: ReLU → 1x1 → ReLU → 1x1 → logits.
        Layers.reluForward(x: ws.skip, count: N * S, y: ws.skip)
        Layers.denseForward(x: ws.skip, rows: N, inDim: S, weight: p.value("post.conv1.weight"),
                            bias: p.value("post.conv1.bias"), outDim: S, y: ws.y2)
        Layers.reluForward(x: ws.y2, count: N * S, y: ws.y2)
        Layers.denseForward(x: ws.y2, rows: N, inDim: S, weight: p.value("post.conv2.weight"),
                            bias: p.value("post.conv2.bias"), outDim: V, y: ws.logits)
        var count = 0
        for i in 0..<N where ws.targets[i] >= 0 { count += 1 }
        guard backward else {
            var loss = 0.0
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: N * V)
            defer { tmp.deallocate() }
            loss = Layers.softmaxCrossEntropy(logits: ws.logits, targets: ws.targets, rows: N, vocab: V, scale: 0, dLogits: tmp)
            return (loss, count)
        }
        let scale: Float = count > 0 ? 1 / Float(count) : 0
        let loss = Layers.softmaxCrossEntropy(logits: ws.logits, targets: ws.targets, rows: N, vocab: V, scale: scale, dLogits: ws.logits)
        let dLogits = ws.logits
        let Gp = p.grads
        // Post-net backward.
        ws.dY.update(repeating: 0, count: N * S)
        Layers.denseBackward(x: ws.y2, rows: N, inDim: S, weight: p.value("post.conv2.weight"), outDim: V, dy: dLogits,
                             dx: ws.dY, dWeight: p.grad("post.conv2.weight"), dBias: p.grad("post.conv2.bias"))
        Layers.reluBackward(dy: ws.dY, y: ws.y2, count: N * S, dx: ws.dY)
        ws.dSkip.update(repeating: 0, count: N * S)
        Layers.denseBackward(x: ws.skip, rows: N, inDim: S, weight: p.value("post.conv1.weight"), outDim: S, dy: ws.dY,
                             dx: ws.dSkip, dWeight: p.grad("post.conv1.weight"), dBias: p.grad("post.conv1.bias"))
        Layers.reluBackward(dy: ws.dSkip, y: ws.skip, count: N * S, dx: ws.dSkip)
        // Residual stack backward, last layer first. ws.dh holds ∂loss/∂h_{l+1}, then ∂loss/∂h_l.
        ws.dh.update(repeating: 0, count: N * R)
        ws.dCondUp.update(repeating: 0, count: N * LG)
        for l in stride(from: L - 1, through: 0, by: -1) {
            let d = c.dilations[l], o = offs[l]
            let hl = ws.h + l * N * R
            let tl = ws.t + l * N * H, sl = ws.s + l * N * H, al = ws.a + l * N * H
            // da = dh · W_resᵀ + dSkip · W_skipᵀ
            BLAS.gemm(transB: true, m: N, n: H, k: R, a: ws.dh, b: W + o.out, ldb: RS, beta: 0, c: ws.da)
            BLAS.gemm(transB: true, m: N, n: H, k: S, a: ws.dSkip, b: W + o.out + R, ldb: RS, beta: 1, c: ws.da)
            BLAS.gemm(transA: true, m: H, n: R, k: N, a: al, b: ws.dh, beta: 1, c: Gp + o.out, ldc: RS)
            BLAS.gemm(transA: true, m: H, n: S, k: N, a: al, b: ws.dSkip, beta: 1, c: Gp + o.out + R, ldc: RS)
            let db = Gp + o.outBias
            for r in 0..<N {
                let g1 = ws.dh + r * R, g2 = ws.dSkip + r * S
                for i in 0..<R { db[i] += g1[i] }
                for i in 0..<S { db[R + i] += g2[i] }
            }
            Layers.gateBackward(da: ws.da, t: tl, s: sl, rows: N, half: H, dz: ws.dz)
            for r in 0..<N {
                let dst = ws.dCondUp + r * LG + l * G, src = ws.dz + r * G
                for j in 0..<G { dst[j] += src[j] }
            }
            // h_{l+1} = h_l + f(h_l): the identity path keeps dh; the convolution adds to it.
            Layers.conv1dBackward(x: hl, time: T, batch: B, inC: R, weight: W + o.conv, offsets: [-d, 0], outC: G,
                                  dy: ws.dz, dx: ws.dh, dWeight: Gp + o.conv, dBias: Gp + o.convBias)
        }
        inputBackward(workspace: ws, rows: N)
        // Conditioning backward: de-interpolate to frames, sum the speaker term over time.
        ws.dCondP.update(repeating: 0, count: F * B * LG)
        ws.dSpkP.update(repeating: 0, count: B * LG)
        for t in 0..<T {
            let (f0, f1, w) = Self.framePosition(sample: t, hop: hop, frames: segFrames)
            for bi in 0..<B {
                let src = ws.dCondUp + (t * B + bi) * LG
                let c0 = ws.dCondP + ((P + f0) * B + bi) * LG, c1 = ws.dCondP + ((P + f1) * B + bi) * LG, sp = ws.dSpkP + bi * LG
                for j in 0..<LG { let g = src[j]; c0[j] += (1 - w) * g; c1[j] += w * g; sp[j] += g }
            }
        }
        let C = c.condChannels, E = c.speakerEmbeddingDim, X = F * B * C, K = c.condLayers
        // ws.dCondH holds ∂loss/∂h_k, then (after it) scratch for ∂loss/∂u_k.
        let dH = ws.dCondH, dU = ws.dCondH + X
        dH.update(repeating: 0, count: X)
        Layers.denseBackward(x: ws.condH + 2 * K * X, rows: F * B, inDim: C, weight: p.value("cond.proj.weight"), outDim: LG,
                             dy: ws.dCondP, dx: dH, dWeight: p.grad("cond.proj.weight"), dBias: nil)
        for k in stride(from: K - 1, through: 0, by: -1) {
            // h_(k+1) = h_k + u_k · W_k + b_k: dH passes through unchanged and the block adds its share.
            let hk = ws.condH + 2 * k * X, uk = hk + X
            dU.update(repeating: 0, count: X)
            Layers.denseBackward(x: uk, rows: F * B, inDim: C, weight: p.value("cond.blocks.\(k).out.weight"), outDim: C,
                                 dy: dH, dx: dU, dWeight: p.grad("cond.blocks.\(k).out.weight"),
                                 dBias: p.grad("cond.blocks.\(k).out.bias"))
            Layers.reluBackward(dy: dU, y: uk, count: X, dx: dU)
            Layers.conv1dBackward(x: hk, time: F, batch: B, inC: C, weight: p.value("cond.blocks.\(k).conv.weight"),
                                  offsets: [-1, 0, 1], outC: C, dy: dU, dx: dH,
                                  dWeight: p.grad("cond.blocks.\(k).conv.weight"), dBias: p.grad("cond.blocks.\(k).conv.bias"))
        }
        Layers.reluBackward(dy: dH, y: ws.condH, count: X, dx: dH)
        b.mels.withUnsafeBufferPointer { mels in
            Layers.conv1dBackward(x: mels.baseAddress!, time: F, batch: B, inC: c.frameFeatures, weight: p.value("cond.conv.weight"),
                                  offsets: [-1, 0, 1], outC: C, dy: ws.dCondH, dx: nil,
                                  dWeight: p.grad("cond.conv.weight"), dBias: p.grad("cond.conv.bias"))
        }
        ws.dSpkE.update(repeating: 0, count: B * E)
        Layers.denseBackward(x: ws.spkE, rows: B, inDim: E, weight: p.value("speaker.proj.weight"), outDim: LG,
                             dy: ws.dSpkP, dx: ws.dSpkE, dWeight: p.grad("speaker.proj.weight"), dBias: nil)
        Layers.embeddingBackward(dOut: ws.dSpkE, indices: ws.speakers, rows: B, dim: E, dTable: p.grad("speaker_embedding"))
        return (loss, count)
    }
}
