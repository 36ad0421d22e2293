// The PixelCNN family: gradients of the shared loss, cached raster-order steps against the full pass, causality of the
// logits, the folder round trip through the registry, config bounds, sampling through the generation loop.
import AREngine
import Foundation
import Image
import NNCore
import TestSupport
import XCTest

final class PixelCNNModelTests: XCTestCase {
    static func model(classes: Int = 3, seed: UInt64 = 1) -> PixelCNNModel {
        let m = PixelCNNModel(config: PixelCNNConfig(height: 4, width: 3, levels: 5, classes: classes, channels: 4, layers: 3, kernel: 3))
        m.initialize(seed: seed)
        // Non-zero biases, so their gradients and paths are exercised.
        var rng = Xoshiro256(seed: seed + 100)
        for e in m.parameters.entries where e.name.hasSuffix("bias") {
            m.parameters.initNormal(offset: e.offset, count: e.count, std: 0.2, rng: &rng)
        }
        return m
    }

    /// Random images of `m` as token rows `[start, pixels...]` (classes cycling).
    static func rows(_ m: PixelCNNModel, count: Int, seed: UInt64) -> [[Int]] {
        var rng = Xoshiro256(seed: seed)
        return (0..<count).map { i in
            [try! m.startToken(label: m.config.classes > 0 ? i % m.config.classes : nil)]
                + (0..<m.config.pixels).map { _ in rng.nextInt(below: m.config.levels) }
        }
    }

    func testGradientsOfEveryTensor() {
        for classes in [0, 3] {
            let m = Self.model(classes: classes), batch = TokenBatch(tokens: Self.rows(m, count: 3, seed: 2))
            m.parameters.zeroGrads()
            _ = m.loss(batch, backward: true)
            let p = m.parameters
            for e in p.entries {
                assertGradientsMatch("\(classes) classes: \(e.name)", x: p.values + e.offset, count: e.count, analytic: p.grads + e.offset,
                                     tolerance: .layer.checking(16)) {
                    m.loss(batch, backward: false).sum / 36  // the mean over the scored pixels, as backward's gradient
                }
            }
        }
    }

    func testCachedStepsMatchFullForward() {
        for classes in [0, 3] {
            let m = Self.model(classes: classes)
            // A start token and every pixel but the last: the distributions of all 12 pixels.
            assertCachedStepsMatchFullForward(m, Self.rows(m, count: 2, seed: 3).map { Array($0.dropLast()) })
        }
    }

    /// Changing pixel `q` (token `q + 1`) changes no logit at or before position `q`, and changes the next pixel's.
    func testLogitsAreCausalInRasterOrder() {
        let m = Self.model(), P = m.config.pixels, V = m.vocabularySize
        let row = Self.rows(m, count: 1, seed: 4)[0].dropLast()
        let base = m.logits([Array(row)])
        for q in 0..<(P - 1) {
            var changed = Array(row)
            changed[q + 1] = (changed[q + 1] + 2) % m.config.levels
            let out = m.logits([changed])
            for t in 0...q { XCTAssertEqual(Array(out[(t * V)..<((t + 1) * V)]), Array(base[(t * V)..<((t + 1) * V)]), "pixel \(q) moved position \(t)") }
            XCTAssertNotEqual(Array(out[((q + 1) * V)..<((q + 2) * V)]), Array(base[((q + 1) * V)..<((q + 2) * V)]), "pixel \(q) unseen by \(q + 1)")
        }
        // The class changes every pixel's distribution.
        var other = Array(row)
        other[0] = try! m.startToken(label: 1)
        XCTAssertNotEqual(Array(m.logits([other])[0..<V]), Array(base[0..<V]))
    }

    func testStartTokensAreNeverPredicted() {
        let m = Self.model(), V = m.vocabularySize, L = m.config.levels
        let logits = m.logits([Array(Self.rows(m, count: 1, seed: 5)[0].dropLast())])
        for t in 0..<m.config.pixels {
            for v in 0..<V { XCTAssertEqual(logits[t * V + v].isFinite, v < L) }
        }
    }

    func testSavedFolderLoadsThroughTheRegistry() throws {
        let m = Self.model()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pixelcnn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFolder.save(m, to: dir)
        let json = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertTrue(json.contains("\"model_type\" : \"pixelcnn\""), json)
        let registry = ModelRegistry([PixelCNNModel.self])
        let back = try registry.load(PixelCNNModel.self, from: dir, noun: "image model")
        XCTAssertEqual(back.config, m.config)
        let rows = Self.rows(m, count: 2, seed: 6).map { Array($0.dropLast()) }
        XCTAssertEqual(back.logits(rows), m.logits(rows))
    }

    func testConfigBoundsAreOneLineErrors() {
        func message(_ c: PixelCNNConfig) -> String? {
            do { try c.validate(file: "m/config.json"); return nil } catch { return "\(error)" }
        }
        XCTAssertNil(message(PixelCNNConfig()))
        XCTAssertEqual(message(PixelCNNConfig(kernel: 4)), "m/config.json: invalid model config: kernel must be odd, in 3...15, got 4")
        XCTAssertEqual(message(PixelCNNConfig(levels: 1)), "m/config.json: invalid model config: levels must be in 2...256, got 1")
        XCTAssertEqual(message(PixelCNNConfig(height: 256, width: 256, channels: 1024, layers: 64)),
                       "m/config.json: invalid model config: the model would have 1403620369 parameters, more than the limit of 268435456")
        XCTAssertEqual(message(PixelCNNConfig(height: 256, width: 256, channels: 256, layers: 8)),
                       "m/config.json: invalid model config: the generation cache would hold 1610612736 floats per image, more than the limit of 134217728")
    }

    func testLabelsAreChecked() {
        let conditional = Self.model(), unconditional = Self.model(classes: 0)
        XCTAssertThrowsError(try conditional.startToken(label: 3)) {
            XCTAssertEqual("\($0)", "this PixelCNN knows classes 0...2, got 3")
        }
        XCTAssertThrowsError(try conditional.startToken(label: nil))
        XCTAssertThrowsError(try unconditional.startToken(label: 0)) {
            XCTAssertEqual("\($0)", "this PixelCNN is unconditional: it takes no --digit (asked for 0)")
        }
        XCTAssertEqual(try unconditional.startToken(label: nil), 5)
    }

    /// Sampling runs the shared loop with the cache: every image has every pixel, in range, reproducibly per seed.
    func testSamplingIsSeededAndInRange() throws {
        let m = Self.model()
        var s1 = try Sampler(temperature: 1, seed: 7), s2 = try Sampler(temperature: 1, seed: 7)
        var reports: [ProgressReport] = []
        let a = try m.sample(count: 3, label: 2, sampler: &s1) { reports.append($0) }
        let b = try m.sample(count: 3, label: 2, sampler: &s2)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 3)
        XCTAssert(a.allSatisfy { $0.count == 12 && $0.allSatisfy { (0..<5).contains($0) } })
        XCTAssertEqual(reports.last, ProgressReport(done: 36, total: 36, unit: "pixels"))
    }

    /// The NLL of the sampled pixels equals the sum of the teacher-forced per-pixel losses, and the marginal over
    /// classes is at least the best class's joint.
    func testScoresAddUp() throws {
        let m = Self.model()
        let rows = Self.rows(m, count: 4, seed: 8)
        let nats = m.imageNats(rows.map { Array($0.dropFirst()) }, starts: rows.map { $0[0] })
        let loss = m.loss(TokenBatch(tokens: rows), backward: false)
        XCTAssertEqual(nats.reduce(0, +), loss.sum, accuracy: 1e-3)
        let set = ImageSet(height: 4, width: 3, levels: 5, pixels: rows.map { Array($0.dropFirst()) }, labels: [0, 1, 2, 0])
        let score = try m.score(set, prior: [0.5, 0.25, 0.25])
        XCTAssertEqual(try XCTUnwrap(score.conditionalNats), loss.sum / 4, accuracy: 1e-3)
        XCTAssertGreaterThan(score.nats, 0)
    }
}

final class PixelCNNCacheTests: XCTestCase {
    /// Sampling with the cache and by rerunning the whole image for every pixel draws the same images from one seed.
    func testCachedSamplingEqualsRecomputing() throws {
        let m = PixelCNNModelTests.model()
        var s1 = try Sampler(temperature: 1, seed: 11), s2 = try Sampler(temperature: 1, seed: 11)
        XCTAssertEqual(try m.sample(count: 4, label: 1, sampler: &s1), try m.sample(count: 4, label: 1, sampler: &s2, cached: false))
    }
}
