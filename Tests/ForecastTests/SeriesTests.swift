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

    /// A first column of evenly spaced plain numbers is a time column, continued after the last value used (empty
    /// series fields at the ends count as rows); dates, gaps, exponents, a decreasing or a single row are not.
    func testEvenlySpacedFirstColumnIsContinued() throws {
        let years = try series("year,v\n1700,5\n1701,\n1702,16\n1703,23\n1704,\n")
        XCTAssertEqual(years.time, TimeColumn(name: "year", start: 1700, spacing: 1, decimals: 0))
        // Values 5, 10.5, 16, 23 (rows 0...3); after the first 3 (up to 1702): 1703, 1704, 1705.
        XCTAssertEqual(years.times(after: 3, horizon: 3)?.name, "year")
        XCTAssertEqual(years.times(after: 3, horizon: 3)?.labels, ["1703", "1704", "1705"])
        let late = try series("t,v\n-2,\n0,1\n2,4\n")  // the leading empty row is row 0: values start at t = 0
        XCTAssertEqual(late.times(after: 2, horizon: 2)?.labels, ["4", "6"])
        let quarters = try series("t,v\n1958.25,1\n1958.5,2\n1958.75,3\n1959,4\n")
        XCTAssertEqual(quarters.times(after: 4, horizon: 3)?.labels, ["1959.25", "1959.50", "1959.75"])
        let months = try series("t,v\n" + (0..<24).map { String(format: "%.4f,%d\n", 2000 + Double($0) / 12, $0) }.joined())
        XCTAssertEqual(months.times(after: 24, horizon: 2)?.labels, ["2002.0000", "2002.0833"], "times rounded as written (2000.0833)")
        for text in ["date,v\n19580329,1\n19580405,2\n19580412,3\n", "t,v\n1,1\n2,2\n4,3\n", "t,v\n1,1\n2,2\n4,3\n5,4\n", "t,v\n1e3,1\n2e3,2\n",
                     "t,v\n3,1\n2,2\n1,3\n", "t,v\n1,1\n", "t,v\n1,1\n,2\n3,3\n", "t,v\n2020-01,1\n2020-02,2\n"] {
            XCTAssertNil(try series(text).time, text)
            XCTAssertNil(try series(text).times(after: 1, horizon: 2), text)
        }
        XCTAssertNil(try series("v,t\n1,1\n2,2\n").time, "the series column itself is not a time column")
        let table = ForecastTable(rows: [.init(step: 1, point: 2, lower: 1, upper: 3), .init(step: 2, point: 2.5, lower: 1, upper: 4)],
                                  level: 0.9, model: "m")
        XCTAssertEqual(table.csv(actual: [2], times: ("year", ["1989", "1990"])), "year,forecast,lower,upper,actual\n1989,2,1,3,2\n1990,2.5,1,4,\n")
        XCTAssertEqual(table.csv(), "step,forecast,lower,upper\n1,2,1,3\n2,2.5,1,4\n")
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
