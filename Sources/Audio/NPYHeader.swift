// The header of a NumPy .npy file: the Python literal numpy.load reads with `ast.literal_eval`, parsed the same way.
import AtomicIO

/// A Python literal value, as `ast.literal_eval` returns it (the subset a header can hold).
enum PyLiteral: Equatable {
    case str([Unicode.Scalar])
    case bytes
    /// An integer; nil when it does not fit in `Int` (Python's ints are unbounded).
    case int(Int?, text: String)
    case float(String)
    case bool(Bool)
    case none
    case tuple([PyLiteral])
    case list([PyLiteral])
    case set([PyLiteral])
    /// Key-value pairs in source order (a key given twice keeps its last value, as in Python).
    case dict([(PyLiteral, PyLiteral)])

    static func == (a: PyLiteral, b: PyLiteral) -> Bool {
        switch (a, b) {
        case (.str(let x), .str(let y)): return x == y
        case (.bytes, .bytes), (.none, .none): return true
        case (.int(let x, let s), .int(let y, let t)): return x == y && (x != nil || s == t)
        case (.float(let x), .float(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.tuple(let x), .tuple(let y)), (.list(let x), .list(let y)), (.set(let x), .set(let y)): return x == y
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// How numpy's error messages print a value (`repr`), shortened.
    var repr: String {
        switch self {
        case .str(let s): return "'" + MessageText.excerpt(String(String.UnicodeScalarView(s)), limit: 40) + "'"
        case .bytes: return "b'...'"
        case .int(_, let text): return text
        case .float(let text): return text
        case .bool(let b): return b ? "True" : "False"
        case .none: return "None"
        case .tuple(let v): return "(" + v.prefix(8).map(\.repr).joined(separator: ", ") + (v.count == 1 ? ",)" : ")")
        case .list(let v): return "[" + v.prefix(8).map(\.repr).joined(separator: ", ") + "]"
        case .set(let v): return "{" + v.prefix(8).map(\.repr).joined(separator: ", ") + "}"
        case .dict(let v): return "{" + v.prefix(8).map { "\($0.0.repr): \($0.1.repr)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Parses the text of a .npy header as Python's `ast.literal_eval` does (numpy's `_read_array_header`): a
/// literal made of strings (quotes of both kinds, triple quotes, escapes, r/u prefixes, adjacent strings joined),
/// integers (decimal, 0x, 0o, 0b, `_` between digits, one leading sign), True, False, None, tuples, lists, sets
/// and dicts, with spaces, tabs, newlines inside brackets, `#` comments and backslash continuations between them.
/// Leading spaces and tabs are ignored (literal_eval strips them). For format versions 1 and 2 numpy retries a
/// header that does not parse through `_filter_header` (a tokenize round trip for Python 2's files); of what that
/// changes, `python2Filter` reproduces the two effects a header can show: an `L` after an integer (`10L`) is
/// dropped, and a last line holding only spaces is ignored.
///
/// What Python refuses is refused: an operator other than a sign on a number (`'<f4'*2`), names other than
/// True, False and None, an indented line at the top level, a NUL byte, text after the literal. Nesting is
/// limited to 200 brackets (Python's own parser limit).
struct NPYHeaderParser {
    struct SyntaxError: Error { let reason: String }

    private let text: [Unicode.Scalar]
    private var pos = 0
    private var depth = 0
    private let python2Filter: Bool
    static let maxDepth = 200

    init(_ header: String, python2Filter: Bool) {
        var t = Array(header.unicodeScalars)[...]
        while let f = t.first, f == " " || f == "\t" { t.removeFirst() }  // literal_eval's lstrip(" \t")
        text = Array(t)
        self.python2Filter = python2Filter
    }

    /// The literal. - Throws: `SyntaxError` with a short reason.
    static func parse(_ header: String, python2Filter: Bool) throws -> PyLiteral {
        var p = NPYHeaderParser(header, python2Filter: python2Filter)
        return try p.parseFile()
    }

    // MARK: tokens

    enum Token: Equatable {
        case punct(Unicode.Scalar)   // ( ) [ ] { } : , + -
        case string([Unicode.Scalar], bytes: Bool)
        case number(String)
        case name(String)
        case newline                 // end of a logical line at the top level
        case end
    }

    private var peeked: Token?

    private func at(_ i: Int) -> Unicode.Scalar? { i < text.count ? text[i] : nil }

    private static func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\n" || c == "\r" }

    /// Skips spaces, tabs, form feeds, comments and continuations; inside brackets also newlines.
    private mutating func skipSpace() throws {
        while let c = at(pos) {
            if c == " " || c == "\t" || c == "\u{0C}" {
                pos += 1
            } else if c == "#" {
                while let d = at(pos), !Self.isNewline(d) { pos += 1 }
            } else if c == "\\" {
                guard let n = at(pos + 1), Self.isNewline(n) else { throw SyntaxError(reason: "unexpected character after line continuation") }
                pos += 2
                if n == "\r", at(pos) == "\n" { pos += 1 }
                if at(pos) == nil { throw SyntaxError(reason: "unexpected end of header after a line continuation") }
            } else if Self.isNewline(c) && depth > 0 {
                pos += 1
            } else {
                return
            }
        }
    }

    private mutating func next() throws -> Token {
        if let t = peeked { peeked = nil; return t }
        try skipSpace()
        guard let c = at(pos) else { return .end }
        if Self.isNewline(c) {
            // A top-level newline ends the logical line; the next line must not be indented unless it is blank.
            pos += 1
            if c == "\r", at(pos) == "\n" { pos += 1 }
            var i = pos, indented = false
            while let d = at(i), d == " " || d == "\t" || d == "\u{0C}" { i += 1; indented = true }
            if indented {
                // numpy's retry through `_filter_header` (versions 1.0 and 2.0) drops a last line of only spaces.
                if at(i) == nil && python2Filter { pos = i; return .newline }
                guard let d = at(i), Self.isNewline(d) || d == "#" else { throw SyntaxError(reason: "unexpected indent") }
            }
            return .newline
        }
        if "()[]{}:,+-".unicodeScalars.contains(c) {
            pos += 1
            if c == "(" || c == "[" || c == "{" {
                depth += 1
                if depth > Self.maxDepth { throw SyntaxError(reason: "more than \(Self.maxDepth) nested brackets") }
            } else if c == ")" || c == "]" || c == "}" {
                depth = max(0, depth - 1)
            }
            return .punct(c)
        }
        if c == "'" || c == "\"" { return try string(prefix: "") }
        if ("0"..."9").contains(c) || (c == "." && at(pos + 1).map { ("0"..."9").contains($0) } == true) {
            var s = ""
            while let d = at(pos), d.properties.isAlphabetic || ("0"..."9").contains(d) || d == "_" || d == "." {
                // An exponent's sign belongs to the number (1e-3).
                s.unicodeScalars.append(d)
                pos += 1
                if (d == "e" || d == "E"), !s.hasPrefix("0x"), !s.hasPrefix("0X"), let sign = at(pos), sign == "+" || sign == "-" {
                    s.unicodeScalars.append(sign)
                    pos += 1
                }
            }
            return .number(s)
        }
        if c == "_" || c.properties.isAlphabetic {
            var s = ""
            while let d = at(pos), d == "_" || d.properties.isAlphabetic || ("0"..."9").contains(d) {
                s.unicodeScalars.append(d)
                pos += 1
            }
            if let q = at(pos), q == "'" || q == "\"" { return try string(prefix: s) }
            return .name(s)
        }
        if c == "\0" { throw SyntaxError(reason: "NUL byte") }
        throw SyntaxError(reason: "unexpected character \(c.escaped(asASCII: true))")
    }

    private mutating func peek() throws -> Token {
        if let t = peeked { return t }
        let t = try next()
        peeked = t
        return t
    }

    /// A string literal starting at `pos` (its quote), after the letters `prefix`.
    private mutating func string(prefix: String) throws -> Token {
        let p = prefix.lowercased()
        guard ["", "r", "u", "b", "br", "rb"].contains(p) else {
            throw SyntaxError(reason: p.contains("f") ? "f-strings are not literals" : "bad string prefix '\(prefix)'")
        }
        let raw = p.contains("r"), isBytes = p.contains("b")
        let q = text[pos]
        let triple = at(pos + 1) == q && at(pos + 2) == q
        pos += triple ? 3 : 1
        var out: [Unicode.Scalar] = []
        while true {
            guard let c = at(pos) else { throw SyntaxError(reason: "unterminated string") }
            if c == "\0" { throw SyntaxError(reason: "NUL byte") }
            if c == q {
                if !triple { pos += 1; break }
                if at(pos + 1) == q && at(pos + 2) == q { pos += 3; break }
                out.append(c); pos += 1; continue
            }
            if Self.isNewline(c) && !triple { throw SyntaxError(reason: "unterminated string") }
            if isBytes && c.value > 0x7F { throw SyntaxError(reason: "bytes can only contain ASCII characters") }
            if c != "\\" { out.append(c); pos += 1; continue }
            guard let e = at(pos + 1) else { throw SyntaxError(reason: "unterminated string") }
            if raw {
                // Raw strings keep the backslash; it still protects the next character (a quote) from ending them.
                out.append(c); out.append(e); pos += 2
                continue
            }
            pos += 2
            switch e {
            case "\n": break
            case "\r": if at(pos) == "\n" { pos += 1 }
            case "\\", "'", "\"": out.append(e)
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = Int(e.value - 48), n = 1
                while n < 3, let d = at(pos), ("0"..."7").contains(d) { v = v * 8 + Int(d.value - 48); pos += 1; n += 1 }
                out.append(Unicode.Scalar(UInt32(v))!)
            case "x", "u", "U":
                if isBytes && e != "x" { out.append("\\"); out.append(e); continue }
                let n = e == "x" ? 2 : e == "u" ? 4 : 8
                var v: UInt32 = 0
                for _ in 0..<n {
                    guard let d = at(pos), d.isASCII, let h = UInt32(String(d), radix: 16) else {
                        throw SyntaxError(reason: "truncated \\\(e) escape")
                    }
                    v = v &* 16 &+ h
                    pos += 1
                }
                guard let s = Unicode.Scalar(v) else { throw SyntaxError(reason: "illegal Unicode character in \\\(e) escape") }
                out.append(s)
            case "N":
                throw SyntaxError(reason: "\\N{...} escapes are not supported")
            default:
                out.append("\\"); out.append(e)
            }
        }
        return .string(out, bytes: isBytes)
    }

    // MARK: grammar

    /// `NEWLINE* literal NEWLINE* END`
    private mutating func parseFile() throws -> PyLiteral {
        while try peek() == .newline { _ = try next() }
        if try peek() == .end { throw SyntaxError(reason: "empty header") }
        let v = try parseValue()
        while true {
            switch try next() {
            case .newline: continue
            case .end: return v
            case let t: throw SyntaxError(reason: "unexpected \(Self.describe(t)) after the literal")
            }
        }
    }

    private static func describe(_ t: Token) -> String {
        switch t {
        case .punct(let c): return "'\(c)'"
        case .string: return "string"
        case .number(let s): return "number \(s)"
        case .name(let s): return "name '\(s)'"
        case .newline: return "end of line"
        case .end: return "end of header"
        }
    }

    private mutating func parseValue() throws -> PyLiteral {
        let t = try next()
        switch t {
        case .string(let s, let isBytes):
            var value = s, bytes = isBytes
            while case .string(let more, let moreBytes) = try peek() {
                _ = try next()
                guard moreBytes == bytes else { throw SyntaxError(reason: "cannot mix bytes and nonbytes literals") }
                value += more
                bytes = moreBytes
            }
            return bytes ? .bytes : .str(value)
        case .number(let text):
            return try number(text)
        case .punct(let sign) where sign == "+" || sign == "-":
            // literal_eval takes a sign on a number only (parentheses around the number are allowed).
            var inner = try next(), parens = 0
            while inner == .punct("(") { parens += 1; inner = try next() }
            guard case .number(let text) = inner else { throw SyntaxError(reason: "'\(sign)' applied to something other than a number") }
            var v = try number(text)
            for _ in 0..<parens { guard try next() == .punct(")") else { throw SyntaxError(reason: "expected ')'") } }
            if sign == "-" {
                switch v {
                case .int(let i?, let s): v = i == Int.min ? .int(nil, text: "-" + s) : .int(-i, text: "-" + s)
                case .int(nil, let s): v = .int(nil, text: "-" + s)
                case .float(let s): v = .float("-" + s)
                default: break
                }
            }
            return v
        case .name("True"): return .bool(true)
        case .name("False"): return .bool(false)
        case .name("None"): return .none
        case .name(let n): throw SyntaxError(reason: "'\(n)' is not a literal")
        case .punct("("):
            if try peek() == .punct(")") { _ = try next(); return .tuple([]) }
            let first = try parseValue()
            if try peek() == .punct(")") { _ = try next(); return first }
            var items = [first]
            try items += parseItems(closing: ")")
            return .tuple(items)
        case .punct("["):
            if try peek() == .punct("]") { _ = try next(); return .list([]) }
            let first = try parseValue()
            if try peek() == .punct("]") { _ = try next(); return .list([first]) }
            return .list([first] + (try parseItems(closing: "]")))
        case .punct("{"):
            if try peek() == .punct("}") { _ = try next(); return .dict([]) }
            let first = try parseValue()
            if try peek() == .punct(":") {
                _ = try next()
                var pairs = [(first, try parseValue())]
                while true {
                    let sep = try next()
                    if sep == .punct("}") { return .dict(pairs) }
                    guard sep == .punct(",") else { throw SyntaxError(reason: "expected ',' or '}' in a dict, got \(Self.describe(sep))") }
                    if try peek() == .punct("}") { _ = try next(); return .dict(pairs) }
                    let k = try parseValue()
                    let colon = try next()
                    guard colon == .punct(":") else { throw SyntaxError(reason: "expected ':' after a dict key, got \(Self.describe(colon))") }
                    pairs.append((k, try parseValue()))
                }
            }
            if try peek() == .punct("}") { _ = try next(); return .set([first]) }
            return .set([first] + (try parseItems(closing: "}")))
        case let other:
            throw SyntaxError(reason: "unexpected \(Self.describe(other))")
        }
    }

    /// After a first item: `(',' item)* [','] closing`. Returns the items after the first.
    private mutating func parseItems(closing: Unicode.Scalar) throws -> [PyLiteral] {
        var items: [PyLiteral] = []
        while true {
            let sep = try next()
            if sep == .punct(closing) { return items }
            guard sep == .punct(",") else { throw SyntaxError(reason: "expected ',' or '\(closing)', got \(Self.describe(sep))") }
            if try peek() == .punct(closing) { _ = try next(); return items }
            items.append(try parseValue())
        }
    }

    /// An integer or float literal (Python 3 syntax), with Python 2's `L` suffix dropped when allowed.
    private mutating func number(_ text: String) throws -> PyLiteral {
        var text = text
        if python2Filter {
            // Python's tokenizer splits `2L` into the number and a name `L`, which `_filter_header` drops.
            if text.count > 1, text.last == "L" { text.removeLast() } else if try peek() == .name("L") { _ = try next() }
        }
        let lower = text.lowercased()
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) {
            let digits = lower.dropFirst(2)
            guard Self.validUnderscores(digits, allowLeading: true),
                  digits.allSatisfy({ $0 == "_" || Int(String($0), radix: radix) != nil }) else {
                throw SyntaxError(reason: "invalid number \(text)")
            }
            return .int(Int(digits.filter { $0 != "_" }, radix: radix), text: text)
        }
        if lower.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) {
            guard Self.validUnderscores(lower[...], allowLeading: false) else { throw SyntaxError(reason: "invalid number \(text)") }
            let digits = lower.filter { $0 != "_" }
            // Python 3 forbids leading zeros in a nonzero decimal integer.
            if digits.count > 1, digits.first == "0", digits.contains(where: { $0 != "0" }) {
                throw SyntaxError(reason: "leading zeros in decimal integer \(text)")
            }
            return .int(Int(digits), text: text)
        }
        // Floats and complex numbers are literals too, but never valid in a header; keep their text for messages.
        guard lower.allSatisfy({ $0.isASCII && ($0.isNumber || "._e+-j".contains($0)) }), Double(lower.filter { $0 != "_" && $0 != "j" }) != nil else {
            throw SyntaxError(reason: "invalid number \(text)")
        }
        return .float(text)
    }

    /// `_` only between two digits (after a radix prefix, also right after the prefix).
    private static func validUnderscores(_ s: Substring, allowLeading: Bool) -> Bool {
        if s.isEmpty { return false }
        if s.last == "_" || s.contains("__") { return false }
        if s.first == "_" && !allowLeading { return false }
        return true
    }
}
