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
    /// The file's time column, when its first column is one (`TimeColumn.detect`).
    public let time: TimeColumn?

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
        var raw: [Double?] = [], lines: [Int] = [], firstFields: [String] = []
        for row in table.rows {
            let fields: [String]
            do { fields = try table.fields(row) } catch { throw SeriesError.line(path: table.path, line: row.line, reason: row.problem ?? "\(error)") }
            firstFields.append(fields[0])
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
        let time = c == 0 ? nil : TimeColumn.detect(name: table.columns[0], fields: firstFields)
        return SeriesColumn(path: table.path, column: table.columns[c], raw: raw, lines: lines, time: time)
    }

    /// The time column's name and its times for the `horizon` steps after the first `used` values of `filled()`
    /// (continuing the column past its last row), or nil when the file has no time column.
    public func times(after used: Int, horizon: Int) -> (name: String, labels: [String])? {
        guard let time, let first = raw.firstIndex(where: { $0 != nil }) else { return nil }
        let last = first + used - 1
        return (time.name, (0..<horizon).map { time.label(row: last + 1 + $0) })
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

/// An evenly spaced numeric time column (`year`: 1700, 1701, ...): data row `i` (0-based, every data row of the file)
/// is at `start + i × spacing`, written with `decimals` digits after the point, as the file writes it.
public struct TimeColumn: Sendable, Equatable {
    /// The column's name as the header spells it (lowercased).
    public let name: String
    /// The time of the first data row (on the line: `detect`).
    public let start: Double
    /// The time between rows, > 0.
    public let spacing: Double
    /// Digits after the point, the most any field of the column writes.
    public let decimals: Int

    /// The time of data row `row` (which may lie past the file's last row), as the column would write it.
    public func label(row: Int) -> String { String(format: "%.\(decimals)f", start + Double(row) * spacing) }

    /// The time column of a file whose first column is named `name` and holds `fields` (one per data row), or nil
    /// unless every field is a plain decimal number (digits, an optional sign and point; no exponent) and they are
    /// evenly spaced and increasing: at least two rows, and every step from a row to the next and every row's distance
    /// from the least-squares line through (row, time) within 1 % of the line's spacing (so 1700, 1701, ... is one, as
    /// are 1958.25, 1958.5, 1958.75, 1959 and months written 2000.0833, 2000.1667, and dates such as 19580329,
    /// 19580405 are not).
    public static func detect(name: String, fields: [String]) -> TimeColumn? {
        // A name that a CSV header cannot hold unquoted is not continued.
        guard fields.count >= 2, !name.isEmpty, !name.contains(where: { ",\"\t\r\n".contains($0) }) else { return nil }
        var values: [Double] = [], decimals = 0
        values.reserveCapacity(fields.count)
        for f in fields {
            let digits = f.hasPrefix("-") || f.hasPrefix("+") ? f.dropFirst() : Substring(f)
            let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            guard !digits.isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                  parts[0].count <= 15, let v = Double(f), v.isFinite else { return nil }
            if parts.count == 2 { decimals = max(decimals, parts[1].count) }
            values.append(v)
        }
        guard decimals <= 9 else { return nil }
        // The least-squares line through (row, time): exact for exact times, and for times rounded where written
        // (2000.0833 for a month) far closer to the true spacing than the first and last rows alone.
        let n = Double(values.count), meanRow = (n - 1) / 2, mean = values.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0
        for (i, v) in values.enumerated() {
            sxy += (Double(i) - meanRow) * (v - mean)
            sxx += (Double(i) - meanRow) * (Double(i) - meanRow)
        }
        let spacing = sxy / sxx, start = mean - spacing * meanRow
        // The same step from row to row and every row on the line, to 1 % of the step.
        guard spacing > 0, zip(values.dropFirst(), values).allSatisfy({ abs($0 - $1 - spacing) <= 0.01 * spacing }),
              values.enumerated().allSatisfy({ abs($0.element - (start + Double($0.offset) * spacing)) <= 0.01 * spacing }) else { return nil }
        return TimeColumn(name: name, start: start, spacing: spacing, decimals: decimals)
    }
}
