// Text as bytes: 256 byte values plus BOS and EOS, so any UTF-8 (indeed any byte string) round-trips exactly; and the
// output side, which holds back an incomplete UTF-8 sequence until it is complete.

/// The byte-level tokenizer: token `b` (0...255) is the byte `b`, `bos` = 256 starts a text, `eos` = 257 ends it.
/// Encoding is the identity on bytes, so `decode(encode(s)) == s` for every byte string (Radford et al. 2019 use
/// bytes the same way before their BPE merges).
public enum ByteTokenizer {
    /// Beginning of a text (also what an empty prompt starts from).
    public static let bos = 256
    /// End of a text.
    public static let eos = 257
    /// 256 byte values + BOS + EOS.
    public static let vocabularySize = 258

    /// The tokens of `bytes`, preceded by BOS when `bos` is true (no EOS: a prompt is continued, not ended).
    public static func encode<S: Sequence>(_ bytes: S, bos: Bool = true) -> [Int] where S.Element == UInt8 {
        (bos ? [Self.bos] : []) + bytes.map { Int($0) }
    }

    /// The tokens of `text`'s UTF-8, preceded by BOS when `bos` is true.
    public static func encode(_ text: String, bos: Bool = true) -> [Int] { encode(Array(text.utf8), bos: bos) }

    /// The bytes of `tokens`, dropping BOS, EOS and anything outside 0...255.
    public static func decode<S: Sequence>(_ tokens: S) -> [UInt8] where S.Element == Int {
        tokens.compactMap { (0...255).contains($0) ? UInt8($0) : nil }
    }
}

/// Turns a stream of bytes into valid UTF-8 chunks as soon as they are complete: a lead byte and its continuation
/// bytes are held back until the sequence is whole, so a character is never printed half-way. A byte that cannot
/// start or continue a sequence (or a sequence cut short, an overlong form, a surrogate, a value past U+10FFFF:
/// the Unicode standard's "maximal subpart" rule, ch. 3, Table 3-7) becomes U+FFFD, as `String(decoding:as:)` does.
public struct UTF8StreamDecoder: Sendable {
    private var pending: [UInt8] = []
    private var need = 0
    private var lower: UInt8 = 0x80, upper: UInt8 = 0xBF

    public init() {}

    /// Bytes held back (an incomplete sequence).
    public var heldBack: Int { pending.count }
    /// Ill-formed sequences met so far (each written as one U+FFFD).
    public private(set) var invalidSequences = 0

    private static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Feeds one byte; returns the bytes now ready to print (valid UTF-8, possibly empty).
    public mutating func feed(_ b: UInt8) -> [UInt8] {
        if need > 0 {
            if b >= lower && b <= upper {
                pending.append(b)
                need -= 1
                lower = 0x80; upper = 0xBF
                if need == 0 { defer { pending.removeAll(keepingCapacity: true) }; return pending }
                return []
            }
            // The sequence broke off: its maximal subpart becomes one U+FFFD, and `b` starts afresh.
            pending.removeAll(keepingCapacity: true)
            need = 0
            invalidSequences += 1
            return Self.replacement + feed(b)
        }
        switch b {
        case 0x00...0x7F: return [b]
        case 0xC2...0xDF: start(b, need: 1, 0x80, 0xBF)
        case 0xE0: start(b, need: 2, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: start(b, need: 2, 0x80, 0xBF)
        case 0xED: start(b, need: 2, 0x80, 0x9F)
        case 0xF0: start(b, need: 3, 0x90, 0xBF)
        case 0xF1...0xF3: start(b, need: 3, 0x80, 0xBF)
        case 0xF4: start(b, need: 3, 0x80, 0x8F)
        default:
            invalidSequences += 1
            return Self.replacement
        }
        return []
    }

    private mutating func start(_ b: UInt8, need n: Int, _ lo: UInt8, _ hi: UInt8) {
        pending = [b]
        need = n
        lower = lo
        upper = hi
    }

    /// At the end of the stream: a held-back incomplete sequence becomes U+FFFD (nothing if none is held).
    public mutating func finish() -> [UInt8] {
        defer { pending.removeAll(); need = 0 }
        if pending.isEmpty { return [] }
        invalidSequences += 1
        return Self.replacement
    }
}
