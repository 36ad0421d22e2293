// The manifest table reader shared by train, music train/eval and render.
import Tabular
import XCTest

final class TableTests: XCTestCase {
    func testSeparatorQuotingAndLineNumbers() {
        let t = Table.parse("Path,Speaker\r\n\"a, b.wav\" , x\r\n\r\n  c.wav ,\" y \"\r\n", path: "m.csv")
        XCTAssertEqual(t.columns, ["path", "speaker"])
        XCTAssertEqual(t.rows.map(\.fields), [["a, b.wav", "x"], ["c.wav", " y "]])
        XCTAssertEqual(t.rows.map(\.line), [2, 4])
        XCTAssertEqual(t.rows.map(\.index), [0, 1])
        XCTAssertEqual(t.column("SPEAKER"), 1)

        let tsv = Table.parse("path\tsplit\nx, y.mid\tvalid\n", path: "m.tsv")
        XCTAssertEqual(tsv.rows.first?.fields, ["x, y.mid", "valid"])
    }

    func testRowProblemsAreReportedPerRow() throws {
        let t = Table.parse("input,speaker\na.wav\n\"open,s\nb.wav,s\n", path: "m.csv")
        XCTAssertEqual(t.rows.map(\.problem), ["expected 2 comma-separated fields (input, speaker), got 1",
                                               "unterminated quoted field", nil])
        XCTAssertThrowsError(try t.fields(t.rows[0])) {
            XCTAssertEqual("\($0)", "m.csv:2: expected 2 comma-separated fields (input, speaker), got 1")
        }
        XCTAssertEqual(try t.fields(t.rows[2]), ["b.wav", "s"])
    }

    func testRequiredColumns() throws {
        let t = Table.parse("speaker\tpath\n", path: "m.tsv")
        XCTAssertEqual(try t.require(["path", "speaker"], expected: "path, speaker"), [1, 0])
        XCTAssertThrowsError(try t.require(["path", "split", "x"], expected: "path, split")) {
            XCTAssertEqual("\($0)", "m.tsv:1: missing columns 'split' and 'x'; the header must name path, split, got [\"speaker\", \"path\"]")
        }
        XCTAssertThrowsError(try Table.parse("\n\n", path: "e.tsv").require(["path"], expected: "path")) {
            XCTAssertEqual("\($0)", "e.tsv:1: empty manifest: expected a header naming path")
        }
        XCTAssertThrowsError(try Table.read(URL(fileURLWithPath: "/nonexistent/m.tsv"))) {
            XCTAssertEqual($0 as? TableError, .unreadable(path: "/nonexistent/m.tsv"))
        }
    }
}
