// The shared generation loop on a toy model: banned and stop tokens, the sliding window, progress, beam search.
import AREngine
import XCTest

/// A model of a finite context whose next token is most likely `last + 1` (mod the vocabulary), then `last + 2`.
/// It counts resets and how many tokens each state was fed, so the sliding window can be checked.
final class CountingModel: AutoregressiveModel {
    let vocabularySize = 10
    let contextLength: Int
    var resets = 0
    var mostFed = 0

    init(context: Int) { contextLength = context }

    final class State { var fed = 0 }

    func write(after last: Int, into logits: UnsafeMutablePointer<Float>) {
        for v in 0..<vocabularySize { logits[v] = v == (last + 1) % vocabularySize ? 3 : v == (last + 2) % vocabularySize ? 2 : 0 }
    }

    func logits(_ tokens: [[Int]]) -> [Float] {
        var out = [Float](repeating: 0, count: tokens.count * tokens[0].count * vocabularySize)
        out.withUnsafeMutableBufferPointer { p in
            for (b, row) in tokens.enumerated() {
                for (t, tok) in row.enumerated() { write(after: tok, into: p.baseAddress! + (b * row.count + t) * vocabularySize) }
            }
        }
        return out
    }

    func makeState(batch: Int) -> State { State() }
    func reset(_ state: inout State) { state.fed = 0; resets += 1 }

    func step(_ tokens: [Int], state: inout State, logits: UnsafeMutablePointer<Float>) {
        precondition(state.fed < contextLength, "fed past the context")
        state.fed += 1
        mostFed = max(mostFed, state.fed)
        write(after: tokens[0], into: logits)
    }
}

final class GenerationTests: XCTestCase {
    func testBannedAndStopTokens() throws {
        let m = CountingModel(context: 100)
        var greedy = try Sampler(temperature: 0)
        var reports: [ProgressReport] = []
        let r = Generation.sample(m, prompt: [0], options: GenerationOptions(maxNewTokens: 6, bannedTokens: [3]), sampler: &greedy) {
            reports.append($0)
        }
        XCTAssertEqual(r.tokens, [1, 2, 4, 5, 6, 7])  // after 2 comes 3, banned: the second choice, 4
        XCTAssertFalse(r.promptTruncated)
        XCTAssertEqual(reports.map(\.done), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(reports.last, ProgressReport(done: 6, total: 6, unit: "tokens"))
        let stopped = Generation.sample(m, prompt: [0], options: GenerationOptions(maxNewTokens: 9, stopToken: 4), sampler: &greedy)
        XCTAssertEqual(stopped.tokens, [1, 2, 3, 4])
        let after = Generation.sample(m, prompt: [0], options: GenerationOptions(maxNewTokens: 9, stopAfter: { $0 == 2 }), sampler: &greedy)
        XCTAssertEqual(after.tokens, [1, 2])
    }

    /// A finite context fills: the state is re-primed with the last half of it (never fed past it), or generation stops.
    func testSlidingWindowOrStopAtTheContext() throws {
        let m = CountingModel(context: 4)
        var greedy = try Sampler(temperature: 0)
        let r = Generation.sample(m, prompt: [7, 8, 9, 0, 1, 2], options: GenerationOptions(maxNewTokens: 12), sampler: &greedy)
        XCTAssertTrue(r.promptTruncated)
        XCTAssertEqual(r.tokens, [3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4])
        XCTAssertEqual(m.mostFed, 4)
        XCTAssertGreaterThan(m.resets, 3)
        let fixed = CountingModel(context: 4)
        let s = Generation.sample(fixed, prompt: [0, 1], options: GenerationOptions(maxNewTokens: 12, slidingWindow: false), sampler: &greedy)
        XCTAssertEqual(s.tokens, [2, 3, 4])  // two fed with the prompt, two more, and the last drawn from the full context
        XCTAssertEqual(fixed.resets, 0)
    }

    /// Beam search of width 1 is greedy, with the same banned tokens; it ends a hypothesis on its stop token.
    func testBeamOfOneIsGreedyAndHonoursBans() throws {
        let m = CountingModel(context: 100)
        var greedy = try Sampler(temperature: 0)
        let g = Generation.sample(m, prompt: [0], options: GenerationOptions(maxNewTokens: 5, bannedTokens: [3]), sampler: &greedy).tokens
        let b = Generation.beam(m, prompt: [0], search: try BeamSearch(beamWidth: 1, maxLength: 5, eosToken: nil), bannedTokens: [3])
        XCTAssertEqual(b, g)
        let e = Generation.beam(m, prompt: [0], search: try BeamSearch(beamWidth: 2, maxLength: 8, eosToken: 4))
        XCTAssertEqual(e, [1, 2, 3])  // [1, 2, 3, 4] ends with the stop token, dropped from the result
    }
}
