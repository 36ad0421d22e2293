// A music model's continuation defaults in generation_config.json: every key, numbers or strings, and bad values.
import AREngine
import Foundation
import Music
import XCTest

final class MusicGenerationConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("musicgen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var file: URL { dir.appendingPathComponent(GenerationConfig.fileName) }

    func load(_ json: String) throws -> MusicGenerationConfig? {
        try Data(json.utf8).write(to: file)
        return try MusicGenerationConfig.load(folder: dir)
    }

    func testReadsEveryKeyAndIgnoresTheSamplingOnes() throws {
        try FileManager.default.removeItem(at: dir)
        XCTAssertNil(try MusicGenerationConfig.load(folder: dir), "no folder, no file: nil")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        XCTAssertNil(try MusicGenerationConfig.load(folder: dir))
        let shipped = try load("""
            {"key_bias": 0.5, "max_note_seconds": "prime+1", "max_polyphony": "prime+1", "prime_cut": "beat",
             "snap_to_prime_grid": true, "temperature": 0.9, "min_p": 0.1}
            """)
        XCTAssertEqual(shipped, MusicGenerationConfig(primeCut: .beat, maxNoteSeconds: "prime+1", maxPolyphony: "prime+1", keyBias: 0.5,
                                                      snapToPrimeGrid: true))
        XCTAssertEqual(shipped?.summary, "key_bias 0.5, max_note_seconds prime+1, max_polyphony prime+1, prime_cut beat, snap_to_prime_grid true")
        XCTAssertEqual(try load(#"{"key_profile_bias": 2.5}"#), MusicGenerationConfig(keyProfileBias: 2.5))
        XCTAssertEqual(try load(#"{"key_profile_bias": 2.5}"#)?.summary, "key_profile_bias 2.5")
        // Limits as JSON numbers; "off".
        XCTAssertEqual(try load(#"{"max_note_seconds": 2.5, "max_polyphony": 4}"#), MusicGenerationConfig(maxNoteSeconds: "2.5", maxPolyphony: "4"))
        XCTAssertEqual(try load(#"{"max_note_seconds": "off", "prime_cut": "exact"}"#), MusicGenerationConfig(primeCut: .exact, maxNoteSeconds: "off"))
        // The n-gram cache: an order and order × 8 weights.
        let weights = (0..<16).map { Double($0) / 15 }
        let cache = try load(#"{"ngram_cache": {"order": 2, "weights": \#(weights)}}"#)
        XCTAssertEqual(cache, MusicGenerationConfig(ngramCache: NGramCacheSettings(order: 2, weights: weights)))
        XCTAssertEqual(cache?.summary, "ngram_cache order 2")
        // A text model's file holds no music keys.
        XCTAssertEqual(try load(#"{"min_p": 0.1}"#)?.isEmpty, true)
    }

    func testBadValuesNameTheFileAndTheKey() throws {
        let path = file.path
        let cases: [(String, String)] = [
            (#"{"prime_cut": "bar"}"#, "\(path): key 'prime_cut': must be exact or beat, got bar"),
            (#"{"max_note_seconds": "prime+x"}"#, "\(path): key 'max_note_seconds': must be S or prime+S with S in [0.01, 60], or off, got prime+x"),
            (#"{"max_note_seconds": 0}"#, "\(path): key 'max_note_seconds': must be S or prime+S with S in [0.01, 60], or off, got 0"),
            (#"{"max_polyphony": 2.5}"#, "\(path): key 'max_polyphony': must be N or prime+N with N a whole number in 1...128, or off, got 2.5"),
            (#"{"max_polyphony": "prime+200"}"#, "\(path): key 'max_polyphony': must be N or prime+N with N a whole number in 1...128, or off, got prime+200"),
            (#"{"key_bias": -1}"#, "\(path): key 'key_bias': must be in [0, 100], got -1.0"),
            (#"{"key_bias": "strong"}"#, "\(path): key 'key_bias': expected a number"),
            (#"{"key_profile_bias": 101}"#, "\(path): key 'key_profile_bias': must be in [0, 100], got 101.0"),
            (#"{"snap_to_prime_grid": "yes"}"#, "\(path): key 'snap_to_prime_grid': expected true or false"),
            (#"{"max_polyphony": [4]}"#, "\(path): key 'max_polyphony': expected a number"),
            (#"{"ngram_cache": {"order": 13, "weights": []}}"#, "\(path): key 'ngram_cache': order must be in 1...12, got 13"),
            (#"{"ngram_cache": {"order": 2, "weights": [0.5]}}"#, "\(path): key 'ngram_cache': order 2 needs 16 weights, got 1"),
            (#"{"ngram_cache": {"order": 1, "weights": [0, 0, 0, 0, 0, 0, 0, 1.5]}}"#, "\(path): key 'ngram_cache': weights must be in 0...1"),
            (#"{"ngram_cache": 12}"#, "\(path): key 'ngram_cache': expected an object"),
            (#"{"ngram_cache": {"order": 2}}"#, "\(path): key 'ngram_cache.weights': missing"),
        ]
        for (json, message) in cases {
            XCTAssertThrowsError(try load(json), json) { e in XCTAssertEqual("\(e)", message, json) }
        }
    }
}
