// The decoding processor that keeps a performance_programs continuation to what the encoding writes.
import MIDI
import Music
import XCTest

final class InstrumentGrammarTests: XCTestCase {
    let V = ProgramPerformanceTokenizer.vocabularySize
    let base = ProgramPerformanceTokenizer.programBase
    func program(_ p: Int) -> Int { base + p }

    func allowed(_ g: InstrumentGrammar, _ logits: [Float]? = nil) -> Set<Int> {
        var l = logits ?? [Float](repeating: 0, count: V)
        l.withUnsafeMutableBufferPointer { g.process($0) }
        return Set(l.indices.filter { l[$0] > -.infinity })
    }

    func testForbidsWhatTheEncodingNeverWrites() {
        let g = InstrumentGrammar()
        XCTAssertEqual(allowed(g).count, V, "nothing forbidden before any instrument token")
        g.observe(PerformanceTokenizer.bos)
        g.observe(program(73))
        // Right after an instrument token: a note event or a velocity, no other instrument and no time shift.
        let afterInstrument = allowed(g)
        XCTAssertEqual(afterInstrument.count, V - 129 - 100)
        XCTAssertTrue(afterInstrument.contains(60) && afterInstrument.contains(PerformanceTokenizer.noteOffBase + 60))
        XCTAssertTrue(afterInstrument.contains(PerformanceTokenizer.velocityBase))
        XCTAssertFalse(afterInstrument.contains(program(71)) || afterInstrument.contains(ProgramPerformanceTokenizer.drums))
        XCTAssertFalse(afterInstrument.contains(PerformanceTokenizer.timeShiftBase))
        // After a note: anything but the instrument already in effect.
        g.observe(60)
        XCTAssertEqual(allowed(g), Set(0..<V).subtracting([program(73)]))
        g.observe(PerformanceTokenizer.timeShiftBase + 9)
        XCTAssertEqual(allowed(g), Set(0..<V).subtracting([program(73)]))
        g.observe(ProgramPerformanceTokenizer.drums)
        g.observe(36)
        XCTAssertEqual(allowed(g), Set(0..<V).subtracting([ProgramPerformanceTokenizer.drums]))
        XCTAssertEqual(g.current, ProgramPerformanceTokenizer.drumInstrument)
    }

    /// Every encoded piece reads as allowed by it, token by token.
    func testEveryEncodedTokenIsAllowed() throws {
        let file = try MIDIFile.read(url: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("MIDITests/Fixtures/music21-test04.mid"))
        let tokens = MusicEncoding.performancePrograms.encode(notes: file.notes())
        XCTAssertGreaterThan(Set(tokens.filter { $0 >= base }).count, 4)
        let g = InstrumentGrammar()
        for (i, t) in tokens.enumerated() {
            XCTAssertTrue(allowed(g).contains(t), "token \(i): \(t)")
            g.observe(t)
        }
    }

    /// When another processor has left only tokens it would forbid (a forced instrument switch), it forbids nothing.
    func testNeverLeavesNoToken() {
        let g = InstrumentGrammar()
        g.observe(program(73))
        var forced = [Float](repeating: -.infinity, count: V)
        forced[program(71)] = 0
        XCTAssertEqual(allowed(g, forced), [program(71)])
    }
}
