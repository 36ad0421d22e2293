import XCTest
final class MusicTestsPlaceholder: XCTestCase { func testNothingYet() {} }
