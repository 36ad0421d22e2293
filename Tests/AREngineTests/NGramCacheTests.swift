// The n-gram cache of a piece: scoring each sequence on its own copy, the cache in generation equal to its scores,
// its settings' checks, and EM leaving the buckets no held-out token reached to the model.
import XCTest
@testable import AREngine

final class NGramCacheTests: XCTestCase {
    let pieces = [[9, 1, 2, 3, 1, 2, 3, 4, 8], [9, 2, 3, 1, 1, 5, 6, 2, 3, 8], [9, 7, 7, 7, 1, 2, 8]]

    /// Each sequence is scored as a fresh copy of the model would score it alone, and the model is left as it was;
    /// adapting across sequences (what text uses) differs from the second sequence on.
    func testAdaptingEachSequenceForgetsItAtTheEnd() {
        let m = NGramModel(order: 3, vocabularySize: 10, sequences: [[9, 1, 2, 3, 8]])
        let before = m.scoreTokens(pieces)
        let each = m.scoreTokensAdaptingEach(pieces)
        var expected: [NGramModel.Match] = []
        for p in pieces { expected += NGramModel(order: 3, vocabularySize: 10, sequences: [[9, 1, 2, 3, 8]]).scoreTokensAdapting([p]) }
        XCTAssertEqual(each, expected)
        XCTAssertEqual(m.scoreTokens(pieces), before, "the model itself is unchanged")
        XCTAssertEqual(m.scoreTokens(pieces, adaptation: .perSequence), each)
        let across = m.copy().scoreTokensAdapting(pieces)
        XCTAssertEqual(Array(across.prefix(8)), Array(each.prefix(8)))
        XCTAssertNotEqual(Array(across.suffix(15)), Array(each.suffix(15)))
        XCTAssertEqual(m.scoreTokens(pieces, adaptation: .acrossSequences), across)
    }

    /// A cache with no training counts: the second time a phrase comes, its tokens are matched at the full order, and
    /// a token of the repeat gets most of the cache's probability (KN with the default discount 0.75, hand-computed).
    func testTheCachePredictsARepeatedPhrase() {
        let phrase = [1, 2, 3, 4, 5]
        let piece = [0] + phrase + [6] + phrase
        let matches = NGramCache.matches([piece], order: 3, vocabularySize: 8)
        XCTAssertEqual(matches.count, piece.count - 1)
        // In the repeat, token 3 after "1 2": history "1 2" seen once (followed by 3), so order 3, count 1.
        let i = piece.count - 1 - 3  // index of the repeat's 3 among scored tokens
        XCTAssertEqual(piece[i + 1], 3)
        XCTAssertEqual(matches[i].order, 3)
        XCTAssertEqual(matches[i].historyCount, 1)
        // With the default discount 0.75 at every order: P3(3 | 1 2) = (1 - 0.75) + 0.75 · P2(3 | 2), the trigram
        // 1 2 3 seen once; P2(3 | 2) = (1 - 0.75) + 0.75 · P1(3), "2" continued once (by 3); P1(3) =
        // (1 - 0.75 + 0.75 · 7 · 1/8) / 8: 3 ends one of the 8 distinct bigrams so far (0 0, 0 1, 1 2, 2 3, 3 4, 4 5,
        // 5 6, 6 1), which end in 7 distinct tokens; the vocabulary has 8.
        let p1 = (1 - 0.75 + 0.75 * 7 / 8) / 8, p2 = 0.25 + 0.75 * p1, p3 = 0.25 + 0.75 * p2
        XCTAssertEqual(matches[i].probability, p3, accuracy: 1e-12)
        XCTAssertGreaterThan(p3, 0.45)
    }

    /// In generation the cache observes each token and mixes the next-token logits; the distribution it gives each
    /// token of a piece equals the interpolation of its scores (`matches`), so `synth music eval` scores what
    /// `synth music generate` samples from.
    func testGenerationMixesAsTheScoresSay() {
        let order = 4, V = 10
        var weights = [Double](repeating: 0.5, count: order * NGramInterpolation.countClasses)
        for b in weights.indices { weights[b] = 0.2 + 0.6 * Double(b % 7) / 6 }
        let settings = NGramCacheSettings(order: order, weights: weights)
        let piece = [9, 1, 2, 3, 1, 2, 3, 4, 1, 2, 3, 1, 2, 5, 8]
        let matches = NGramCache.matches([piece], order: order, vocabularySize: V)
        let cache = NGramCache(settings, vocabularySize: V)
        // Logits of a made-up model: the same at every step, one of them banned.
        let modelLogits: [Float] = [0.1, 0.7, -0.3, 1.2, 0.0, -1.0, 0.4, 0.2, -0.5, -.infinity]
        let total = modelLogits.reduce(0.0) { $0 + exp(Double($1)) }
        var unchanged = modelLogits
        unchanged.withUnsafeMutableBufferPointer { cache.mix($0) }
        XCTAssertEqual(unchanged, modelLogits, "nothing is mixed before the first token")
        for i in 1..<piece.count {
            cache.observe(piece[i - 1])
            var logits = modelLogits
            logits.withUnsafeMutableBufferPointer { cache.mix($0) }
            let w = piece[i]
            let expected = settings.interpolation.probability(model: exp(Double(modelLogits[w])) / total, ngram: matches[i - 1])
            XCTAssertEqual(exp(Double(logits[w])), expected, accuracy: 1e-6, "token \(i)")
            XCTAssertEqual(logits[9], -.infinity)
        }
    }

    /// Every 20th piece from the 10th; of fewer than 20, the middle one; of one, none.
    func testHeldOutPieces() {
        let many = (0..<45).map { [$0] }
        let s = NGramInterpolation.heldOutSequences(many)
        XCTAssertEqual(s.heldOut, [[10], [30]])
        XCTAssertEqual(s.kept.count, 43)
        XCTAssertEqual(NGramInterpolation.heldOutSequences([[0], [1], [2]]).heldOut, [[1]])
        XCTAssertEqual(NGramInterpolation.heldOutSequences([[0], [1], [2]]).kept, [[0], [2]])
        XCTAssertEqual(NGramInterpolation.heldOutSequences([[0]]).heldOut, [])
    }

    func testSettingsChecks() {
        let ok = NGramCacheSettings(order: 2, weights: [Double](repeating: 0.5, count: 16))
        XCTAssertNil(ok.problem(vocabularySize: 519))
        XCTAssertEqual(NGramCacheSettings(order: 13, weights: [Double](repeating: 0.5, count: 104)).problem(vocabularySize: 519),
                       "order must be in 1...12, got 13")
        XCTAssertNil(NGramCacheSettings(order: 13, weights: [Double](repeating: 0.5, count: 104)).problem(vocabularySize: 390))
        XCTAssertEqual(NGramCacheSettings(order: 2, weights: [0.5]).problem(vocabularySize: 519), "order 2 needs 16 weights, got 1")
        XCTAssertEqual(NGramCacheSettings(order: 2, weights: [Double](repeating: 1.5, count: 16)).problem(vocabularySize: 519),
                       "weights must be in 0...1")
        XCTAssertEqual(NGramCacheSettings(order: 0, weights: []).problem(vocabularySize: 519), "order must be in 1...12, got 0")
    }

    /// EM's weights for the buckets no token fell in: 1/2 by default (text), 1 (the model alone) for the cache.
    func testEmptyBucketsGetTheGivenWeight() {
        let model: [Double] = [0.5, 0.1, 0.3]
        let ngram = [NGramModel.Match(probability: 0.2, order: 1, historyCount: 0),
                     NGramModel.Match(probability: 0.6, order: 2, historyCount: 1),
                     NGramModel.Match(probability: 0.6, order: 2, historyCount: 1)]
        let half = NGramInterpolation.fit(model: model, ngram: ngram, order: 2)
        let one = NGramInterpolation.fit(model: model, ngram: ngram, order: 2, emptyBucketWeight: 1)
        let filled = [NGramInterpolation.bucket(order: 1, historyCount: 0), NGramInterpolation.bucket(order: 2, historyCount: 1)]
        for b in 0..<16 {
            if filled.contains(b) {
                XCTAssertEqual(half.weights[b], one.weights[b])
                XCTAssertNotEqual(half.weights[b], 0.5)
            } else {
                XCTAssertEqual(half.weights[b], 0.5)
                XCTAssertEqual(one.weights[b], 1)
            }
        }
    }
}
