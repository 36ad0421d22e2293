// Image CSVs (one-line errors with line numbers) and the two count baselines against numpy on the same images.
import Foundation
import Image
import Tabular
import XCTest

final class ImageDataTests: XCTestCase {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    func write(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("digits-\(UUID().uuidString).csv")
        try text.write(to: url, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    static let header = (0..<64).map { "p\($0)" }.joined(separator: ",") + ",label\n"
    static func row(_ v: Int = 0, label: Int = 3) -> String { [String](repeating: "\(v)", count: 64).joined(separator: ",") + ",\(label)\n" }

    func testReadsTheDigits() throws {
        let s = try ImageSet.read(Self.fixtures.appendingPathComponent("digits_small.train.csv"))
        XCTAssertEqual(s.count, 120)
        XCTAssertEqual(s.pixels[0].prefix(8), [0, 0, 5, 13, 9, 1, 0, 0])  // the first row of digits.train.csv
        XCTAssertEqual(s.labels[0], 0)
        XCTAssertEqual(s.classPrior(classes: 10).reduce(0, +), 1, accuracy: 1e-12)
    }

    func testBadRowsAreOneLineErrorsWithLineNumbers() throws {
        func message(_ text: String) throws -> String {
            do { _ = try ImageSet.read(try write(text)); return "no error" } catch { return "\(error)" }
        }
        let ok = Self.row()
        XCTAssertTrue(try message(Self.header + ok + "1,2,3\n").hasSuffix(":3: expected 65 comma-separated fields (p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15, p16, p17, p18, p19, p20, p21, p22, p23, p24, p25, p26, p27, p28, p29, p30, p31, p32, p33, p34, p35, p36, p37, p38, p39, p40, p41, p42, p43, p44, p45, p46, p47, p48, p49, p50, p51, p52, p53, p54, p55, p56, p57, p58, p59, p60, p61, p62, p63, label), got 3"))
        XCTAssertTrue(try message(Self.header + ok + ok + Self.row(17)).hasSuffix(":4: column p0: expected a grey level in 0...16, got '17'"))
        XCTAssertTrue(try message(Self.header + Self.row(-1)).hasSuffix(":2: column p0: expected a grey level in 0...16, got '-1'"))
        XCTAssertTrue(try message(Self.header + Self.row(label: 10)).hasSuffix(":2: column label: expected a class in 0...9, got '10'"))
        XCTAssertTrue(try message(Self.header + Self.row().replacingOccurrences(of: "0,0,", with: "x,0,")).contains(":2: column p0: expected a grey level in 0...16, got 'x'"))
        XCTAssertTrue(try message("a,b\n1,2\n").contains(":1: missing columns"))
        XCTAssertTrue(try message(Self.header).hasSuffix(": no images (a header naming p0...pN and label, then one image per line)"))
        for text in [Self.header + "1,2,3\n", Self.header + Self.row(17)] { XCTAssertFalse(try message(text).contains("\n")) }
    }

    /// Both baselines, fitted on the 120 fixture images, score the 40 valid ones as numpy does
    /// (scripts/fixtures/image_fixtures.py).
    func testBaselinesMatchNumpy() throws {
        struct Expected: Decodable { let position_categorical: Double, neighbour_counts: Double }
        let all = try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("baselines.json")))
        let want = try XCTUnwrap(all["small"])
        let train = try ImageSet.read(Self.fixtures.appendingPathComponent("digits_small.train.csv"))
        let valid = try ImageSet.read(Self.fixtures.appendingPathComponent("digits_small.valid.csv"))
        let position = PositionCategorical(train: train), neighbours = CausalNeighbourCounts(train: train)
        let p = valid.pixels.map(position.nats).reduce(0, +) / Double(valid.count)
        let n = valid.pixels.map(neighbours.nats).reduce(0, +) / Double(valid.count)
        XCTAssertEqual(p, want.position_categorical, accuracy: 1e-9, "|diff| \(abs(p - want.position_categorical))")
        XCTAssertEqual(n, want.neighbour_counts, accuracy: 1e-9, "|diff| \(abs(n - want.neighbour_counts))")
    }
}

final class ImageAugmentationTests: XCTestCase {
    func testShiftsKeepInkInsideTheFrame() {
        // A 3x3 image with ink in the middle column, top two rows.
        let img = [0, 5, 0,
                   0, 7, 0,
                   0, 0, 0]
        XCTAssertEqual(ImageTrainingData.shifted(img, dy: 1, dx: 1, height: 3, width: 3), [0, 0, 0, 0, 0, 5, 0, 0, 7])
        XCTAssertEqual(ImageTrainingData.shifted(img, dy: 0, dx: -1, height: 3, width: 3), [5, 0, 0, 7, 0, 0, 0, 0, 0])
        XCTAssertNil(ImageTrainingData.shifted(img, dy: -1, dx: 0, height: 3, width: 3))  // the 5 would leave at the top
        XCTAssertEqual(ImageTrainingData.shifted(img, dy: 0, dx: 0, height: 3, width: 3), img)
    }
}
