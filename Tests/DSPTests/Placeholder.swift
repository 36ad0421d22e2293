import XCTest
final class DSPTestsPlaceholder: XCTestCase { func testNothingYet() {} }
