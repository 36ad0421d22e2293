// Tests of the SMF reader on hand-written bytes: structure, running status, meta/SysEx and every tolerated problem.

import Foundation
import XCTest
@testable import MIDI

final class ReaderTests: XCTestCase {
    func testFormat0WithRunningStatusAndMeta() throws {
        let body: [UInt8] = [
            0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,        // tempo 500000
            0x00, 0xFF, 0x58, 0x04, 0x03, 0x02, 0x18, 0x08,  // 3/4
            0x00, 0xFF, 0x59, 0x02, 0xFE, 0x01,              // 2 flats, minor
            0x00, 0xFF, 0x03, 0x03, 0x41, 0x62, 0x63,        // track name "Abc"
            0x00, 0xC0, 0x05,                                // program 5
            0x00, 0x90, 0x3C, 0x40,                          // note on 60
            0x60, 0x3E, 0x50,                                // running status: note on 62 at 96
            0x60, 0x3C, 0x00,                                // note on vel 0 = off at 192
            0x00, 0x3E, 0x00,
            0x00, 0xE0, 0x00, 0x40,                          // pitch bend centre
        ] + endOfTrack
        let file = try MIDIFile(data: smf(format: 0, body))
        XCTAssertEqual(file.format, 0)
        XCTAssertEqual(file.division, .ticksPerQuarter(480))
        XCTAssertEqual(file.warnings, [])
        let events = file.tracks[0].events.map(\.event)
        XCTAssertEqual(events[0], .tempo(microsecondsPerQuarter: 500_000))
        XCTAssertEqual(events[1], .timeSignature(numerator: 3, denominatorPower: 2, clocksPerClick: 24, thirtySecondsPerQuarter: 8))
        XCTAssertEqual(events[2], .keySignature(sharps: -2, minor: true))
        XCTAssertEqual(events[3].text, "Abc")
        XCTAssertEqual(events[5], .noteOn(channel: 0, pitch: 60, velocity: 64))
        XCTAssertEqual(events[6], .noteOn(channel: 0, pitch: 62, velocity: 80))
        XCTAssertEqual(file.tracks[0].events[6].tick, 96)
        XCTAssertEqual(events[9], .pitchBend(channel: 0, value: 8192))
        XCTAssertEqual(events.last, .endOfTrack)
        let notes = file.notes()
        XCTAssertEqual(notes.count, 2)
        XCTAssertEqual(notes[0], Note(pitch: 60, velocity: 64, start: 0, end: 0.2, channel: 0, program: 5, track: 0))
        XCTAssertEqual(notes[1].start, 0.1, accuracy: 1e-12)
        XCTAssertEqual(notes[1].end, 0.2, accuracy: 1e-12)
    }

    func testSysExAndEscape() throws {
        let body: [UInt8] = [
            0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7,  // GM on
            0x00, 0xF7, 0x02, 0xF8, 0xFA,                    // escape: raw real-time bytes
        ] + endOfTrack
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.tracks[0].events.map(\.event),
                       [.sysEx([0x7E, 0x7F, 0x09, 0x01, 0xF7]), .sysExEscape([0xF8, 0xFA]), .endOfTrack])
        XCTAssertEqual(file.warnings, [])
    }

    func testRunningStatusAfterMetaIsToleratedAndReported() throws {
        let body: [UInt8] = [
            0x00, 0x90, 0x3C, 0x40,
            0x00, 0xFF, 0x01, 0x01, 0x41,  // text cancels running status per spec
            0x10, 0x3C, 0x00,              // ...but the file relies on it
        ] + endOfTrack
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.tracks[0].events[2].event, .noteOn(channel: 0, pitch: 60, velocity: 0))
        XCTAssertEqual(file.warnings, [.runningStatusAfterMetaOrSysEx(track: 0, byte: 14 + 8 + 10)])
        XCTAssertEqual(file.notes().count, 1)
        assertThrows(.runningStatusAfterMetaOrSysEx(track: 0, byte: 32)) { _ = try MIDIFile(data: smf(body), strict: true) }
    }

    func testDataByteAbove127IsMasked() throws {
        let body: [UInt8] = [0x00, 0x90, 0xBC, 0x40, 0x10, 0x80, 0x3C, 0x00] + endOfTrack
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.tracks[0].events[0].event, .noteOn(channel: 0, pitch: 0x3C, velocity: 0x40))
        XCTAssertEqual(file.warnings, [.dataByteOutOfRange(value: 0xBC, track: 0, byte: 24)])
        XCTAssertEqual(file.warnings[0].description, "data byte 0xBC above 127 in track 0 at byte 24")
        XCTAssertEqual(file.notes().count, 1)
    }

    func testSystemCommonStatusIsSkipped() throws {
        let body: [UInt8] = [0x00, 0x90, 0x3C, 0x40, 0x00, 0xF2, 0x01, 0x02, 0x10, 0x3C, 0x00] + endOfTrack
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.tracks[0].events.map(\.event),
                       [.noteOn(channel: 0, pitch: 60, velocity: 64), .noteOn(channel: 0, pitch: 60, velocity: 0), .endOfTrack])
        XCTAssertEqual(file.warnings, [.unexpectedStatus(value: 0xF2, track: 0, byte: 27)])
    }

    func testDataByteWithoutStatusStopsTrack() throws {
        let body: [UInt8] = [0x00, 0x3C, 0x40] + endOfTrack
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.tracks[0].events, [])
        XCTAssertEqual(file.warnings, [.missingStatus(value: 0x3C, track: 0, byte: 23)])
    }

    func testHugeDeltaTimesUseInt64() throws {
        // Eight deltas of 0x0FFFFFFF (the largest 4-byte VLQ): total 2^31 - 8, beyond Int32 after one more.
        var body: [UInt8] = [0x00, 0x90, 0x3C, 0x40]
        for _ in 0..<8 { body += [0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0x01, 0x00] }  // empty text events
        body += [0xFF, 0xFF, 0xFF, 0x7F, 0x80, 0x3C, 0x00]
        body += endOfTrack
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.warnings, [])
        let ticks = file.tracks[0].events.map(\.tick)
        XCTAssertEqual(ticks.last, 9 * 0x0FFF_FFFF)
        XCTAssertGreaterThan(ticks.last ?? 0, Int64(Int32.max))
        let notes = file.notes()
        XCTAssertEqual(notes.count, 1)
        XCTAssertEqual(notes[0].end, Double(9 * 0x0FFF_FFFF) / 480 * 0.5, accuracy: 1e-3)
        // The writer encodes them back to the same ticks.
        let again = try MIDIFile(data: file.encoded())
        XCTAssertEqual(again.tracks[0].events.map(\.tick), ticks)
    }

    func testFiveByteVLQIsRejected() throws {
        let body: [UInt8] = [0x00, 0x90, 0x3C, 0x40, 0x81, 0x80, 0x80, 0x80, 0x00, 0x3C, 0x00] + endOfTrack
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.tracks[0].events.count, 1)
        XCTAssertEqual(file.warnings, [.invalidVariableLength(track: 0, byte: 30)])
    }

    func testMissingEndOfTrack() throws {
        let body: [UInt8] = [0x00, 0x90, 0x3C, 0x40, 0x60, 0x80, 0x3C, 0x00, 0x60, 0x90, 0x3E, 0x40]
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.warnings, [.missingEndOfTrack(track: 0)])
        XCTAssertEqual(file.tracks[0].endTick, 192)
        // The unreleased note 62 starts at the track end: zero length, dropped.
        XCTAssertEqual(file.notes().map(\.pitch), [60])
        assertThrows(.missingEndOfTrack(track: 0)) { _ = try MIDIFile(data: smf(body), strict: true) }
    }

    func testUnreleasedNoteEndsAtEndOfTrack() throws {
        let body: [UInt8] = [0x00, 0x90, 0x3C, 0x40, 0x83, 0x60, 0xFF, 0x2F, 0x00]  // EOT at tick 480
        let notes = try MIDIFile(data: smf(body)).notes()
        XCTAssertEqual(notes.count, 1)
        XCTAssertEqual(notes[0].end, 0.5, accuracy: 1e-12)
    }

    func testTruncatedChunkKeepsCompleteEvents() throws {
        let body: [UInt8] = [0x00, 0x90, 0x3C, 0x40, 0x60, 0x80, 0x3C, 0x00, 0x00, 0x90, 0x3E, 0x40] + endOfTrack
        // The chunk declares its full length but the file stops in the middle of the third event.
        let bytes = Array(header(tracks: 1)) + mtrk(body).prefix(8 + 10)
        let file = try MIDIFile(data: Data(bytes))
        XCTAssertEqual(file.tracks.count, 1)
        XCTAssertEqual(file.tracks[0].events.count, 2)
        XCTAssertEqual(file.warnings, [.truncatedChunk(track: 0, byte: 32)])
        XCTAssertEqual(file.warnings[0].description, "truncated MTrk chunk in track 0 at byte 32")
        XCTAssertEqual(file.notes().count, 1)
        assertThrows(.truncatedChunk(track: 0, byte: 32)) { _ = try MIDIFile(data: Data(bytes), strict: true) }
    }

    func testChunkShorterThanItsEvents() throws {
        // Declared length cuts a meta event's payload.
        let body: [UInt8] = [0x00, 0xFF, 0x01, 0x05, 0x41, 0x42]
        let file = try MIDIFile(data: Data(header(tracks: 1) + mtrk(body)))
        XCTAssertEqual(file.tracks[0].events, [])
        XCTAssertEqual(file.warnings, [.truncatedChunk(track: 0, byte: 28)])
    }

    func testMissingTracksAndUnknownChunks() throws {
        let alien = Array("XFIH".utf8) + [0, 0, 0, 3, 1, 2, 3]
        let track = mtrk([0x00, 0x90, 0x3C, 0x40, 0x60, 0x80, 0x3C, 0x00] + endOfTrack)
        let file = try MIDIFile(data: Data(header(tracks: 2) + alien + track))
        XCTAssertEqual(file.tracks.count, 1)
        XCTAssertEqual(file.notes().count, 1)
        XCTAssertEqual(file.warnings, [.missingTracks(declared: 2, found: 1)])
    }

    func testDataAfterEndOfTrackIsIgnored() throws {
        let body: [UInt8] = endOfTrack + [0x00, 0x90, 0x3C, 0x40]
        let file = try MIDIFile(data: smf(body))
        XCTAssertEqual(file.tracks[0].events.map(\.event), [.endOfTrack])
        XCTAssertEqual(file.warnings, [.dataAfterEndOfTrack(track: 0, byte: 26)])
    }

    func testFatalInputs() {
        assertThrows(.empty) { _ = try MIDIFile(data: Data()) }
        assertThrows(.notMIDI(firstBytes: "0x3C 0x68 0x74 0x6D")) { _ = try MIDIFile(data: Data("<html></html>".utf8)) }
        assertThrows(.notMIDI(firstBytes: "0x4D")) { _ = try MIDIFile(data: Data([0x4D])) }
        assertThrows(.truncatedHeader(length: 10)) { _ = try MIDIFile(data: Data(header(tracks: 1).prefix(10))) }
        assertThrows(.invalidHeaderLength(2)) {
            _ = try MIDIFile(data: Data(Array("MThd".utf8) + [0, 0, 0, 2] + [0, 0, 0, 1, 1, 0xE0]))
        }
        assertThrows(.unsupportedFormat(3)) { _ = try MIDIFile(data: smf(format: 3, endOfTrack)) }
        assertThrows(.invalidDivision("0 ticks per quarter note")) { _ = try MIDIFile(data: smf(division: [0, 0], endOfTrack)) }
        assertThrows(.invalidDivision("SMPTE division with 0 ticks per frame")) {
            _ = try MIDIFile(data: smf(division: [0xE7, 0x00], endOfTrack))
        }
        XCTAssertEqual(MIDIError.invalidDivision("0 ticks per quarter note").description,
                       "invalid MIDI division: 0 ticks per quarter note")
        let missing = URL(fileURLWithPath: "/nonexistent/x.mid")
        XCTAssertThrowsError(try MIDIFile.read(url: missing)) { error in
            guard case MIDIError.io(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/x.mid")
        }
    }

    func testGarbageNeverCrashes() {
        // Random bytes after a valid header and chunk tag: any outcome but a crash is fine.
        var generator = SplitMix(seed: 42)
        for length in [0, 1, 5, 17, 64, 300] {
            for _ in 0..<60 {
                let noise = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                let n = noise.count
                let bytes = header(tracks: 3) + Array("MTrk".utf8) + [0, 0, UInt8(n >> 8), UInt8(n & 0xFF)] + noise
                if let file = try? MIDIFile(data: Data(bytes)) { _ = file.notes(); _ = file.sustainSpans() }
                _ = try? MIDIFile(data: Data(noise))
            }
        }
    }

    func testSMPTEDivision() throws {
        // -25 fps, 40 ticks per frame = 1000 ticks per second; tempo events do not matter.
        let body: [UInt8] = [0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, 0x00, 0x90, 0x3C, 0x40, 0x87, 0x68, 0x80, 0x3C, 0x00] + endOfTrack
        let file = try MIDIFile(data: smf(division: [0xE7, 40], body))
        XCTAssertEqual(file.division, .smpte(framesPerSecond: 25, ticksPerFrame: 40))
        XCTAssertEqual(file.division.ticksPerSecond, 1000)
        let notes = file.notes()
        XCTAssertEqual(notes.count, 1)
        XCTAssertEqual(notes[0].end, 1.0, accuracy: 1e-12)
        XCTAssertEqual(Division.smpte(framesPerSecond: 29, ticksPerFrame: 100).ticksPerSecond ?? 0, 2997.002997, accuracy: 1e-6)
        XCTAssertEqual(try MIDIFile(data: file.encoded()).division, file.division)
    }

    func testRIFFWrappedFile() throws {
        let inner = [UInt8](smf(format: 0, [0x00, 0x90, 0x3C, 0x40, 0x60, 0x80, 0x3C, 0x00] + endOfTrack))
        let n = inner.count
        let dataChunk = Array("data".utf8) + [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0] + inner
        let m = dataChunk.count + 4
        let riff = Array("RIFF".utf8) + [UInt8(m & 0xFF), UInt8(m >> 8 & 0xFF), 0, 0] + Array("RMID".utf8) + dataChunk
        XCTAssertEqual(try MIDIFile(data: Data(riff)).notes().count, 1)
    }
}

/// Deterministic pseudo-random numbers for the garbage test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
