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

    func testRejectsFloat64() { assertRejects("f8_2d.npy", contains: "expected float32 ('<f4'), got '<f8'") }
    func testRejectsInt32() { assertRejects("i4_1d.npy", contains: "got '<i4'") }
    func testRejectsBigEndian() { assertRejects("f4_big_endian.npy", contains: "got '>f4'") }
    func testRejectsFortranOrder() { assertRejects("f4_fortran.npy", contains: "Fortran order") }
    func testRejects3D() { assertRejects("f4_3d.npy", contains: "(2, 2, 2); expected 1 or 2 dimensions") }
    func testRejectsTruncated() { assertRejects("f4_truncated.npy", contains: "needs 60 bytes, found 54") }
    func testRejectsBadMagic() { assertRejects("empty.wav", contains: "not a NumPy .npy file") }
}
