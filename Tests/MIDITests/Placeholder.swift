import XCTest
final class MIDITestsPlaceholder: XCTestCase { func testNothingYet() {} }
