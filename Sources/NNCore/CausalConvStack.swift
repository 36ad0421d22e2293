// A stack of dilated causal convolutions with gated units, residual and skip connections (WaveNet's residual blocks):
// the teacher-forced pass, its backward, and cached stepping with per-layer queues, for every model built on it.
import CKernels

/// Sizes of a stack of dilated causal convolutions of kernel 2 with gated activation units (van den Oord et al. 2016).
///
/// Channel names follow the paper and common implementations: `residualChannels` (R) flow through the stack, each
/// dilated convolution produces `gateChannels` (G = 2 × G/2, the tanh and sigmoid halves), and each layer adds its
/// G/2 gated units to the residual stream (R) and to the skip sum (`skipChannels`, S).
public struct CausalConvShape: Equatable, Sendable {
    /// Dilation of each layer, in positions (samples, tokens, ...).
    public var dilations: [Int]
    public var residualChannels: Int
    public var gateChannels: Int
    public var skipChannels: Int

    public init(dilations: [Int], residualChannels: Int, gateChannels: Int, skipChannels: Int) {
        self.dilations = dilations
        self.residualChannels = residualChannels
        self.gateChannels = gateChannels
        self.skipChannels = skipChannels
    }

    public var layers: Int { dilations.count }
    /// Positions a layer's output reads: the current one and `sum(dilations)` before it.
    public var receptiveField: Int { dilations.reduce(1, +) }
    /// Multiply-adds of the stack per position (both taps of every convolution and every read-out).
    public var macsPerPosition: Int { layers * (2 * residualChannels * gateChannels + gateChannels / 2 * (residualChannels + skipChannels)) }
    /// Floats of stepping state per sequence: every layer's queue of its last `dilation` inputs.
    public var queueFloats: Int { dilations.reduce(0, +) * residualChannels }

    /// What is wrong with sizes read from a config, as the config's keys name them (`dilations`, `residual_channels`,
    /// `gate_channels`, `skip_channels`), or nil: 1...1,024 layers of dilations in 1...65,536, channels in 1...4,096
    /// with G even, and queues within `ModelLimits.maxStateFloats`. These bounds keep every product within 64 bits.
    public var problem: String? {
        guard (1...1024).contains(dilations.count) else { return "dilations must list 1...1024 layers, got \(dilations.count)" }
        if let d = dilations.first(where: { !(1...65536).contains($0) }) { return "dilations must be in 1...65536, got \(d)" }
        for (name, v) in [("residual_channels", residualChannels), ("gate_channels", gateChannels), ("skip_channels", skipChannels)] {
            guard (1...4096).contains(v) else { return "\(name) must be in 1...4096, got \(v)" }
        }
        guard gateChannels % 2 == 0 else { return "gate_channels must be even, got \(gateChannels)" }
        guard queueFloats <= ModelLimits.maxStateFloats else {
            return "the queues would hold sum(dilations) x residual_channels = \(queueFloats) floats per sequence, more than the limit of \(ModelLimits.maxStateFloats)"
        }
        return nil
    }
}

/// The layers of a `CausalConvShape` over one `ParameterSet`, with every tensor's offset resolved once.
///
/// | name | shape |
/// |---|---|
/// | `{prefix}{l}.conv.weight`, `.conv.bias` | `[2, R, G]` (taps t-d and t), `[G]` |
/// | `{prefix}{l}.out.weight`, `.out.bias` | `[G/2, R+S]` (residual columns, then skip columns), `[R+S]` |
///
/// Layer `l` computes, with `d = dilations[l]` and an optional additive conditioning `c_l` of the gate (local and
/// global conditioning, computed by the model): `z = h_l[t-d] · W_0 + h_l[t] · W_1 + b + c_l`,
/// `a = tanh(z[:G/2]) ⊙ σ(z[G/2:])`, `h_{l+1} = h_l + a · W_res + b_res` and `skip += a · W_skip + b_skip`. The model
/// writes the input `h_0` (its embeddings) and reads the skip sum (usually through `PostNet`).
public struct CausalConvStack: Sendable {
    public let shape: CausalConvShape
    struct Layer { let dilation, conv, convBias, out, outBias: Int }
    let layers: [Layer]

    /// Adds the stack's tensors (the table above) to `layout`, layer by layer.
    public static func addParameters(_ s: CausalConvShape, to layout: inout ParameterLayout, prefix: String = "layers.") {
        let R = s.residualChannels, G = s.gateChannels, S = s.skipChannels
        for l in 0..<s.layers {
            layout.add("\(prefix)\(l).conv.weight", shape: [2, R, G])
            layout.add("\(prefix)\(l).conv.bias", shape: [G])
            layout.add("\(prefix)\(l).out.weight", shape: [G / 2, R + S])
            layout.add("\(prefix)\(l).out.bias", shape: [R + S])
        }
    }

    /// The stack whose tensors `addParameters` put in `layout`.
    public init(_ shape: CausalConvShape, layout: ParameterLayout, prefix: String = "layers.") {
        self.shape = shape
        layers = shape.dilations.enumerated().map { l, d in
            Layer(dilation: d, conv: layout.offset("\(prefix)\(l).conv.weight"), convBias: layout.offset("\(prefix)\(l).conv.bias"),
                  out: layout.offset("\(prefix)\(l).out.weight"), outBias: layout.offset("\(prefix)\(l).out.bias"))
        }
    }

    /// N(0, 1/fan_in) for each layer's convolution (fan-in 2R) and read-out (fan-in G/2), layer by layer; biases
    /// are left as they are.
    public func initialize(_ p: ParameterSet, rng: inout Xoshiro256) {
        let R = shape.residualChannels, G = shape.gateChannels, S = shape.skipChannels
        for o in layers {
            p.initNormal(offset: o.conv, count: 2 * R * G, std: (1 / Float(2 * R)).squareRoot(), rng: &rng)
            p.initNormal(offset: o.out, count: G / 2 * (R + S), std: (1 / Float(G / 2)).squareRoot(), rng: &rng)
        }
    }
}

/// Activations of one teacher-forced pass of a stack over `time × batch` rows (time-major, row `t * batch + b`, so a
/// dilation of `d` is an offset of `d * batch` rows), and the backward's scratch. Allocated once per shape.
public final class CausalConvWorkspace {
    public let time, batch: Int
    let scratch = Scratch()
    /// The residual stream `[L+1, N, R]`: the caller writes the input `h_0` (the first `N × R` floats); layer `l`
    /// writes `h_{l+1}`.
    public let h: UnsafeMutablePointer<Float>
    let t, s, a: UnsafeMutablePointer<Float>  // [L, N, G/2] gate tanh, sigmoid and product
    let z: UnsafeMutablePointer<Float>        // [N, G] pre-activation (reused per layer)
    /// The skip sum `[N, S]` after `forward` (the head applies its ReLU in place).
    public let skip: UnsafeMutablePointer<Float>
    /// `∂loss/∂skip` `[N, S]`, written by the caller before `backward`.
    public let dSkip: UnsafeMutablePointer<Float>
    /// `∂loss/∂h_0` `[N, R]` after `backward`.
    public let dh: UnsafeMutablePointer<Float>
    let dz, da: UnsafeMutablePointer<Float>   // [N, G], [N, G/2]

    public init(_ c: CausalConvShape, time: Int, batch: Int) {
        self.time = time
        self.batch = batch
        let N = time * batch, R = c.residualChannels, G = c.gateChannels, H = G / 2, S = c.skipChannels, L = c.layers
        let m = scratch
        h = m.floats((L + 1) * N * R)
        t = m.floats(L * N * H); s = m.floats(L * N * H); a = m.floats(L * N * H)
        z = m.floats(N * G); skip = m.floats(N * S)
        dSkip = m.floats(N * S); dh = m.floats(N * R); dz = m.floats(N * G); da = m.floats(N * H)
    }

    /// Floats held.
    public var floats: Int { scratch.totalFloats }
}

extension CausalConvStack {
    /// The teacher-forced pass over `ws.time × ws.batch` rows from the input `h_0` in `ws.h` to the skip sum in `ws.skip`.
    /// - Parameter gate: the conditioning added to every layer's gate pre-activation, or nil: row `r` at
    ///   `gate + r * gateStride`, layer `l`'s `G` values from offset `l * G` (`gateStride` 0 adds the same to every row).
    public func forward(_ ws: CausalConvWorkspace, parameters p: ParameterSet, gate: UnsafePointer<Float>? = nil, gateStride: Int = 0) {
        let c = shape, T = ws.time, B = ws.batch, N = T * B, W = p.values
        let R = c.residualChannels, G = c.gateChannels, H = G / 2, S = c.skipChannels, RS = R + S
        ws.skip.update(repeating: 0, count: N * S)
        for (l, o) in layers.enumerated() {
            let hl = ws.h + l * N * R, hn = hl + N * R
            if let gate {
                for r in 0..<N { (ws.z + r * G).update(from: gate + r * gateStride + l * G, count: G) }
            }
            Layers.conv1dForward(x: hl, time: T, batch: B, inC: R, weight: W + o.conv, offsets: [-o.dilation, 0],
                                 bias: W + o.convBias, outC: G, y: ws.z, accumulate: gate != nil)
            let al = ws.a + l * N * H
            Layers.gateForward(z: ws.z, rows: N, half: H, t: ws.t + l * N * H, s: ws.s + l * N * H, a: al)
            // Residual: h_{l+1} = h_l + a · W_res + b_res; skip += a · W_skip + b_skip.
            for r in 0..<N {
                let dst = hn + r * R, src = hl + r * R, bias = W + o.outBias
                for i in 0..<R { dst[i] = src[i] + bias[i] }
                let sk = ws.skip + r * S, sb = bias + R
                for i in 0..<S { sk[i] += sb[i] }
            }
            BLAS.gemm(m: N, n: R, k: H, a: al, b: W + o.out, ldb: RS, beta: 1, c: hn)
            BLAS.gemm(m: N, n: S, k: H, a: al, b: W + o.out + R, ldb: RS, beta: 1, c: ws.skip)
        }
    }

    /// Backward of `forward`, last layer first, from `ws.dSkip`: overwrites `ws.dh` with `∂loss/∂h_0`, accumulates
    /// every tensor's gradient into `p.grads` and, with `dGate`, adds `∂loss/∂gate` (laid out as `forward`'s `gate`).
    public func backward(_ ws: CausalConvWorkspace, parameters p: ParameterSet, dGate: UnsafeMutablePointer<Float>? = nil,
                         gateStride: Int = 0) {
        let c = shape, T = ws.time, B = ws.batch, N = T * B, W = p.values, Gp = p.grads
        let R = c.residualChannels, G = c.gateChannels, H = G / 2, S = c.skipChannels, RS = R + S
        // ws.dh holds ∂loss/∂h_{l+1}, then ∂loss/∂h_l.
        ws.dh.update(repeating: 0, count: N * R)
        for (l, o) in layers.enumerated().reversed() {
            let hl = ws.h + l * N * R, tl = ws.t + l * N * H, sl = ws.s + l * N * H, al = ws.a + l * N * H
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
            if let dGate {
                for r in 0..<N {
                    let dst = dGate + r * gateStride + l * G, src = ws.dz + r * G
                    for j in 0..<G { dst[j] += src[j] }
                }
            }
            // h_{l+1} = h_l + f(h_l): the identity path keeps dh; the convolution adds to it.
            Layers.conv1dBackward(x: hl, time: T, batch: B, inC: R, weight: W + o.conv, offsets: [-o.dilation, 0], outC: G,
                                  dy: ws.dz, dx: ws.dh, dWeight: Gp + o.conv, dBias: Gp + o.convBias)
        }
    }
}

/// The cached state of a stack stepping `rows` independent sequences one position at a time (Fast WaveNet, Paine et
/// al. 2016): each layer keeps a queue of its last `dilation` inputs, `[dilation, rows, R]`, with one read/write
/// position per layer shared by the rows, so its past tap is read instead of recomputed and the rows' taps are
/// contiguous (each weight matrix is streamed once per step for all rows). Allocated once; `step` allocates nothing.
public final class CausalConvState {
    /// Sequences (rows) stepped together.
    public let rows: Int
    let residual: Int
    let scratch = Scratch()
    let queues: [UnsafeMutablePointer<Float>]
    let dilations: [Int]
    var queuePos: [Int]
    /// The inputs `h_0` of the next step, `[rows, R]`: the model writes the rows it steps.
    public let input: UnsafeMutablePointer<Float>
    let z, a, o: UnsafeMutablePointer<Float>  // [rows, G], [rows, G/2], [rows, R+S]
    /// The skip sums of the latest step, `[rows, S]`.
    public let skip: UnsafeMutablePointer<Float>
    /// Row indices `0..<rows`, for stepping every row.
    public let allRows: UnsafeMutablePointer<Int32>

    public init(_ c: CausalConvShape, rows: Int) {
        precondition(rows >= 1, "a stack state needs at least one row")
        self.rows = rows
        residual = c.residualChannels
        dilations = c.dilations
        let R = c.residualChannels, G = c.gateChannels, S = c.skipChannels, m = scratch
        queues = c.dilations.map { m.floats($0 * rows * R) }
        queuePos = [Int](repeating: 0, count: c.layers)
        input = m.floats(rows * R); z = m.floats(rows * G); a = m.floats(rows * G / 2); o = m.floats(rows * (R + S))
        skip = m.floats(rows * S)
        allRows = .allocate(capacity: rows)
        for b in 0..<rows { allRows[b] = Int32(b) }
    }

    deinit { allRows.deallocate() }

    /// Starts a new sequence in row `b`: its queue rows are zeroed (the other rows keep going).
    public func reset(row b: Int) {
        let R = residual
        for (l, q) in queues.enumerated() {
            for p in 0..<dilations[l] { (q + (p * rows + b) * R).update(repeating: 0, count: R) }
        }
    }

    /// Starts new sequences in every row.
    public func reset() {
        for (l, q) in queues.enumerated() { q.update(repeating: 0, count: dilations[l] * rows * residual) }
        for l in 0..<queuePos.count { queuePos[l] = 0 }
    }

    /// Floats held.
    public var floats: Int { scratch.totalFloats }
}

extension CausalConvStack {
    /// Advances rows `rows[0..<n]` of `s` by one position: from their inputs in `s.input` to their skip sums in
    /// `s.skip`, with the same arithmetic as `forward` at that position (`z = bias + c_l`, then each tap's product
    /// added). `gate` is laid out as in `forward`, by row index. Allocates nothing.
    public func step(_ s: CausalConvState, parameters p: ParameterSet, rows: UnsafePointer<Int32>, count n: Int,
                     gate: UnsafePointer<Float>? = nil, gateStride: Int = 0) {
        let c = shape, W = p.values, B = s.rows
        let R = c.residualChannels, G = c.gateChannels, H = G / 2, S = c.skipChannels, RS = R + S
        let h = s.input, z = s.z, a = s.a, o = s.o
        for r in 0..<n { (s.skip + Int(rows[r]) * S).update(repeating: 0, count: S) }
        for (l, lo) in layers.enumerated() {
            let bias = W + lo.convBias
            for r in 0..<n {
                let b = Int(rows[r]), zb = z + b * G
                if let gate {
                    let cb = gate + b * gateStride + l * G
                    for j in 0..<G { zb[j] = cb[j] + bias[j] }
                } else {
                    zb.update(from: bias, count: G)
                }
            }
            let q = s.queues[l] + s.queuePos[l] * B * R
            if n == 1 {
                // One row: the single-row kernels, bitwise equal to the row kernels and without their per-block overhead.
                let b = Int(rows[0]), zb = z + b * G
                synth_vecmat_acc(q + b * R, W + lo.conv, R, G, zb)          // tap t - d
                synth_vecmat_acc(h + b * R, W + lo.conv + R * G, R, G, zb)  // tap t
                synth_gate_forward(zb, 1, H, nil, nil, a + b * H)
                synth_vecmat(a + b * H, W + lo.out, W + lo.outBias, H, RS, o + b * RS)
            } else {
                synth_vecmat_rows_acc(q, R, W + lo.conv, R, G, z, G, rows, n)          // tap t - d
                synth_vecmat_rows_acc(h, R, W + lo.conv + R * G, R, G, z, G, rows, n)  // tap t
                for r in 0..<n { let b = Int(rows[r]); synth_gate_forward(z + b * G, 1, H, nil, nil, a + b * H) }
                synth_vecmat_rows(a, H, W + lo.out, W + lo.outBias, H, RS, o, RS, rows, n)
            }
            for r in 0..<n {
                let b = Int(rows[r]), hb = h + b * R, ob = o + b * RS, sb = s.skip + b * S
                (q + b * R).update(from: hb, count: R)
                for i in 0..<R { hb[i] += ob[i] }
                for i in 0..<S { sb[i] += ob[R + i] }
            }
            s.queuePos[l] = s.queuePos[l] + 1 == lo.dilation ? 0 : s.queuePos[l] + 1
        }
    }
}

/// WaveNet's output head over the skip sum (van den Oord et al. 2016): ReLU, 1x1 convolution (S → S), ReLU, 1x1
/// convolution (S → classes) to logits.
///
/// | name | shape |
/// |---|---|
/// | `{prefix}conv1.weight`, `.bias` | `[S, S]`, `[S]` |
/// | `{prefix}conv2.weight`, `.bias` | `[S, classes]`, `[classes]` |
public struct PostNet: Sendable {
    public let skipChannels, classes: Int
    let w1, b1, w2, b2: Int

    /// Adds the head's tensors (the table above) to `layout`.
    public static func addParameters(skip S: Int, classes V: Int, to layout: inout ParameterLayout, prefix: String = "post.") {
        layout.add(prefix + "conv1.weight", shape: [S, S])
        layout.add(prefix + "conv1.bias", shape: [S])
        layout.add(prefix + "conv2.weight", shape: [S, V])
        layout.add(prefix + "conv2.bias", shape: [V])
    }

    /// The head whose tensors `addParameters` put in `layout`.
    public init(skip S: Int, classes V: Int, layout: ParameterLayout, prefix: String = "post.") {
        skipChannels = S
        classes = V
        w1 = layout.offset(prefix + "conv1.weight"); b1 = layout.offset(prefix + "conv1.bias")
        w2 = layout.offset(prefix + "conv2.weight"); b2 = layout.offset(prefix + "conv2.bias")
    }

    /// N(0, 1/S) for the first convolution and N(0, 1/(4S)) for the second (small output layer); biases untouched.
    public func initialize(_ p: ParameterSet, rng: inout Xoshiro256) {
        let S = skipChannels, he = (1 / Float(S)).squareRoot()
        p.initNormal(offset: w1, count: S * S, std: he, rng: &rng)
        p.initNormal(offset: w2, count: S * classes, std: 0.5 * he, rng: &rng)
    }

    /// Logits `[N, classes]` of the skip sums `skip` `[N, S]` (ReLU applied in place, kept for `backward`), with the
    /// hidden layer (after its ReLU) in `hidden` `[N, S]`.
    public func forward(skip: UnsafeMutablePointer<Float>, rows N: Int, hidden: UnsafeMutablePointer<Float>,
                        logits: UnsafeMutablePointer<Float>, parameters p: ParameterSet) {
        let S = skipChannels, W = p.values
        Layers.reluForward(x: skip, count: N * S, y: skip)
        Layers.denseForward(x: skip, rows: N, inDim: S, weight: W + w1, bias: W + b1, outDim: S, y: hidden)
        Layers.reluForward(x: hidden, count: N * S, y: hidden)
        Layers.denseForward(x: hidden, rows: N, inDim: S, weight: W + w2, bias: W + b2, outDim: classes, y: logits)
    }

    /// Backward of `forward` from `dLogits` `[N, classes]`: overwrites `dSkip` `[N, S]` with `∂loss/∂skip` (before the
    /// first ReLU) and `dHidden` `[N, S]` (scratch), and accumulates the head's gradients into `p.grads`.
    public func backward(skip: UnsafePointer<Float>, hidden: UnsafePointer<Float>, dLogits: UnsafePointer<Float>, rows N: Int,
                         dHidden: UnsafeMutablePointer<Float>, dSkip: UnsafeMutablePointer<Float>, parameters p: ParameterSet) {
        let S = skipChannels, W = p.values, G = p.grads
        dHidden.update(repeating: 0, count: N * S)
        Layers.denseBackward(x: hidden, rows: N, inDim: S, weight: W + w2, outDim: classes, dy: dLogits, dx: dHidden,
                             dWeight: G + w2, dBias: G + b2)
        Layers.reluBackward(dy: dHidden, y: hidden, count: N * S, dx: dHidden)
        dSkip.update(repeating: 0, count: N * S)
        Layers.denseBackward(x: skip, rows: N, inDim: S, weight: W + w1, outDim: S, dy: dHidden, dx: dSkip,
                             dWeight: G + w1, dBias: G + b1)
        Layers.reluBackward(dy: dSkip, y: skip, count: N * S, dx: dSkip)
    }

    /// `forward` for rows `rows[0..<n]` of `skip` `[·, S]`, `hidden` `[·, S]` and `logits` `[·, classes]` (stepping, with
    /// the row kernels: each row equals `forward`'s). Allocates nothing.
    public func step(skip: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>,
                     rows: UnsafePointer<Int32>, count n: Int, parameters p: ParameterSet) {
        let S = skipChannels, V = classes, W = p.values
        if n == 1 {
            let b = Int(rows[0]), sk = skip + b * S, hd = hidden + b * S
            synth_relu(sk, S, sk)
            synth_vecmat(sk, W + w1, W + b1, S, S, hd)
            synth_relu(hd, S, hd)
            synth_vecmat(hd, W + w2, W + b2, S, V, logits + b * V)
            return
        }
        for r in 0..<n { let b = Int(rows[r]); synth_relu(skip + b * S, S, skip + b * S) }
        synth_vecmat_rows(skip, S, W + w1, W + b1, S, S, hidden, S, rows, n)
        for r in 0..<n { let b = Int(rows[r]); synth_relu(hidden + b * S, S, hidden + b * S) }
        synth_vecmat_rows(hidden, S, W + w2, W + b2, S, V, logits, V, rows, n)
    }
}

/// The decoding state of a model made of a `CausalConvStack` and a `PostNet` (the token WaveNet, the forecaster): the
/// stack's queues for every sequence (`conv`, whose `input` the model writes before each step) and the head's hidden
/// rows. Allocated once; `reset` rewinds every sequence.
public final class StackDecodingState {
    public let conv: CausalConvState
    let hidden: UnsafeMutablePointer<Float>  // [rows, S]
    let scratch = Scratch()

    public init(_ shape: CausalConvShape, rows: Int) {
        conv = CausalConvState(shape, rows: rows)
        hidden = scratch.floats(rows * shape.skipChannels)
    }

    /// Starts new sequences in every row.
    public func reset() { conv.reset() }
}

extension PostNet {
    /// Steps `stack` and this head for every row of `state`: from the inputs in `state.conv.input` to the logits
    /// `[rows, classes]`. Allocates nothing.
    public func step(_ stack: CausalConvStack, state: StackDecodingState, logits: UnsafeMutablePointer<Float>, parameters p: ParameterSet) {
        let s = state.conv
        stack.step(s, parameters: p, rows: s.allRows, count: s.rows)
        step(skip: s.skip, hidden: state.hidden, logits: logits, rows: s.allRows, count: s.rows, parameters: p)
    }
}
