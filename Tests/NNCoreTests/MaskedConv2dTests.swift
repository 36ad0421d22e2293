// Masked 2-D convolutions and the gated PixelCNN stack: against PyTorch, the plain-loop reference, finite differences,
// partial (row / pixel) passes, and causality in raster order without a blind spot.
import Foundation
import NNCore
import TestSupport
import XCTest

final class MaskedConv2dTests: XCTestCase {
    /// `NCHW` (PyTorch) to synth's `[H, W, batch, C]`.
    static func toHWBC(_ a: [Float], B: Int, C: Int, H: Int, W: Int) -> [Float] {
        var out = [Float](repeating: 0, count: a.count)
        for b in 0..<B { for c in 0..<C { for i in 0..<H { for j in 0..<W {
            out[((i * W + j) * B + b) * C + c] = a[((b * C + c) * H + i) * W + j]
        } } } }
        return out
    }

    /// The taps of each fixture mask (scripts/fixtures/image_fixtures.py names them).
    static let masks: [String: [ConvTap]] = [
        "A": ConvMask.a.taps(kernel: 3), "B": ConvMask.b.taps(kernel: 3),
        "vA": ConvMask.a.verticalTaps(kernel: 3), "vB": ConvMask.b.verticalTaps(kernel: 3),
        "hA": ConvMask.a.horizontalTaps(kernel: 3), "hB": ConvMask.b.horizontalTaps(kernel: 3),
    ]

    func testTapsOfTheMasks() {
        XCTAssertEqual(ConvMask.a.taps(kernel: 3).count, 4)
        XCTAssertEqual(ConvMask.b.taps(kernel: 3).count, 5)
        XCTAssertEqual(ConvMask.a.verticalTaps(kernel: 5).count, 10)  // 2 rows above x 5 columns
        XCTAssertEqual(ConvMask.b.verticalTaps(kernel: 5).count, 15)
        XCTAssertEqual(ConvMask.a.horizontalTaps(kernel: 5), [ConvTap(dy: 0, dx: -2), ConvTap(dy: 0, dx: -1)])
        XCTAssertEqual(ConvMask.b.horizontalTaps(kernel: 3), [ConvTap(dy: 0, dx: -1), ConvTap(dy: 0, dx: 0)])
    }

    /// PyTorch's `conv2d` (padding 1) with each masked 3x3 kernel equals `conv2dForward` and the reference.
    func testMatchesPyTorch() throws {
        struct Fixture: Decodable {
            struct Mask: Decodable { let weight: [Float], bias: [Float], y: [Float] }
            let x: [Float], shape: [Int], out_channels: Int, masks: [String: Mask]
        }
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("masked_conv2d.json")
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let (B, C, H, W, O) = (f.shape[0], f.shape[1], f.shape[2], f.shape[3], f.out_channels)
        let x = Self.toHWBC(f.x, B: B, C: C, H: H, W: W)
        XCTAssertEqual(f.masks.count, 6)
        for (name, m) in f.masks.sorted(by: { $0.key < $1.key }) {
            let taps = try XCTUnwrap(Self.masks[name])
            // torch weight [O, C, 3, 3] to synth's [taps, C, O]; every other kernel entry must be masked to zero.
            var w = [Float](repeating: 0, count: taps.count * C * O)
            for (k, t) in taps.enumerated() { for c in 0..<C { for o in 0..<O {
                w[(k * C + c) * O + o] = m.weight[((o * C + c) * 3 + t.dy + 1) * 3 + t.dx + 1]
            } } }
            let used = Set(taps.map { ($0.dy + 1) * 3 + $0.dx + 1 })
            for o in 0..<O { for c in 0..<C { for kk in 0..<9 where !used.contains(kk) { XCTAssertEqual(m.weight[(o * C + c) * 9 + kk], 0) } } }
            let want = Self.toHWBC(m.y, B: B, C: O, H: H, W: W)
            var y = [Float](repeating: 0, count: want.count), ref = y
            Layers.conv2dForward(x: x, height: H, width: W, batch: B, inC: C, weight: w, taps: taps, bias: m.bias, outC: O, y: &y)
            Layers.conv2dForwardReference(x: x, height: H, width: W, batch: B, inC: C, weight: w, taps: taps, bias: m.bias, outC: O, y: &ref)
            let d1 = zip(y, want).map { abs($0 - $1) }.max()!, d2 = zip(ref, want).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(d1, 1e-5, "mask \(name): BLAS vs torch, max |diff| \(d1)")
            XCTAssertLessThan(d2, 1e-5, "mask \(name): reference vs torch, max |diff| \(d2)")
        }
    }

    /// Row by row and pixel by pixel, the forward pass writes what the whole-image pass writes.
    func testPartialPassesEqualTheWholeImage() {
        let (B, C, O, H, W) = (2, 3, 5, 4, 5), taps = ConvMask.b.verticalTaps(kernel: 5)
        let x = randomFloats(H * W * B * C, seed: 1), w = randomFloats(taps.count * C * O, seed: 2), bias = randomFloats(O, seed: 3)
        var full = [Float](repeating: 0, count: H * W * B * O), rows = full, pixels = full
        Layers.conv2dForward(x: x, height: H, width: W, batch: B, inC: C, weight: w, taps: taps, bias: bias, outC: O, y: &full)
        for i in 0..<H {
            Layers.conv2dForward(x: x, height: H, width: W, batch: B, inC: C, weight: w, taps: taps, bias: bias, outC: O, y: &rows,
                                 pixels: (i * W)..<((i + 1) * W))
        }
        for p in 0..<(H * W) {
            Layers.conv2dForward(x: x, height: H, width: W, batch: B, inC: C, weight: w, taps: taps, bias: bias, outC: O, y: &pixels,
                                 pixels: p..<(p + 1))
        }
        XCTAssertLessThan(zip(full, rows).map { abs($0 - $1) }.max()!, 1e-6)
        XCTAssertLessThan(zip(full, pixels).map { abs($0 - $1) }.max()!, 1e-6)
    }

    func testConv2dGradients() {
        let (B, C, O, H, W) = (2, 3, 4, 3, 4), taps = ConvMask.b.taps(kernel: 3)
        let x = Buf(randomFloats(H * W * B * C, seed: 4)), w = Buf(randomFloats(taps.count * C * O, seed: 5))
        let bias = Buf(randomFloats(O, seed: 6)), r = randomFloats(H * W * B * O, seed: 7), y = Buf(zeros: H * W * B * O)
        func loss() -> Double {
            Layers.conv2dForward(x: x.p, height: H, width: W, batch: B, inC: C, weight: w.p, taps: taps, bias: bias.p, outC: O, y: y.p)
            return dot(y.p, r)
        }
        let dx = Buf(zeros: x.count), dw = Buf(zeros: w.count), db = Buf(zeros: O)
        _ = loss()
        Layers.conv2dBackward(x: x.p, height: H, width: W, batch: B, inC: C, weight: w.p, taps: taps, outC: O, dy: r, dx: dx.p,
                              dWeight: dw.p, dBias: db.p)
        assertGradientsMatch("x", x, analytic: dx, loss: loss)
        assertGradientsMatch("weight", w, analytic: dw, loss: loss)
        assertGradientsMatch("bias", bias, analytic: db, loss: loss)
    }

    // MARK: The gated stack

    static func stack(_ shape: PixelCNNShape, seed: UInt64) -> (GatedPixelCNNStack, ParameterSet) {
        var layout = ParameterLayout()
        GatedPixelCNNStack.addParameters(shape, to: &layout)
        let p = ParameterSet(layout: layout), s = GatedPixelCNNStack(shape, layout: layout)
        var rng = Xoshiro256(seed: seed)
        s.initialize(p, rng: &rng)
        for e in p.entries where e.name.hasSuffix("bias") { p.initNormal(offset: e.offset, count: e.count, std: 0.3, rng: &rng) }
        return (s, p)
    }

    func testStackGradients() {
        let shape = PixelCNNShape(height: 3, width: 4, channels: 3, layers: 3, kernel: 3), B = 2
        let (s, p) = Self.stack(shape, seed: 8)
        let ws = PixelCNNWorkspace(shape, batch: B), N = shape.pixels * B, C = shape.channels, G = shape.layers * 2 * C
        let input = Buf(randomFloats(N * C, seed: 9)), gate = Buf(randomFloats(B * G, seed: 10, scale: 0.5))
        let r = randomFloats(N * C, seed: 11)
        func loss() -> Double {
            ws.input.update(from: input.p, count: N * C)
            s.forward(ws, parameters: p, gate: gate.p, gateStride: G)
            return dot(ws.output, r)
        }
        _ = loss()
        p.zeroGrads()
        ws.dOutput.update(from: r, count: N * C)
        let dGate = Buf(zeros: B * G)
        s.backward(ws, parameters: p, dGate: dGate.p, gateStride: G)
        let dInput = Buf(Array(UnsafeBufferPointer(start: ws.dInput, count: N * C)))
        assertGradientsMatch("input", input, analytic: dInput, loss: loss)
        assertGradientsMatch("gate", gate, analytic: dGate, loss: loss)
        for e in p.entries {
            assertGradientsMatch(e.name, x: p.values + e.offset, count: e.count, analytic: p.grads + e.offset,
                                 tolerance: .layer.checking(24), loss: loss)
        }
    }

    /// Changing input pixel `q` changes no output at or before `q` in raster order; and it does change the output at
    /// every later pixel within reach, including those up and to the right (the original PixelCNN's blind spot).
    func testCausalInRasterOrderWithoutBlindSpot() {
        let shape = PixelCNNShape(height: 6, width: 6, channels: 4, layers: 4, kernel: 3), P = shape.pixels, C = shape.channels
        let (s, p) = Self.stack(shape, seed: 12)
        let ws = PixelCNNWorkspace(shape, batch: 1), input = randomFloats(P * C, seed: 13)
        func outputs(_ x: [Float]) -> [Float] {
            ws.input.update(from: x, count: P * C)
            s.forward(ws, parameters: p)
            return Array(UnsafeBufferPointer(start: ws.output, count: P * C))
        }
        let base = outputs(input)
        for q in 0..<P {
            var x = input
            for c in 0..<C { x[q * C + c] += 1 }
            let out = outputs(x)
            for t in 0..<P {
                let changed = (0..<C).contains { abs(out[t * C + $0] - base[t * C + $0]) > 1e-6 }
                if t <= q { XCTAssertFalse(changed, "input pixel \(q) changed the output at pixel \(t)") }
            }
        }
        // Pixel (3, 2) sees the two rows above within two columns either side, and two pixels to its left.
        let target = 3 * 6 + 2
        for q in [1 * 6 + 0, 1 * 6 + 4, 2 * 6 + 0, 2 * 6 + 3, 2 * 6 + 4, 3 * 6 + 0, 3 * 6 + 1] {
            var x = input
            for c in 0..<C { x[q * C + c] += 1 }
            let out = outputs(x)
            XCTAssert((0..<C).contains { abs(out[target * C + $0] - base[target * C + $0]) > 1e-6 },
                      "pixel (3, 2) does not see input pixel (\(q / 6), \(q % 6))")
        }
    }
}
