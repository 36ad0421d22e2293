// The WaveNet stack over tokens: trains through the same loss interface, cached == full, gradients.
import AREngine
import NNCore
import TestSupport
import XCTest
@testable import Music

final class WaveNetTokenTests: XCTestCase {
    func tinyModel() -> WaveNetTokenModel {
        let m = WaveNetTokenModel(config: WaveNetTokenConfig(vocabSize: 13, dilations: [1, 2, 4, 1], residualChannels: 4,
                                                             gateChannels: 6, skipChannels: 5))
        m.initialize(seed: 4)
        var rng = Xoshiro256(seed: 8)
        for i in 0..<m.parameters.count { m.parameters.values[i] += rng.nextGaussian() * 0.2 }
        return m
    }

    func testCachedStepMatchesFullForward() {
        let m = tinyModel()
        let seqs = [[0, 3, 7, 7, 1, 12, 2, 4, 5, 11], [9, 8, 1, 2, 3, 4, 6, 6, 0, 1]]
        assertCachedStepsMatchFullForward(m, seqs)
    }

    func testLossGradientsMatchFiniteDifferences() {
        let m = tinyModel()
        let batch = TokenBatch(tokens: [[1, 4, 2, 9, 10, 3, 3, 0], [5, 5, 6, 7, 8, 2, -1, -1]])
        m.parameters.zeroGrads()
        let (_, count) = m.loss(batch, backward: true)
        XCTAssertEqual(count, 12)
        let analytic = Array(UnsafeBufferPointer(start: m.parameters.grads, count: m.parameters.count))
        func loss() -> Double { let r = m.loss(batch, backward: false); return r.sum / Double(r.count) }
        for name in ["input_embedding", "layers.1.conv.weight", "layers.3.out.weight", "post.conv2.weight", "layers.2.conv.bias"] {
            let e = m.parameters.entry(name)!
            analytic.withUnsafeBufferPointer { a in
                assertGradientsMatch(name, x: m.parameters.values + e.offset, count: e.count, analytic: a.baseAddress! + e.offset,
                                     tolerance: GradientTolerance(maxChecks: 8, rtol: 3e-2, atol: 1e-3, eps: 1e-2), loss: loss)
            }
        }
    }

    /// The two music families, as the CLI registers them.
    let registry = ModelRegistry([TransformerModel.self, WaveNetTokenModel.self])
    let musicRole = ModelRole("music model") { $0 is any TokenModel.Type }

    func testConfigRoundTripsThroughModelFolder() throws {
        let m = tinyModel()
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFolder.save(m, to: dir)
        let json = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertTrue(json.contains("\"model_type\" : \"wavenet_tokens\""), json)
        XCTAssertFalse(json.contains("wavenet\" :"), json)  // the current layout: no nested vocoder config
        let back = try XCTUnwrap(try registry.loadTokenModel(dir, as: musicRole) as? WaveNetTokenModel)
        XCTAssertEqual(back.config, m.config)
        XCTAssertEqual(back.logits([[1, 2, 3]]), m.logits([[1, 2, 3]]))
    }

    /// A folder the 2848381 binary wrote (the vocoder's config under `wavenet`, the degenerate conditioning network
    /// in the weights) loads with its conditioning folded into the biases, scores what that binary scored
    /// (`synth music eval --model Fixtures/legacy_wavenet_tokens --context C` on samples/bwv113.8.mid: 3.5218 nats/token
    /// at C = 64, 3.5529 at C = 7, to the 4 decimals it printed), and saves in the current layout.
    func testLegacyFolderLoadsScoresAsBeforeAndSavesInTheCurrentLayout() throws {
        let fixture = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/legacy_wavenet_tokens", withExtension: nil))
        let m = try XCTUnwrap(try registry.loadTokenModel(fixture, as: musicRole) as? WaveNetTokenModel)
        XCTAssertNil(m.config.legacyConditioning)
        XCTAssertEqual(m.config.dilations, [1, 2, 1, 2])
        let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples/bwv113.8.mid")
        let piece = try MusicCorpus.loadPiece(samples)
        XCTAssertEqual(m.evaluate([piece.tokens], context: 64).nats, 3.5218, accuracy: 6e-5)
        XCTAssertEqual(m.evaluate([piece.tokens], context: 7).nats, 3.5529, accuracy: 6e-5)
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFolder.save(m, to: dir)
        let back = try XCTUnwrap(try registry.loadTokenModel(dir, as: musicRole) as? WaveNetTokenModel)
        XCTAssertEqual(back.logits([Array(piece.tokens.prefix(20))]), m.logits([Array(piece.tokens.prefix(20))]))
        XCTAssertNil(back.parameters.entry("cond.proj.weight"))
    }
}
