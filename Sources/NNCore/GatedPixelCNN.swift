// The gated PixelCNN's layers (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders"):
// vertical and horizontal stacks of masked 2-D convolutions with gated units, the teacher-forced pass over whole
// images, its backward, and the same pass over one row or one pixel for generation in raster order.
import CKernels

/// Sizes of a gated PixelCNN stack over `height × width` images with `channels` (C) features per pixel.
public struct PixelCNNShape: Equatable, Sendable {
    public var height: Int, width: Int
    /// Features per pixel in both stacks (C); each masked convolution produces 2C (tanh and sigmoid halves).
    public var channels: Int
    /// Gated layers; the first is masked A, the others B.
    public var layers: Int
    /// Width of the masked kernels (odd): the vertical stack reads `(kernel/2 + 1) × kernel` pixels, the horizontal
    /// stack `kernel/2 + 1` of the current row.
    public var kernel: Int

    public init(height: Int, width: Int, channels: Int, layers: Int, kernel: Int) {
        self.height = height
        self.width = width
        self.channels = channels
        self.layers = layers
        self.kernel = kernel
    }

    public var pixels: Int { height * width }
    func mask(_ l: Int) -> ConvMask { l == 0 ? .a : .b }
    func verticalTaps(_ l: Int) -> [ConvTap] { mask(l).verticalTaps(kernel: kernel) }
    func horizontalTaps(_ l: Int) -> [ConvTap] { mask(l).horizontalTaps(kernel: kernel) }
}

/// The layers of a `PixelCNNShape` over one `ParameterSet`, every tensor's offset resolved once.
///
/// | name | shape |
/// |---|---|
/// | `{prefix}{l}.v.weight`, `.v.bias` | `[taps_v, C, 2C]` (vertical masked convolution), `[2C]` |
/// | `{prefix}{l}.h.weight`, `.h.bias` | `[taps_h, C, 2C]` (horizontal masked convolution), `[2C]` |
/// | `{prefix}{l}.v2h.weight` | `[2C, 2C]` (the vertical pre-activation fed to the horizontal gate) |
/// | `{prefix}{l}.out.weight`, `.out.bias` | `[C, C]`, `[C]` (the horizontal read-out, added to the residual) |
///
/// Layer `l`, with an optional additive conditioning `c_l` of both gates (a class embedding, per image):
/// `z_v = conv_v(v_l)`, `v_{l+1} = tanh(z_v[:C] + c) ⊙ σ(z_v[C:] + c)`;
/// `z_h = conv_h(h_l) + z_v · W_v2h + c`, `a = tanh(z_h[:C]) ⊙ σ(z_h[C:])`, `h_{l+1} = h_l + a · W_out + b_out`
/// (layer 0 has no residual: `h_0` holds the current pixel, which its output must not see). `v_0 = h_0` is the
/// model's input (pixel embeddings). Taps are `ConvMask.verticalTaps` and `horizontalTaps` (A for layer 0).
/// The output at pixel `p` depends on input pixels before `p` in raster order only; the model reads `h_L`.
public struct GatedPixelCNNStack: Sendable {
    public let shape: PixelCNNShape
    struct Layer { let v, vBias, h, hBias, v2h, out, outBias: Int; let vTaps, hTaps: [ConvTap] }
    let layers: [Layer]

    /// Adds the stack's tensors (the table above) to `layout`.
    public static func addParameters(_ s: PixelCNNShape, to layout: inout ParameterLayout, prefix: String = "layers.") {
        let C = s.channels
        for l in 0..<s.layers {
            layout.add("\(prefix)\(l).v.weight", shape: [s.verticalTaps(l).count, C, 2 * C])
            layout.add("\(prefix)\(l).v.bias", shape: [2 * C])
            layout.add("\(prefix)\(l).h.weight", shape: [s.horizontalTaps(l).count, C, 2 * C])
            layout.add("\(prefix)\(l).h.bias", shape: [2 * C])
            layout.add("\(prefix)\(l).v2h.weight", shape: [2 * C, 2 * C])
            layout.add("\(prefix)\(l).out.weight", shape: [C, C])
            layout.add("\(prefix)\(l).out.bias", shape: [C])
        }
    }

    /// The stack whose tensors `addParameters` put in `layout`.
    public init(_ shape: PixelCNNShape, layout: ParameterLayout, prefix: String = "layers.") {
        self.shape = shape
        layers = (0..<shape.layers).map { l in
            let n = "\(prefix)\(l)."
            return Layer(v: layout.offset(n + "v.weight"), vBias: layout.offset(n + "v.bias"), h: layout.offset(n + "h.weight"),
                         hBias: layout.offset(n + "h.bias"), v2h: layout.offset(n + "v2h.weight"), out: layout.offset(n + "out.weight"),
                         outBias: layout.offset(n + "out.bias"), vTaps: shape.verticalTaps(l), hTaps: shape.horizontalTaps(l))
        }
    }

    /// N(0, 1/fan_in) for every weight (fan-in: taps × C for the convolutions, 2C for `v2h`, C for `out`); biases
    /// are left as they are.
    public func initialize(_ p: ParameterSet, rng: inout Xoshiro256) {
        let C = shape.channels
        for o in layers {
            p.initNormal(offset: o.v, count: o.vTaps.count * C * 2 * C, std: (1 / Float(o.vTaps.count * C)).squareRoot(), rng: &rng)
            p.initNormal(offset: o.h, count: o.hTaps.count * C * 2 * C, std: (1 / Float(o.hTaps.count * C)).squareRoot(), rng: &rng)
            p.initNormal(offset: o.v2h, count: 4 * C * C, std: (1 / Float(2 * C)).squareRoot(), rng: &rng)
            p.initNormal(offset: o.out, count: C * C, std: (1 / Float(C)).squareRoot(), rng: &rng)
        }
    }

    /// Multiply-adds per pixel of the whole stack.
    public var macsPerPixel: Int {
        let C = shape.channels
        return layers.reduce(0) { $0 + ($1.vTaps.count + $1.hTaps.count) * C * 2 * C + 4 * C * C + C * C }
    }
}

/// Activations of a gated PixelCNN over `batch` images, layout `[height, width, batch, C]` (pixel `p` of image `b`
/// is row `p * batch + b`), with the backward's scratch. The training pass fills it for whole images; generation
/// keeps one as its cache and fills it a row (vertical stack) and a pixel (horizontal stack) at a time.
public final class PixelCNNWorkspace {
    public let batch: Int
    let shape: PixelCNNShape
    let scratch = Scratch()
    /// The input `v_0 = h_0` `[N, C]`, written by the model (pixel embeddings).
    public let input: UnsafeMutablePointer<Float>
    let v, h: UnsafeMutablePointer<Float>           // [L, N, C]: v_{l+1}, h_{l+1}
    let zv, vt, vs: UnsafeMutablePointer<Float>     // [L, N, 2C] vertical pre-activation (without c); [L, N, C] gate saves
    let ht, hs, ha: UnsafeMutablePointer<Float>     // [L, N, C] horizontal gate saves and gated units
    let z: UnsafeMutablePointer<Float>              // [N, 2C] scratch: a pre-activation with conditioning
    let dv, dh: UnsafeMutablePointer<Float>         // [2, N, C] running gradients of v and h (two buffers each)
    let dzv, dzh, da: UnsafeMutablePointer<Float>   // [N, 2C], [N, 2C], [N, C]
    /// `∂loss/∂h_L` `[N, C]`, written by the caller before `backward`.
    public let dOutput: UnsafeMutablePointer<Float>
    /// `∂loss/∂input` `[N, C]` after `backward`.
    public let dInput: UnsafeMutablePointer<Float>

    public init(_ c: PixelCNNShape, batch: Int) {
        precondition(batch >= 1, "a PixelCNN workspace needs at least one image")
        self.batch = batch
        shape = c
        let N = c.pixels * batch, C = c.channels, L = c.layers, m = scratch
        input = m.floats(N * C)
        v = m.floats(L * N * C); h = m.floats(L * N * C)
        zv = m.floats(L * N * 2 * C); vt = m.floats(L * N * C); vs = m.floats(L * N * C)
        ht = m.floats(L * N * C); hs = m.floats(L * N * C); ha = m.floats(L * N * C)
        z = m.floats(N * 2 * C)
        dv = m.floats(2 * N * C); dh = m.floats(2 * N * C)
        dzv = m.floats(N * 2 * C); dzh = m.floats(N * 2 * C); da = m.floats(N * C)
        dOutput = m.floats(N * C); dInput = m.floats(N * C)
    }

    /// The stack's output `h_L` `[N, C]`.
    public var output: UnsafeMutablePointer<Float> { h + (shape.layers - 1) * shape.pixels * batch * shape.channels }

    /// Zeroes the activations (a fresh image for generation).
    public func reset() {
        let N = shape.pixels * batch, C = shape.channels, L = shape.layers
        for (p, n) in [(input, N * C), (v, L * N * C), (h, L * N * C), (zv, L * N * 2 * C)] { p.update(repeating: 0, count: n) }
    }

    /// Floats held.
    public var floats: Int { scratch.totalFloats }
}

extension GatedPixelCNNStack {
    /// The pass from `ws.input` to `h_L` (`ws.output`): the vertical stack over the pixels of image rows `rows`, then
    /// the horizontal stack over `pixels`, layer by layer. The whole image for training; for generation, row `i`'s
    /// vertical stack once when the row starts (it depends only on rows above) and each pixel's horizontal stack.
    /// - Parameter gate: conditioning added to both gates of every layer, or nil: image `b`, layer `l`'s `2C` values at
    ///   `gate + b * gateStride + l * 2C`.
    public func forward(_ ws: PixelCNNWorkspace, parameters p: ParameterSet, gate: UnsafePointer<Float>? = nil, gateStride: Int = 0,
                        rows: Range<Int>? = nil, pixels: Range<Int>? = nil) {
        let c = shape, B = ws.batch, N = c.pixels * B, C = c.channels, W = p.values
        let vRegion = (rows ?? 0..<c.height).clamped(to: 0..<c.height), region = pixels ?? 0..<c.pixels
        let vPixels = (vRegion.lowerBound * c.width)..<(vRegion.upperBound * c.width)
        for (l, o) in layers.enumerated() {
            let vIn = l == 0 ? ws.input : ws.v + (l - 1) * N * C, hIn = l == 0 ? ws.input : ws.h + (l - 1) * N * C
            let zv = ws.zv + l * N * 2 * C
            if !vPixels.isEmpty {
                Layers.conv2dForward(x: vIn, height: c.height, width: c.width, batch: B, inC: C, weight: W + o.v, taps: o.vTaps,
                                     bias: W + o.vBias, outC: 2 * C, y: zv, pixels: vPixels)
                let r = (vPixels.lowerBound * B)..<(vPixels.upperBound * B)
                (ws.z + r.lowerBound * 2 * C).update(from: zv + r.lowerBound * 2 * C, count: r.count * 2 * C)
                addGate(gate, gateStride, layer: l, rows: r, batch: B, to: ws.z)
                Layers.gateForward(z: ws.z + r.lowerBound * 2 * C, rows: r.count, half: C, t: ws.vt + (l * N + r.lowerBound) * C,
                                   s: ws.vs + (l * N + r.lowerBound) * C, a: ws.v + (l * N + r.lowerBound) * C)
            }
            guard !region.isEmpty else { continue }
            let r = (region.lowerBound * B)..<(region.upperBound * B), z = ws.z + r.lowerBound * 2 * C
            Layers.conv2dForward(x: hIn, height: c.height, width: c.width, batch: B, inC: C, weight: W + o.h, taps: o.hTaps,
                                 bias: W + o.hBias, outC: 2 * C, y: ws.z, pixels: region)
            BLAS.gemm(m: r.count, n: 2 * C, k: 2 * C, a: zv + r.lowerBound * 2 * C, b: W + o.v2h, beta: 1, c: z)
            addGate(gate, gateStride, layer: l, rows: r, batch: B, to: ws.z)
            let a = ws.ha + (l * N + r.lowerBound) * C
            Layers.gateForward(z: z, rows: r.count, half: C, t: ws.ht + (l * N + r.lowerBound) * C, s: ws.hs + (l * N + r.lowerBound) * C, a: a)
            let hOut = ws.h + (l * N + r.lowerBound) * C
            for i in 0..<r.count {
                let dst = hOut + i * C, bias = W + o.outBias
                if l == 0 { dst.update(from: bias, count: C) } else {
                    let src = hIn + (r.lowerBound + i) * C
                    for k in 0..<C { dst[k] = src[k] + bias[k] }
                }
            }
            BLAS.gemm(m: r.count, n: C, k: C, a: a, b: W + o.out, beta: 1, c: hOut)
        }
    }

    /// Adds layer `l`'s conditioning to rows `r` of `z` `[N, 2C]` (row `n` belongs to image `n % batch`).
    func addGate(_ gate: UnsafePointer<Float>?, _ stride: Int, layer l: Int, rows r: Range<Int>, batch B: Int,
                 to z: UnsafeMutablePointer<Float>) {
        guard let gate else { return }
        let C2 = 2 * shape.channels
        for n in r {
            let src = gate + (n % B) * stride + l * C2, dst = z + n * C2
            for j in 0..<C2 { dst[j] += src[j] }
        }
    }

    /// Backward of `forward` over whole images, last layer first, from `ws.dOutput`: overwrites `ws.dInput` with
    /// `∂loss/∂input`, accumulates every tensor's gradient into `p.grads` and, with `dGate`, adds `∂loss/∂gate`.
    public func backward(_ ws: PixelCNNWorkspace, parameters p: ParameterSet, dGate: UnsafeMutablePointer<Float>? = nil,
                         gateStride: Int = 0) {
        let c = shape, B = ws.batch, N = c.pixels * B, C = c.channels, W = p.values, G = p.grads
        var cur = 0  // ws.dh/dv buffer `cur` holds ∂loss/∂h_{l+1}, ∂loss/∂v_{l+1}
        ws.dh.update(from: ws.dOutput, count: N * C)
        ws.dv.update(repeating: 0, count: N * C)
        for (l, o) in layers.enumerated().reversed() {
            let dh = ws.dh + cur * N * C, dv = ws.dv + cur * N * C
            let dhPrev = ws.dh + (1 - cur) * N * C, dvPrev = ws.dv + (1 - cur) * N * C
            let vIn = l == 0 ? ws.input : ws.v + (l - 1) * N * C, hIn = l == 0 ? ws.input : ws.h + (l - 1) * N * C
            let zv = ws.zv + l * N * 2 * C, a = ws.ha + l * N * C
            // Horizontal read-out and residual.
            Layers.denseBackward(x: a, rows: N, inDim: C, weight: W + o.out, outDim: C, dy: dh, dx: nil, dWeight: G + o.out,
                                 dBias: G + o.outBias)
            BLAS.gemm(transB: true, m: N, n: C, k: C, a: dh, b: W + o.out, beta: 0, c: ws.da)
            Layers.gateBackward(da: ws.da, t: ws.ht + l * N * C, s: ws.hs + l * N * C, rows: N, half: C, dz: ws.dzh)
            // z_h = conv_h(h_l) + z_v · W_v2h + c.
            BLAS.gemm(transA: true, m: 2 * C, n: 2 * C, k: N, a: zv, b: ws.dzh, beta: 1, c: G + o.v2h)
            BLAS.gemm(transB: true, m: N, n: 2 * C, k: 2 * C, a: ws.dzh, b: W + o.v2h, beta: 0, c: ws.dzv)
            if l == 0 { dhPrev.update(repeating: 0, count: N * C) } else { dhPrev.update(from: dh, count: N * C) }
            Layers.conv2dBackward(x: hIn, height: c.height, width: c.width, batch: B, inC: C, weight: W + o.h, taps: o.hTaps,
                                  outC: 2 * C, dy: ws.dzh, dx: dhPrev, dWeight: G + o.h, dBias: G + o.hBias)
            // Vertical gate: ∂/∂(z_v + c) from v_{l+1}, then z_v's gradient also carries the v2h path.
            Layers.gateBackward(da: dv, t: ws.vt + l * N * C, s: ws.vs + l * N * C, rows: N, half: C, dz: ws.z)
            if let dGate {
                for n in 0..<N {
                    let dst = dGate + (n % B) * gateStride + l * 2 * C, s1 = ws.z + n * 2 * C, s2 = ws.dzh + n * 2 * C
                    for j in 0..<(2 * C) { dst[j] += s1[j] + s2[j] }
                }
            }
            for i in 0..<(N * 2 * C) { ws.dzv[i] += ws.z[i] }
            dvPrev.update(repeating: 0, count: N * C)
            Layers.conv2dBackward(x: vIn, height: c.height, width: c.width, batch: B, inC: C, weight: W + o.v, taps: o.vTaps,
                                  outC: 2 * C, dy: ws.dzv, dx: dvPrev, dWeight: G + o.v, dBias: G + o.vBias)
            cur = 1 - cur
        }
        // v_0 = h_0 = input.
        let dh = ws.dh + cur * N * C, dv = ws.dv + cur * N * C
        for i in 0..<(N * C) { ws.dInput[i] = dh[i] + dv[i] }
    }
}
