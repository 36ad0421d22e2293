// Text read from untrusted files, made safe to quote in the one-line messages the CLI prints.

/// Every error description is one line (the CLI prints it as is). Text taken from a file (a .npy header key, a
/// tensor name, a manifest field, a path) may hold line breaks or terminal escapes; these helpers write them as
/// escapes instead.
public enum MessageText {
    /// `s` with every control character (C0, DEL, C1) and Unicode line or paragraph separator written as a Swift
    /// escape (`\n`, `\r`, `\t`, `\0`, `\u{1B}`): one line whatever `s` holds, and unchanged when it holds none.
    public static func oneLine(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            guard needsEscape(c) else { out.unicodeScalars.append(c); continue }
            switch c {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\0": out += "\\0"
            default: out += "\\u{" + String(c.value, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }

    /// `oneLine(s)`, cut to its first `limit` characters (then "..."): for values of any length read from a file.
    public static func excerpt(_ s: String, limit: Int = 120) -> String {
        let line = oneLine(s)
        return line.count <= limit ? line : String(line.prefix(limit)) + "..."
    }

    private static func needsEscape(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x20 || (0x7F...0x9F).contains(c.value) || c.value == 0x2028 || c.value == 0x2029
    }
}
