// Krumhansl-Schmuckler key finding against numpy (scripts/fixtures/instrument_fixtures.py, golden/keys.json).
import Foundation
import XCTest
@testable import MIDI

final class KeyFindingTests: XCTestCase {
    /// Keys computed with numpy's corrcoef on the same profiles and the same note pairing, for the whole fixture.
    /// (BWV 10.7 is a close call: G minor 0.802 against B-flat major 0.760.)
    func testKeysOfFixturesMatchNumpy() throws {
        let expected = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: Fixtures.url("golden/keys.json")))
        XCTAssertEqual(expected.count, 4)
        for (name, key) in expected {
            let notes = try MIDIFile.read(url: Fixtures.url("\(name).mid")).notes()
            XCTAssertEqual(MusicalKey.estimate(notes)?.description, key, name)
        }
    }

    func testScalesAndEdgeCases() {
        XCTAssertEqual(MusicalKey(tonic: 0, minor: false).scale, [0, 2, 4, 5, 7, 9, 11])
        XCTAssertEqual(MusicalKey(tonic: 9, minor: true).scale, [9, 11, 0, 2, 4, 5, 7, 8])  // A natural + harmonic minor
        XCTAssertEqual(MusicalKey(tonic: -1, minor: false).tonic, 11)
        XCTAssertNil(MusicalKey.estimate([]))
        XCTAssertNil(MusicalKey.estimate([Note(pitch: 36, velocity: 90, start: 0, end: 1, channel: 9)]))  // drums only
        // A C major triad held: C major.
        let triad = [60, 64, 67].map { Note(pitch: $0, velocity: 80, start: 0, end: 2) }
        XCTAssertEqual(MusicalKey.estimate(triad), MusicalKey(tonic: 0, minor: false))
    }
}
