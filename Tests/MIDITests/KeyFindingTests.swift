// Krumhansl-Schmuckler key finding against scripts/music_key_check.py (numpy's corrcoef on the same profiles).
import XCTest
@testable import MIDI

final class KeyFindingTests: XCTestCase {
    /// Keys printed by `scripts/music_key_check.py`'s `key()` (numpy) for the whole fixture.
    func testKeysOfFixturesMatchNumpy() throws {
        let expected = ["bwv1.6": "F major", "bwv10.7": "Bb major", "bwv101.7": "D minor", "music21-test09": "A minor"]
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
