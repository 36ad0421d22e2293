// Music data: manifests, skipped files, augmented windows and validation windows.
import AREngine
import MIDI
import NNCore
import XCTest
@testable import Music

func tempDir() -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("music-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

/// A C-major scale, quarter notes at 0.5 s.
func scale(_ n: Int = 8, from pitch: Int = 60) -> [Note] {
    let steps = [0, 2, 4, 5, 7, 9, 11, 12]
    return (0..<n).map { Note(pitch: pitch + steps[$0 % 8], velocity: 80, start: Double($0) * 0.5, end: Double($0) * 0.5 + 0.45) }
}

final class MusicDataTests: XCTestCase {
    func testManifestLoadingSkipsBadFiles() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try MIDIFile(notes: scale()).write(to: dir.appendingPathComponent("good.mid"))
        try MIDIFile(notes: []).write(to: dir.appendingPathComponent("empty.mid"))
        let good = try Data(contentsOf: dir.appendingPathComponent("good.mid"))
        try Data("not midi".utf8).write(to: dir.appendingPathComponent("corrupt.mid"))
        try good.prefix(10).write(to: dir.appendingPathComponent("truncated.mid"))
        let manifest = dir.appendingPathComponent("MANIFEST.tsv")
        try Data("path\tcollection\tsplit\ngood.mid\tx\ttrain\nempty.mid\tx\ttrain\ncorrupt.mid\tx\ttrain\ntruncated.mid\tx\ttrain\nmissing.mid\tx\ttrain\ngood.mid\tx\tvalid\n".utf8).write(to: manifest)
        var skipped: [SkippedFile] = []
        let train = try MusicCorpus.load(manifest: manifest, split: "train") { skipped.append($0) }
        XCTAssertEqual(train.count, 1)
        XCTAssertEqual(skipped.map { URL(fileURLWithPath: $0.path).lastPathComponent }, ["empty.mid", "corrupt.mid", "truncated.mid", "missing.mid"])
        XCTAssertTrue(skipped[0].reason.contains("no notes"), skipped[0].reason)
        XCTAssertTrue(skipped[1].reason.contains("not a Standard MIDI File"), skipped[1].reason)
        XCTAssertEqual(train[0].tokens.first, PerformanceTokenizer.bos)
        XCTAssertEqual(train[0].tokens.last, PerformanceTokenizer.eos)
        // A malformed manifest row is an error naming the line.
        try Data("path\tcollection\tsplit\ngood.mid\tx\n".utf8).write(to: manifest)
        XCTAssertThrowsError(try MusicCorpus.load(manifest: manifest, split: "train")) {
            XCTAssertEqual("\($0)", "\(manifest.path):2: expected 3 tab-separated fields (path, collection, split), got 2")
        }
    }

    func testTrainingWindowsAreAugmentedAndValidationCoversEveryToken() {
        let pieces = [MusicPiece(path: "a", notes: scale(40)), MusicPiece(path: "b", notes: scale(3, from: 70))]
        let data = MusicTrainingData(train: pieces, valid: pieces, context: 16, batchSize: 3)
        var rng = Xoshiro256(seed: 1)
        var pitchesSeen = Set<Int>()
        for _ in 0..<50 {
            let b = data.trainingBatch(rng: &rng)
            XCTAssertEqual(b.batch, 3)
            XCTAssertEqual(b.time, 16)
            for row in b.tokens { for t in row where t >= 0 && t < 128 { pitchesSeen.insert(t) } }
        }
        // Transposition of ±3 reaches pitches below and above the untransposed range.
        XCTAssertTrue(pitchesSeen.contains(57) && pitchesSeen.contains(77), "\(pitchesSeen.sorted())")
        // Validation: every token after each BOS is a target exactly once.
        let total = pieces.reduce(0) { $0 + $1.tokens.count - 1 }
        XCTAssertEqual(data.validationTokenCount, total)
        XCTAssertEqual(data.validationSignature, "\(total) tokens of 2 valid pieces in windows of 17")
        let v = data.validationBatches()
        XCTAssertEqual(v.flatMap(\.tokens).first, pieces[0].tokens.prefix(17).map { $0 })
        XCTAssertEqual(v.map(\.tokens.count).reduce(0, +), (pieces[0].tokens.count - 1 + 15) / 16 + (pieces[1].tokens.count - 1 + 15) / 16)
    }

    /// The parts of a batch that data-parallel ranks draw (`trainingBatch(rng:rows:)`) make up the whole batch, and the
    /// RNG advances as for the whole batch (augmentation on, a short piece padded).
    func testBatchPartsMakeUpTheWholeBatch() {
        let pieces = [MusicPiece(path: "a", notes: scale(40)), MusicPiece(path: "b", notes: scale(3, from: 70))]
        let data = MusicTrainingData(train: pieces, valid: [], context: 16, batchSize: 5)
        XCTAssertEqual(data.batchRows, 5)
        for seed: UInt64 in 1...4 {
            var whole = Xoshiro256(seed: seed)
            let full = data.trainingBatch(rng: &whole)
            for parts in [[0..<2, 2..<5], [0..<1, 1..<3, 3..<4, 4..<5]] {
                var rows: [[Int]] = []
                for part in parts {
                    var rng = Xoshiro256(seed: seed)
                    let b = data.trainingBatch(rng: &rng, rows: part)
                    XCTAssertEqual(rng.state, whole.state)
                    XCTAssertEqual(b.tokens.count, part.count)
                    rows += b.tokens
                }
                XCTAssertEqual(rows, full.tokens)
            }
        }
    }

    /// `randomProgramShare`: the share of tracks that play a random program, per window; drums never change.
    func testRandomProgramShareIsTheShareOfTracksGivenARandomProgram() {
        // Four piano tracks an octave apart (so each decoded note names its track) and a drum track.
        var notes: [Note] = []
        for track in 0..<4 {
            notes += scale(6, from: 36 + 12 * track).map {
                Note(pitch: $0.pitch, velocity: 80, start: $0.start, end: $0.end, track: track)
            }
        }
        notes += (0..<4).map { Note(pitch: 38, velocity: 90, start: Double($0) * 0.5, end: Double($0) * 0.5 + 0.1, channel: 9, track: 4) }
        let piece = MusicPiece(path: "p", notes: notes, encoding: .performancePrograms)
        for (share, low, high) in [(0.0, 0.0, 0.0), (0.25, 0.20, 0.30), (1.0, 0.97, 1.0)] {
            let data = MusicTrainingData(train: [piece], valid: [piece], context: 16, batchSize: 1,
                                         augmentation: MusicAugmentation(maxTranspose: 0, maxStretch: 0, randomProgramShare: share))
            var rng = Xoshiro256(seed: 3)
            var changed = 0, tracks = 0
            for _ in 0..<400 {
                let decoded = MusicEncoding.performancePrograms.decode(data.augmentedTokens(piece, rng: &rng))
                XCTAssertEqual(decoded.count, notes.count)
                for track in 0..<4 {
                    let programs = Set(decoded.filter { $0.channel != 9 && ($0.pitch - 36) / 12 == track }.map(\.program))
                    XCTAssertEqual(programs.count, 1, "one program per track")
                    tracks += 1
                    if programs.first != 0 { changed += 1 }
                }
                XCTAssertEqual(decoded.filter { $0.channel == 9 }.count, 4, "the drums stay drums")
            }
            let measured = Double(changed) / Double(tracks)
            XCTAssertTrue((low...high).contains(measured), "share \(share): \(measured) of tracks changed")
        }
    }
}
