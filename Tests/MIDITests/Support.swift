// Test helpers: fixture locations and hand-built Standard MIDI File bytes.

import Foundation
import XCTest
@testable import MIDI

enum Fixtures {
    static var directory: URL {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("MIDITests fixtures are missing from the test bundle")
        }
        return url
    }

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func midiFiles() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "mid" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}

/// A header chunk: format, declared track count, raw division bytes.
func header(format: Int = 1, tracks: Int, division: [UInt8] = [0x01, 0xE0]) -> [UInt8] {
    Array("MThd".utf8) + [0, 0, 0, 6, 0, UInt8(format), UInt8(tracks >> 8), UInt8(tracks & 0xFF)] + division
}

/// An MTrk chunk with `body`; `length` overrides the declared length.
func mtrk(_ body: [UInt8], length: Int? = nil) -> [UInt8] {
    let n = length ?? body.count
    return Array("MTrk".utf8) + [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + body
}

/// A whole file from track bodies (each gets a correct MTrk length).
func smf(format: Int = 1, division: [UInt8] = [0x01, 0xE0], _ bodies: [UInt8]...) -> Data {
    Data(header(format: format, tracks: bodies.count, division: division) + bodies.flatMap { mtrk($0) })
}

let endOfTrack: [UInt8] = [0x00, 0xFF, 0x2F, 0x00]

func assertThrows(_ expected: MIDIError, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected \(expected)", file: file, line: line)
    } catch let error as MIDIError {
        XCTAssertEqual(error, expected, file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
