// Tests of the Performance RNN tokenizer: id layout, round trips, sustain, and decoding arbitrary token sequences.

import Foundation
import TestSupport
import XCTest
@testable import MIDI

final class TokenizerTests: XCTestCase {
    let tokenizer = PerformanceTokenizer()
    typealias T = PerformanceTokenizer

    func testLayout() {
        XCTAssertEqual(T.vocabularySize, 390)
        XCTAssertEqual(T.name(of: 0), "note-on 0")
        XCTAssertEqual(T.name(of: 255), "note-off 127")
        XCTAssertEqual(T.name(of: 256), "shift 10 ms")
        XCTAssertEqual(T.name(of: 355), "shift 1000 ms")
        XCTAssertEqual(T.name(of: 356), "velocity bin 1")
        XCTAssertEqual(T.name(of: 387), "velocity bin 32")
        XCTAssertEqual(T.name(of: 388), "BOS")
        XCTAssertEqual(T.name(of: 389), "EOS")
        XCTAssertEqual(T.name(of: 390), "invalid 390")
        for v in 1...127 {
            let bin = T.velocityBin(v)
            XCTAssertTrue((1...32).contains(bin))
            XCTAssertEqual(T.velocityBin(T.velocity(ofBin: bin)), bin)
        }
    }

    func testEncodeSmallExample() {
        let notes = [Note(pitch: 60, velocity: 100, start: 0, end: 0.5), Note(pitch: 64, velocity: 100, start: 0.25, end: 1.8)]
        let bin = T.velocityBin(100)
        XCTAssertEqual(tokenizer.encode(notes: notes), [
            T.bos, T.velocityBase + bin - 1, 60, T.timeShiftBase + 24, 64, T.timeShiftBase + 24, T.noteOffBase + 60,
            T.timeShiftBase + 99, T.timeShiftBase + 29, T.noteOffBase + 64, T.eos,
        ])
    }

    /// Each expected note matched by one decoded note of the same pitch, onset and offset within 10 ms, velocity in the same bin.
    private func assertRoundTrip(_ expected: [Note], _ decoded: [Note], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(decoded.count, expected.count, file: file, line: line)
        var pool = decoded
        var misses = 0
        for n in expected {
            if let i = pool.firstIndex(where: {
                $0.pitch == n.pitch && abs($0.start - n.start) <= 0.01 + 1e-9 && abs($0.end - n.end) <= 0.01 + 1e-9
                    && T.velocityBin($0.velocity) == T.velocityBin(n.velocity)
            }) {
                pool.remove(at: i)
            } else {
                misses += 1
            }
        }
        XCTAssertEqual(misses, 0, file: file, line: line)
    }

    func testSyntheticRoundTrip() {
        var generator = SplitMix(seed: 7)
        var notes: [Note] = []
        var time = 0.0
        for i in 0..<300 {
            time += Double(generator.next() % 300) / 1000  // gaps 0...0.3 s, sometimes several at once
            if i % 50 == 0 { time += 2.37 }                // long silences need several shifts
            let pitch = Int(generator.next() % 128)
            let length = 0.005 + Double(generator.next() % 3000) / 1000
            notes.append(Note(pitch: pitch, velocity: 1 + Int(generator.next() % 127), start: time, end: time + length))
        }
        // The encoding has one voice per pitch: make the input so (same rule as the encoder, in seconds, with margin).
        var last: [Int: Double] = [:]
        notes = notes.filter { n in
            if let end = last[n.pitch], end + 0.03 > n.start { return false }
            last[n.pitch] = n.end
            return true
        }
        XCTAssertGreaterThan(notes.count, 100)
        let tokens = tokenizer.encode(notes: notes)
        XCTAssertTrue(tokens.allSatisfy { (0..<T.vocabularySize).contains($0) })
        assertRoundTrip(notes, tokenizer.decode(tokens))
    }

    func testChoraleRoundTrip() throws {
        let notes = try MIDIFile.read(url: Fixtures.url("bwv10.7.mid")).notes()
        // Voices in unison share a pitch: the encoding keeps one voice per pitch (the later note cuts the earlier).
        var expected: [Note] = []
        for pitch in 0..<128 {
            var list = notes.filter { $0.pitch == pitch }.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
            for i in list.indices {
                if i + 1 < list.count && list[i + 1].start < list[i].end { list[i].end = list[i + 1].start }
                if list[i].end - list[i].start > 0.005 { expected.append(list[i]) }
            }
        }
        let tokens = tokenizer.encode(notes: notes, sustain: false)
        XCTAssertEqual(tokens.first, T.bos)
        XCTAssertEqual(tokens.last, T.eos)
        assertRoundTrip(expected, tokenizer.decode(tokens))
    }

    func testSustainExtendsNotes() {
        let notes = [Note(pitch: 60, velocity: 80, start: 0, end: 0.1), Note(pitch: 62, velocity: 80, start: 2, end: 2.1)]
        let pedal = [SustainSpan(channel: 0, start: 0, end: 1)]
        let sustained = tokenizer.decode(tokenizer.encode(notes: notes, pedal: pedal))
        XCTAssertEqual(sustained[0].end, 1.0, accuracy: 1e-9)
        let dry = tokenizer.decode(tokenizer.encode(notes: notes, sustain: false, pedal: pedal))
        XCTAssertEqual(dry[0].end, 0.1, accuracy: 1e-9)
    }

    func testEncodeFileUsesItsPedal() throws {
        let body: [UInt8] = [0x00, 0xB0, 0x40, 0x7F, 0x00, 0x90, 0x3C, 0x40, 0x60, 0x80, 0x3C, 0x00,
                             0x83, 0x60, 0xB0, 0x40, 0x00] + endOfTrack  // note 0..0.1 s, pedal 0..0.6 s
        let file = try MIDIFile(data: smf(format: 0, body))
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(file: file))[0].end, 0.6, accuracy: 1e-9)
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(file: file, sustain: false))[0].end, 0.1, accuracy: 1e-9)
    }

    func testDecodeToleratesAnything() {
        // Unmatched note-off, BOS in the middle, out-of-range ids, re-struck pitch, EOS then junk.
        let tokens = [T.noteOffBase + 60, 999, -5, 60, T.timeShiftBase + 9, T.bos, 60, T.timeShiftBase + 19,
                      T.noteOffBase + 60, 62, T.eos, 64, T.timeShiftBase + 99]
        let notes = tokenizer.decode(tokens)
        XCTAssertEqual(notes.map(\.pitch), [60, 60, 62])
        XCTAssertEqual(notes[0].end, 0.1, accuracy: 1e-9)      // ended by the re-strike
        XCTAssertEqual(notes[1].end, 0.3, accuracy: 1e-9)
        XCTAssertEqual(notes[2].start, 0.3, accuracy: 1e-9)    // unreleased at the end, no time left: one step
        XCTAssertEqual(notes[2].end, 0.31, accuracy: 1e-9)
        XCTAssertEqual(notes[0].velocity, 64)                  // default before any velocity token

        // Never released: bounded to 5 s.
        let long = tokenizer.decode([T.velocityBase + 31, 70] + Array(repeating: T.timeShiftBase + 99, count: 20))
        XCTAssertEqual(long.count, 1)
        XCTAssertEqual(long[0].end - long[0].start, 5.0, accuracy: 1e-9)
        XCTAssertEqual(long[0].velocity, 125)

        // Random sequences: no crash, only valid notes.
        var generator = SplitMix(seed: 3)
        for _ in 0..<200 {
            let random = (0..<200).map { _ in Int(generator.next() % 420) - 10 }
            for n in tokenizer.decode(random) {
                XCTAssertTrue((0...127).contains(n.pitch) && (1...127).contains(n.velocity))
                XCTAssertGreaterThan(n.end, n.start)
            }
        }
        XCTAssertEqual(tokenizer.decode([]), [])
        XCTAssertEqual(tokenizer.encode(notes: []), [T.bos, T.eos])
        XCTAssertEqual(tokenizer.encode(notes: [Note(pitch: 60, velocity: 9, start: 0, end: 1e300)]), [T.bos, T.eos])
    }

    func testAugmentedTokensStayInVocabulary() throws {
        let notes = try MIDIFile.read(url: Fixtures.url("bwv101.7.mid")).notes()
        for semitones in [-5, 6] {
            let tokens = tokenizer.encode(notes: try notes.transposed(by: semitones).stretched(by: 1.05))
            XCTAssertTrue(tokens.allSatisfy { (0..<T.vocabularySize).contains($0) })
            XCTAssertFalse(tokenizer.decode(tokens).isEmpty)
        }
    }

    /// FuzzMIDI (out of memory, 3.2 GB in two arrays): one note lasting 2^28 ticks at one tick per quarter note ends
    /// 134,217,727.5 s after it starts, and `encode(file:)` spent a time-shift token per second on it. Notes past
    /// `maxTime` (24 h) are now left out, so no file asks for more than 86,400 time shifts.
    func testTokensAreBoundedWhateverTheFileSays() throws {
        let file = try MIDIFile.read(url: Fixtures.url("fuzz/FuzzMIDI/slow-note-of-2p28-ticks.mid"))
        XCTAssertEqual(file.notes().map(\.end), [134_217_727.5])
        let t0 = Date()
        XCTAssertEqual(PerformanceTokenizer().encode(file: file), [PerformanceTokenizer.bos, PerformanceTokenizer.eos])
        XCTAssertLessThan(Date().timeIntervalSince(t0), timeLimit(1))
        // Just inside the bound: 86,399 s of silence before a note is 86,399 one-second shifts, and no more.
        let late = [Note(pitch: 60, velocity: 80, start: 86_399, end: 86_399.5)]
        let tokens = PerformanceTokenizer().encode(notes: late)
        XCTAssertEqual(tokens.filter { $0 >= PerformanceTokenizer.timeShiftBase && $0 < PerformanceTokenizer.velocityBase }.count, 86_399 + 1)
    }
}
