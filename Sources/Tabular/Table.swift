// Delimited text tables with a header row: the manifests of `synth train`, `synth music train`,
// `synth music eval` and `synth render` all go through this one reader.
import AtomicIO
import Foundation

/// A problem with a table file as a whole (unreadable, or a header without the required columns).
/// Problems with single rows are reported per row (`Table.Row.problem`), so each caller decides whether a
/// bad row stops the run (training manifests) or is skipped and reported (render manifests).
public enum TableError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String)
    case header(path: String, reason: String)
    /// A row that the caller treats as fatal; `line` is 1-based.
    case row(path: String, line: Int, reason: String)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .unreadable(let p): return "\(p): cannot read the manifest as UTF-8 text"
        case .header(let p, let r): return "\(p):1: \(r)"
        case .row(let p, let l, let r): return "\(p):\(l): \(r)"
        }
    }
}

/// A manifest table: a header row naming the columns, then one record per non-blank line.
///
/// Format: tab-separated if the header holds a tab, comma-separated otherwise (RFC 4180 style: a field may
/// be double-quoted, `""` inside quotes is a literal quote, and quoted fields keep their spaces). Unquoted
/// fields are trimmed of spaces, CRLF line ends are accepted, blank lines are skipped, and column names are
/// matched case-insensitively.
public struct Table: Sendable {
    /// One data row.
    public struct Row: Sendable {
        /// 1-based line number in the file (for messages).
        public var line: Int
        /// 0-based index among the data rows (blank lines are not rows).
        public var index: Int
        /// The fields, one per column; empty when `problem` is set.
        public var fields: [String]
        /// Why the row cannot be split into one field per column, if it cannot.
        public var problem: String?
    }

    public var path: String
    /// Header names, trimmed and lowercased.
    public var columns: [String]
    public var rows: [Row]

    /// Reads and parses a table file. - Throws: `TableError.unreadable` if it is missing or not UTF-8.
    public static func read(_ url: URL) throws -> Table {
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
            throw TableError.unreadable(path: url.path)
        }
        return parse(text, path: url.path)
    }

    /// Parses table text; `path` only names the table in messages. An empty text gives no columns.
    public static func parse(_ text: String, path: String) -> Table {
        // "\r\n" is one Character in Swift, so split on newline Characters rather than on "\n".
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        guard let header = lines.first, !header.trimmingCharacters(in: .whitespaces).isEmpty else {
            return Table(path: path, columns: [], rows: [])
        }
        let sep: Character = header.contains("\t") ? "\t" : ","
        let columns = (splitFields(header, sep) ?? []).map { $0.lowercased() }
        var rows: [Row] = []
        for (i, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            var row = Row(line: i + 1, index: rows.count, fields: [], problem: nil)
            if let f = splitFields(line, sep) {
                if f.count == columns.count {
                    row.fields = f
                } else {
                    let kind = sep == "\t" ? "tab-separated " : "comma-separated "
                    row.problem = "expected \(columns.count) \(kind)fields (\(columns.joined(separator: ", "))), got \(f.count)"
                }
            } else {
                row.problem = "unterminated quoted field"
            }
            rows.append(row)
        }
        return Table(path: path, columns: columns, rows: rows)
    }

    /// The position of a column, matched case-insensitively.
    public func column(_ name: String) -> Int? { columns.firstIndex(of: name.lowercased()) }

    /// Positions of the required columns, in the order given.
    /// - Throws: `TableError.header` naming the missing columns and `expected` (e.g. "path, speaker[, split]").
    public func require(_ names: [String], expected: String) throws -> [Int] {
        if columns.isEmpty {
            throw TableError.header(path: path, reason: "empty manifest: expected a header naming \(expected)")
        }
        let missing = names.filter { column($0) == nil }
        guard missing.isEmpty else {
            let list = missing.map { "'\($0)'" }.joined(separator: " and ")
            throw TableError.header(path: path, reason:
                "missing column\(missing.count > 1 ? "s" : "") \(list); the header must name \(expected), got \(columns)")
        }
        return names.map { column($0)! }
    }

    /// The fields of a row, or `TableError.row` with its problem (for callers where a bad row is fatal).
    public func fields(_ row: Row) throws -> [String] {
        if let p = row.problem { throw TableError.row(path: path, line: row.line, reason: p) }
        return row.fields
    }

    /// Splits one line into fields; returns nil for an unterminated quote.
    static func splitFields(_ line: String, _ sep: Character) -> [String]? {
        var fields: [String] = [], cur = "", quoted = false, wasQuoted = false
        var it = Array(line)[...]
        while let ch = it.popFirst() {
            if quoted {
                if ch == "\"" {
                    if it.first == "\"" { cur.append("\""); it.removeFirst() } else { quoted = false }
                } else { cur.append(ch) }
            } else if ch == "\"" && cur.trimmingCharacters(in: .whitespaces).isEmpty {
                quoted = true; wasQuoted = true; cur = ""
            } else if wasQuoted && ch != sep && ch.isWhitespace {
                continue  // spaces between a closing quote and the separator
            } else if ch == sep {
                fields.append(wasQuoted ? cur : cur.trimmingCharacters(in: .whitespaces)); cur = ""; wasQuoted = false
            } else { cur.append(ch) }
        }
        if quoted { return nil }
        fields.append(wasQuoted ? cur : cur.trimmingCharacters(in: .whitespaces))
        return fields
    }
}

extension Table {
    /// A path read from a manifest: absolute as written, or relative to the manifest's folder.
    public static func resolve(_ path: String, relativeTo manifest: URL) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : manifest.deletingLastPathComponent().appendingPathComponent(path)
    }
}
