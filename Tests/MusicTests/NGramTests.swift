// Kneser-Ney n-gram baseline: hand-computed probabilities on a tiny corpus, normalisation, evaluation.
import XCTest
@testable import Music

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
}
