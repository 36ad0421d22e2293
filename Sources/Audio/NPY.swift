// Reading and writing NumPy .npy files (format 1.0/2.0/3.0) holding float32 little-endian C-order 1-D or 2-D arrays.
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

/// Problems with the content of an .npy file (I/O problems are `AudioError`).
public enum NPYError: Error, CustomStringConvertible, Equatable {
    /// The file does not start with `\x93NUMPY` or has an unknown format version.
    case badMagic(path: String, found: String)
    /// The header is cut off or not a readable NumPy header dict.
    case badHeader(path: String, reason: String)
    /// The dtype is not float32 little-endian (`'<f4'`).
    case unsupportedDType(path: String, found: String)
    /// The array is stored in Fortran (column-major) order.
    case fortranOrder(path: String, shape: [Int])
    /// The array has a number of dimensions other than 1 or 2.
    case unsupportedRank(path: String, shape: [Int])
    /// The data section is shorter (or longer) than the shape requires.
    case truncated(path: String, shape: [Int], expectedBytes: Int, foundBytes: Int)
    /// `NPY.write` was given an array whose `data.count` does not match its shape, or a bad rank.
    case shapeMismatch(path: String, shape: [Int], count: Int)

    public var description: String {
        switch self {
        case .badMagic(let path, let found):
            return "\(path): not a NumPy .npy file (expected magic \\x93NUMPY and version 1, 2 or 3, found \(found))"
        case .badHeader(let path, let reason):
            return "\(path): malformed .npy header (\(reason))"
        case .unsupportedDType(let path, let found):
            return "\(path): unsupported .npy dtype: expected float32 ('<f4'), got '\(found)'"
        case .fortranOrder(let path, let shape):
            return "\(path): .npy array of shape \(NPY.shapeString(shape)) is in Fortran order; expected C order (save with np.ascontiguousarray)"
        case .unsupportedRank(let path, let shape):
            return "\(path): .npy array has shape \(NPY.shapeString(shape)); expected 1 or 2 dimensions"
        case .truncated(let path, let shape, let expected, let found):
            return "\(path): .npy data for shape \(NPY.shapeString(shape)) float32 needs \(expected) bytes, found \(found)"
        case .shapeMismatch(let path, let shape, let count):
            return "\(path): cannot write .npy: shape \(NPY.shapeString(shape)) (1 or 2 dimensions expected) does not match \(count) values"
        }
    }
}

/// NumPy `.npy` reader/writer restricted to float32 (`'<f4'`), C order, 1 or 2 dimensions.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // \x93NUMPY

    /// Reads a `.npy` file written by `numpy.save` (format 1.0, 2.0 or 3.0).
    /// - Returns: the array; shape `[n]` or `[rows, cols]`, data row-major.
    /// - Throws: `AudioError.fileNotFound` / `AudioError.unreadable` for I/O problems;
    ///   `NPYError.badMagic`, `.badHeader`, `.unsupportedDType` (anything but `'<f4'`, e.g. `'<f8'`,
    ///   `'<i4'`, big-endian `'>f4'`), `.fortranOrder`, `.unsupportedRank`, `.truncated`.
    public static func read(_ url: URL) throws -> NPYArray {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw AudioError.fileNotFound(path: path) }
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw AudioError.unreadable(path: path, reason: error.localizedDescription)
        }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic, (1...3).contains(bytes[6]) else {
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
        guard headerStart + headerLen <= bytes.count else {
            throw NPYError.badHeader(path: path, reason: "header says \(headerLen) bytes but the file ends after \(bytes.count - headerStart)")
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLen)], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw NPYError.badHeader(path: path, reason: "header is not text")
        }
        let descr = try stringValue(for: "descr", in: header, path: path)
        let fortran = try boolValue(for: "fortran_order", in: header, path: path)
        let shape = try shapeValue(in: header, path: path)

        guard descr == "<f4" else { throw NPYError.unsupportedDType(path: path, found: descr) }
        guard shape.count == 1 || shape.count == 2 else { throw NPYError.unsupportedRank(path: path, shape: shape) }
        if fortran && shape.count == 2 && shape[0] > 1 && shape[1] > 1 {
            throw NPYError.fortranOrder(path: path, shape: shape)
        }
        let count = shape.reduce(1, *)
        let dataStart = headerStart + headerLen
        let found = bytes.count - dataStart
        guard found == count * 4 else {
            throw NPYError.truncated(path: path, shape: shape, expectedBytes: count * 4, foundBytes: found)
        }
        var data = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                let bits = raw.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: UInt32.self)
                data[i] = Float(bitPattern: UInt32(littleEndian: bits))
            }
        }
        return NPYArray(shape: shape, data: data)
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

    static func shapeString(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }

    /// Text following `'key':` in the header dict, with leading spaces removed.
    private static func valueText(for key: String, in header: String, path: String) throws -> Substring {
        for quote in ["'", "\""] {
            if let r = header.range(of: "\(quote)\(key)\(quote)") {
                var rest = header[r.upperBound...].drop(while: { $0 == " " })
                guard rest.first == ":" else { break }
                rest = rest.dropFirst().drop(while: { $0 == " " })
                return rest
            }
        }
        throw NPYError.badHeader(path: path, reason: "no '\(key)' entry in \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    private static func stringValue(for key: String, in header: String, path: String) throws -> String {
        let rest = try valueText(for: key, in: header, path: path)
        guard let q = rest.first, q == "'" || q == "\"" else {
            throw NPYError.badHeader(path: path, reason: "'\(key)' is not a simple string (structured dtypes are not supported)")
        }
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: q) else { throw NPYError.badHeader(path: path, reason: "unterminated '\(key)'") }
        return String(body[..<end])
    }

    private static func boolValue(for key: String, in header: String, path: String) throws -> Bool {
        let rest = try valueText(for: key, in: header, path: path)
        if rest.hasPrefix("True") { return true }
        if rest.hasPrefix("False") { return false }
        throw NPYError.badHeader(path: path, reason: "'\(key)' is neither True nor False")
    }

    private static func shapeValue(in header: String, path: String) throws -> [Int] {
        let rest = try valueText(for: "shape", in: header, path: path)
        guard rest.first == "(", let close = rest.firstIndex(of: ")") else {
            throw NPYError.badHeader(path: path, reason: "'shape' is not a tuple")
        }
        let inner = rest[rest.index(after: rest.startIndex)..<close]
        var dims: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if t.isEmpty { continue }
            guard let d = Int(t), d >= 0 else { throw NPYError.badHeader(path: path, reason: "bad dimension '\(t)' in shape") }
            dims.append(d)
        }
        return dims
    }
}
