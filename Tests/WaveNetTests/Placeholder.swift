import XCTest
final class WaveNetTestsPlaceholder: XCTestCase { func testNothingYet() {} }
