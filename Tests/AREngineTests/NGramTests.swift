// Kneser-Ney n-gram baseline: hand-computed probabilities on a tiny corpus, normalisation, evaluation.
import XCTest
@testable import AREngine

final class NGramTests: XCTestCase {
    /// Order 2, vocabulary 4, one sequence 0 1 2 1 2 (padded: 0 0 1 2 1 2).
    /// Bigrams 00:1 01:1 12:2 21:1 → D2 = n1/(n1+2n2) = 3/5. Continuation counts of 0,1,2,3: 1,2,1,0
    /// (total 4, 3 types) → D1 = 2/4. P1(1) = (2-0.5 + 0.5·3/4)/4 = 0.46875, P1(3) = 0.375/4 = 0.09375,
    /// P2(2 | 1) = (2-0.6 + 0.6·1·P1(2))/2 = (1.4 + 0.6·0.21875)/2 = 0.765625.
    func testHandComputedProbabilities() {
        let m = NGramModel(order: 2, vocabularySize: 4, sequences: [[0, 1, 2, 1, 2]])
        XCTAssertEqual(m.discounts[0], 0.5, accuracy: 1e-12)
        XCTAssertEqual(m.discounts[1], 0.6, accuracy: 1e-12)
        XCTAssertEqual(m.probability(of: 1, history: []), 0.46875, accuracy: 1e-12)
        XCTAssertEqual(m.probability(of: 3, history: []), 0.09375, accuracy: 1e-12)
        XCTAssertEqual(m.probability(of: 2, history: [1]), 0.765625, accuracy: 1e-12)
        XCTAssertEqual(m.probability(of: 3, history: [3]), 0.09375, accuracy: 1e-12)  // unseen history backs off
    }

    func testProbabilitiesSumToOneOverTheVocabulary() {
        let corpus = [[9, 1, 2, 3, 1, 2, 3, 4, 8], [9, 2, 3, 1, 1, 5, 6, 2, 3, 8], [9, 7, 7, 7, 1, 2, 8]]
        for order in [1, 3, 5] {
            let m = NGramModel(order: order, vocabularySize: 10, sequences: corpus)
            for h in [[], [9], [9, 1], [1, 2], [2, 3, 1], [9, 9, 9, 9], [4, 0, 0, 0], [7, 7, 7], [5, 5, 5, 5, 5, 5]] {
                let total = (0..<10).reduce(0.0) { $0 + m.probability(of: $1, history: ArraySlice(h)) }
                XCTAssertEqual(total, 1, accuracy: 1e-9, "order \(order), history \(h)")
            }
        }
    }

    func testEvaluationScoresEveryTokenAfterBOS() {
        let corpus = [[9, 1, 2, 3, 1, 2, 3, 4, 8], [9, 2, 3, 1, 1, 5, 6, 2, 3, 8]]
        let m = NGramModel(order: 3, vocabularySize: 10, sequences: corpus)
        let (nats, n) = m.evaluate(corpus)
        XCTAssertEqual(n, 8 + 9)
        XCTAssertLessThan(nats, log(10.0))  // better than uniform on its own training data
        XCTAssertGreaterThan(nats, 0)
    }

    /// The tiny corpus of `testHandComputedProbabilities`: a seen history matches order 2 with its count, an unseen
    /// one falls to the unigram (order 1, count 0); `scoreTokens` scores what `evaluate` scores, in its order.
    func testMatchesGiveOrderHistoryCountAndEvaluatesNats() {
        let m = NGramModel(order: 2, vocabularySize: 4, sequences: [[0, 1, 2, 1, 2]])
        XCTAssertEqual(m.match(2, history: [1]), NGramModel.Match(probability: 0.765625, order: 2, historyCount: 2))
        XCTAssertEqual(m.match(3, history: [3]), NGramModel.Match(probability: 0.09375, order: 1, historyCount: 4))
        let corpus = [[9, 1, 2, 3, 1, 2, 3, 4, 8], [9, 2, 3, 1, 1, 5, 6, 2, 3, 8]]
        let m3 = NGramModel(order: 3, vocabularySize: 10, sequences: corpus)
        let scored = m3.scoreTokens(corpus)
        XCTAssertEqual(scored.count, 17)
        XCTAssertEqual(-scored.reduce(0) { $0 + log($1.probability) } / 17, m3.evaluate(corpus).nats, accuracy: 1e-12)
        // The first token after BOS: history BOS BOS, matched at order 3; padded, each sequence starts 9 9 9 x, so the
        // history was followed 4 times (9 9 9, 9 9 1, 9 9 9, 9 9 2).
        XCTAssertEqual(scored[0].order, 3)
        XCTAssertEqual(scored[0].historyCount, 4)
    }

    func testInterpolationBuckets() {
        XCTAssertEqual(NGramInterpolation.bucket(order: 1, historyCount: 0), 0)
        XCTAssertEqual(NGramInterpolation.bucket(order: 1, historyCount: 1), 0)
        XCTAssertEqual(NGramInterpolation.bucket(order: 1, historyCount: 3), 1)
        XCTAssertEqual(NGramInterpolation.bucket(order: 2, historyCount: 4), 8 + 2)
        XCTAssertEqual(NGramInterpolation.bucket(order: 3, historyCount: 127), 16 + 6)
        XCTAssertEqual(NGramInterpolation.bucket(order: 3, historyCount: 1 << 40), 16 + 7)
    }

    /// EM's weight is the maximiser of the held-out log-likelihood plus the prior: against a fine grid search, per
    /// bucket, on seeded probabilities; two buckets get different weights; an empty bucket keeps 1/2.
    func testEMWeightsMaximiseTheHeldOutLikelihood() {
        var x: UInt64 = 7
        func uniform() -> Double { x = x &* 6364136223846793005 &+ 1442695040888963407; return Double(x >> 11) / Double(1 << 53) }
        var model: [Double] = [], ngram: [NGramModel.Match] = []
        for i in 0..<400 {
            // Order-2 tokens: the n-gram is better on most; order-1 tokens: the model is.
            let order = i % 2 == 0 ? 2 : 1
            let good = 0.3 + 0.6 * uniform(), bad = 0.01 + 0.1 * uniform()
            let modelGood = order == 1 ? uniform() < 0.8 : uniform() < 0.3
            model.append(modelGood ? good : bad)
            ngram.append(NGramModel.Match(probability: modelGood ? bad : good, order: order, historyCount: 5))
        }
        let fit = NGramInterpolation.fit(model: model, ngram: ngram, order: 3)
        for order in [1, 2] {
            let idx = model.indices.filter { ngram[$0].order == order }
            func objective(_ l: Double) -> Double {
                idx.reduce(0) { $0 + log(l * model[$1] + (1 - l) * ngram[$1].probability) } + 0.5 * log(l) + 0.5 * log(1 - l)
            }
            let grid = stride(from: 0.0001, to: 1, by: 0.0001).max { objective($0) < objective($1) }!
            let b = NGramInterpolation.bucket(order: order, historyCount: 5)
            XCTAssertEqual(fit.weights[b], grid, accuracy: 2e-4, "order \(order)")
        }
        XCTAssertGreaterThan(fit.weights[NGramInterpolation.bucket(order: 1, historyCount: 5)], 0.6)
        XCTAssertLessThan(fit.weights[NGramInterpolation.bucket(order: 2, historyCount: 5)], 0.4)
        XCTAssertEqual(fit.weights[NGramInterpolation.bucket(order: 3, historyCount: 5)], 0.5)
        // The fitted mixture beats each model alone and every single weight on these tokens.
        let mixed = fit.nats(model: model, ngram: ngram)
        for l in [0.0, 0.25, 0.5, 0.75, 1.0] {
            XCTAssertLessThan(mixed, NGramInterpolation(order: 3, weights: [Double](repeating: l, count: 24)).nats(model: model, ngram: ngram) - 0.02)
        }
    }

    /// Chunks of 10 from 95 tokens, every 4th held out from the third on: held out 20..<30 and 60..<70; the kept
    /// runs between them are whole sequences; the default chunk clamps to 16 for a short text.
    func testHeldOutSplit() {
        let tokens = Array(0..<95)
        let s = NGramInterpolation.heldOutSplit(tokens, chunk: 10, every: 4)
        XCTAssertEqual(s.heldOut, [Array(20..<30), Array(60..<70)])
        XCTAssertEqual(s.kept, [Array(0..<20), Array(30..<60), Array(70..<95)])
        let d = NGramInterpolation.heldOutSplit(Array(0..<1000))
        XCTAssertEqual(d.heldOut.first, Array(160..<176))
        XCTAssertEqual(d.heldOut.count, 3)
    }

    /// Adapting to a sequence leaves the counts those of a model fitted with it (every order's counts, totals and
    /// types), and a text that repeats itself costs less adapting.
    func testAdaptingCountsEqualFittingWithTheText() {
        let a = [[9, 1, 2, 3, 1, 2, 3, 4, 8], [9, 2, 3, 1, 1, 5, 6, 2, 3, 8]]
        let b = [9, 5, 6, 7, 5, 6, 7, 5, 6, 7, 0, 5, 6, 7, 8]
        for order in [1, 2, 4] {
            let adapting = NGramModel(order: order, vocabularySize: 10, sequences: a)
            let fixed = NGramModel(order: order, vocabularySize: 10, sequences: a)
            let scored = adapting.scoreTokensAdapting([b])
            let both = NGramModel(order: order, vocabularySize: 10, sequences: a + [b])
            XCTAssertEqual(adapting.counts, both.counts, "order \(order)")
            for k in 0..<order {
                XCTAssertEqual(adapting.contexts[k].mapValues { [$0.total, $0.types] }, both.contexts[k].mapValues { [$0.total, $0.types] }, "order \(order)")
            }
            let stat = fixed.scoreTokens([b])
            XCTAssertEqual(scored.count, stat.count)
            // Before the first scored token the sequence's BOS (with its padding) was counted, as fitting counts it.
            XCTAssertEqual(scored[0].historyCount, stat[0].historyCount + 1)
            if order > 1 {
                func nats(_ m: [NGramModel.Match]) -> Double { -m.reduce(0) { $0 + log($1.probability) } / Double(m.count) }
                XCTAssertLessThan(nats(scored), nats(stat) - 0.3, "order \(order)")
            }
        }
    }

    /// The whole distribution equals `match` token by token, sums to 1, and gives the same matched order and count,
    /// for seen, partly seen and unseen histories at several orders.
    func testDistributionEqualsMatchForEveryToken() {
        let corpus = [[9, 1, 2, 3, 1, 2, 3, 4, 8], [9, 2, 3, 1, 1, 5, 6, 2, 3, 8], [9, 7, 7, 7, 1, 2, 8]]
        for order in [1, 2, 3, 5] {
            let m = NGramModel(order: order, vocabularySize: 10, sequences: corpus)
            var p = [Double](repeating: 0, count: 10)
            for h in [[], [9], [9, 9, 9, 9], [1, 2], [2, 3, 1], [4, 0, 0, 0], [7, 7, 7], [3, 1, 2], [6, 2, 3]] {
                let r = m.distribution(history: ArraySlice(h), into: &p)
                XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-12, "order \(order), history \(h)")
                for w in 0..<10 {
                    let e = m.match(w, history: ArraySlice(h))
                    XCTAssertEqual(p[w], e.probability, accuracy: 1e-14, "order \(order), history \(h), token \(w)")
                    XCTAssertEqual(r.order, e.order)
                    XCTAssertEqual(r.historyCount, e.historyCount)
                }
            }
        }
    }

    /// Keys hold as many tokens as their bits allow: 9 bits for bytes (order 14), 10 for 519 or 1,023 tokens (12);
    /// a 14-gram of bytes tells apart histories that differ only 13 bytes back.
    func testOrdersTheKeysHold() {
        XCTAssertEqual(NGramModel.maxOrder(vocabularySize: 258), 14)
        XCTAssertEqual(NGramModel.maxOrder(vocabularySize: 390), 14)
        XCTAssertEqual(NGramModel.maxOrder(vocabularySize: 511), 14)
        XCTAssertEqual(NGramModel.maxOrder(vocabularySize: 512), 12)
        XCTAssertEqual(NGramModel.maxOrder(vocabularySize: 1023), 12)
        // The byte after twelve 7s is decided by the byte 13 back: order 14 (13 bytes of history) tells them apart,
        // order 12 cannot.
        let a = [256, 3] + Array(repeating: 7, count: 12) + [1, 257], b = [256, 4] + Array(repeating: 7, count: 12) + [2, 257]
        let seqs = [a, b, a, b, a, b]
        let m14 = NGramModel(order: 14, vocabularySize: 258, sequences: seqs)
        let m12 = NGramModel(order: 12, vocabularySize: 258, sequences: seqs)
        XCTAssertEqual(m14.match(1, history: a[1..<14]).order, 14)
        XCTAssertGreaterThan(m14.probability(of: 1, history: a[1..<14]), 0.6)
        XCTAssertLessThan(m14.probability(of: 1, history: b[1..<14]), 0.2)
        XCTAssertEqual(m12.probability(of: 1, history: a[1..<14]), m12.probability(of: 1, history: b[1..<14]), accuracy: 1e-12)
    }

    /// At decoding, the mixed logits are the logs of `λ softmax(logits) + (1 − λ) P_ngram`, λ the history's bucket's
    /// weight; a banned token (-inf) stays banned.
    func testMixAtDecodingIsTheInterpolatedDistribution() {
        let m = NGramModel(order: 3, vocabularySize: 6, sequences: [[5, 1, 2, 3, 1, 2, 4, 0], [5, 2, 3, 1, 1, 2, 0]])
        var weights = [Double](repeating: 0.5, count: 3 * NGramInterpolation.countClasses)
        weights[NGramInterpolation.bucket(order: 3, historyCount: 2)] = 0.3
        let mix = NGramInterpolation(order: 3, weights: weights)
        var logits: [Float] = [0.5, -1, 2, 0.25, 1, -.infinity]
        let model = logits.map { exp(Double($0)) }, total = model.reduce(0, +)
        var scratch = [Double](repeating: 0, count: 6), ngram = [Double](repeating: 0, count: 6)
        let history: ArraySlice<Int> = [1, 2]  // followed 3 times in training (1 2 3, 1 2 4, 1 2 0): count class 2-3
        let r = m.distribution(history: history, into: &ngram)
        XCTAssertEqual(r.order, 3)
        let lambda = weights[NGramInterpolation.bucket(order: r.order, historyCount: r.historyCount)]
        logits.withUnsafeMutableBufferPointer { mix.mix(logits: $0, ngram: m, history: history, scratch: &scratch) }
        for w in 0..<5 {
            XCTAssertEqual(exp(Double(logits[w])), lambda * model[w] / total + (1 - lambda) * ngram[w], accuracy: 1e-6, "token \(w)")
        }
        XCTAssertEqual(logits[5], -.infinity)
        XCTAssertNotEqual(lambda, 0.5, "the test should read a bucket it set: history count \(r.historyCount)")
    }
}
