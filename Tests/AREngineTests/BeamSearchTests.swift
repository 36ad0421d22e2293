// Tests for beam search on hand-built log-probability tables.

import XCTest
@testable import AREngine
import NNCore

final class BeamSearchTests: XCTestCase {
    private func lp(_ p: [Double]) -> [Float] { p.map { Float(log($0)) } }

    /// Records what the step function was asked.
    private final class Recorder { var seen: [[Int]] = [] }

    /// A step function from a table keyed by the generated tokens (the sequence minus the prefix).
    private func table(_ rows: [[Int]: [Float]], prefixCount: Int, recorder: Recorder? = nil) -> ([[Int]]) -> [[Float]] {
        return { sequences in
            recorder?.seen.append(contentsOf: sequences)
            return sequences.map { rows[Array($0.dropFirst(prefixCount))]! }
        }
    }

    func testBeamFindsOptimumWhereGreedyFails() throws {
        // Greedy: 0 (0.6) then 0.5 -> 0.30. Beam: 1 (0.4) then 0.9 -> 0.36.
        let rows: [[Int]: [Float]] = [
            []: lp([0.6, 0.4]),
            [0]: lp([0.5, 0.5]),
            [1]: lp([0.9, 0.1]),
        ]
        let greedy = try BeamSearch(beamWidth: 1, maxLength: 2, eosToken: nil)
            .search(prefix: [7], step: table(rows, prefixCount: 1))
        XCTAssertEqual(greedy.count, 1)
        XCTAssertEqual(greedy[0].tokens, [7, 0, 0])
        XCTAssertEqual(greedy[0].score, Float(log(0.3) / 2), accuracy: 1e-5)

        let beam = try BeamSearch(beamWidth: 2, maxLength: 2, eosToken: nil)
            .search(prefix: [7], step: table(rows, prefixCount: 1))
        XCTAssertEqual(beam.map { $0.tokens }, [[7, 1, 0], [7, 0, 0]])  // 0.36, then the first of two 0.30 ties
        XCTAssertEqual(beam[0].score, Float(log(0.36) / 2), accuracy: 1e-5)
        XCTAssertEqual(beam[1].score, Float(log(0.30) / 2), accuracy: 1e-5)
    }

    func testWideBeamMatchesBruteForce() throws {
        // With beam width >= vocab^(L-1) beam search is exhaustive, so it must find the true optimum.
        var rng = Xoshiro256(seed: 11)
        let vocab = 3, depth = 3
        var rows: [[Int]: [Float]] = [:]
        func fill(_ seq: [Int]) {
            guard seq.count < depth else { return }
            let w = (0..<vocab).map { _ in Double(rng.nextFloat()) + 0.05 }
            let s = w.reduce(0, +)
            rows[seq] = w.map { Float(log($0 / s)) }
            for v in 0..<vocab { fill(seq + [v]) }
        }
        fill([])
        var best: (tokens: [Int], sum: Float) = ([], -.infinity)
        func enumerate(_ seq: [Int], _ sum: Float) {
            if seq.count == depth { if sum > best.sum { best = (seq, sum) }; return }
            for v in 0..<vocab { enumerate(seq + [v], sum + rows[seq]![v]) }
        }
        enumerate([], 0)
        let result = try BeamSearch(beamWidth: 9, maxLength: depth, eosToken: nil)
            .search(prefix: [], step: table(rows, prefixCount: 0))
        XCTAssertEqual(result.count, 9)
        XCTAssertEqual(result[0].tokens, best.tokens)
        XCTAssertEqual(result[0].score, best.sum / Float(depth), accuracy: 1e-5)
        XCTAssertEqual(result.map { $0.score }, result.map { $0.score }.sorted(by: >))
    }

    func testLengthPenaltyChangesWinner() throws {
        // Tokens: 0 = A, 1 = EOS, 2 = B.
        // [EOS]:    log 0.35        = -1.050, length 1
        // [A, EOS]: log 0.55 * 0.6  = -1.109, length 2
        // Raw sums (penalty 0) favour the short one; per-token averages (penalty 1) the long one.
        let rows: [[Int]: [Float]] = [
            []: lp([0.55, 0.35, 0.10]),
            [0]: lp([0.3, 0.6, 0.1]),
            [2]: lp([1.0 / 3, 1.0 / 3, 1.0 / 3]),
        ]
        let raw = try BeamSearch(beamWidth: 2, lengthPenalty: 0, maxLength: 2, eosToken: 1)
            .search(prefix: [], step: table(rows, prefixCount: 0))
        XCTAssertEqual(raw[0].tokens, [1])
        XCTAssertEqual(raw[0].score, Float(log(0.35)), accuracy: 1e-5)
        XCTAssertEqual(raw[1].tokens, [0, 1])

        let normalised = try BeamSearch(beamWidth: 2, lengthPenalty: 1, maxLength: 2, eosToken: 1)
            .search(prefix: [], step: table(rows, prefixCount: 0))
        XCTAssertEqual(normalised[0].tokens, [0, 1])
        XCTAssertEqual(normalised[0].score, Float(log(0.33) / 2), accuracy: 1e-5)
        // [A, A] (log 0.165 / 2 = -0.90, cut at maxLength) now also beats [EOS] (-1.05).
        XCTAssertEqual(normalised[1].tokens, [0, 0])
        XCTAssertEqual(normalised[1].score, Float(log(0.165) / 2), accuracy: 1e-5)
    }

    func testFinishedHypothesesAreNotExtended() throws {
        let rows: [[Int]: [Float]] = [
            []: lp([0.55, 0.35, 0.10]),
            [0]: lp([0.3, 0.6, 0.1]),
            [2]: lp([1.0 / 3, 1.0 / 3, 1.0 / 3]),
        ]
        let recorder = Recorder()
        _ = try BeamSearch(beamWidth: 2, maxLength: 2, eosToken: 1)
            .search(prefix: [5], step: table(rows, prefixCount: 1, recorder: recorder))
        XCTAssertEqual(recorder.seen, [[5], [5, 0], [5, 2]])  // [5, 1] finished at step 1 and was never extended
    }

    func testStopsWhenNoLiveBeamCanBeatFinished() throws {
        // EOS (token 1) has probability 0.9 everywhere; token 0 continues.
        let eosRow = lp([0.1, 0.9])
        var calls = 0
        let step: ([[Int]]) -> [[Float]] = { seqs in calls += 1; return seqs.map { _ in eosRow } }
        // After step 1: finished [EOS] scores log 0.9 = -0.105; the live [0] has sum log 0.1 = -2.30,
        // whose best reachable score is -2.30 / 10 = -0.23 < -0.105: stop.
        let short = try BeamSearch(beamWidth: 1, lengthPenalty: 1, maxLength: 10, eosToken: 1).search(prefix: [], step: step)
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(short.count, 1)
        XCTAssertEqual(short[0].tokens, [1])
        // With maxLength 100 the live beam could still reach -2.30 / 100 = -0.023, so the search goes on,
        // until its sum falls below 100 * -0.105 (5 steps), and [EOS] still wins.
        calls = 0
        let long = try BeamSearch(beamWidth: 1, lengthPenalty: 1, maxLength: 100, eosToken: 1).search(prefix: [], step: step)
        XCTAssertEqual(calls, 5)
        XCTAssertEqual(long[0].tokens, [1])
        XCTAssertEqual(long[0].score, Float(log(0.9)), accuracy: 1e-5)
    }

    func testStopsWhenAllBeamsFinished() throws {
        // Only EOS is possible: every candidate finishes at step 1 and no live beam is left.
        var calls = 0
        let step: ([[Int]]) -> [[Float]] = { seqs in calls += 1; return seqs.map { _ in [-.infinity, 0, .nan] } }
        let result = try BeamSearch(beamWidth: 3, maxLength: 50, eosToken: 1).search(prefix: [4, 4], step: step)
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(result.count, 1)
        XCTAssertEqual(result[0].tokens, [4, 4, 1])
        XCTAssertEqual(result[0].score, 0)
    }

    func testWithoutEOSAllHypothesesRunToMaxLength() throws {
        let row = lp([0.5, 0.3, 0.2])
        let result = try BeamSearch(beamWidth: 3, maxLength: 4, eosToken: nil)
            .search(prefix: [9]) { seqs in seqs.map { _ in row } }
        XCTAssertEqual(result.count, 3)
        XCTAssertEqual(result[0].tokens, [9, 0, 0, 0, 0])
        for h in result { XCTAssertEqual(h.tokens.count, 5) }
        XCTAssertEqual(result.map { $0.score }, result.map { $0.score }.sorted(by: >))
    }

    func testStepErrorsPropagate() throws {
        struct Boom: Error {}
        let search = try BeamSearch(beamWidth: 2, maxLength: 3, eosToken: 0)
        XCTAssertThrowsError(try search.search(prefix: []) { _ in throw Boom() }) { XCTAssertTrue($0 is Boom) }
    }

    func testInvalidParametersThrowWithValue() {
        func check(_ make: @autoclosure () throws -> BeamSearch, _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try make(), line: line) { error in
                XCTAssertTrue("\(error)".contains(text), "\"\(error)\" should contain \"\(text)\"", line: line)
            }
        }
        check(try BeamSearch(beamWidth: 0, maxLength: 5, eosToken: nil), "beam width must be >= 1, got 0")
        check(try BeamSearch(beamWidth: -2, maxLength: 5, eosToken: nil), "got -2")
        check(try BeamSearch(beamWidth: 2, lengthPenalty: .nan, maxLength: 5, eosToken: nil), "length penalty must be finite, got nan")
        check(try BeamSearch(beamWidth: 2, lengthPenalty: -.infinity, maxLength: 5, eosToken: nil), "got -inf")
        check(try BeamSearch(beamWidth: 2, maxLength: 0, eosToken: nil), "max length must be >= 1, got 0")
        check(try BeamSearch(beamWidth: 2, maxLength: 5, eosToken: -1), "EOS token must be >= 0, got -1")
        XCTAssertNoThrow(try BeamSearch(beamWidth: 1, lengthPenalty: -0.5, maxLength: 1, eosToken: 0))
    }
}
