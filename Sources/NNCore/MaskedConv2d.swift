// Masked 2-D convolutions over images in raster order (PixelCNN): taps as pixel offsets, forward over any run of
// pixels (a whole image for training, one row or one pixel when generating), backward, and a plain-loop reference.

/// One tap of a 2-D convolution: output pixel `(i, j)` reads input pixel `(i + dy, j + dx)` (zero outside the image).
public struct ConvTap: Equatable, Hashable, Sendable {
    public var dy: Int, dx: Int
    public init(dy: Int, dx: Int) {
        self.dy = dy
        self.dx = dx
    }
}

/// The masks of PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3.4): type A for the
/// first layer (a pixel does not see itself), type B for every later layer (it sees its own position, which by then
/// holds only features of earlier pixels).
public enum ConvMask: String, Sendable {
    case a = "A", b = "B"

    /// The taps of a `k × k` masked convolution (k odd): every offset strictly before the centre in raster order,
    /// and with mask B the centre too. The original PixelCNN mask, which has a blind spot when stacked.
    public func taps(kernel k: Int) -> [ConvTap] {
        precondition(k >= 1 && k % 2 == 1, "a masked convolution needs an odd kernel, got \(k)")
        let r = k / 2
        return (-r...r).flatMap { dy in (-r...r).map { ConvTap(dy: dy, dx: $0) } }
            .filter { $0.dy < 0 || ($0.dy == 0 && ($0.dx < 0 || ($0.dx == 0 && self == .b))) }
    }

    /// The vertical stack's taps of the gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with
    /// PixelCNN Decoders"): the `(k/2 + 1) × k` rows above and, with mask B, the current row, all columns of the
    /// kernel. Output row `i` then depends on input rows `< i` only (mask A), or on rows `<= i` of features that
    /// themselves depend on rows `< i` (mask B): no blind spot, no leak.
    public func verticalTaps(kernel k: Int) -> [ConvTap] {
        precondition(k >= 1 && k % 2 == 1, "a masked convolution needs an odd kernel, got \(k)")
        let r = k / 2
        return (-r...(self == .a ? -1 : 0)).flatMap { dy in (-r...r).map { ConvTap(dy: dy, dx: $0) } }
    }

    /// The horizontal stack's taps: the current row, `k/2` columns to the left and, with mask B, the current column.
    public func horizontalTaps(kernel k: Int) -> [ConvTap] {
        precondition(k >= 1 && k % 2 == 1, "a masked convolution needs an odd kernel, got \(k)")
        let r = k / 2
        return (-r...(self == .a ? -1 : 0)).map { ConvTap(dy: 0, dx: $0) }
    }
}

extension Layers {
    // MARK: Masked 2-D convolution

    /// A 2-D convolution with arbitrary taps (a mask is the choice of taps), zero-padded:
    /// `y[p, b] (=|+=) bias + Σ_k x[p + taps[k], b] · W[k]` for the output pixels `p` in `pixels` (raster indices
    /// `i * width + j`), with `W` `[taps, inC, outC]`.
    ///
    /// Layout `[height, width, batch, channels]`, row-major: pixel `p` of image `b` is row `p * batch + b`, so a run of
    /// pixels within one image row is contiguous and each tap is one GEMM per image row. Rows of `y` outside `pixels`
    /// are not touched; inputs are read wherever the taps reach (the caller keeps them valid there).
    public static func conv2dForward(
        x: UnsafePointer<Float>, height H: Int, width W: Int, batch B: Int, inC: Int, weight w: UnsafePointer<Float>,
        taps: [ConvTap], bias: UnsafePointer<Float>?, outC: Int, y: UnsafeMutablePointer<Float>,
        pixels: Range<Int>? = nil, accumulate: Bool = false
    ) {
        let region = pixels ?? 0..<(H * W)
        precondition(region.lowerBound >= 0 && region.upperBound <= H * W, "conv2d: pixels \(region) outside the image")
        let r0 = region.lowerBound * B, r1 = region.upperBound * B
        if !accumulate {
            if let bias { for r in r0..<r1 { (y + r * outC).update(from: bias, count: outC) } }
            else { (y + r0 * outC).update(repeating: 0, count: (r1 - r0) * outC) }
        } else if let bias {
            for r in r0..<r1 { let yr = y + r * outC; for o in 0..<outC { yr[o] += bias[o] } }
        }
        for (k, tap) in taps.enumerated() {
            forEachSegment(tap, height: H, width: W, pixels: region) { out, inp, n in
                BLAS.gemm(m: n * B, n: outC, k: inC, a: x + inp * B * inC, b: w + k * inC * outC, beta: 1,
                          c: y + out * B * outC)
            }
        }
    }

    /// Backward of `conv2dForward` over every pixel: accumulates into `dx` `[H, W, batch, inC]`, `dWeight`
    /// `[taps, inC, outC]` and `dBias` `[outC]` (each may be nil) from `dy` `[H, W, batch, outC]`.
    public static func conv2dBackward(
        x: UnsafePointer<Float>, height H: Int, width W: Int, batch B: Int, inC: Int, weight w: UnsafePointer<Float>,
        taps: [ConvTap], outC: Int, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
        dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?
    ) {
        for (k, tap) in taps.enumerated() {
            forEachSegment(tap, height: H, width: W, pixels: 0..<(H * W)) { out, inp, n in
                let rows = n * B, dys = dy + out * B * outC
                if let dx {
                    BLAS.gemm(transB: true, m: rows, n: inC, k: outC, a: dys, b: w + k * inC * outC, beta: 1,
                              c: dx + inp * B * inC)
                }
                if let dWeight {
                    BLAS.gemm(transA: true, m: inC, n: outC, k: rows, a: x + inp * B * inC, b: dys, beta: 1,
                              c: dWeight + k * inC * outC)
                }
            }
        }
        if let dBias {
            for r in 0..<(H * W * B) { let d = dy + r * outC; for o in 0..<outC { dBias[o] += d[o] } }
        }
    }

    /// Calls `body(outPixel, inPixel, count)` for each maximal run of `count` output pixels of `pixels` whose tap
    /// `tap` lands inside the image, in runs contiguous in both the output and the input (one image row each; the
    /// whole block of rows at once when the tap does not shift columns).
    static func forEachSegment(_ tap: ConvTap, height H: Int, width W: Int, pixels: Range<Int>,
                               _ body: (_ out: Int, _ inp: Int, _ count: Int) -> Void) {
        guard !pixels.isEmpty else { return }
        let c0 = max(0, -tap.dx), c1 = min(W, W - tap.dx)
        guard c1 > c0 else { return }
        let firstRow = pixels.lowerBound / W, lastRow = (pixels.upperBound - 1) / W
        if tap.dx == 0 {
            // Every column is valid: one run over the rows whose source row exists.
            let lo = max(pixels.lowerBound, -tap.dy * W), hi = min(pixels.upperBound, (H - tap.dy) * W)
            if hi > lo { body(lo, lo + tap.dy * W, hi - lo) }
            return
        }
        for i in firstRow...lastRow where i + tap.dy >= 0 && i + tap.dy < H {
            let lo = max(pixels.lowerBound, i * W + c0), hi = min(pixels.upperBound, i * W + c1)
            if hi > lo { body(lo, lo + tap.dy * W + tap.dx, hi - lo) }
        }
    }

    /// Plain-loop reference of `conv2dForward` over every pixel (no BLAS), for tests: `y` is overwritten.
    public static func conv2dForwardReference(
        x: UnsafePointer<Float>, height H: Int, width W: Int, batch B: Int, inC: Int, weight w: UnsafePointer<Float>,
        taps: [ConvTap], bias: UnsafePointer<Float>?, outC: Int, y: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<H {
            for j in 0..<W {
                for b in 0..<B {
                    let yr = y + ((i * W + j) * B + b) * outC
                    for o in 0..<outC { yr[o] = bias?[o] ?? 0 }
                    for (k, t) in taps.enumerated() {
                        let si = i + t.dy, sj = j + t.dx
                        guard si >= 0, si < H, sj >= 0, sj < W else { continue }
                        let xr = x + ((si * W + sj) * B + b) * inC, wk = w + k * inC * outC
                        for c in 0..<inC { for o in 0..<outC { yr[o] += xr[c] * wk[c * outC + o] } }
                    }
                }
            }
        }
    }
}
