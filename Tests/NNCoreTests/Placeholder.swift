import XCTest
final class NNCoreTestsPlaceholder: XCTestCase { func testNothingYet() {} }
