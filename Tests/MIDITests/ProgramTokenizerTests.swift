// Tests of the lossless multi-instrument encoding (performance_programs): unisons, same-pitch overlaps, drums,
// programs, and round trips through tokens and through a written MIDI file counting every note against pretty_midi.

import Foundation
import XCTest
@testable import MIDI

final class ProgramTokenizerTests: XCTestCase {
    typealias T = PerformanceTokenizer
    typealias P = ProgramPerformanceTokenizer
    let tokenizer = ProgramPerformanceTokenizer()

    func testLayout() {
        XCTAssertEqual(P.vocabularySize, 519)
        XCTAssertEqual(MusicEncoding.performance.vocabularySize, 390)
        XCTAssertEqual(MusicEncoding.performancePrograms.vocabularySize, 519)
        XCTAssertEqual(MusicEncoding(rawValue: "performance_programs"), .performancePrograms)
        XCTAssertEqual(P.name(of: 390), "program 0")
        XCTAssertEqual(P.name(of: 517), "program 127")
        XCTAssertEqual(P.name(of: 518), "drums")
        XCTAssertEqual(P.name(of: 60), "note-on 60")
        XCTAssertEqual(P.name(of: 519), "invalid 519")
    }

    /// Hand-written tokens: a unison of two voices (one ending earlier), a re-struck note overlapping itself, a drum.
    func testEncodeSmallExample() {
        let v = T.velocityBase + T.velocityBin(100) - 1
        let notes = [
            Note(pitch: 60, velocity: 100, start: 0, end: 0.5, track: 0),
            Note(pitch: 60, velocity: 100, start: 0, end: 0.3, track: 1),  // unison, shorter
            Note(pitch: 36, velocity: 100, start: 0.1, end: 0.2, channel: 9, program: 5),  // drums: program ignored
            Note(pitch: 67, velocity: 100, start: 0.1, end: 0.4, channel: 2, program: 40),
            Note(pitch: 67, velocity: 100, start: 0.2, end: 0.3, channel: 2, program: 40),  // re-struck, nested
        ]
        XCTAssertEqual(tokenizer.encode(notes: notes, sustain: false), [
            T.bos, 390, v, 60, 60,                        // program 0: two note-ons of 60
            T.timeShiftBase + 9, 430, 67, P.drums, 36,   // 0.1 s: violin 67, drum 36
            T.timeShiftBase + 9, 430, 67, P.drums, T.noteOffBase + 36,
            T.timeShiftBase + 9, 390, T.noteOffBase + 60, 430, T.noteOffBase + 67,
            T.timeShiftBase + 9, T.noteOffBase + 67,
            T.timeShiftBase + 9, 390, T.noteOffBase + 60, T.eos,
        ])
        let decoded = tokenizer.decode(tokenizer.encode(notes: notes, sustain: false))
        XCTAssertEqual(decoded.count, 5)
        XCTAssertEqual(decoded.filter { $0.pitch == 60 }.map(\.end).sorted(), [0.3, 0.5])
        // FIFO: the first 67 (0.1) ends at the first note-off (0.3), the second (0.2) at 0.4: onsets and releases kept.
        XCTAssertEqual(decoded.filter { $0.pitch == 67 }.map { [$0.start, $0.end] }, [[0.1, 0.3], [0.2, 0.4]])
        XCTAssertTrue(decoded.filter { $0.pitch == 67 }.allSatisfy { $0.program == 40 && $0.channel == 0 })
        XCTAssertEqual(decoded.first { $0.pitch == 36 }, Note(pitch: 36, velocity: T.velocity(ofBin: T.velocityBin(100)), start: 0.1, end: 0.2, channel: 9))
    }

    func testDecodeToleratesAnything() {
        var g = SplitMix(seed: 3)
        let tokens = (0..<5000).map { _ in Int(g.next() % 530) - 5 }
        let notes = tokenizer.decode(tokens)
        XCTAssertTrue(notes.allSatisfy { $0.end > $0.start && $0.end - $0.start <= 5 + 1e-9 && (0...127).contains($0.pitch) })
        XCTAssertTrue(notes.allSatisfy { $0.channel == 9 ? $0.program == 0 : $0.channel == 0 })
        // Stray note-offs are ignored, EOS ends decoding, a note-on never ends another.
        XCTAssertEqual(tokenizer.decode([T.bos, 200, 60, 60, T.timeShiftBase, 188, T.eos, 188]).map(\.end), [0.01, 0.01])
    }

    /// Sorted (instrument, pitch, step, velocity bin) of every onset and (instrument, pitch, step) of every release,
    /// each packed in one Int.
    private func grid(_ notes: [Note]) -> (onsets: [Int], releases: [Int]) {
        let step = { (s: Double) in Int((max(0, s) * 100).rounded()) }
        let onsets = notes.map { P.instrument(of: $0) << 50 | $0.pitch << 42 | step($0.start) << 6 | T.velocityBin($0.velocity) }
        let releases = notes.map { P.instrument(of: $0) << 50 | $0.pitch << 42 | max(step($0.start) + 1, step($0.end)) << 6 }
        return (onsets.sorted(), releases.sorted())
    }

    private func countsByInstrument(_ notes: [Note]) -> [String: Int] {
        var c: [String: Int] = [:]
        for n in notes { c[n.channel == 9 ? "drums" : "program \(n.program)", default: 0] += 1 }
        return c
    }

    /// Every fixture (3 chorales, the 25 midi-wild files): MIDI → tokens → notes keeps every note of every instrument
    /// (counts per instrument equal our reader's and pretty_midi's), every onset and release on the 10 ms grid, and a
    /// MIDI file written from the decoded notes (one track per instrument) reads back the same. music21-test04 changes
    /// programs on channels that several tracks share: our reader gives a note the channel's program as a synthesizer
    /// hears it, pretty_midi the program last set in the note's own track, so 3 of its 3,849 notes of programs 45, 48
    /// and 49 count under another of those three there (the totals agree).
    func testEveryFixtureRoundTripsWithEveryNote() throws {
        let golden = try JSONDecoder().decode([String: [String: Int]].self,
                                              from: Data(contentsOf: Fixtures.url("golden/instrument_counts.json")))
        let files = try Fixtures.midiFiles()
        XCTAssertEqual(files.count, 28)
        var total = 0, oldKept = 0
        for url in files {
            let name = url.lastPathComponent
            let notes = try MIDIFile.read(url: url).notes()
            let ours = countsByInstrument(notes)
            if name == "music21-test04.mid" {
                XCTAssertEqual(ours.values.reduce(0, +), golden[name]?.values.reduce(0, +), name)
                XCTAssertEqual(ours["program 45"], 804)
            } else {
                XCTAssertEqual(ours, golden[name], "\(name): our reader against pretty_midi")
            }
            let tokens = tokenizer.encode(notes: notes, sustain: false)
            XCTAssertTrue(tokens.allSatisfy { (0..<P.vocabularySize).contains($0) }, name)
            let decoded = tokenizer.decode(tokens)
            XCTAssertEqual(countsByInstrument(decoded), ours, name)
            let (on, off) = grid(notes), (on2, off2) = grid(decoded)
            XCTAssertEqual(on, on2, name)
            XCTAssertEqual(off, off2, name)
            // Written one track per instrument, read back.
            let arranged = decoded.arrangedByInstrument()
            let written = try MIDIFile(data: try MIDIFile(notes: arranged).encoded())
            XCTAssertEqual(written.tracks.count, 1 + Set(arranged.map(\.track)).count, name)
            let back = written.notes()
            XCTAssertEqual(countsByInstrument(back), ours, "\(name) after writing")
            XCTAssertEqual(grid(back).onsets, on, name)
            XCTAssertEqual(grid(back).releases, off, name)
            total += notes.count
            oldKept += PerformanceTokenizer().decode(PerformanceTokenizer().encode(notes: notes, sustain: false)).count
        }
        XCTAssertEqual(total, 92_343)
        XCTAssertLessThan(oldKept, total)  // the performance encoding merges unisons and drops overlaps
    }

    /// A chorale's four voices have unisons: the performance encoding loses notes, this one keeps all 206.
    func testChoraleUnisonsSurvive() throws {
        let notes = try MIDIFile.read(url: Fixtures.url("bwv10.7.mid")).notes()
        XCTAssertEqual(notes.count, 206)
        XCTAssertEqual(tokenizer.decode(tokenizer.encode(notes: notes, sustain: false)).count, 206)
        XCTAssertLessThan(PerformanceTokenizer().decode(PerformanceTokenizer().encode(notes: notes, sustain: false)).count, 206)
    }

    func testArrangementGivesEachInstrumentATrackAndChannel() {
        let notes = [
            Note(pitch: 40, velocity: 90, start: 0.5, end: 1, channel: 0, program: 33),
            Note(pitch: 38, velocity: 90, start: 0, end: 0.1, channel: 9),
            Note(pitch: 60, velocity: 90, start: 0.2, end: 1, channel: 0, program: 0),
            Note(pitch: 64, velocity: 90, start: 0.7, end: 1, channel: 4, program: 33),
        ]
        let a = notes.arrangedByInstrument()
        XCTAssertEqual(a.map(\.track), [2, 0, 1, 2])
        XCTAssertEqual(a.map(\.channel), [1, 9, 0, 1])
        XCTAssertEqual(a.map(\.program), [33, 0, 0, 33])
        // One piano stream stays one track on channel 0.
        XCTAssertEqual(Set([Note(pitch: 1, velocity: 1, start: 0, end: 1, channel: 3)].arrangedByInstrument().map { [$0.track, $0.channel] }), [[0, 0]])
    }
}
