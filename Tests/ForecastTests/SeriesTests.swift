// Reading a series column: missing values filled and reported, every bad input one line with its line number.
import Tabular
import XCTest
@testable import Forecast

final class SeriesTests: XCTestCase {
    func series(_ text: String, _ column: String = "v") throws -> SeriesColumn {
        try SeriesColumn.parse(Table.parse(text, path: "s.csv"), column: column)
    }

    func message(_ text: String, _ column: String = "v") -> String {
        do { _ = try series(text, column); return "no error" } catch { return "\(error)" }
    }

    func testMissingValuesAreInterpolatedInsideAndDroppedAtTheEnds() throws {
        let s = try series("t,v\n1,\n2,4\n3,\n4,\n5,10\n6,\n")
        XCTAssertEqual(s.missingLines, [2, 4, 5, 7])
        let f = s.filled()
        XCTAssertEqual(f.values, [4, 6, 8, 10])
        XCTAssertEqual(f.interpolated, 2)
        XCTAssertEqual(f.droppedLeading, 1)
        XCTAssertEqual(f.droppedTrailing, 1)
        XCTAssertEqual(s.missingReport, "s.csv: column 'v': 4 missing values (empty fields, first at line 2): 2 filled by linear interpolation, 1 before the first value dropped, 1 after the last value dropped")
        XCTAssertNil(try series("V\n1\n2\n").missingReport)  // header matched case-insensitively
    }

    func testBadInputsAreOneLineWithTheLineNumber() {
        XCTAssertEqual(message("t,v\n1,2\n2,abc\n"), "s.csv:3: column 'v': 'abc' is not a number (leave the field empty for a missing value)")
        XCTAssertEqual(message("t,v\n1,2\n2,nan\n"), "s.csv:3: column 'v': 'nan' is not a number (leave the field empty for a missing value)")
        XCTAssertEqual(message("t,v\n1,2\n2,3,4\n"), "s.csv:3: expected 2 comma-separated fields (t, v), got 3")
        XCTAssertEqual(message("t,v\n1,2\n", "w"), "s.csv:1: no column 'w'; the header names 't', 'v'")
        XCTAssertEqual(message("t,v\n1,\n2,\n"), "s.csv: column 'v' has no values (all 2 rows are empty)")
        XCTAssertEqual(message(""), "s.csv:1: empty file: expected a header naming the column 'v'")
        XCTAssertThrowsError(try series("t,v\n1,3\n2,3\n3,3\n").values(needed: 2, model: "AR(0)")) {
            XCTAssertEqual("\($0)", "s.csv: column 'v' is constant (every value is 3.0): there is nothing to forecast")
        }
        XCTAssertThrowsError(try series("t,v\n1,3\n2,4\n3,\n4,5\n").values(needed: 11, model: "AR(9)")) {
            XCTAssertEqual("\($0)", "s.csv: column 'v' has 4 values; AR(9) needs at least 11")
        }
    }
}
