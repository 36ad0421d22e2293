// Loading hostile music model folders (issue 17): bounded configs, checked against the weights before allocation.
import AREngine
import Foundation
import NNCore
import TestSupport
import XCTest
@testable import Music

final class ModelFolderLoadingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-musicload-\(UUID().uuidString)")
        let m = TransformerModel(config: TransformerConfig(vocabSize: 11, contextLength: 8, dModel: 4, nHeads: 2, nLayers: 1, dFF: 8))
        m.initialize(seed: 5)
        try ModelFolder.save(m, to: dir)
    }

    let registry = ModelRegistry([TransformerModel.self, WaveNetTokenModel.self])
    let musicRole = ModelRole("music model") { $0 is any TokenModel.Type }

    func load() throws -> any TokenModel { try registry.loadTokenModel(dir, as: musicRole) }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var configURL: URL { dir.appendingPathComponent("config.json") }

    func patch(_ fields: [String: Any]) throws {
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        for (k, v) in fields { root[k] = v }
        try JSONSerialization.data(withJSONObject: root).write(to: configURL)
    }

    func assertRefused(_ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let t0 = Date()
        XCTAssertThrowsError(try load(), file: file, line: line) { e in
            XCTAssertEqual("\(e)", message, file: file, line: line)
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), timeLimit(1), "refusing took long: something big was built", file: file, line: line)
    }

    func testTheTinyModelLoads() throws {
        let m = try XCTUnwrap(try load() as? TransformerModel)
        XCTAssertEqual(m.parameters.count, m.config.parameterCount)
    }

    /// The configs of issue 17's table: vocab_size 2^20, and d_ff 65,536 over 256 layers.
    func testIssueConfigsAreRefused() throws {
        try patch(["vocab_size": 1 << 20])
        assertRefused("\(configURL.path): invalid model config: vocab_size must be in 2...65536, got 1048576")
        try patch(["vocab_size": 11, "d_model": 128, "n_heads": 4, "d_ff": 65536, "n_layers": 256])
        assertRefused("\(configURL.path): invalid model config: the model would have 4328820747 parameters, more than the limit of 268435456 (vocab_size 11, context_length 8, d_model 128, d_ff 65536, n_layers 256)")
    }

    func testKVCacheIsBounded() throws {
        try patch(["context_length": 65536, "d_model": 8192, "n_heads": 1, "n_layers": 1, "d_ff": 1, "vocab_size": 2])
        assertRefused("\(configURL.path): invalid model config: the model would have 805445635 parameters, more than the limit of 268435456 (vocab_size 2, context_length 65536, d_model 8192, d_ff 1, n_layers 1)")
        try patch(["context_length": 65536, "d_model": 512, "n_heads": 1, "n_layers": 8, "d_ff": 1, "vocab_size": 2])
        assertRefused("\(configURL.path): invalid model config: the KV cache would hold n_layers x context_length x d_model = 268435456 floats per sequence for keys (and as many for values), more than the limit of 134217728")
    }

    /// Within the bounds but not what the weights hold: refused before the parameters are allocated.
    func testSizesAreCheckedAgainstTheWeights() throws {
        try patch(["d_model": 2048, "n_heads": 1, "d_ff": 8192, "n_layers": 4])
        assertRefused("\(dir.appendingPathComponent("model.safetensors").path): tensor 'tok_embedding.weight' has shape [11, 4], expected [11, 2048] from config.json")
    }

    func testTokenWaveNetConfigsAreBounded() throws {
        let tok = WaveNetTokenModel(config: WaveNetTokenConfig(vocabSize: 13, dilations: [1, 2], residualChannels: 4, gateChannels: 6, skipChannels: 5))
        try FileManager.default.removeItem(at: dir)
        try ModelFolder.save(tok, to: dir)
        try patch(["residual_channels": 1_048_576])
        assertRefused("\(configURL.path): invalid model config: residual_channels must be in 1...4096, got 1048576")
        try patch(["residual_channels": 4, "dilations": [Int](repeating: 65536, count: 1024), "skip_channels": 5])
        assertRefused("\(configURL.path): invalid model config: the queues would hold sum(dilations) x residual_channels = 268435456 floats per sequence, more than the limit of 134217728")
        // The old layout (the vocoder's config under "wavenet") is bounded the same way.
        let legacy = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/legacy_wavenet_tokens/config.json"), encoding: .utf8)
        try legacy.replacingOccurrences(of: "\"residual_channels\" : 4", with: "\"residual_channels\" : 1048576")
            .write(to: configURL, atomically: true, encoding: .utf8)
        assertRefused("\(configURL.path): invalid model config: residual_channels must be in 1...4096, got 1048576")
    }
}
