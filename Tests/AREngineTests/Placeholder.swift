import XCTest
final class AREngineTestsPlaceholder: XCTestCase { func testNothingYet() {} }
