// Tests of the SMF writer: variable-length quantities, running status, note files, round trips and atomic writes.

import Foundation
import XCTest
@testable import MIDI

final class WriterTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("midi-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testVariableLengthQuantitiesFromTheSpec() {
        let cases: [(Int, [UInt8])] = [
            (0, [0x00]), (0x40, [0x40]), (0x7F, [0x7F]), (0x80, [0x81, 0x00]), (0x2000, [0xC0, 0x00]),
            (0x3FFF, [0xFF, 0x7F]), (0x4000, [0x81, 0x80, 0x00]), (0x10_0000, [0xC0, 0x80, 0x00]),
            (0x1F_FFFF, [0xFF, 0xFF, 0x7F]), (0x20_0000, [0x81, 0x80, 0x80, 0x00]),
            (0x0FFF_FFFF, [0xFF, 0xFF, 0xFF, 0x7F]),
        ]
        for (value, bytes) in cases {
            var out: [UInt8] = []
            appendVLQ(&out, value)
            XCTAssertEqual(out, bytes, "\(value)")
        }
    }

    private func assertSameNotes(_ a: [Note], _ b: [Note], tolerance: Double = 1e-9, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.pitch, y.pitch, file: file, line: line)
            XCTAssertEqual(x.velocity, y.velocity, file: file, line: line)
            XCTAssertEqual(x.channel, y.channel, file: file, line: line)
            XCTAssertEqual(x.program, y.program, file: file, line: line)
            XCTAssertEqual(x.track, y.track, file: file, line: line)
            XCTAssertEqual(x.start, y.start, accuracy: tolerance, file: file, line: line)
            XCTAssertEqual(x.end, y.end, accuracy: tolerance, file: file, line: line)
        }
    }

    func testChoraleRoundTripGivesIdenticalNotes() throws {
        let original = try MIDIFile.read(url: Fixtures.url("bwv1.6.mid"))
        guard case .ticksPerQuarter(let tpq) = original.division else { return XCTFail("metrical chorale expected") }
        let notes = original.notes()
        let built = try MIDIFile(notes: notes, format: 1, ticksPerQuarter: tpq, tempo: TempoMap(file: original).changes)
        let url = directory.appendingPathComponent("bwv1.6.mid")
        try built.write(to: url)
        let back = try MIDIFile.read(url: url, strict: true)
        XCTAssertEqual(back.warnings, [])
        assertSameNotes(back.notes(), notes)
        // Running status off: same content, larger file.
        let plain = try built.encoded(runningStatus: false)
        XCTAssertGreaterThan(plain.count, try built.encoded().count)
        assertSameNotes(try MIDIFile(data: plain).notes(), notes)
    }

    func testFormat0SyntheticRoundTrip() throws {
        let q = 0.5 / 480  // seconds per tick at 120 bpm, 480 tpq
        let notes = [
            Note(pitch: 60, velocity: 100, start: 0, end: 480 * q, channel: 0, program: 0),
            Note(pitch: 60, velocity: 80, start: 480 * q, end: 960 * q, channel: 0, program: 0),  // re-strike
            Note(pitch: 64, velocity: 1, start: 100 * q, end: 2000 * q, channel: 1, program: 41),
            Note(pitch: 0, velocity: 127, start: 3 * q, end: 4 * q, channel: 9, program: 0),
            Note(pitch: 127, velocity: 64, start: 5000 * q, end: 5001 * q, channel: 15, program: 127),
        ]
        let file = try MIDIFile(notes: notes, format: 0)
        XCTAssertEqual(file.tracks.count, 1)
        let back = try MIDIFile(data: file.encoded(), strict: true)
        XCTAssertEqual(back.format, 0)
        let expected = notes.sorted { ($0.start, $0.pitch) < ($1.start, $1.pitch) }
        assertSameNotes(back.notes(), expected)
    }

    func testTempoChangesAreWrittenAndHonoured() throws {
        let tempo = [TempoChange(tick: 0, microsecondsPerQuarter: 1_000_000), TempoChange(tick: 480, microsecondsPerQuarter: 250_000)]
        let notes = [Note(pitch: 60, velocity: 90, start: 0.5, end: 1.25)]  // ticks 240 .. 480+480
        let file = try MIDIFile(notes: notes, ticksPerQuarter: 480, tempo: tempo)
        let back = try MIDIFile(data: file.encoded())
        XCTAssertEqual(TempoMap(file: back).changes, tempo)
        XCTAssertEqual(back.tracks[1].events.first?.tick, 240)
        assertSameNotes(back.notes(), [Note(pitch: 60, velocity: 90, start: 0.5, end: 1.25, track: 1)])
    }

    func testRunningStatusIsResetByMeta() throws {
        let track = MIDITrack(events: [
            TrackEvent(tick: 0, event: .noteOn(channel: 0, pitch: 60, velocity: 64)),
            TrackEvent(tick: 0, event: .noteOn(channel: 0, pitch: 64, velocity: 64)),
            TrackEvent(tick: 10, event: .text(type: 1, bytes: [0x41])),
            TrackEvent(tick: 20, event: .noteOn(channel: 0, pitch: 60, velocity: 0)),
        ])
        let data = try MIDIFile(format: 0, division: .ticksPerQuarter(96), tracks: [track]).encoded()
        let body = Array(data.suffix(from: 22))
        XCTAssertEqual(body, [0x00, 0x90, 0x3C, 0x40, 0x00, 0x40, 0x40, 0x0A, 0xFF, 0x01, 0x01, 0x41,
                              0x0A, 0x90, 0x3C, 0x00, 0x00, 0xFF, 0x2F, 0x00])
        let back = try MIDIFile(data: data, strict: true)
        XCTAssertEqual(back.tracks[0].events.dropLast().map(\.event), track.events.map(\.event))
    }

    func testInvalidInputsThrow() {
        XCTAssertThrowsError(try MIDIFile(notes: [Note(pitch: 128, velocity: 1, start: 0, end: 1)]))
        XCTAssertThrowsError(try MIDIFile(notes: [Note(pitch: 60, velocity: 0, start: 0, end: 1)]))
        XCTAssertThrowsError(try MIDIFile(notes: [], format: 2))
        XCTAssertThrowsError(try MIDIFile(notes: [], ticksPerQuarter: 0))
        XCTAssertThrowsError(try MIDIFile(notes: [Note(pitch: 60, velocity: 1, start: 0, end: 1e300)]))
        let bad = MIDIFile(format: 0, division: .ticksPerQuarter(96),
                           tracks: [MIDITrack(events: [TrackEvent(tick: 0, event: .controlChange(channel: 16, controller: 1, value: 1))])])
        XCTAssertThrowsError(try bad.encoded()) { error in
            XCTAssertEqual((error as? MIDIError)?.description, "cannot encode event in track 0 at tick 0: channel 16 outside 0...15")
        }
        let far = MIDIFile(format: 0, division: .ticksPerQuarter(96),
                           tracks: [MIDITrack(events: [TrackEvent(tick: 0x1000_0000, event: .endOfTrack)])])
        XCTAssertThrowsError(try far.encoded())
    }

    func testAtomicWriteReplacesAndLeavesNoTemporaryFiles() throws {
        let url = directory.appendingPathComponent("out.mid")
        try Data("old".utf8).write(to: url)
        let file = try MIDIFile(notes: [Note(pitch: 60, velocity: 90, start: 0, end: 1)])
        try file.write(to: url)
        XCTAssertEqual(try MIDIFile.read(url: url).notes().count, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.mid"])
        let nowhere = directory.appendingPathComponent("missing/out.mid")
        XCTAssertThrowsError(try file.write(to: nowhere)) { error in
            guard case MIDIError.io = error else { return XCTFail("\(error)") }
        }
    }
}
