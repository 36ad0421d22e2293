// Continuation: stops on music time or token count, never samples BOS/EOS, slides past the context, same seed = same music.
import AREngine
import MIDI
import NNCore
import TestSupport
import XCTest
@testable import Music

final class GenerationTests: XCTestCase {
    func model() -> TransformerModel {
        let m = TransformerModel(config: TransformerConfig(vocabSize: PerformanceTokenizer.vocabularySize, contextLength: 16,
                                                           dModel: 8, nHeads: 2, nLayers: 1, dFF: 16))
        m.initialize(seed: 1)
        // Make time shifts and the (masked) markers likely so the test exercises both.
        for t in [PerformanceTokenizer.eos, PerformanceTokenizer.bos, 300] { m.parameters.value("head.bias")[t] = 4 }
        return m
    }

    func testSecondsTokensSlidingWindowAndDeterminism() throws {
        let m = model()
        let prime = [PerformanceTokenizer.bos] + (0..<30).map { $0 % 2 == 0 ? 60 : 300 }
        var s1 = try Sampler(temperature: 1, seed: 7)
        let r = MusicGeneration.continuation(m, prime: prime, length: .seconds(10), sampler: &s1)
        XCTAssertTrue(r.promptTruncated)  // 31 tokens > context 16
        XCTAssertFalse(r.tokens.contains(PerformanceTokenizer.bos) || r.tokens.contains(PerformanceTokenizer.eos))
        let secs = MusicGeneration.seconds(of: r.tokens)
        XCTAssertGreaterThanOrEqual(secs, 10)
        XCTAssertLessThan(secs, 11)  // the last shift may overshoot by less than one second
        XCTAssertGreaterThan(r.tokens.count, 16)  // went past the context by sliding
        var s2 = try Sampler(temperature: 1, seed: 7)
        XCTAssertEqual(MusicGeneration.continuation(m, prime: prime, length: .seconds(10), sampler: &s2).tokens, r.tokens)
        var s3 = try Sampler(temperature: 1, seed: 7)
        XCTAssertEqual(MusicGeneration.continuation(m, prime: [PerformanceTokenizer.bos], length: .tokens(40), sampler: &s3).tokens.count, 40)
        // Any token sequence decodes.
        XCTAssertNoThrow(try MIDIFile(notes: PerformanceTokenizer().decode(prime + r.tokens)).encoded())
    }

    func testPrimeFromMIDI() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("p.mid")
        try MIDIFile(notes: scale(8)).write(to: url)
        let p = try MusicPrime(midi: url, maxSeconds: 1.2)
        XCTAssertEqual(p.tokens.first, PerformanceTokenizer.bos)
        XCTAssertNotEqual(p.tokens.last, PerformanceTokenizer.eos)
        XCTAssertEqual(PerformanceTokenizer().decode(p.tokens).map(\.pitch), [60, 62, 64])
        let empty = dir.appendingPathComponent("empty.mid")
        try MIDIFile(notes: []).write(to: empty)
        XCTAssertThrowsError(try MusicPrime(midi: empty)) { XCTAssertEqual("\($0)", "the MIDI file holds no notes") }
    }

    /// Found while fuzzing (slow units of FuzzMIDI): one note ending 2^28 ticks later at one tick per quarter note
    /// (134,217,727.5 s at 120 bpm) took 1.3 x 10^8 time-shift tokens and gigabytes to encode. A piece longer than an
    /// hour is refused; cut with `maxSeconds`, the same file is a usable prime.
    func testPrimesLongerThanAnHourAreRefused() throws {
        func vlq(_ v: Int) -> [UInt8] { [UInt8(0x80 | (v >> 21) & 0x7F), UInt8(0x80 | (v >> 14) & 0x7F), UInt8(0x80 | (v >> 7) & 0x7F), UInt8(v & 0x7F)] }
        let track: [UInt8] = [0, 0x90, 60, 100] + vlq(0x0FFFFFFF) + [0x80, 60, 0, 0, 0xFF, 0x2F, 0]
        let bytes = Array("MThd".utf8) + [0, 0, 0, 6, 0, 0, 0, 1, 0, 1] + Array("MTrk".utf8) + [0, 0, 0, UInt8(track.count)] + track
        let file = try MIDIFile(data: Data(bytes))
        let t0 = Date()
        XCTAssertThrowsError(try MusicPrime(midi: file)) {
            XCTAssertEqual("\($0)", "the MIDI file's notes run to 134217728 s; a piece may last at most 3600 s")
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), timeLimit(1))
        let cut = try MusicPrime(midi: file, maxSeconds: 2)
        XCTAssertEqual(cut.tokens, [PerformanceTokenizer.bos, PerformanceTokenizer.velocityBase + PerformanceTokenizer.velocityBin(100) - 1,
                                    PerformanceTokenizer.noteOnBase + 60, PerformanceTokenizer.timeShiftBase + 99,
                                    PerformanceTokenizer.timeShiftBase + 99, PerformanceTokenizer.noteOffBase + 60])
    }

    func testBeamOfOneIsGreedy() throws {
        let m = TransformerModel(config: TransformerConfig(vocabSize: PerformanceTokenizer.vocabularySize, contextLength: 16,
                                                           dModel: 8, nHeads: 2, nLayers: 1, dFF: 16))
        m.initialize(seed: 2)
        var rng = Xoshiro256(seed: 3)
        for i in 0..<m.parameters.count { m.parameters.values[i] += rng.nextGaussian() * 0.2 }
        let prime = [PerformanceTokenizer.bos, 60, 300, 64]
        var greedy = try Sampler(temperature: 0)
        let g = MusicGeneration.continuation(m, prime: prime, length: .tokens(11), sampler: &greedy).tokens
        let b = MusicGeneration.beamContinuation(m, prime: prime, search: try BeamSearch(beamWidth: 1, maxLength: 11, eosToken: PerformanceTokenizer.eos))
        XCTAssertEqual(b, g)  // within the context (4 + 11 < 16): both see the same history
    }
}
