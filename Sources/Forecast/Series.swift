// One numeric column of a CSV or TSV file as a time series: read through Tabular, missing values found and filled,
// every problem reported with the file's line number.
import AtomicIO
import Foundation
import Tabular

/// Problems with a series file, each the one line the CLI prints ("path:line: reason" where a line applies).
public enum SeriesError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be read (missing, not a regular file, too large, not UTF-8).
    case unreadable(path: String, reason: String)
    /// The header has no such column; `columns` lists the ones it has.
    case noColumn(path: String, column: String, columns: [String])
    /// A row that cannot be split into the header's fields, or a field that is not a number.
    case line(path: String, line: Int, reason: String)
    /// The column holds no value at all.
    case allMissing(path: String, column: String, rows: Int)
    /// Fewer values than a model needs.
    case tooShort(path: String, column: String, count: Int, needed: Int, model: String)
    /// Every value is the same.
    case constant(path: String, column: String, value: Double)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): \(r)"
        case .noColumn(let p, let c, let cs):
            return "\(p):1: no column '\(MessageText.excerpt(c))'; the header names \(cs.map { "'\(MessageText.excerpt($0, limit: 40))'" }.joined(separator: ", "))"
        case .line(let p, let l, let r): return "\(p):\(l): \(r)"
        case .allMissing(let p, let c, let n): return "\(p): column '\(c)' has no values (all \(n) rows are empty)"
        case .tooShort(let p, let c, let n, let k, let m):
            return "\(p): column '\(c)' has \(n) values; \(m) needs at least \(k)"
        case .constant(let p, let c, let v): return "\(p): column '\(c)' is constant (every value is \(v)): there is nothing to forecast"
        }
    }
}

/// A numeric column read from a table file, with its missing values (empty fields) located.
///
/// Missing values inside the series are filled by linear interpolation between their neighbours (`filled`); missing
/// values before the first or after the last number are dropped, so the series (and a forecast) starts and ends on
/// an observed value. The series is assumed equally spaced: one row per time step.
public struct SeriesColumn: Sendable, Equatable {
    /// The file, as named in messages.
    public let path: String
    /// The column's name as the header spells it.
    public let column: String
    /// One entry per data row, nil where the field is empty.
    public let raw: [Double?]
    /// The 1-based file line of each data row.
    public let lines: [Int]

    /// Files larger than this are refused before they are read (about 20 M rows of a two-column CSV).
    public static let maxFileBytes = 256 << 20

    /// Reads column `column` (matched case-insensitively) of the table file at `url` (`Table`: CSV, or TSV when the
    /// header holds a tab, with a header row).
    /// - Throws: `SeriesError.unreadable`, `.noColumn`, `.line` (a row with the wrong number of fields, or a field
    ///   that is neither empty nor a finite number), `.allMissing`.
    public static func read(_ url: URL, column: String) throws -> SeriesColumn {
        let data: Data
        do { data = try BoundedRead.contents(of: url, limit: maxFileBytes) } catch {
            throw SeriesError.unreadable(path: url.path, reason: "\(error)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SeriesError.unreadable(path: url.path, reason: "not UTF-8 text")
        }
        return try parse(Table.parse(text, path: url.path), column: column)
    }

    /// The column `column` of a parsed table. - Throws: as `read`.
    public static func parse(_ table: Table, column: String) throws -> SeriesColumn {
        guard !table.columns.isEmpty else {
            throw SeriesError.line(path: table.path, line: 1, reason: "empty file: expected a header naming the column '\(column)'")
        }
        guard let c = table.column(column) else {
            throw SeriesError.noColumn(path: table.path, column: column, columns: table.columns)
        }
        var raw: [Double?] = [], lines: [Int] = []
        for row in table.rows {
            let fields: [String]
            do { fields = try table.fields(row) } catch { throw SeriesError.line(path: table.path, line: row.line, reason: row.problem ?? "\(error)") }
            let f = fields[c]
            if f.isEmpty {
                raw.append(nil)
            } else if let v = Double(f), v.isFinite {
                raw.append(v)
            } else {
                throw SeriesError.line(path: table.path, line: row.line,
                                       reason: "column '\(table.columns[c])': '\(MessageText.excerpt(f, limit: 40))' is not a number (leave the field empty for a missing value)")
            }
            lines.append(row.line)
        }
        guard raw.contains(where: { $0 != nil }) else {
            throw SeriesError.allMissing(path: table.path, column: table.columns[c], rows: raw.count)
        }
        return SeriesColumn(path: table.path, column: table.columns[c], raw: raw, lines: lines)
    }

    /// The file lines of the missing values (empty fields), in order.
    public var missingLines: [Int] { zip(raw, lines).filter { $0.0 == nil }.map(\.1) }

    /// The series from its first to its last number, missing values inside filled by linear interpolation.
    /// - Returns: the values, how many were interpolated, and how many leading and trailing empty rows were dropped.
    public func filled() -> (values: [Double], interpolated: Int, droppedLeading: Int, droppedTrailing: Int) {
        let first = raw.firstIndex { $0 != nil }!, last = raw.lastIndex { $0 != nil }!
        var out: [Double] = []
        out.reserveCapacity(last - first + 1)
        var interpolated = 0, previous = first
        for i in first...last {
            if let v = raw[i] {
                // Fill the gap since the previous number on the line between the two.
                let a = raw[previous]!, gap = i - previous
                for k in 1..<max(gap, 1) { out.append(a + (v - a) * Double(k) / Double(gap)); interpolated += 1 }
                out.append(v)
                previous = i
            }
        }
        return (out, interpolated, first, raw.count - 1 - last)
    }

    /// One line on what `filled` did, or nil when no value is missing: "59 missing values (empty fields, first at
    /// line 37): 59 filled by linear interpolation".
    public var missingReport: String? {
        let missing = missingLines
        guard let firstLine = missing.first else { return nil }
        let f = filled()
        var parts: [String] = []
        if f.interpolated > 0 { parts.append("\(f.interpolated) filled by linear interpolation") }
        if f.droppedLeading > 0 { parts.append("\(f.droppedLeading) before the first value dropped") }
        if f.droppedTrailing > 0 { parts.append("\(f.droppedTrailing) after the last value dropped") }
        return "\(path): column '\(column)': \(missing.count) missing value\(missing.count == 1 ? "" : "s") (empty fields, first at line \(firstLine)): \(parts.joined(separator: ", "))"
    }

    /// The filled values, checked for what every model needs: at least `needed` values and some variation.
    /// - Throws: `SeriesError.tooShort` naming `model`, `.constant`.
    public func values(needed: Int, model: String) throws -> [Double] {
        let v = filled().values
        guard v.count >= needed else { throw SeriesError.tooShort(path: path, column: column, count: v.count, needed: needed, model: model) }
        if let lo = v.min(), let hi = v.max(), lo == hi { throw SeriesError.constant(path: path, column: column, value: lo) }
        return v
    }
}
