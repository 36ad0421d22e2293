// The byte tokenizer, the UTF-8 stream decoder, the corpus checks and the recurrent language model.
import AREngine
import Foundation
import NNCore
import TestSupport
import XCTest
@testable import Text

final class ByteTokenizerTests: XCTestCase {
    func testRoundTripsAnyUTF8Exactly() {
        for s in ["", "In the beginning", "Ελληνικά, 日本語, emoji 👍🏽, \u{0}NUL and \r\n"] {
            let t = ByteTokenizer.encode(s)
            XCTAssertEqual(t.first, ByteTokenizer.bos)
            XCTAssertEqual(t.count, s.utf8.count + 1)
            XCTAssertEqual(String(decoding: ByteTokenizer.decode(t), as: UTF8.self), s)
        }
        let raw: [UInt8] = [0xFF, 0x00, 0xC3, 0x41]
        XCTAssertEqual(ByteTokenizer.decode(ByteTokenizer.encode(raw)), raw)
        XCTAssertEqual(ByteTokenizer.vocabularySize, 258)
    }

    /// The stream decoder writes a character only once it is whole, and U+FFFD where `String(decoding:)` puts one.
    func testStreamHoldsBackIncompleteSequences() {
        var d = UTF8StreamDecoder()
        let e = Array("é👍".utf8)  // C3 A9, F0 9F 91 8D
        XCTAssertEqual(d.feed(e[0]), [])
        XCTAssertEqual(d.heldBack, 1)
        XCTAssertEqual(d.feed(e[1]), [0xC3, 0xA9])
        XCTAssertEqual(d.feed(e[2]), [])
        XCTAssertEqual(d.feed(e[3]), [])
        XCTAssertEqual(d.feed(e[4]), [])
        XCTAssertEqual(d.feed(e[5]), [0xF0, 0x9F, 0x91, 0x8D])
        XCTAssertEqual(d.finish(), [])
        for bad: [UInt8] in [[0x41, 0xFF, 0x42], [0xE2, 0x82, 0x41], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80],
                             [0xF0, 0x9F, 0x91], [0xE2, 0x82]] {
            var d = UTF8StreamDecoder()
            var out: [UInt8] = []
            for b in bad { out += d.feed(b) }
            out += d.finish()
            XCTAssertEqual(String(decoding: out, as: UTF8.self), String(decoding: bad, as: UTF8.self), "\(bad)")
            XCTAssertNotNil(String(validating: out, as: UTF8.self))
            XCTAssertGreaterThan(d.invalidSequences, 0)
        }
    }
}

final class TextCorpusTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("text-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: dir.appendingPathComponent(name)) }

    func testSplitsByFileName() {
        XCTAssertEqual(TextCorpus.split(ofFileName: "kjv.train.txt"), "train")
        XCTAssertEqual(TextCorpus.split(ofFileName: "valid.txt"), "valid")
        XCTAssertEqual(TextCorpus.split(ofFileName: "a_b-test.TXT"), "test")
        XCTAssertNil(TextCorpus.split(ofFileName: "kjv.txt"))
        XCTAssertNil(TextCorpus.split(ofFileName: "kjv.train.md"))
    }

    func testReadsBothSplitsAsBOSBytesEOS() throws {
        try write("a.train.txt", Array("ab".utf8))
        try write("b.train.txt", Array("é".utf8))
        try write("a.valid.txt", Array("z".utf8))
        try write("README.md", [0])
        let c = try TextCorpus(paths: [dir.path])
        XCTAssertEqual(try c.tokens("train"), [256, 97, 98, 257, 256, 0xC3, 0xA9, 257])
        XCTAssertEqual(try c.tokens("valid"), [256, 122, 257])
    }

    func testRefusesMissingSplitEmptyAndBinaryFiles() throws {
        try write("a.train.txt", Array("ab".utf8))
        XCTAssertThrowsError(try TextCorpus(paths: [dir.path]).tokens("valid")) {
            XCTAssertEqual($0 as? TextDataError, .missingSplit(path: dir.path, split: "valid"))
        }
        try write("a.valid.txt", [])
        XCTAssertThrowsError(try TextCorpus(paths: [dir.path]).tokens("valid")) {
            XCTAssertEqual($0 as? TextDataError, .emptyFile(path: dir.appendingPathComponent("a.valid.txt").path))
        }
        try write("a.valid.txt", Array("ok\n".utf8) + [0x89, 0x50, 0x4E, 0x47])
        XCTAssertThrowsError(try TextCorpus(paths: [dir.path]).tokens("valid")) {
            XCTAssertEqual("\($0)", "\(dir.appendingPathComponent("a.valid.txt").path): not a text file (invalid UTF-8 at byte 3)")
        }
        try write("a.valid.txt", Array("ok".utf8) + [0])
        XCTAssertThrowsError(try TextCorpus(paths: [dir.path]).tokens("valid")) {
            XCTAssertEqual("\($0)", "\(dir.appendingPathComponent("a.valid.txt").path): not a text file (a NUL byte at byte 2)")
        }
        XCTAssertThrowsError(try TextCorpus(paths: [dir.appendingPathComponent("a.train.txt").path, "/nonexistent/x.valid.txt"]))
        let plain = dir.appendingPathComponent("plain.txt")
        try Data("x".utf8).write(to: plain)
        XCTAssertThrowsError(try TextCorpus(paths: [plain.path])) { XCTAssertEqual($0 as? TextDataError, .unknownSplit(path: plain.path)) }
    }

    func testWindows() {
        let train = Array(0..<1000).map { $0 % 256 }, valid = Array(0..<300).map { $0 % 256 }
        let d = TextTrainingData(train: train, valid: valid, context: 16, batchSize: 4, validationWindows: 5)
        var rng = Xoshiro256(seed: 3)
        let b = d.trainingBatch(rng: &rng)
        XCTAssertEqual(b.batch, 4)
        XCTAssertEqual(b.time, 16)
        for row in b.tokens { for i in 1..<row.count { XCTAssertEqual(row[i], (row[i - 1] + 1) % 256) } }
        // 300 tokens: 19 windows of 17 with stride 16; 5 spread evenly (every 3rd), each scoring 16 targets.
        XCTAssertEqual(d.validationBatches().map(\.batch), [4, 1])
        XCTAssertEqual(d.validationBatches()[0].tokens.map { $0[0] }, [0, 48, 96, 144])
        XCTAssertEqual(d.validationTokenCount, 5 * 16)
    }
}

final class RecurrentLanguageModelTests: XCTestCase {
    func model(_ cell: RecurrentCell, layers: Int = 2, vocab: Int = 11, seed: UInt64 = 5) -> RecurrentLanguageModel {
        let m = RecurrentLanguageModel(config: RecurrentLMConfig(cell: cell, vocabSize: vocab, embeddingDim: 3, hiddenSize: 4, numLayers: layers))
        m.initialize(seed: seed)
        return m
    }

    func batch(vocab: Int, rows: Int, time: Int, seed: UInt64) -> TokenBatch {
        var rng = Xoshiro256(seed: seed)
        return TokenBatch(tokens: (0..<rows).map { _ in (0...time).map { _ in rng.nextInt(below: vocab) } })
    }

    /// Every tensor of a 2-layer LSTM and GRU against central differences of the mean cross-entropy.
    func testGradientsMatchFiniteDifferences() {
        for cell in RecurrentCell.allCases {
            for B in [1, 3] {
                let m = model(cell)
                let b = batch(vocab: 11, rows: B, time: 5, seed: 7)
                m.parameters.zeroGrads()
                _ = m.loss(b, backward: true)
                func loss() -> Double { let r = m.loss(b, backward: false); return r.sum / Double(r.count) }
                for e in m.parameters.entries {
                    assertGradientsMatch("\(cell) B=\(B) \(e.name)", x: m.parameters.values + e.offset, count: e.count,
                                         analytic: m.parameters.grads + e.offset,
                                         tolerance: GradientTolerance(maxChecks: 24, rtol: 3e-2, atol: 1e-4, eps: 1e-2), loss: loss)
                }
            }
        }
    }

    func testCachedStepsMatchTeacherForcedLogits() {
        for cell in RecurrentCell.allCases {
            let m = model(cell, layers: 2)
            assertCachedStepsMatchFullForward(m, [[1, 4, 2, 9, 0, 3, 3, 7], [10, 2, 5, 5, 1, 0, 6, 8]], tolerance: 1e-5)
            assertCachedStepsMatchFullForward(m, [[1, 4, 2, 9, 0, 3, 3, 7]], tolerance: 1e-5)
        }
    }

    /// Each token's probability, in windows of 4 (full ones batched, each sequence's short last one alone), gives
    /// `evaluate`'s nats, and equals the softmax of the teacher-forced logits at its position.
    func testTokenProbabilitiesGiveTheEvaluatedNats() {
        let m = model(.lstm, layers: 2)
        let seqs = [[1, 4, 2, 9, 0, 3, 3, 7, 5, 5, 2], [10, 2, 5], [3], [6, 1, 8, 8, 2, 0, 4, 4, 9]]
        let p = m.tokenProbabilities(seqs, context: 4, batchSize: 2)
        XCTAssertEqual(p.count, 10 + 2 + 8)
        XCTAssertEqual(-p.reduce(0) { $0 + log($1) } / Double(p.count), m.evaluate(seqs, context: 4).nats, accuracy: 1e-5)
        // The second window of the first sequence: tokens 4...7 read, token 5...8 predicted.
        let logits = m.logits([Array(seqs[0][4..<8])]), V = m.vocabularySize
        for t in 0..<4 {
            let row = logits[(t * V)..<((t + 1) * V)].map(Double.init)
            let expected = exp(row[seqs[0][4 + t + 1]]) / row.reduce(0) { $0 + exp($1) }
            XCTAssertEqual(p[4 + t], expected, accuracy: 1e-6)
        }
    }

    /// Saved as a model folder and loaded back through a registry: the same config, weights and logits.
    func testFolderRoundTripThroughTheRegistry() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rnn-lm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = model(.gru, layers: 2)
        try ModelFolder.save(m, to: dir)
        let registry = ModelRegistry([RecurrentLanguageModel.self])
        let back = try registry.load(RecurrentLanguageModel.self, from: dir, noun: "text model")
        XCTAssertEqual(back.config, m.config)
        XCTAssertEqual(back.logits([[1, 2, 3]]), m.logits([[1, 2, 3]]))
        let json = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertTrue(json.contains("\"model_type\" : \"recurrent_lm\""), json)
        XCTAssertTrue(json.contains("\"cell\" : \"gru\""), json)
        // A config asking for more than the weights hold is refused naming the tensor.
        try json.replacingOccurrences(of: "\"hidden_size\" : 4", with: "\"hidden_size\" : 5")
            .write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try registry.load(dir)) { XCTAssertTrue("\($0)".contains("rnn.weight_ih_l0"), "\($0)") }
    }

    /// The parameter count of the config is the layout's, and PyTorch's: for nn.Embedding(258, 64), nn.LSTM(64, 512)
    /// and nn.Linear(512, 258), 16,512 + 1,183,744 + 132,354 = 1,332,610.
    func testParameterCount() {
        let c = RecurrentLMConfig(cell: .lstm, embeddingDim: 64, hiddenSize: 512, numLayers: 1)
        XCTAssertEqual(c.parameterCount, 1_332_610)
        XCTAssertEqual(RecurrentLanguageModel.layout(c).count, c.parameterCount)
        let g = RecurrentLMConfig(cell: .gru, embeddingDim: 8, hiddenSize: 16, numLayers: 3)
        XCTAssertEqual(RecurrentLanguageModel.layout(g).count, g.parameterCount)
    }

    func testConfigValidation() {
        var c = RecurrentLMConfig(cell: .lstm, embeddingDim: 64, hiddenSize: 512, numLayers: 1)
        XCTAssertNoThrow(try c.validate())
        c.hiddenSize = 0
        XCTAssertThrowsError(try c.validate(file: "m/config.json")) {
            XCTAssertEqual("\($0)", "m/config.json: invalid model config: hidden_size must be in 1...8192, got 0")
        }
        c.hiddenSize = 8192; c.numLayers = 64; c.embeddingDim = 8192
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("more than the limit")) }
    }

    /// Streaming windows carry the state: at learning rate 0, dynamic evaluation in segments of 5 equals one
    /// teacher-forced window over the whole sequence (the state flows through), not windows of 5 from zero.
    func testDynamicEvaluationAtRateZeroReadsOneStream() {
        for cell in RecurrentCell.allCases {
            let m = model(cell)
            let seq = batch(vocab: 11, rows: 1, time: 23, seed: 3).tokens[0]
            let whole = m.evaluate([seq], context: 100)
            let dyn = m.evaluateDynamically([seq], DynamicEvaluation(learningRate: 0, segment: 5))
            XCTAssertEqual(dyn.tokens, 23)
            XCTAssertEqual(dyn.nats, whole.nats, accuracy: 1e-6, "\(cell)")
            XCTAssertGreaterThan(abs(m.evaluate([seq], context: 5).nats - whole.nats), 1e-4, "\(cell): the test cannot tell")
        }
    }

    /// Each token's probability from dynamic evaluation: at rate 0 those of one teacher-forced window over the whole
    /// sequence; adapting, they give the nats it returns, one per scored token.
    func testDynamicEvaluationGivesEachTokensProbability() {
        for cell in RecurrentCell.allCases {
            let m = model(cell)
            let seqs = [batch(vocab: 11, rows: 1, time: 23, seed: 3).tokens[0], batch(vocab: 11, rows: 1, time: 9, seed: 5).tokens[0]]
            var p: [Double] = []
            _ = m.evaluateDynamically(seqs, DynamicEvaluation(learningRate: 0, segment: 5), scored: { p.append($0) })
            let whole = m.tokenProbabilities(seqs, context: 100)
            XCTAssertEqual(p.count, 23 + 9)
            for i in p.indices { XCTAssertEqual(p[i], whole[i], accuracy: 1e-6, "\(cell) token \(i)") }
            p = []
            let d = m.evaluateDynamically(seqs, DynamicEvaluation(learningRate: 0.5, segment: 5), scored: { p.append($0) })
            XCTAssertEqual(p.count, 23 + 9)
            XCTAssertEqual(-p.reduce(0) { $0 + log($1) } / Double(p.count), d.nats, accuracy: 1e-6, "\(cell)")
            XCTAssertGreaterThan(abs(d.nats - m.evaluate(seqs, context: 100).nats), 1e-3, "\(cell): the rate changes nothing")
        }
    }

    /// A random model reading a random 17-byte phrase 60 times: statically every repeat costs as much as the first;
    /// adapting after each segment it learns the phrase, with either rule, and the trained weights are restored.
    func testDynamicEvaluationLearnsTheTextItReads() {
        var rng = Xoshiro256(seed: 9)
        let phrase = (0..<17).map { _ in rng.nextInt(below: 11) }
        let seq = Array((0..<60).map { _ in phrase }.joined())
        let calibration = [batch(vocab: 11, rows: 1, time: 200, seed: 4).tokens[0]]
        for cell in RecurrentCell.allCases {
            let m = RecurrentLanguageModel(config: RecurrentLMConfig(cell: cell, vocabSize: 11, embeddingDim: 8, hiddenSize: 32, numLayers: 1))
            m.initialize(seed: 2)
            let before = Array(UnsafeBufferPointer(start: m.parameters.values, count: m.parameters.count))
            let stat = m.evaluate([seq], context: 1000).nats
            let sgd = m.evaluateDynamically([seq], DynamicEvaluation(learningRate: 1, segment: 17)).nats
            let rms = m.evaluateDynamically([seq], DynamicEvaluation(learningRate: 0.02, decay: 0.001, segment: 17, rmsNormalized: true),
                                            calibration: calibration).nats
            XCTAssertGreaterThan(stat, 2.0, "\(cell)")  // near ln 11 = 2.40
            XCTAssertLessThan(sgd, stat - 0.8, "\(cell) sgd")
            XCTAssertLessThan(rms, stat - 0.8, "\(cell) rms")
            XCTAssertEqual(Array(UnsafeBufferPointer(start: m.parameters.values, count: m.parameters.count)), before)
            XCTAssertEqual(m.evaluate([seq], context: 1000).nats, stat)
        }
    }

    /// The first segment is scored before any update; the second with the weights after one step of exactly
    /// `θ − η ∇ℓ₁ + λ (θ₀ − θ)` (here θ = θ₀, so the pull is zero on the first step) from the first segment's state.
    func testDynamicEvaluationTakesTheDocumentedStep() {
        let m = model(.lstm, layers: 1)
        let seq = batch(vocab: 11, rows: 1, time: 12, seed: 8).tokens[0]
        let lr: Float = 0.3
        let dyn = m.evaluateDynamically([seq], DynamicEvaluation(learningRate: lr, decay: 0.5, segment: 6))
        // By hand: score and step on tokens 0...6, then score 6...12 from the carried state.
        let P = m.parameters
        let saved = Array(UnsafeBufferPointer(start: P.values, count: P.count))
        P.zeroGrads()
        let first = m.streamingLoss(TokenBatch(tokens: [Array(seq[0...6])]), backward: true, continuing: false)
        for i in 0..<P.count { P.values[i] -= lr * P.grads[i] }
        let second = m.streamingLoss(TokenBatch(tokens: [Array(seq[6...12])]), backward: false, continuing: true)
        for i in 0..<P.count { P.values[i] = saved[i] }
        XCTAssertEqual(dyn.nats, (first.sum + second.sum) / 12, accuracy: 1e-6)
        XCTAssertNotEqual(dyn.nats, m.evaluate([seq], context: 12).nats, accuracy: 1e-4)
    }

    /// Trained 150 steps on a repeating text (each byte determines the next), the model predicts it almost surely.
    func testLearnsARepeatingText() throws {
        let text = ByteTokenizer.encode(String(repeating: "abcd", count: 200), bos: false)
        let m = RecurrentLanguageModel(config: RecurrentLMConfig(cell: .lstm, embeddingDim: 8, hiddenSize: 16, numLayers: 1))
        m.initialize(seed: 1)
        let data = TextTrainingData(train: text, valid: text, context: 12, batchSize: 8, validationWindows: 4)
        let opts = TrainingOptions(steps: 150, schedule: LearningRateSchedule(peak: 1e-2, warmupSteps: 10, totalSteps: 150, minLR: 1e-3), logEvery: 10)
        let trainer = Trainer(model: m, options: opts, checkpoints: nil)
        try trainer.train(data, configJSON: Data()) { _ in }
        // From ln 258 = 5.55 nats; the first byte of each window is the only uncertain one.
        XCTAssertLessThan(trainer.validate(data), 0.4)
    }
}
