// Tests for the token sampler on small hand-computed distributions.

import XCTest
@testable import AREngine
import NNCore

final class SamplerTests: XCTestCase {
    private let none: [Int] = []

    private func logs(_ p: [Double]) -> [Float] { p.map { Float(log($0)) } }

    /// softmax(l / T) in Double, the reference for temperature tests.
    private func softmax(_ l: [Double], _ t: Double = 1) -> [Double] {
        let m = l.max()!
        let e = l.map { exp(($0 - m) / t) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    private func assertClose(_ a: [Float], _ b: [Double], accuracy: Double = 1e-6,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(Double(x), y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
    }

    private func support(_ p: [Float]) -> [Int] { p.indices.filter { p[$0] > 0 } }

    // MARK: greedy

    func testGreedyPicksArgmaxLowestIndexOnTies() throws {
        var s = try Sampler(temperature: 0)
        var l: [Float] = [1, 3, 2, 3]
        XCTAssertEqual(s.sample(logits: &l, history: none), 1)
        var l2: [Float] = [-5, -1, -2]
        XCTAssertEqual(s.sample(logits: &l2, history: none), 1)
        XCTAssertEqual(s.probabilities(logits: [1, 3, 2, 3], history: none), [0, 1, 0, 0])
    }

    func testGreedyDoesNotConsumeRandomNumbers() throws {
        var s = try Sampler(temperature: 0, seed: 7)
        let before = s.generator
        var l: [Float] = [0.2, 0.1]
        _ = s.sample(logits: &l, history: none)
        XCTAssertEqual(s.generator, before)
    }

    // MARK: temperature

    func testTemperatureGivesExactSoftmax() throws {
        let l: [Double] = [1, 2, 3]
        for t in [0.5, 1.0, 2.0] {
            let s = try Sampler(temperature: Float(t))
            assertClose(s.probabilities(logits: l.map(Float.init), history: none), softmax(l, t))
        }
        // Hand-computed: softmax([0.5, 1, 1.5]) = e^{0.5, 1, 1.5} / 8.848681
        let s = try Sampler(temperature: 2)
        assertClose(s.probabilities(logits: [1, 2, 3], history: none), [0.186324, 0.307196, 0.506480], accuracy: 1e-6)
    }

    // MARK: top-k

    func testTopKKeepsExactlyK() throws {
        let l: [Float] = [0.1, 2, 1, 3, 0.5]
        let s = try Sampler(topK: 2)
        let p = s.probabilities(logits: l, history: none)
        XCTAssertEqual(support(p), [1, 3])
        assertClose(p, [0, exp(2) / (exp(2) + exp(3)), 0, exp(3) / (exp(2) + exp(3)), 0])
        // k larger than the vocabulary keeps everything.
        XCTAssertEqual(support(try Sampler(topK: 10).probabilities(logits: l, history: none)).count, 5)
        // Ties at the boundary: exactly k survive, lowest ids first.
        XCTAssertEqual(support(try Sampler(topK: 2).probabilities(logits: [1, 1, 1, 0], history: none)), [0, 1])
    }

    func testTopKOnLargeVocabularyKeepsTheKLargest() throws {
        var rng = Xoshiro256(seed: 99)
        let l = (0..<400).map { _ in rng.nextGaussian() * 3 }
        let top = l.indices.sorted { l[$0] > l[$1] }.prefix(17).sorted()
        let p = try Sampler(topK: 17).probabilities(logits: l, history: none)
        XCTAssertEqual(support(p), Array(top))
        XCTAssertEqual(Double(p.reduce(0, +)), 1, accuracy: 1e-5)
    }

    // MARK: top-p

    func testTopPKeepsSmallestSetReachingP() throws {
        let l = logs([0.5, 0.3, 0.2])
        assertClose(try Sampler(topP: 0.8).probabilities(logits: l, history: none), [0.625, 0.375, 0])
        assertClose(try Sampler(topP: 0.81).probabilities(logits: l, history: none), [0.5, 0.3, 0.2])
        assertClose(try Sampler(topP: 0.5).probabilities(logits: l, history: none), [1, 0, 0])
        assertClose(try Sampler(topP: 0.49).probabilities(logits: l, history: none), [1, 0, 0])
        assertClose(try Sampler(topP: 0.51).probabilities(logits: l, history: none), [0.625, 0.375, 0])
        assertClose(try Sampler(topP: 1).probabilities(logits: l, history: none), [0.5, 0.3, 0.2])
        // Order of ids does not matter, only of probabilities.
        let l2 = logs([0.2, 0.5, 0.3])
        assertClose(try Sampler(topP: 0.8).probabilities(logits: l2, history: none), [0, 0.625, 0.375])
    }

    // MARK: min-p

    func testMinPDropsBelowFractionOfMax() throws {
        let l = logs([0.5, 0.3, 0.15, 0.05])
        // threshold 0.2 * 0.5 = 0.1: drops 0.05
        assertClose(try Sampler(minP: 0.2).probabilities(logits: l, history: none),
                    [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0])
        // threshold 0.5 * 0.5 = 0.25: keeps 0.5 and 0.3
        assertClose(try Sampler(minP: 0.5).probabilities(logits: l, history: none), [0.625, 0.375, 0, 0])
        // threshold 0.05 * 0.5 = 0.025: keeps all
        assertClose(try Sampler(minP: 0.05).probabilities(logits: l, history: none), [0.5, 0.3, 0.15, 0.05])
    }

    // MARK: repetition penalty

    func testRepetitionPenaltyOnPositiveAndNegativeLogits() throws {
        var s = try Sampler(repetitionPenalty: 2)
        var l: [Float] = [2, -1, 0.5, 1]
        let history = [0, 1, 1, 1, -3, 99]  // repeats penalised once; out-of-range ids ignored
        _ = s.sample(logits: &l, history: history)
        XCTAssertEqual(l, [1, -2, 0.5, 1])
        assertClose(s.probabilities(logits: [2, -1, 0.5, 1], history: history), softmax([1, -2, 0.5, 1]))
        // A penalty < 1 encourages repeats.
        let e = try Sampler(repetitionPenalty: 0.5)
        assertClose(e.probabilities(logits: [2, -1, 0.5, 1], history: [0, 1]), softmax([4, -0.5, 0.5, 1]))
        // Penalty with greedy can change the winner.
        var g = try Sampler(temperature: 0, repetitionPenalty: 3)
        var l2: [Float] = [3, 2]
        XCTAssertEqual(g.sample(logits: &l2, history: [0]), 1)
    }

    // MARK: order

    func testTemperatureRunsBeforeTopP() throws {
        // T = 0.5 sharpens [0.5, 0.3, 0.2] to [0.658, 0.237, 0.105]; top-p 0.6 then keeps one token.
        // Top-p first would keep two (0.5 < 0.6).
        let s = try Sampler(temperature: 0.5, topP: 0.6)
        assertClose(s.probabilities(logits: logs([0.5, 0.3, 0.2]), history: none), [1, 0, 0])
    }

    func testTopKRunsBeforeTopPWithRenormalisation() throws {
        // top-k 2 renormalises [0.4, 0.3] to [0.571, 0.429]; top-p 0.5 then keeps one token.
        // Top-p first would keep 0.4 + 0.3 (0.4 < 0.5), and top-k 2 leaves both.
        let s = try Sampler(topK: 2, topP: 0.5)
        assertClose(s.probabilities(logits: logs([0.4, 0.3, 0.2, 0.1]), history: none), [1, 0, 0, 0])
    }

    func testRepetitionPenaltyRunsBeforeGreedyAndTopK() throws {
        // Penalty 4 on token 0: logits [2, 1, 0] -> [0.5, 1, 0]; top-k 1 then keeps token 1.
        let s = try Sampler(topK: 1, repetitionPenalty: 4)
        assertClose(s.probabilities(logits: [2, 1, 0], history: [0]), [0, 1, 0])
    }

    // MARK: robustness

    func testNaNAndInfinities() throws {
        var s = try Sampler(seed: 3)
        for _ in 0..<200 {
            var l: [Float] = [.nan, -.infinity, 1, .nan]
            XCTAssertEqual(s.sample(logits: &l, history: none), 2)
        }
        assertClose(s.probabilities(logits: [.nan, 0, -.infinity, 0], history: none), [0, 0.5, 0, 0.5])
        // All -inf or NaN: documented fallback token 0.
        var allInf: [Float] = [-.infinity, -.infinity, -.infinity]
        XCTAssertEqual(s.sample(logits: &allInf, history: none), 0)
        var allNaN: [Float] = [.nan, .nan]
        XCTAssertEqual(s.sample(logits: &allNaN, history: none), 0)
        XCTAssertEqual(s.probabilities(logits: [.nan, -.infinity], history: none), [1, 0])
        // +inf dominates.
        var plusInf: [Float] = [0, .infinity, 3]
        XCTAssertEqual(s.sample(logits: &plusInf, history: none), 1)
        // All-filtered settings still return a valid token.
        var t = try Sampler(temperature: 1e-3, topK: 1, topP: 0.01, minP: 0.99)
        var l: [Float] = [0, 0.5, 0.4]
        XCTAssertEqual(t.sample(logits: &l, history: none), 1)
        // Single-entry vocabulary.
        var one: [Float] = [-3]
        XCTAssertEqual(s.sample(logits: &one, history: [0]), 0)
    }

    // MARK: determinism and frequencies

    private func draws(seed: UInt64, count: Int) throws -> [Int] {
        var s = try Sampler(temperature: 1, topK: 200, topP: 0.95, seed: seed)
        var rng = Xoshiro256(seed: 1234)
        let base = (0..<256).map { _ in rng.nextGaussian() }
        var out: [Int] = []
        var l = base
        for _ in 0..<count {
            for i in 0..<l.count { l[i] = base[i] }
            out.append(s.sample(logits: &l, history: out.suffix(8)))
        }
        return out
    }

    func testSameSeedSameSequenceDifferentSeedDifferentSequence() throws {
        let a = try draws(seed: 42, count: 1000)
        let b = try draws(seed: 42, count: 1000)
        let c = try draws(seed: 43, count: 1000)
        XCTAssertEqual(a, b)
        let differing = zip(a, c).filter { $0 != $1 }.count
        XCTAssertGreaterThan(differing, 900)
    }

    func testSavedGeneratorStateResumes() throws {
        var s = try Sampler(seed: 5)
        var l: [Float] = [0, 0, 0, 0]
        for _ in 0..<10 { l = [0, 0, 0, 0]; _ = s.sample(logits: &l, history: none) }
        var resumed = s
        var a: [Int] = [], b: [Int] = []
        for _ in 0..<50 {
            l = [0, 0, 0, 0]; a.append(s.sample(logits: &l, history: none))
            l = [0, 0, 0, 0]; b.append(resumed.sample(logits: &l, history: none))
        }
        XCTAssertEqual(a, b)
    }

    private func frequencies(_ s: inout Sampler, logits: [Float], draws n: Int) -> [Double] {
        var counts = [Int](repeating: 0, count: logits.count)
        var l = logits
        for _ in 0..<n {
            for i in 0..<l.count { l[i] = logits[i] }
            counts[s.sample(logits: &l, history: none)] += 1
        }
        return counts.map { Double($0) / Double(n) }
    }

    func testEmpiricalFrequenciesMatchDistribution() throws {
        var s = try Sampler(seed: 2024)
        let f = frequencies(&s, logits: logs([0.1, 0.2, 0.3, 0.4]), draws: 20_000)
        for (x, y) in zip(f, [0.1, 0.2, 0.3, 0.4]) { XCTAssertEqual(x, y, accuracy: 0.01, "\(f)") }
    }

    func testEmpiricalFrequenciesMatchFilteredDistribution() throws {
        var rng = Xoshiro256(seed: 8)
        let l = (0..<300).map { _ in rng.nextGaussian() * 2 }
        var s = try Sampler(temperature: 0.8, topK: 40, topP: 0.9, minP: 0.05, seed: 77)
        let expected = s.probabilities(logits: l, history: none)
        XCTAssertEqual(Double(expected.reduce(0, +)), 1, accuracy: 1e-5)
        let f = frequencies(&s, logits: l, draws: 20_000)
        for i in 0..<l.count {
            XCTAssertEqual(f[i], Double(expected[i]), accuracy: 0.01, "token \(i)")
            if expected[i] == 0 { XCTAssertEqual(f[i], 0, "token \(i) was filtered out") }
        }
    }

    // MARK: validation

    private func assertThrows(_ make: @autoclosure () throws -> Sampler, contains text: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try make(), file: file, line: line) { error in
            XCTAssertTrue(error is SamplerError, file: file, line: line)
            XCTAssertTrue("\(error)".contains(text), "\"\(error)\" should contain \"\(text)\"", file: file, line: line)
        }
    }

    func testInvalidParametersThrowWithValue() throws {
        assertThrows(try Sampler(temperature: -0.5), contains: "got -0.5")
        assertThrows(try Sampler(temperature: .nan), contains: "got nan")
        assertThrows(try Sampler(temperature: .infinity), contains: "got inf")
        assertThrows(try Sampler(topK: -3), contains: "top-k must be >= 0 (0 = off), got -3")
        assertThrows(try Sampler(topP: 1.5), contains: "top-p must be in (0, 1], got 1.5")
        assertThrows(try Sampler(topP: 0), contains: "top-p must be in (0, 1], got 0.0")
        assertThrows(try Sampler(minP: 1), contains: "min-p must be in [0, 1), got 1.0")
        assertThrows(try Sampler(minP: -0.25), contains: "got -0.25")
        assertThrows(try Sampler(repetitionPenalty: 0), contains: "repetition penalty must be finite and > 0, got 0.0")
        assertThrows(try Sampler(repetitionPenalty: -2), contains: "got -2.0")
        assertThrows(try Sampler(repetitionPenalty: .infinity), contains: "got inf")
        XCTAssertNoThrow(try Sampler(temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, seed: 1))
    }
}
