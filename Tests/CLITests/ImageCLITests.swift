// End-to-end: `synth image train/sample/eval` through the real binary, on the committed digit fixtures and the shipped
// model: a tiny run trains, samples a PNG grid (the same seed gives the same bytes) and evaluates; bad CSVs and options
// give one line, a non-zero exit and no output.
import Foundation
import XCTest

final class ImageCLITests: XCTestCase {
    var dir: URL!
    /// 120 train and 40 valid images of the UCI digits (scripts/fixtures/image_fixtures.py).
    let train = CLI.repoRoot.appendingPathComponent("Tests/ImageTests/Fixtures/digits_small.train.csv")
    let valid = CLI.repoRoot.appendingPathComponent("Tests/ImageTests/Fixtures/digits_small.valid.csv")
    let shipped = CLI.repoRoot.appendingPathComponent("voices/digits")

    override func setUpWithError() throws { dir = try temporaryFolder("image") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func assertFails(_ r: RunResult, _ needle: String, status: Int32 = 1, output: URL? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, "stderr: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.hasPrefix("  See") }
        XCTAssertEqual(lines.count, 1, "expected one error line, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "stderr lacks '\(needle)': \(r.stderr)", file: file, line: line)
        if let output {
            XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "output left behind", file: file, line: line)
            XCTAssertEqual(listing(output.deletingLastPathComponent()).filter { $0.hasPrefix(".") }, [], "temporary file left", file: file, line: line)
        }
    }

    func testTinyRunTrainsSamplesAndEvaluates() throws {
        let run = dir.appendingPathComponent("run")
        let t = try CLI.run(["image", "train", "--train", train.path, "--valid", valid.path, "--out", run.path, "--steps", "4", "--batch", "8",
                             "--channels", "8", "--layers", "2", "--log-every", "2", "--validate-every", "4", "--checkpoint-every", "4"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("data: 120 train images, 40 valid"), t.stderr)
        XCTAssertTrue(t.stderr.contains("bits/pixel"), t.stderr)
        let model = run.appendingPathComponent("best").path
        let png = dir.appendingPathComponent("threes.png"), again = dir.appendingPathComponent("again.png")
        let s = try CLI.run(["image", "sample", "--model", model, "--digit", "3", "--count", "4", "--seed", "2", "-o", png.path, "--csv"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stderr.contains("4 images (digit 3)") && s.stderr.contains("images/s"), s.stderr)
        let bytes = try Data(contentsOf: png)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let rows = try String(contentsOf: dir.appendingPathComponent("threes.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 5)
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0.split(separator: ",").count == 65 && $0.hasSuffix(",3") }, "\(rows)")
        XCTAssertEqual(try CLI.run(["image", "sample", "--model", model, "--digit", "3", "--count", "4", "--seed", "2", "-o", again.path]).status, 0)
        XCTAssertEqual(try Data(contentsOf: again), bytes)
        let e = try CLI.run(["image", "eval", "--model", model, "--train", train.path, "--data", valid.path])
        XCTAssertEqual(e.status, 0, e.stderr)
        for needle in ["40 images, 2560 pixels", "per-position categorical: 108.47 nats/image, 2.4451 bits/pixel",
                       "counts over position, left and upper neighbours: 114.27 nats/image, 2.5759 bits/pixel", "digit marginalised", "given the true digit"] {
            XCTAssertTrue(e.stdout.contains(needle), "eval lacks '\(needle)': \(e.stdout)")
        }
        let j = try CLI.json(try CLI.run(["image", "eval", "--model", model, "--train", train.path, "--data", valid.path, "--json"]))
        let results = try XCTUnwrap(j["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["model"] as? String }, ["position_categorical", "neighbour_counts", "pixelcnn", "pixelcnn_given_digit"])
        XCTAssertEqual(results[0]["nats_per_image"] as? Double ?? 0, 108.46699508028114, accuracy: 1e-9)  // numpy, baselines.json
    }

    /// An unconditional model trains and samples without --digit, and refuses one.
    func testUnconditionalModel() throws {
        let run = dir.appendingPathComponent("run")
        let t = try CLI.run(["image", "train", "--train", train.path, "--out", run.path, "--steps", "2", "--batch", "4", "--unconditional",
                             "--channels", "4", "--layers", "1"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("unconditional, 1 layers"), t.stderr)
        let model = run.appendingPathComponent("best").path, png = dir.appendingPathComponent("u.png")
        XCTAssertEqual(try CLI.run(["image", "sample", "--model", model, "--count", "2", "-o", png.path]).status, 0)
        let r = try CLI.run(["image", "sample", "--model", model, "--digit", "1", "-o", dir.appendingPathComponent("v.png").path])
        assertFails(r, "is unconditional: it takes no --digit", status: 64, output: dir.appendingPathComponent("v.png"))
        let e = try CLI.run(["image", "eval", "--model", model, "--train", train.path, "--data", valid.path])
        XCTAssertTrue(e.stdout.contains("unconditional") && !e.stdout.contains("given the true digit"), e.stdout)
    }

    func testBadInputIsOneLineAndWritesNothing() throws {
        let header = (0..<64).map { "p\($0)" }.joined(separator: ",") + ",label\n"
        let row = [String](repeating: "1", count: 64).joined(separator: ",") + ",4\n"
        let short = dir.appendingPathComponent("short.csv"), high = dir.appendingPathComponent("high.csv")
        try (header + row + "1,2,3\n").write(to: short, atomically: true, encoding: .utf8)
        try (header + row + row.replacingOccurrences(of: "1,1,4\n", with: "1,17,4\n")).write(to: high, atomically: true, encoding: .utf8)
        let run = dir.appendingPathComponent("run")
        assertFails(try CLI.run(["image", "train", "--train", short.path, "--out", run.path, "--steps", "1"]), "short.csv:3: expected 65 comma-separated fields")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("best").path))
        assertFails(try CLI.run(["image", "eval", "--baselines-only", "--train", train.path, "--data", high.path]),
                    "high.csv:3: column p63: expected a grey level in 0...16, got '17'")
        assertFails(try CLI.run(["image", "eval", "--baselines-only", "--train", dir.appendingPathComponent("none.csv").path, "--data", high.path]),
                    "--train: no such file", status: 64)
        let png = dir.appendingPathComponent("out.png")
        guard FileManager.default.fileExists(atPath: shipped.path) else { throw XCTSkip("voices/digits not shipped") }
        assertFails(try CLI.run(["image", "sample", "--model", shipped.path, "-o", png.path]), "is class-conditional: give --digit", status: 64, output: png)
        assertFails(try CLI.run(["image", "sample", "--model", shipped.path, "--digit", "3", "-o", dir.appendingPathComponent("x.jpg").path]),
                    "is not a .png file name", status: 64)
        assertFails(try CLI.run(["image", "sample", "--model", CLI.repoRoot.appendingPathComponent("voices/music").path, "--digit", "3", "-o", png.path]),
                    "holds a music transformer (model_type transformer), not a PixelCNN image model", output: png)
        assertFails(try CLI.run(["music", "generate", "--model", shipped.path, "--tokens", "4", "-o", dir.appendingPathComponent("o.mid").path]),
                    "holds a PixelCNN over images (model_type pixelcnn), not a music model")
    }

    /// Out-of-range numbers are usage errors (exit 64) found before any model is loaded or file written: one line
    /// naming the option, its range and the value.
    func testOutOfRangeOptionsAreUsageErrors() throws {
        let png = dir.appendingPathComponent("out.png"), run = dir.appendingPathComponent("run")
        for (args, message) in [
            (["--digit", "12"], "--digit must be a digit in 0...9 or any, got '12'"),
            (["--digit=-1"], "--digit must be a digit in 0...9 or any, got '-1'"),
            (["--digit", "x"], "--digit must be a digit in 0...9 or any, got 'x'"),
            (["--count", "0"], "--count must be in 1...1024, got 0"),
            (["--columns", "-1"], "--columns must be in 0...1024 (0 = as square as possible), got -1"),
            (["--scale", "65"], "--scale must be in 1...64, got 65"),
            (["--top-p", "1.5"], "--top-p: top-p must be in (0, 1], got 1.5"),
            (["--temperature", "-1"], "--temperature: temperature must be finite and >= 0, got -1.0"),
        ] {
            assertFails(try CLI.run(["image", "sample", "--digit", "3", "-o", png.path] + args), message, status: 64, output: png)
        }
        for (args, message) in [
            (["--steps", "0"], "--steps must be in 1...10000000, got 0"),
            (["--batch", "5000"], "--batch must be in 1...4096, got 5000"),
            (["--channels", "0"], "--channels must be in 1...1024, got 0"),
            (["--layers", "65"], "--layers must be in 1...64, got 65"),
            (["--kernel", "4"], "--kernel must be odd, in 3...15, got 4"),
            (["--warmup", "-1"], "--warmup must be >= 0, got -1"),
            (["--log-every", "0"], "--log-every must be >= 1, got 0"),
            (["--threads", "0"], "--threads must be in 1...256, got 0"),
            (["--channels", "1024", "--layers", "64", "--kernel", "15"], "invalid model config: the model would have"),
        ] {
            assertFails(try CLI.run(["image", "train", "--train", train.path, "--out", run.path] + args), message, status: 64)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "a refused run creates no folder")
    }

    /// The shipped model draws recognisable sevens (docs/images.md shows the grid): a 3-nearest-neighbour classifier
    /// fitted on the 120 fixture digits (Euclidean distance over the 64 pixels) calls most of 16 samples a 7.
    func testShippedModelDrawsSevens() throws {
        guard FileManager.default.fileExists(atPath: shipped.path) else { throw XCTSkip("voices/digits not shipped") }
        let png = dir.appendingPathComponent("sevens.png")
        let r = try CLI.run(["image", "sample", "--model", shipped.path, "--digit", "7", "--count", "16", "-o", png.path, "--csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        func rows(_ url: URL) throws -> [[Int]] {
            try String(contentsOf: url, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").map { Int($0)! } }
        }
        let reference = try rows(train), samples = try rows(dir.appendingPathComponent("sevens.csv"))
        XCTAssertEqual(samples.count, 16)
        func distance(_ a: [Int], _ b: [Int]) -> Int {
            var d = 0
            for i in 0..<64 { d += (a[i] - b[i]) * (a[i] - b[i]) }
            return d
        }
        let sevens = samples.filter { s in
            let nearest = reference.sorted { distance(s, $0) < distance(s, $1) }.prefix(3)
            return nearest.filter { $0[64] == 7 }.count >= 2
        }.count
        XCTAssertGreaterThanOrEqual(sevens, 12, "only \(sevens) of 16 samples look like a 7 to 3-NN")
    }
}
