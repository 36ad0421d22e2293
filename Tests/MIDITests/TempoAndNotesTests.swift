// Tests of the tempo map (merged tempo events, SMPTE, format 2) and of note extraction rules and note transforms.

import Foundation
import XCTest
@testable import MIDI

final class TempoAndNotesTests: XCTestCase {
    func testDefaultTempoIs120BPM() {
        let map = TempoMap(ticksPerQuarter: 480)
        XCTAssertEqual(map.seconds(atTick: 960), 1.0, accuracy: 1e-12)
        XCTAssertEqual(map.tick(atSeconds: 1.0), 960, accuracy: 1e-9)
    }

    func testTempoEventsFromAllTracksAreMerged() throws {
        // Track 0: 60 bpm at tick 480. Track 1: 240 bpm at tick 960 and a note across both changes.
        let t0: [UInt8] = [0x83, 0x60, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40] + endOfTrack
        let t1: [UInt8] = [0x00, 0x90, 0x3C, 0x40, 0x87, 0x40, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90,
                           0x83, 0x60, 0x80, 0x3C, 0x00] + endOfTrack
        let file = try MIDIFile(data: smf(t0, t1))
        let map = TempoMap(file: file)
        XCTAssertEqual(map.changes.map(\.tick), [0, 480, 960])
        XCTAssertEqual(map.seconds(atTick: 480), 0.5, accuracy: 1e-12)
        XCTAssertEqual(map.seconds(atTick: 960), 1.5, accuracy: 1e-12)
        XCTAssertEqual(map.seconds(atTick: 1440), 1.75, accuracy: 1e-12)
        XCTAssertEqual(map.tick(atSeconds: 1.75), 1440, accuracy: 1e-9)
        let notes = file.notes()
        XCTAssertEqual(notes.count, 1)
        XCTAssertEqual(notes[0].end, 1.75, accuracy: 1e-12)
        XCTAssertEqual(notes[0].track, 1)
    }

    func testSameTickTempoLastWins() {
        let map = TempoMap(ticksPerQuarter: 100, changes: [
            TempoChange(tick: 0, microsecondsPerQuarter: 1_000_000),
            TempoChange(tick: 0, microsecondsPerQuarter: 2_000_000),
            TempoChange(tick: 50, microsecondsPerQuarter: 0),  // ignored
        ])
        XCTAssertEqual(map.changes, [TempoChange(tick: 0, microsecondsPerQuarter: 2_000_000)])
        XCTAssertEqual(map.seconds(atTick: 100), 2.0, accuracy: 1e-12)
    }

    func testFormat2TracksStartAtZeroWithOwnTempo() throws {
        let t0: [UInt8] = [0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, 0x00, 0x90, 0x3C, 0x40, 0x83, 0x60, 0x80, 0x3C, 0x00] + endOfTrack
        let t1: [UInt8] = [0x00, 0x90, 0x3E, 0x40, 0x83, 0x60, 0x80, 0x3E, 0x00] + endOfTrack
        let file = try MIDIFile(data: smf(format: 2, t0, t1))
        let notes = file.notes()
        XCTAssertEqual(notes.count, 2)
        let byPitch = Dictionary(uniqueKeysWithValues: notes.map { ($0.pitch, $0) })
        XCTAssertEqual(byPitch[60]?.end ?? 0, 1.0, accuracy: 1e-12)  // 60 bpm in its own track
        XCTAssertEqual(byPitch[62]?.start ?? -1, 0, accuracy: 1e-12)
        XCTAssertEqual(byPitch[62]?.end ?? 0, 0.5, accuracy: 1e-12)  // default 120 bpm, not track 0's tempo
    }

    func testOverlappingSamePitchIsFIFOAndDuplicateOffsIgnored() throws {
        let body: [UInt8] = [
            0x00, 0x90, 0x3C, 0x10,   // on A at 0
            0x64, 0x90, 0x3C, 0x20,   // on B at 100
            0x64, 0x80, 0x3C, 0x00,   // off at 200 -> A
            0x64, 0x90, 0x3C, 0x00,   // off at 300 -> B
            0x64, 0x80, 0x3C, 0x00,   // duplicate off at 400, ignored
            0x00, 0x81, 0x3C, 0x00,   // other channel, nothing sounding, ignored
        ] + endOfTrack
        let notes = try MIDIFile(data: smf(body)).notes()
        XCTAssertEqual(notes.map(\.velocity), [0x10, 0x20])
        let tick = 0.5 / 480
        XCTAssertEqual(notes[0].end, 200 * tick, accuracy: 1e-12)
        XCTAssertEqual(notes[1].start, 100 * tick, accuracy: 1e-12)
        XCTAssertEqual(notes[1].end, 300 * tick, accuracy: 1e-12)
    }

    func testZeroLengthNotesAreDroppedAndReleaseBeforeRestrikeWorks() throws {
        let body: [UInt8] = [
            0x00, 0x90, 0x3C, 0x40, 0x00, 0x80, 0x3C, 0x00,  // zero-length at 0
            0x00, 0x90, 0x3E, 0x40,                          // 62 on at 0
            0x64, 0x80, 0x3E, 0x00, 0x00, 0x90, 0x3E, 0x40,  // off + re-strike at 100
            0x64, 0x80, 0x3E, 0x00,                          // off at 200
        ] + endOfTrack
        let notes = try MIDIFile(data: smf(body)).notes()
        XCTAssertEqual(notes.map(\.pitch), [62, 62])
    }

    func testSustainSpansAndApplyingSustain() throws {
        let body: [UInt8] = [
            0x00, 0xB0, 0x40, 0x7F,                          // pedal down at 0
            0x00, 0x90, 0x3C, 0x40, 0x60, 0x80, 0x3C, 0x00,  // 60: 0..96
            0x00, 0x90, 0x40, 0x40, 0x60, 0x80, 0x40, 0x00,  // 64: 96..192
            0x00, 0x90, 0x3C, 0x40, 0x60, 0x80, 0x3C, 0x00,  // 60 again: 192..288 (ends the first 60)
            0x83, 0x60, 0xB0, 0x40, 0x00,                    // pedal up at 768
        ] + endOfTrack
        let file = try MIDIFile(data: smf(body))
        let spans = file.sustainSpans()
        XCTAssertEqual(spans, [SustainSpan(channel: 0, start: 0, end: 0.8)])
        let sustained = file.notes().applyingSustain(spans)
        XCTAssertEqual(sustained.map(\.pitch), [60, 64, 60])
        XCTAssertEqual(sustained[0].end, 0.2, accuracy: 1e-12)   // cut by the re-struck 60
        XCTAssertEqual(sustained[1].end, 0.8, accuracy: 1e-12)   // held to pedal up
        XCTAssertEqual(sustained[2].end, 0.8, accuracy: 1e-12)
        // Pedal on another channel changes nothing.
        let other = file.notes().applyingSustain([SustainSpan(channel: 1, start: 0, end: 5)])
        XCTAssertEqual(other, file.notes())
    }

    func testTransposeAndStretch() throws {
        let notes = [
            Note(pitch: 120, velocity: 90, start: 0, end: 1),
            Note(pitch: 60, velocity: 90, start: 1, end: 1.5),
            Note(pitch: 36, velocity: 90, start: 2, end: 2.5, channel: 9),
        ]
        XCTAssertEqual(notes.transposed(by: 8).map(\.pitch), [68, 36])
        XCTAssertEqual(notes.transposed(by: -61).map(\.pitch), [59, 36])
        XCTAssertEqual(notes.transposed(by: 8, includeDrums: true).map(\.pitch), [68, 44])
        XCTAssertEqual(notes.transposed(by: Int.max).map(\.pitch), [36])  // no overflow trap
        let slow = try notes.stretched(by: 1.5)
        XCTAssertEqual(slow[1].start, 1.5, accuracy: 1e-12)
        XCTAssertEqual(slow[1].end, 2.25, accuracy: 1e-12)
        XCTAssertThrowsError(try notes.stretched(by: 0))
        XCTAssertThrowsError(try notes.stretched(by: .nan))
    }
}
