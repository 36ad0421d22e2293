// Every layer's backward checked against central finite differences.
import TestSupport
import XCTest
@testable import NNCore

final class LayerGradientTests: XCTestCase {
    func testDenseBackward() {
        let n = 5, inD = 4, outD = 3
        let x = Buf(randomFloats(n * inD, seed: 1)), w = Buf(randomFloats(inD * outD, seed: 2)), b = Buf(randomFloats(outD, seed: 3))
        let r = randomFloats(n * outD, seed: 4)
        let y = Buf(zeros: n * outD)
        func loss() -> Double {
            Layers.denseForward(x: x.p, rows: n, inDim: inD, weight: w.p, bias: b.p, outDim: outD, y: y.p)
            return dot(y.p, r)
        }
        let dx = Buf(zeros: x.count), dw = Buf(zeros: w.count), db = Buf(zeros: b.count)
        Layers.denseBackward(x: x.p, rows: n, inDim: inD, weight: w.p, outDim: outD, dy: r, dx: dx.p, dWeight: dw.p, dBias: db.p)
        assertGradientsMatch("dx", x, analytic: dx) { loss() }
        assertGradientsMatch("dW", w, analytic: dw) { loss() }
        assertGradientsMatch("db", b, analytic: db) { loss() }
    }

    func testDenseMatchesPlainLoop() {
        let n = 3, inD = 5, outD = 2
        let x = randomFloats(n * inD, seed: 7), w = randomFloats(inD * outD, seed: 8), b: [Float] = [0.5, -0.25]
        var y = [Float](repeating: 0, count: n * outD)
        Layers.denseForward(x: x, rows: n, inDim: inD, weight: w, bias: b, outDim: outD, y: &y)
        for r in 0..<n { for o in 0..<outD {
            var ref = b[o]
            for i in 0..<inD { ref += x[r * inD + i] * w[i * outD + o] }
            XCTAssertEqual(y[r * outD + o], ref, accuracy: 1e-5)
        } }
    }

    /// Causal dilated convolution (kernel 2, dilation 3) on [time, batch, channels], checked against a plain loop and by gradients.
    func testCausalDilatedConv() {
        let T = 9, B = 2, inC = 3, outC = 4, d = 3, offsets = [-d, 0]
        let x = randomFloats(T * B * inC, seed: 11), w = randomFloats(2 * inC * outC, seed: 12), b = randomFloats(outC, seed: 13)
        var y = [Float](repeating: 0, count: T * B * outC)
        Layers.conv1dForward(x: x, time: T, batch: B, inC: inC, weight: w, offsets: offsets, bias: b, outC: outC, y: &y)
        for t in 0..<T { for bi in 0..<B { for o in 0..<outC {
            var ref = b[o]
            for i in 0..<inC {
                if t - d >= 0 { ref += x[((t - d) * B + bi) * inC + i] * w[i * outC + o] }
                ref += x[(t * B + bi) * inC + i] * w[inC * outC + i * outC + o]
            }
            XCTAssertEqual(y[(t * B + bi) * outC + o], ref, accuracy: 1e-5, "t=\(t) b=\(bi) o=\(o)")
        } } }
        let r = randomFloats(T * B * outC, seed: 14)
        let xb = Buf(x), wb = Buf(w), bb = Buf(b), yb = Buf(zeros: T * B * outC)
        func loss() -> Double {
            Layers.conv1dForward(x: xb.p, time: T, batch: B, inC: inC, weight: wb.p, offsets: offsets, bias: bb.p, outC: outC, y: yb.p)
            return dot(yb.p, r)
        }
        let dx = Buf(zeros: x.count), dw = Buf(zeros: w.count), db = Buf(zeros: b.count)
        Layers.conv1dBackward(x: xb.p, time: T, batch: B, inC: inC, weight: wb.p, offsets: offsets, outC: outC, dy: r, dx: dx.p, dWeight: dw.p, dBias: db.p)
        assertGradientsMatch("dx", xb, analytic: dx, tolerance: .layer.checking(200)) { loss() }
        assertGradientsMatch("dW", wb, analytic: dw) { loss() }
        assertGradientsMatch("db", bb, analytic: db) { loss() }
    }

    func testNonCausalConvKernel3() {
        let T = 6, B = 1, inC = 2, outC = 3, offsets = [-1, 0, 1]
        let w = Buf(randomFloats(3 * inC * outC, seed: 21)), x = Buf(randomFloats(T * B * inC, seed: 22))
        let r = randomFloats(T * B * outC, seed: 23)
        let y = Buf(zeros: T * B * outC)
        func loss() -> Double {
            Layers.conv1dForward(x: x.p, time: T, batch: B, inC: inC, weight: w.p, offsets: offsets, bias: nil, outC: outC, y: y.p)
            return dot(y.p, r)
        }
        let dx = Buf(zeros: x.count), dw = Buf(zeros: w.count)
        Layers.conv1dBackward(x: x.p, time: T, batch: B, inC: inC, weight: w.p, offsets: offsets, outC: outC, dy: r, dx: dx.p, dWeight: dw.p, dBias: nil)
        assertGradientsMatch("dx", x, analytic: dx) { loss() }
        assertGradientsMatch("dW", w, analytic: dw) { loss() }
    }

    func testEmbeddingBackward() {
        let vocab = 5, dim = 3
        let table = Buf(randomFloats(vocab * dim, seed: 31))
        let idx: [Int32] = [4, 0, 4, 2]
        let r = randomFloats(idx.count * dim, seed: 32)
        let out = Buf(zeros: idx.count * dim)
        func loss() -> Double {
            Layers.embeddingForward(table: table.p, dim: dim, indices: idx, rows: idx.count, out: out.p)
            return dot(out.p, r)
        }
        let dt = Buf(zeros: table.count)
        Layers.embeddingBackward(dOut: r, indices: idx, rows: idx.count, dim: dim, dTable: dt.p)
        assertGradientsMatch("dTable", table, analytic: dt) { loss() }
        XCTAssertEqual(dt.p[1 * dim], 0) // row 1 unused
    }

    func testGateForwardValuesAndBackward() {
        let n = 4, h = 3
        let z = randomFloats(n * 2 * h, seed: 41, scale: 3)
        var t = [Float](repeating: 0, count: n * h), s = t, a = t
        Layers.gateForward(z: z, rows: n, half: h, t: &t, s: &s, a: &a)
        for r in 0..<n { for i in 0..<h {
            let ref = tanh(Double(z[r * 2 * h + i])) / (1 + exp(-Double(z[r * 2 * h + h + i])))
            XCTAssertEqual(Double(a[r * h + i]), ref, accuracy: 1e-6)
        } }
        let r = randomFloats(n * h, seed: 42)
        var dz = [Float](repeating: 0, count: z.count)
        Layers.gateBackward(da: r, t: t, s: s, rows: n, half: h, dz: &dz)
        let zb = Buf(z), dzb = Buf(dz)
        assertGradientsMatch("dz", zb, analytic: dzb, tolerance: GradientTolerance(eps: 1e-3)) {
            var tt = [Float](repeating: 0, count: n * h), ss = tt, aa = tt
            Layers.gateForward(z: zb.p, rows: n, half: h, t: &tt, s: &ss, a: &aa)
            return dot(aa, r)
        }
    }

    func testFastTranscendentalsAccuracy() {
        var worstT = 0.0, worstS = 0.0
        var x: Float = -20
        while x <= 20 {
            var z: [Float] = [x, x], t: [Float] = [0], s: [Float] = [0], a: [Float] = [0]
            Layers.gateForward(z: &z, rows: 1, half: 1, t: &t, s: &s, a: &a)
            worstT = max(worstT, abs(Double(t[0]) - tanh(Double(x))))
            worstS = max(worstS, abs(Double(s[0]) - 1 / (1 + exp(-Double(x)))))
            x += 0.01
        }
        XCTAssertLessThan(worstT, 1e-6, "tanh max abs error \(worstT)")
        XCTAssertLessThan(worstS, 1e-6, "sigmoid max abs error \(worstS)")
    }

    func testReluBackward() {
        let x: [Float] = [-1, 0.5, 2, -0.1]
        var y = [Float](repeating: 0, count: 4), dx = y
        Layers.reluForward(x: x, count: 4, y: &y)
        XCTAssertEqual(y, [0, 0.5, 2, 0])
        Layers.reluBackward(dy: [1, 2, 3, 4], y: y, count: 4, dx: &dx)
        XCTAssertEqual(dx, [0, 2, 3, 0])
    }

    func testBatchMajorReordersTimeMajorRows() {
        // [time 3, batch 2, width 2] with value 100 t + 10 b + v, read back batch-major [batch, time, width].
        let T = 3, B = 2, V = 2
        var x = [Float](repeating: 0, count: T * B * V)
        for t in 0..<T { for b in 0..<B { for v in 0..<V { x[(t * B + b) * V + v] = Float(100 * t + 10 * b + v) } } }
        let y = Layers.batchMajor(x, time: T, batch: B, width: V)
        XCTAssertEqual(y, [0, 1, 100, 101, 200, 201, 10, 11, 110, 111, 210, 211])
        // The first `time` rows only, as a model scoring fewer positions than its workspace holds.
        XCTAssertEqual(Layers.batchMajor(x, time: 1, batch: B, width: V), [0, 1, 10, 11])
    }

    func testSoftmaxCrossEntropyValueAndGradient() {
        // Hand-computed: logits [0, ln 2, ln 5] -> p = [1/8, 2/8, 5/8]; target 1 -> loss ln 4.
        let logits: [Float] = [0, logf(2), logf(5)]
        var d = [Float](repeating: 0, count: 3)
        let loss = Layers.softmaxCrossEntropy(logits: logits, targets: [1], rows: 1, vocab: 3, scale: 1, dLogits: &d)
        XCTAssertEqual(loss, log(4.0), accuracy: 1e-5)
        XCTAssertEqual(d[0], 0.125, accuracy: 1e-6)
        XCTAssertEqual(d[1], 0.25 - 1, accuracy: 1e-6)
        XCTAssertEqual(d[2], 0.625, accuracy: 1e-6)
        // Ignored target contributes nothing.
        var d2 = [Float](repeating: 9, count: 6)
        let l2 = Layers.softmaxCrossEntropy(logits: logits + logits, targets: [-1, 2], rows: 2, vocab: 3, scale: 1, dLogits: &d2)
        XCTAssertEqual(l2, -log(0.625), accuracy: 1e-5)
        XCTAssertEqual(Array(d2[0..<3]), [0, 0, 0])
        // Finite differences.
        let lg = Buf(randomFloats(2 * 4, seed: 51, scale: 2))
        let tg: [Int32] = [3, 0]
        let g = Buf(zeros: 8)
        Layers.softmaxCrossEntropy(logits: lg.p, targets: tg, rows: 2, vocab: 4, scale: 1, dLogits: g.p)
        assertGradientsMatch("dLogits", lg, analytic: g, tolerance: GradientTolerance(eps: 1e-3)) {
            var tmp = [Float](repeating: 0, count: 8)
            return Layers.softmaxCrossEntropy(logits: lg.p, targets: tg, rows: 2, vocab: 4, scale: 1, dLogits: &tmp)
        }
    }
}
