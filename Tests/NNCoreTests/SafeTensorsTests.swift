// The safetensors reader on hostile headers (issue 17): every size read from the file is checked, one line each.
import Foundation
import XCTest
@testable import NNCore

final class SafeTensorsTests: XCTestCase {
    /// A file: the 8-byte length of `header`, the header, then `data`.
    func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
        var out = Data()
        var n = (length ?? UInt64(header.utf8.count)).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(contentsOf: data)
        return out
    }

    func assertRefused(_ bytes: Data, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile.parse(bytes, path: "w.safetensors"), file: file, line: line) { e in
            XCTAssertEqual("\(e)", message, file: file, line: line)
        }
    }

    let eight = [UInt8](repeating: 0, count: 8)

    func testAValidFileParsesAndCopies() throws {
        let bytes: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]  // 1.0, -2.0
        let f = try SafeTensorsFile.parse(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}"#, data: bytes), path: "w")
        XCTAssertEqual(f.entries["w"]?.shape, [2])
        XCTAssertEqual(f.floats("w"), [1, -2])
        XCTAssertEqual(f.metadata, ["k": "v"])
    }

    /// Issue 17: one tensor's data_offsets ending at 2^63 - 1 crashed `SafeTensors.read` (SIGILL).
    func testOffsetsNearIntMaxAreRefused() {
        assertRefused(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,9223372036854775807]}}"#, data: eight),
                      "w.safetensors: not a valid safetensors file (tensor 'w' has shape [2] but data_offsets [0, 9223372036854775807] hold 9223372036854775807 bytes)")
        assertRefused(file(#"{"w":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,9223372036854775807]}}"#, data: eight),
                      "w.safetensors: not a valid safetensors file (tensor 'w' has shape [2305843009213693952], whose size overflows 64 bits)")
        // 2^64 - 1 does not fit in Int at all.
        assertRefused(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}"#, data: eight),
                      "w.safetensors: not a valid safetensors file (tensor 'w' has data_offsets [0, 18446744073709551615], not [begin, end] with 0 <= begin <= end)")
    }

    func testShapeProductsThatOverflowAreRefused() {
        // 2^32 x 2^32 wraps to 0, which would match empty data.
        assertRefused(file(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#),
                      "w.safetensors: not a valid safetensors file (tensor 'w' has shape [4294967296, 4294967296], whose size overflows 64 bits)")
        // 2^62 elements of 4 bytes wrap to 0 bytes.
        assertRefused(file(#"{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#),
                      "w.safetensors: not a valid safetensors file (tensor 'w' has shape [4611686018427387904], whose size overflows 64 bits)")
        assertRefused(file(#"{"w":{"dtype":"F32","shape":[-1,-8],"data_offsets":[0,32]}}"#, data: eight + eight + eight + eight),
                      "w.safetensors: not a valid safetensors file (tensor 'w' has shape [-1, -8], not a list of integers >= 0)")
    }

    func testHeaderLengthsAreChecked() {
        assertRefused(file("{}", length: UInt64.max), "w.safetensors: not a valid safetensors file (header length 18446744073709551615 exceeds the format's limit of 100000000 bytes)")
        assertRefused(file("{}", length: 1 << 63), "w.safetensors: not a valid safetensors file (header length 9223372036854775808 exceeds the format's limit of 100000000 bytes)")
        assertRefused(file("{}", length: 3), "w.safetensors: not a valid safetensors file (header length 3 does not fit in the file's 10 bytes)")
        assertRefused(Data([1, 2, 3]), "w.safetensors: not a valid safetensors file (3 bytes, too short for the 8-byte header length)")
        assertRefused(file("[1, 2]"), "w.safetensors: not a valid safetensors file (header is not a JSON object)")
        assertRefused(file(String(repeating: "[", count: 100_000)), "w.safetensors: not a valid safetensors file (header is not a JSON object)")
    }

    /// As in the reference implementation, tensors must tile the data section: no gaps, overlaps or extra bytes.
    func testTensorsMustTileTheData() {
        let two = #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":"#
        assertRefused(file("{" + two + "[0,4]}}", data: eight), "w.safetensors: not a valid safetensors file (tensor 'b' starts at data offset 0, expected 4 (tensors must be contiguous, without gaps or overlaps))")
        assertRefused(file("{" + two + "[8,12]}}", data: eight + [0, 0, 0, 0]), "w.safetensors: not a valid safetensors file (tensor 'b' starts at data offset 8, expected 4 (tensors must be contiguous, without gaps or overlaps))")
        assertRefused(file("{" + two + "[4,8]}}", data: eight + [0]), "w.safetensors: not a valid safetensors file (the tensors end at data offset 8 but the file holds 9 data bytes)")
        assertRefused(file("{" + two + "[4,8]}}", data: [0, 0, 0, 0]), "w.safetensors: not a valid safetensors file (tensor 'b' has data_offsets [4, 8] beyond the 4 data bytes of the file)")
        assertRefused(file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]),
                      "w.safetensors: not a valid safetensors file (tensor 'w' has data_offsets [4, 0], not [begin, end] with 0 <= begin <= end)")
    }

    func testDTypesAndEntriesAreChecked() {
        assertRefused(file(#"{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: eight), "w.safetensors: tensor 'w' has dtype F64, expected F32")
        assertRefused(file(#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "w.safetensors: not a valid safetensors file (tensor 'w' has no dtype string)")
        assertRefused(file(#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                      "w.safetensors: not a valid safetensors file (tensor 'w' has shape [1.5], not a list of integers >= 0)")
        assertRefused(file(#"{"w":7}"#), "w.safetensors: not a valid safetensors file (entry 'w' is not a JSON object)")
        assertRefused(file(#"{"__metadata__":{"k":1}}"#), "w.safetensors: not a valid safetensors file (__metadata__ is not a map of strings to strings)")
    }

    /// A layout (what a config asks for) is checked against the file's header before any parameter storage exists.
    func testLayoutIsCheckedBeforeAllocation() throws {
        let f = try SafeTensorsFile.parse(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: eight), path: "w")
        var huge = ParameterLayout()
        huge.add("w", shape: [1 << 20, 1 << 10])  // 2^30 floats: never allocated
        XCTAssertThrowsError(try huge.check(f)) { XCTAssertEqual("\($0)", "w: tensor 'w' has shape [2], expected [1048576, 1024] from config.json") }
        var other = ParameterLayout()
        other.add("v", shape: [2])
        XCTAssertThrowsError(try other.check(f)) { XCTAssertEqual("\($0)", "w: tensor 'v' is missing") }
        var more = ParameterLayout()
        more.add("w", shape: [2])
        more.add("x", shape: [1])
        XCTAssertThrowsError(try more.check(f)) { XCTAssertEqual("\($0)", "w: tensor 'x' is missing") }
        var right = ParameterLayout()
        right.add("w", shape: [2])
        try right.check(f)
        let p = ParameterSet(layout: right)
        try p.load(f)
        XCTAssertEqual(p.count, 2)
    }
}
