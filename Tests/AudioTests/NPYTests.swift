// Tests for the float32 .npy reader/writer against files written by numpy.
import Foundation
import XCTest
@testable import Audio

final class NPYTests: XCTestCase {
    var tmp: URL!
    override func setUpWithError() throws { tmp = try makeTempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func expected() throws -> [Float] {
        let text = try String(contentsOf: fixture("f4_expected.txt"), encoding: .utf8)
        return text.split(separator: "\n").map { Float(Double($0)!) }
    }

    func testRoundTrip() throws {
        let a = NPYArray(shape: [3, 4], data: (0..<12).map { Float($0) * 0.37 - 1 })
        let url = tmp.appendingPathComponent("a.npy")
        try NPY.write(a, to: url)
        XCTAssertEqual(try NPY.read(url), a)
        let v = NPYArray(shape: [5], data: [1, -2, .infinity, 0, 3.5e-8])
        try NPY.write(v, to: url)
        XCTAssertEqual(try NPY.read(url), v)
        let e = NPYArray(shape: [0, 80], data: [])
        try NPY.write(e, to: url)
        XCTAssertEqual(try NPY.read(url), e)
        XCTAssertEqual(try dirListing(tmp), ["a.npy"])
        // Header is padded to a multiple of 64 bytes as numpy does.
        let bytes = [UInt8](try Data(contentsOf: url))
        XCTAssertEqual((10 + Int(bytes[8]) + Int(bytes[9]) << 8) % 64, 0)
    }

    func testReadsNumpyFiles() throws {
        let exp = try expected()
        let v = try NPY.read(fixture("f4_1d.npy"))
        XCTAssertEqual(v.shape, [7])
        XCTAssertEqual(v.data, Array(exp[0..<7]))
        let m = try NPY.read(fixture("f4_2d.npy"))
        XCTAssertEqual(m.shape, [3, 5])
        XCTAssertEqual(m.data, Array(exp[7..<22]))
        let m2 = try NPY.read(fixture("f4_2d_v2.npy"))
        XCTAssertEqual(m2, m)
    }

    func testWriteRejectsShapeMismatch() {
        XCTAssertThrowsError(try NPY.write(NPYArray(shape: [2, 2], data: [1, 2, 3]), to: tmp.appendingPathComponent("x.npy"))) { e in
            guard case .shapeMismatch? = e as? NPYError else { return XCTFail("got \(e)") }
        }
    }

    func assertRejects(_ name: String, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try NPY.read(fixture(name)), file: file, line: line) { e in
            XCTAssertTrue(e is NPYError, "got \(e)", file: file, line: line)
            XCTAssertTrue("\(e)".contains(text), "message '\(e)' lacks '\(text)'", file: file, line: line)
            XCTAssertTrue("\(e)".contains(name), "message '\(e)' lacks the path", file: file, line: line)
        }
    }

    func testRejectsInt32() { assertRejects("i4_1d.npy", contains: "got '<i4'") }
    func testRejects3D() { assertRejects("f4_3d.npy", contains: "(2, 2, 2); expected 1 or 2 dimensions") }
    func testRejectsTruncated() { assertRejects("f4_truncated.npy", contains: "needs 60 bytes, found 54") }
    func testRejectsBadMagic() { assertRejects("empty.wav", contains: "not a NumPy .npy file") }

    /// float64, big-endian and Fortran-order arrays (issue 18) read as numpy reads them: the same [3, 5] values.
    func testReadsFloat64BigEndianAndFortranOrder() throws {
        let m = try NPY.read(fixture("f4_2d.npy"))
        XCTAssertEqual(try NPY.read(fixture("f8_2d.npy")), m, "float64 of float32 values converts back exactly")
        XCTAssertEqual(try NPY.read(fixture("f4_fortran.npy")), m)
        let v = try NPY.read(fixture("f4_1d.npy"))
        XCTAssertEqual(try NPY.read(fixture("f4_big_endian.npy")), v)
    }

    struct Case: Decodable {
        var file: String
        var numpy: String
        var shape: [Int]?
        var values: [Double]?
    }

    /// Every file of Fixtures/npy (scripts/fixtures/npy_fixtures.py) gets numpy's verdict: where numpy reads a float
    /// array of 1 or 2 dimensions we return its shape and values (float32, C order); everything else is refused
    /// with one line naming the file.
    func testAgreesWithNumpyOnEveryFixture() throws {
        let dir = fixture("npy")
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: dir.appendingPathComponent("cases.json")))
        XCTAssertEqual(cases.count, 113)
        var accepted = 0, refused = 0
        for c in cases {
            let url = dir.appendingPathComponent(c.file)
            // Shapes numpy reads but a feature array cannot have, and dtypes other than float32/float64.
            let ours = c.numpy == "ok" && (c.shape?.count == 1 || c.shape?.count == 2) && !c.file.contains("float16")
            do {
                let a = try NPY.read(url)
                XCTAssertTrue(ours, "\(c.file): read as \(a.shape) but numpy says \(c.numpy)")
                XCTAssertEqual(a.shape, c.shape, c.file)
                let expected = (c.values ?? []).map { Float($0) }
                let diff = zip(a.data, expected).map { abs($0 - $1) }.max() ?? 0
                XCTAssertEqual(a.data, expected, "\(c.file): largest difference \(diff)")
                accepted += 1
            } catch {
                XCTAssertFalse(ours, "\(c.file): refused (\(error)) but numpy reads it")
                XCTAssertTrue(error is NPYError, "\(c.file): \(error)")
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix(url.path + ": "), text)
                XCTAssertFalse(text.contains("\n"), "not one line: \(text)")
                refused += 1
            }
        }
        XCTAssertEqual(accepted, 61)
        XCTAssertEqual(refused, 52)
    }

    /// The crash inputs of issue 17: element counts and byte sizes that wrap around 64 bits are refused before
    /// anything is allocated, naming the shape.
    func testShapesWhoseSizeOverflowsAreRefused() {
        for (name, shape) in [("shape_2p62p1_x80_320_bytes", "(4611686018427387905, 80)"),
                              ("shape_2p62_x80_no_data", "(4611686018427387904, 80)"),
                              ("shape_2p61p1_x80", "(2305843009213693953, 80)"),
                              ("shape_1_x_2p62p1_4_bytes", "(1, 4611686018427387905)"),
                              ("shape_3074457345618258603_x3_4_bytes", "(3074457345618258603, 3)"),
                              ("shape_2p64_x80", "(18446744073709551616, 80)"),
                              ("shape_f8_2p60_x2", "(1152921504606846976, 2)")] {
            let url = fixture("npy/hostile/\(name).npy")
            XCTAssertThrowsError(try NPY.read(url), name) { e in
                XCTAssertEqual("\(e)", "\(url.path): .npy shape \(shape) holds more elements than any file can (its size overflows 64 bits)")
            }
        }
    }

    /// Headers numpy refuses that the old reader took (issue 17): no braces, `'<f4'*2`; a repeated key keeps
    /// its last value, as numpy's dict does (the old reader kept the first).
    func testOddHeadersAreDecided() throws {
        assertRejects("npy/headers/no_braces.npy", contains: "malformed .npy header (not a Python literal: unexpected ':' after the literal)")
        assertRejects("npy/headers/descr_times_two.npy", contains: "malformed .npy header (not a Python literal: unexpected character *)")
        assertRejects("npy/headers/version_1_1.npy", contains: "version 1.0, 2.0 or 3.0, found bytes 93 4e 55 4d 50 59 01 01")
        assertRejects("npy/headers/extra_key.npy", contains: "unexpected key 'x'")
        assertRejects("npy/headers/nesting_201.npy", contains: "more than 200 nested brackets")
        let last = try NPY.read(fixture("npy/headers/duplicate_key_last_wins.npy"))
        XCTAssertEqual(last, NPYArray(shape: [2, 3], data: [0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(try NPY.read(fixture("npy/headers/duplicate_shape_last_wins.npy")).shape, [2, 3])
    }

    /// Every input that made FuzzNPY fail (Fixtures/fuzz/FuzzNPY; docs/fuzzing.md) gives this one-line error.
    func testFuzzFindingsGiveOneLineErrors() throws {
        let expected = [
            // A header key holding a control character and an escaped carriage return was echoed into a two-line message.
            "crash-acadb77512b72fdb32c2458e46228cd3c816f851":
                "malformed .npy header (unexpected key 'desc\\u{1}\\r'; a header holds exactly 'descr', 'fortran_order' and 'shape')",
        ]
        let dir = fixture("fuzz/FuzzNPY")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), expected.keys.sorted(), "each finding needs its expected error here")
        for (name, message) in expected {
            let url = dir.appendingPathComponent(name)
            XCTAssertThrowsError(try NPY.read(url), name) { XCTAssertEqual("\($0)", "\(url.path): \(message)") }
        }
    }
}
