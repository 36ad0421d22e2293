// Adam, clipping, the learning-rate schedule, safetensors and the seeded RNG.
import Foundation
import XCTest
@testable import NNCore

final class OptimizerTests: XCTestCase {
    func testAdamFirstStepMovesByLearningRate() {
        // With bias correction, Adam's first step is lr * g/|g| per coordinate (eps negligible).
        let p = ParameterSet()
        p.add("w", shape: [3])
        p.value("w").update(from: [1, 2, 3], count: 3)
        p.grad("w").update(from: [0.5, -2, 0], count: 3)
        let adam = Adam(parameterCount: p.count, clipNorm: 0)
        adam.update(p, lr: 0.1)
        XCTAssertEqual(p.value("w")[0], 0.9, accuracy: 1e-5)
        XCTAssertEqual(p.value("w")[1], 2.1, accuracy: 1e-5)
        XCTAssertEqual(p.value("w")[2], 3.0, accuracy: 1e-6)
        XCTAssertEqual(adam.step, 1)
    }

    func testGradientClippingScalesToMaxNorm() {
        let p = ParameterSet()
        p.add("w", shape: [2])
        p.grad("w").update(from: [3, 4], count: 2) // norm 5
        let adam = Adam(parameterCount: 2, clipNorm: 1)
        let norm = adam.update(p, lr: 0.01)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        // First moment = (1 - beta1) * clipped gradient = 0.1 * [0.6, 0.8].
        XCTAssertEqual(adam.m[0], 0.06, accuracy: 1e-6)
        XCTAssertEqual(adam.m[1], 0.08, accuracy: 1e-6)
    }

    func testAdamMinimisesQuadratic() {
        let p = ParameterSet()
        p.add("w", shape: [2])
        p.value("w").update(from: [3, -2], count: 2)
        let adam = Adam(parameterCount: 2, clipNorm: 10)
        for _ in 0..<2000 {
            p.zeroGrads()
            for i in 0..<2 { p.grads[i] = 2 * (p.values[i] - 1) } // (w - 1)^2
            adam.update(p, lr: 0.01)
        }
        XCTAssertEqual(p.values[0], 1, accuracy: 1e-2)
        XCTAssertEqual(p.values[1], 1, accuracy: 1e-2)
    }

    func testScheduleWarmupAndCosine() {
        let s = LearningRateSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110, minLR: 1e-5)
        XCTAssertEqual(s.rate(at: 5), 5e-4, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 10), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 60), (1e-3 + 1e-5) / 2, accuracy: 1e-8)
        XCTAssertEqual(s.rate(at: 110), 1e-5, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 500), 1e-5, accuracy: 1e-9)
    }

    func testSafeTensorsRoundTripAndErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.safetensors")
        let a: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [-1.5]
        try a.withUnsafeBufferPointer { ap in
            try b.withUnsafeBufferPointer { bp in
                try SafeTensors.write([("a", [2, 3], ap), ("b", [1], bp)], metadata: ["format": "pt"], to: url)
            }
        }
        let (t, meta) = try SafeTensors.read(url)
        XCTAssertEqual(t["a"]?.shape, [2, 3])
        XCTAssertEqual(t["a"]?.data, a)
        XCTAssertEqual(t["b"]?.data, b)
        XCTAssertEqual(meta["format"], "pt")
        // The data section starts 8-byte aligned.
        let raw = try Data(contentsOf: url)
        let n = Int(raw[0]) | Int(raw[1]) << 8
        XCTAssertEqual((8 + n) % 8, 0)
        // Loading into a parameter set checks names and shapes.
        let p = ParameterSet()
        p.add("a", shape: [3, 2])
        p.add("b", shape: [1])
        XCTAssertThrowsError(try p.load(t, source: "m.safetensors")) { e in
            XCTAssertEqual("\(e)", "m.safetensors: tensor 'a' has shape [2, 3], expected [3, 2] from config.json")
        }
        // Truncated and garbage files.
        try raw.prefix(raw.count - 4).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(url)) { XCTAssertTrue("\($0)".contains("beyond the 24 data bytes of the file"), "\($0)") }
        try Data([1, 2, 3]).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(url)) { XCTAssertTrue("\($0)".contains("too short"), "\($0)") }
        try Data(repeating: 0xFF, count: 64).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(url))
        XCTAssertThrowsError(try SafeTensors.read(dir.appendingPathComponent("none.safetensors"))) {
            XCTAssertTrue("\($0)".contains("no such file"))
        }
    }

    func testRandomGeneratorIsSeededAndRestorable() {
        var a = Xoshiro256(seed: 42), b = Xoshiro256(seed: 42), c = Xoshiro256(seed: 43)
        let xs = (0..<5).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<5).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<5).map { _ in c.next() })
        var d = Xoshiro256(state: a.state)
        XCTAssertEqual(a.next(), d.next())
        // Uniform floats have the right mean; Gaussians the right variance.
        var r = Xoshiro256(seed: 1)
        let u = (0..<20000).map { _ in Double(r.nextFloat()) }
        XCTAssertEqual(u.reduce(0, +) / 20000, 0.5, accuracy: 0.01)
        let g = (0..<20000).map { _ in Double(r.nextGaussian()) }
        XCTAssertEqual(g.map { $0 * $0 }.reduce(0, +) / 20000, 1, accuracy: 0.05)
    }
}
