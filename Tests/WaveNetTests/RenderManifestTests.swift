// Render manifests: columns, quoting, output names, duplicates, seeds and shards.
import XCTest
@testable import WaveNet

final class RenderManifestTests: XCTestCase {
    func testColumnsDefaultsAndProblems() throws {
        let m = try RenderManifest.parse("""
            speaker,input,seed,output
            a,"dir/x y.flac",,
            b,mels/u1.npy,17,custom
            c,other/x y.wav,,
            a,z.flac,notanumber,
            a,,,
            a,w.flac,,.hidden
            a,"unterminated.flac,,,
            """, path: "m.csv")
        XCTAssertEqual(m.lines.map(\.output), ["x y.wav", "custom.wav"])
        XCTAssertEqual(m.lines.map(\.input), ["dir/x y.flac", "mels/u1.npy"])
        XCTAssertEqual(m.lines[1].seed, 17)
        XCTAssertEqual(m.lines.map(\.line), [2, 3])
        XCTAssertEqual(m.problems.map(\.line), [4, 5, 6, 7, 8])
        XCTAssertEqual(m.problems.map(\.index), [2, 3, 4, 5, 6])
        XCTAssertEqual(m.problems[0].reason, "duplicate output name 'x y.wav' (already used on line 2)")
        XCTAssertTrue(m.problems[1].reason.hasPrefix("seed must be an integer"))
        XCTAssertEqual(m.problems[2].reason, "empty input")
        XCTAssertTrue(m.problems[3].reason.contains("plain file name"))
        XCTAssertEqual(m.problems[4].reason, "unterminated quoted field")
        XCTAssertEqual(m.rowCount, 7)
    }

    /// Issue 17: an output named with a NUL byte was written as `%00.wav`. Control characters in output names,
    /// and NUL bytes in inputs, are refused on their line.
    func testControlCharactersInNamesAreRefused() throws {
        let m = try RenderManifest.parse("input,speaker,output\na.wav,s,x\u{0}y\nb.wav,s,line\u{1B}[2Jbreak\nc\u{0}.wav,s,\nd.wav,s,fine\n", path: "m.csv")
        XCTAssertEqual(m.lines.map(\.output), ["fine.wav"])
        XCTAssertEqual(m.problems.map(\.line), [2, 3, 4])
        XCTAssertEqual(m.problems[0].reason, "output name \"x\\0y.wav\" holds the control character U+0000 (a NUL byte would be written as %00); give a plain file name")
        XCTAssertEqual(m.problems[1].reason, "output name \"line\\u{1B}[2Jbreak.wav\" holds the control character U+001B (a NUL byte would be written as %00); give a plain file name")
        XCTAssertEqual(m.problems[2].reason, "input contains a NUL byte, which no path can hold")
        XCTAssertFalse(m.problems.contains { $0.reason.contains("\n") })
    }

    func testHeaderErrors() {
        XCTAssertThrowsError(try RenderManifest.parse("path\tspeaker\nx\ty\n", path: "m.tsv")) {
            XCTAssertEqual("\($0)", "m.tsv:1: missing column 'input'; the header must name input, speaker[, output][, seed], got [\"path\", \"speaker\"]")
        }
        XCTAssertThrowsError(try RenderManifest.parse("", path: "e.csv"))
    }

    func testSeedsAreStableHashesOfTheOutputName() throws {
        let m = try RenderManifest.parse("input,speaker\na.wav,s\nb.wav,s\n", path: "m")
        XCTAssertEqual(RenderManifest.fnv1a64(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(RenderManifest.fnv1a64("a"), 0xaf63_dc4c_8601_ec8c)  // FNV-1a 64 test vector
        XCTAssertEqual(RenderManifest.seed(for: m.lines[0], base: 1), 1 &+ RenderManifest.fnv1a64("a.wav"))
        XCTAssertNotEqual(RenderManifest.seed(for: m.lines[0], base: 1), RenderManifest.seed(for: m.lines[1], base: 1))
    }

    func testShards() throws {
        let s = try RenderShard(parsing: "1/3")
        XCTAssertEqual((0..<9).filter(s.contains), [1, 4, 7])
        XCTAssertThrowsError(try RenderShard(parsing: "3/3"))
        XCTAssertThrowsError(try RenderShard(parsing: "1-3"))
        XCTAssertNil(try RenderShard.fromEnvironment([:]))
        XCTAssertEqual(try RenderShard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "8"]),
                       try RenderShard(index: 4, count: 8))
        XCTAssertEqual(try RenderShard.fromEnvironment(["JOB_COMPLETION_INDEX": "0", "SYNTH_SHARDS": "2"]), try RenderShard(index: 0, count: 2))
        XCTAssertThrowsError(try RenderShard.fromEnvironment(["JOB_COMPLETION_INDEX": "0"])) {
            XCTAssertTrue("\($0)".contains("SYNTH_SHARDS"))
        }
    }
}
