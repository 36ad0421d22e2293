// Transformer: LayerNorm, GELU and attention gradients, the full model against finite differences, cached == full.
import AREngine
import NNCore
import TestSupport
import XCTest
@testable import Music

func tinyTransformer(seed: UInt64 = 3) -> TransformerModel {
    let m = TransformerModel(config: TransformerConfig(vocabSize: 11, contextLength: 9, dModel: 8, nHeads: 2, nLayers: 2, dFF: 12))
    m.initialize(seed: seed)
    // Larger weights than GPT-2's 0.02 so every path carries a gradient well above float noise.
    var rng = Xoshiro256(seed: seed + 1)
    for i in 0..<m.parameters.count { m.parameters.values[i] += rng.nextGaussian() * 0.3 }
    return m
}

final class TransformerTests: XCTestCase {
    func testLayerNormGradients() {
        let n = 3, C = 7
        let x = Buf(randomFloats(n * C, seed: 1, scale: 2)), g = Buf(randomFloats(C, seed: 2)), b = Buf(randomFloats(C, seed: 3))
        let y = Buf(zeros: n * C), mean = Buf(zeros: n), rstd = Buf(zeros: n)
        let r = randomFloats(n * C, seed: 4)
        func loss() -> Double {
            Layers.layerNormForward(x: x.p, rows: n, channels: C, gamma: g.p, beta: b.p, y: y.p, mean: mean.p, rstd: rstd.p)
            return dot(y.p, r)
        }
        _ = loss()
        // Normalised rows: mean 0, variance 1 before the affine part.
        let dx = Buf(zeros: n * C), dg = Buf(zeros: C), db = Buf(zeros: C), dy = Buf(r)
        Layers.layerNormBackward(x: x.p, rows: n, channels: C, gamma: g.p, mean: mean.p, rstd: rstd.p, dy: dy.p,
                                 dx: dx.p, dGamma: dg.p, dBeta: db.p)
        assertGradientsMatch("x", x: x.p, count: x.count, analytic: dx.p, tolerance: .music, loss: loss)
        assertGradientsMatch("gamma", x: g.p, count: C, analytic: dg.p, tolerance: .music, loss: loss)
        assertGradientsMatch("beta", x: b.p, count: C, analytic: db.p, tolerance: .music, loss: loss)
    }

    func testGELUGradient() {
        let x = Buf(randomFloats(20, seed: 5, scale: 3)), y = Buf(zeros: 20), r = randomFloats(20, seed: 6)
        func loss() -> Double { Layers.geluForward(x: x.p, count: 20, y: y.p); return dot(y.p, r) }
        let dx = Buf(zeros: 20), dy = Buf(r)
        Layers.geluBackward(x: x.p, dy: dy.p, count: 20, dx: dx.p)
        assertGradientsMatch("x", x: x.p, count: 20, analytic: dx.p, tolerance: .music.checking(20), loss: loss)
        // Known values: gelu(0) = 0, gelu(1) ≈ 0.8412 (tanh form).
        let z = Buf([0, 1]), o = Buf(zeros: 2)
        Layers.geluForward(x: z.p, count: 2, y: o.p)
        XCTAssertEqual(o.p[0], 0, accuracy: 1e-7)
        XCTAssertEqual(o.p[1], 0.8412, accuracy: 1e-4)
    }

    func testAttentionMatchesReferenceAndGradients() {
        let B = 2, T = 5, C = 6, H = 3
        let qkv = Buf(randomFloats(B * T * 3 * C, seed: 7, scale: 1.5))
        let att = Buf(zeros: B * H * T * T), out = Buf(zeros: B * T * C), ref = Buf(zeros: B * T * C)
        Attention.forward(qkv: qkv.p, batch: B, time: T, channels: C, heads: H, att: att.p, out: out.p)
        Attention.forwardReference(qkv: qkv.p, batch: B, time: T, channels: C, heads: H, out: ref.p)
        var maxDiff: Float = 0
        for i in 0..<out.count { maxDiff = max(maxDiff, abs(out.p[i] - ref.p[i])) }
        XCTAssertLessThan(maxDiff, 1e-5, "BLAS vs plain-loop attention, max |diff| \(maxDiff)")
        // Causality: changing the last position's key/value leaves earlier outputs alone.
        let r = randomFloats(B * T * C, seed: 8)
        func loss() -> Double {
            Attention.forward(qkv: qkv.p, batch: B, time: T, channels: C, heads: H, att: att.p, out: out.p)
            return dot(out.p, r)
        }
        _ = loss()
        let dqkv = Buf(zeros: qkv.count), dAtt = Buf(zeros: T * T), dOut = Buf(r)
        Attention.backward(qkv: qkv.p, att: att.p, dOut: dOut.p, batch: B, time: T, channels: C, heads: H,
                           dqkv: dqkv.p, dAtt: dAtt.p)
        assertGradientsMatch("qkv", x: qkv.p, count: qkv.count, analytic: dqkv.p, tolerance: .music.checking(80), loss: loss)
    }

    func testFullModelGradientsMatchFiniteDifferences() {
        let m = tinyTransformer()
        let batch = TokenBatch(tokens: [[1, 4, 2, 9, 10, 3, 3, 0], [5, 5, 6, 7, 8, 2, -1, -1]])
        m.parameters.zeroGrads()
        let (_, count) = m.loss(batch, backward: true)
        XCTAssertEqual(count, 7 + 5)
        let analytic = Array(UnsafeBufferPointer(start: m.parameters.grads, count: m.parameters.count))
        func loss() -> Double { let r = m.loss(batch, backward: false); return r.sum / Double(r.count) }
        for (k, e) in m.parameters.entries.enumerated() {
            analytic.withUnsafeBufferPointer { a in
                assertGradientsMatch(e.name, x: m.parameters.values + e.offset, count: e.count, analytic: a.baseAddress! + e.offset,
                                     tolerance: .music.checking(6, seed: UInt64(k)), loss: loss)
            }
        }
    }

    func testCachedStepMatchesFullForward() {
        let m = tinyTransformer(seed: 11)
        let seqs = [[0, 3, 7, 7, 1, 10, 2, 4, 5], [9, 8, 1, 2, 3, 4, 6, 6, 0]]
        assertCachedStepsMatchFullForward(m, seqs)
    }

    func testConfigRoundTripAndValidation() throws {
        let c = TransformerConfig(vocabSize: 390, contextLength: 256, dModel: 128, nHeads: 4, nLayers: 4, dFF: 512)
        let json = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        for key in ["\"model_type\":\"transformer\"", "\"vocab_size\":390", "\"context_length\":256", "\"d_model\":128", "\"n_heads\":4", "\"n_layers\":4", "\"d_ff\":512"] {
            XCTAssertTrue(json.contains(key), "\(key) missing from \(json)")
        }
        XCTAssertEqual(try JSONDecoder().decode(TransformerConfig.self, from: Data(json.utf8)), c)
        XCTAssertEqual(TransformerModel(config: c).parameters.count, c.parameterCount)
        var bad = c
        bad.nHeads = 3
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("n_heads must divide d_model 128, got 3")) }
    }

    /// The shipped music model loads through the registry of the music families, as `synth music generate` loads it, and
    /// its config.json says what it is.
    func testShippedModelLoads() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../voices/music")
        let registry = ModelRegistry([TransformerModel.self, WaveNetTokenModel.self])
        let musicRole = ModelRole("music model") { $0 is any TokenModel.Type }
        XCTAssertEqual(try ModelFolder.readConfig(dir).modelType, "transformer")
        let m = try XCTUnwrap(try registry.loadTokenModel(dir, as: musicRole) as? TransformerModel)
        XCTAssertEqual(m.config, TransformerConfig(vocabSize: 390, contextLength: 256, dModel: 128, nHeads: 4, nLayers: 4, dFF: 512))
        XCTAssertEqual(m.parameters.count, 926_342)
    }
}
