// Every input that made the FuzzSafeTensors target fail (Fixtures/fuzz/FuzzSafeTensors; docs/fuzzing.md).
import Foundation
import XCTest
@testable import NNCore

final class FuzzFindingsTests: XCTestCase {
    func testSafeTensorsFindingsGiveOneLineErrors() throws {
        let expected = [
            // A tensor name holding an escaped carriage return was echoed into a two-line message.
            "crash-2d813263d4b460c7304e1f742e87a82d772359e3":
                "not a valid safetensors file (tensor ']_]e\\rs.0.w' has shape [1] but data_offsets [0, 24] hold 24 bytes)",
        ]
        let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("fuzz/FuzzSafeTensors")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), expected.keys.sorted(), "each finding needs its expected error here")
        for (name, message) in expected {
            let url = dir.appendingPathComponent(name)
            XCTAssertThrowsError(try SafeTensorsFile.open(url), name) { XCTAssertEqual("\($0)", "\(url.path): \(message)") }
        }
    }
}
