// generation_config.json: a model folder's sampling defaults, with Hugging Face's file and key names.
import AREngine
import Foundation
import XCTest

final class GenerationConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("genconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var file: URL { dir.appendingPathComponent(GenerationConfig.fileName) }

    func write(_ json: String) throws { try Data(json.utf8).write(to: file) }

    func testAbsentFileIsNil() throws {
        XCTAssertNil(try GenerationConfig.load(folder: dir))
    }

    /// A file as transformers writes it: the five keys are read, the others (token ids, do_sample, the version) ignored.
    func testReadsTheSamplingKeysOfATransformersFile() throws {
        try write("""
            {"_from_model_config": true, "bos_token_id": 1, "do_sample": true, "eos_token_id": 2, "max_new_tokens": 64,
             "min_p": 0.05, "repetition_penalty": 1.1, "temperature": 0.8, "top_k": 40, "top_p": 0.95,
             "transformers_version": "4.46.0"}
            """)
        let g = try XCTUnwrap(try GenerationConfig.load(folder: dir))
        XCTAssertEqual(g, GenerationConfig(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repetitionPenalty: 1.1))
        XCTAssertEqual(g.summary, "min_p 0.05, repetition_penalty 1.1, temperature 0.8, top_k 40, top_p 0.95")
        XCTAssertFalse(g.isEmpty)
        try write("{}")
        XCTAssertEqual(try GenerationConfig.load(folder: dir), GenerationConfig())
        XCTAssertTrue(GenerationConfig().isEmpty)
    }

    /// Every key out of the sampler's range, of the wrong type, and a file that is not a JSON object or not a regular
    /// file: one error naming the file and the key.
    func testBadFilesAreRefusedNamingFileAndKey() throws {
        let path = file.path
        let cases: [(String, String)] = [
            (#"{"temperature": -1}"#, "\(path): key 'temperature': must be finite and >= 0, got -1.0"),
            (#"{"top_k": -3}"#, "\(path): key 'top_k': must be >= 0 (0 = off), got -3"),
            (#"{"top_p": 0}"#, "\(path): key 'top_p': must be in (0, 1], got 0.0"),
            (#"{"min_p": 1}"#, "\(path): key 'min_p': must be in [0, 1), got 1.0"),
            (#"{"repetition_penalty": -2}"#, "\(path): key 'repetition_penalty': must be finite and > 0, got -2.0"),
            (#"{"top_k": 0.5}"#, "\(path): a number does not fit its key's type (a fraction or an out-of-range number where an integer is expected)"),
            (#"{"temperature": "hot"}"#, "\(path): key 'temperature': expected a number"),
            ("[0.7]", "\(path): not valid JSON"),
            ("temperature = 0.7", "\(path): not valid JSON"),
        ]
        for (json, message) in cases {
            try write(json)
            XCTAssertThrowsError(try GenerationConfig.load(folder: dir), json) { e in
                XCTAssertTrue("\(e)".hasPrefix(message), "\(json): \(e)")
            }
        }
        try FileManager.default.removeItem(at: file)
        try FileManager.default.createDirectory(at: file, withIntermediateDirectories: false)
        XCTAssertThrowsError(try GenerationConfig.load(folder: dir)) { e in
            XCTAssertEqual("\(e)", "\(path): not a regular file")
        }
    }
}
