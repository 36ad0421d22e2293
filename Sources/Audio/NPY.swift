// Reading NumPy .npy files (format 1.0/2.0/3.0, float32 or float64, either byte order, C or Fortran order) and writing them.
import Foundation

/// A float32 array with its NumPy shape. `data` is C order (row-major): for shape `[rows, cols]`,
/// element `(r, c)` is `data[r * cols + c]`.
public struct NPYArray: Equatable {
    /// 1 or 2 dimensions, e.g. `[n]` or `[frames, mel_bins]`.
    public var shape: [Int]
    /// `shape.reduce(1, *)` floats, row-major.
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }
}

/// Problems with the content of an .npy file (I/O problems are `AudioError`). Each description is one line naming
/// the file and the field at fault.
public enum NPYError: Error, CustomStringConvertible, Equatable {
    /// The file does not start with `\x93NUMPY` or has a format version other than 1.0, 2.0 or 3.0.
    case badMagic(path: String, found: String)
    /// The header is cut off, too long, or not the Python dict literal numpy writes (and reads).
    case badHeader(path: String, reason: String)
    /// The dtype is not float32 or float64 (in either byte order).
    case unsupportedDType(path: String, found: String)
    /// The array has a number of dimensions other than 1 or 2.
    case unsupportedRank(path: String, shape: [Int])
    /// The shape's element count, or its size in bytes, does not fit in a signed 64-bit integer.
    case tooLarge(path: String, shape: String)
    /// The data section is shorter than the shape requires.
    case truncated(path: String, shape: [Int], expectedBytes: Int, foundBytes: Int)
    /// `NPY.write` was given an array whose `data.count` does not match its shape, or a bad rank.
    case shapeMismatch(path: String, shape: [Int], count: Int)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .badMagic(let path, let found):
            return "\(path): not a NumPy .npy file (expected magic \\x93NUMPY and version 1.0, 2.0 or 3.0, found \(found))"
        case .badHeader(let path, let reason):
            return "\(path): malformed .npy header (\(reason))"
        case .unsupportedDType(let path, let found):
            return "\(path): unsupported .npy dtype: expected float32 or float64 ('<f4', '>f4', '<f8', '>f8'), got \(found)"
        case .unsupportedRank(let path, let shape):
            return "\(path): .npy array has shape \(NPY.shapeString(shape)); expected 1 or 2 dimensions"
        case .tooLarge(let path, let shape):
            return "\(path): .npy shape \(shape) holds more elements than any file can (its size overflows 64 bits)"
        case .truncated(let path, let shape, let expected, let found):
            return "\(path): .npy data for shape \(NPY.shapeString(shape)) needs \(expected) bytes, found \(found)"
        case .shapeMismatch(let path, let shape, let count):
            return "\(path): cannot write .npy: shape \(NPY.shapeString(shape)) (1 or 2 dimensions expected) does not match \(count) values"
        }
    }
}

/// NumPy `.npy` reader and writer for 1-D and 2-D float arrays
/// (format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
///
/// `read` accepts what `numpy.load` accepts, for float32 and float64 arrays of 1 or 2 dimensions:
/// - format versions 1.0, 2.0 and 3.0 (header length of 2 or 4 bytes; 3.0 has a UTF-8 header);
/// - any header that is a Python literal dict with exactly the keys `descr`, `fortran_order` and `shape`, parsed as
///   `ast.literal_eval` parses it (`NPYHeaderParser`): quotes of either kind, comments, a key given twice keeps
///   its last value (Python's dict semantics), Python 2's `10L`; at most 10,000 characters (numpy's
///   `max_header_size`);
/// - `descr` any spelling `numpy.dtype` maps to float32 or float64: `<f4 >f4 =f4 |f4 f4 <f >f f float32 single`
///   and the same for float64 (`f8`, `d`, `float64`, `double`, `float`); big-endian data is byte-swapped and
///   float64 rounded to the nearest float32;
/// - `fortran_order` True or False (a Fortran-order 2-D array is transposed to C order);
/// - data bytes after the array are ignored (as `numpy.load` ignores them).
/// It refuses, in one line naming the field, what numpy refuses (no braces, missing or extra keys, `'<f4'*2`,
/// a shape that is not a tuple of non-negative ints, a minor version other than 0) and shapes whose size
/// overflows 64 bits or exceeds the data in the file.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // \x93NUMPY
    /// Longest header numpy reads without `allow_pickle` (`numpy.lib.format` `_MAX_HEADER_SIZE`).
    public static let maxHeaderLength = 10_000

    /// The float dtype spellings `numpy.dtype` accepts, with their item size and whether they are big-endian.
    static let floatDTypes: [String: (size: Int, bigEndian: Bool)] = {
        var t: [String: (Int, Bool)] = [:]
        for (order, big) in [("", false), ("<", false), ("=", false), ("|", false), (">", true)] {
            for code in ["f", "f4"] { t[order + code] = (4, big) }
            for code in ["d", "f8"] { t[order + code] = (8, big) }
        }
        for name in ["float32", "single"] { t[name] = (4, false) }
        for name in ["float64", "double", "float"] { t[name] = (8, false) }
        return t
    }()

    /// Reads a `.npy` file written by `numpy.save` (see the type's documentation for what is accepted).
    /// - Returns: the array as float32; shape `[n]` or `[rows, cols]`, data row-major (C order).
    /// - Throws: `AudioError.fileNotFound` / `AudioError.unreadable` for I/O problems;
    ///   `NPYError.badMagic`, `.badHeader`, `.unsupportedDType` (e.g. `'<i4'`), `.unsupportedRank`, `.tooLarge`,
    ///   `.truncated`.
    public static func read(_ url: URL) throws -> NPYArray {
        let path = url.path
        let data: Data
        do { data = try BoundedRead.contents(of: url, limit: Int.max) } catch let p as BoundedRead.Problem {
            if p == .missing { throw AudioError.fileNotFound(path: path) }
            throw AudioError.unreadable(path: path, reason: "\(p)")
        }
        return try parse(data, path: path)
    }

    /// Parses the bytes of a `.npy` file as `read` does; `path` only names the file in errors.
    /// - Throws: the `NPYError`s of `read`.
    public static func parse(_ data: Data, path: String) throws -> NPYArray {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic, (1...3).contains(bytes[6]), bytes[7] == 0 else {
            let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw NPYError.badMagic(path: path, found: head.isEmpty ? "an empty file" : "bytes \(head)")
        }
        let major = bytes[6]
        let headerLen: Int
        let headerStart: Int
        if major == 1 {
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw NPYError.badHeader(path: path, reason: "file ends inside the header length") }
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        guard headerLen <= bytes.count - headerStart else {
            throw NPYError.badHeader(path: path, reason: "header length \(headerLen) but the file ends after \(bytes.count - headerStart) bytes")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLen)]
        let header: String
        if major == 3 {
            guard let h = String(validating: headerBytes, as: UTF8.self) else {
                throw NPYError.badHeader(path: path, reason: "version 3.0 header is not UTF-8")
            }
            header = h
        } else {
            header = String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) }))  // latin-1
        }
        guard header.unicodeScalars.count <= maxHeaderLength else {
            throw NPYError.badHeader(path: path, reason: "header of \(header.unicodeScalars.count) characters is longer than numpy's limit of \(maxHeaderLength)")
        }
        let (descr, fortran, shape) = try fields(of: header, python2Filter: major <= 2, path: path)

        guard case .str(let d) = descr, let dtype = floatDTypes[String(String.UnicodeScalarView(d))] else {
            throw NPYError.unsupportedDType(path: path, found: descr.repr)
        }
        // Element count and byte size with overflow checks: a shape is untrusted input.
        var count = 1
        for dim in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw NPYError.tooLarge(path: path, shape: shapeString(shape)) }
            count = p
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else { throw NPYError.tooLarge(path: path, shape: shapeString(shape)) }
        guard shape.count == 1 || shape.count == 2 else { throw NPYError.unsupportedRank(path: path, shape: shape) }
        let dataStart = headerStart + headerLen
        let found = bytes.count - dataStart
        guard found >= byteCount else {
            throw NPYError.truncated(path: path, shape: shape, expectedBytes: byteCount, foundBytes: found)
        }
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let src = UnsafeRawBufferPointer(rebasing: raw[dataStart..<(dataStart + byteCount)])
            out.withUnsafeMutableBufferPointer { dst in
                if dtype.size == 4 {
                    for i in 0..<count {
                        let bits = src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                        dst[i] = Float(bitPattern: dtype.bigEndian ? UInt32(bigEndian: bits) : UInt32(littleEndian: bits))
                    }
                } else {
                    for i in 0..<count {
                        let bits = src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                        dst[i] = Float(Double(bitPattern: dtype.bigEndian ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits)))
                    }
                }
            }
        }
        if fortran && shape.count == 2 && shape[0] > 1 && shape[1] > 1 {
            // Column-major: element (r, c) is at c * rows + r.
            let rows = shape[0], cols = shape[1]
            var c = [Float](repeating: 0, count: count)
            for j in 0..<cols { for i in 0..<rows { c[i * cols + j] = out[j * rows + i] } }
            out = c
        }
        return NPYArray(shape: shape, data: out)
    }

    /// `descr`, `fortran_order` and `shape` of a header, checked as numpy's `_read_array_header` checks them.
    private static func fields(of header: String, python2Filter: Bool, path: String) throws -> (PyLiteral, Bool, [Int]) {
        func bad(_ r: String) -> NPYError { .badHeader(path: path, reason: r) }
        let literal: PyLiteral
        do { literal = try NPYHeaderParser.parse(header, python2Filter: python2Filter) } catch let e as NPYHeaderParser.SyntaxError {
            throw bad("not a Python literal: \(e.reason)")
        }
        guard case .dict(let pairs) = literal else { throw bad("not a dict: \(literal.repr)") }
        var values: [String: PyLiteral] = [:]
        let expected = ["descr", "fortran_order", "shape"]
        for (key, value) in pairs {
            guard case .str(let k) = key else { throw bad("key \(key.repr) is not a string") }
            let name = String(String.UnicodeScalarView(k))
            guard expected.contains(where: { Array($0.unicodeScalars) == k }) else {
                throw bad("unexpected key \(key.repr); a header holds exactly 'descr', 'fortran_order' and 'shape'")
            }
            values[name] = value  // a repeated key keeps its last value, as in a Python dict
        }
        for k in expected where values[k] == nil { throw bad("no '\(k)' key") }
        guard case .bool(let fortran) = values["fortran_order"]! else {
            throw bad("'fortran_order' is not True or False: \(values["fortran_order"]!.repr)")
        }
        guard case .tuple(let dims) = values["shape"]! else { throw bad("'shape' is not a tuple: \(values["shape"]!.repr)") }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let v, let text) = d else { throw bad("'shape' holds \(d.repr), not an integer") }
            guard let v else { throw NPYError.tooLarge(path: path, shape: values["shape"]!.repr) }
            guard v >= 0 else { throw bad("'shape' holds the negative dimension \(text)") }
            shape.append(v)
        }
        return (values["descr"]!, fortran, shape)
    }

    /// Writes `a` as a format-1.0 `.npy` file (`'<f4'`, C order), atomically (see `AtomicFile`).
    /// The result loads with `numpy.load`.
    /// - Throws: `NPYError.shapeMismatch` if `a.shape` has not 1 or 2 non-negative dimensions or
    ///   its product differs from `a.data.count`; `AudioError.unwritable` if the file cannot be written.
    public static func write(_ a: NPYArray, to url: URL) throws {
        guard a.shape.count == 1 || a.shape.count == 2, a.shape.allSatisfy({ $0 >= 0 }),
              a.shape.reduce(1, *) == a.data.count else {
            throw NPYError.shapeMismatch(path: url.path, shape: a.shape, count: a.data.count)
        }
        let shapeText = a.shape.count == 1 ? "(\(a.shape[0]),)" : "(\(a.shape[0]), \(a.shape[1]))"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad with spaces so magic(6) + version(2) + length(2) + header + '\n' is a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data(magic)
        out.append(contentsOf: [1, 0])
        let hlen = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(hlen & 0xff), UInt8(hlen >> 8)])
        out.append(contentsOf: Array(header.utf8))
        var le = [UInt8](repeating: 0, count: a.data.count * 4)
        for (i, v) in a.data.enumerated() {
            let b = v.bitPattern.littleEndian
            le[4 * i] = UInt8(truncatingIfNeeded: b)
            le[4 * i + 1] = UInt8(truncatingIfNeeded: b >> 8)
            le[4 * i + 2] = UInt8(truncatingIfNeeded: b >> 16)
            le[4 * i + 3] = UInt8(truncatingIfNeeded: b >> 24)
        }
        out.append(contentsOf: le)
        try writingAtomically { try AtomicFile.write(out, to: url) }
    }

    /// A shape as Python prints it, `(7, 80)` or `(7,)`, cut to 120 characters (a header may list thousands).
    static func shapeString(_ shape: [Int]) -> String {
        MessageText.excerpt("(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")"))
    }
}
