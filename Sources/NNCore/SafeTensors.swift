// Reader (checked: sizes, offsets, dtypes) and writer for the safetensors format (float32 tensors), with atomic writes.
import AtomicIO
import Foundation

/// Errors reading or writing tensor files. Each names the file and, where relevant, the tensor.
public enum TensorFileError: Error, CustomStringConvertible, Equatable {
    case notFound(file: String)
    case corrupt(file: String, reason: String)
    case unsupportedDType(file: String, name: String, dtype: String)
    case missingTensor(file: String, name: String)
    case unexpectedTensor(file: String, name: String)
    case shapeMismatch(file: String, name: String, expected: [Int], actual: [Int])
    case writeFailed(file: String, reason: String)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .notFound(let f): return "\(f): no such file"
        case .corrupt(let f, let r): return "\(f): not a valid safetensors file (\(r))"
        case .unsupportedDType(let f, let n, let d): return "\(f): tensor '\(n)' has dtype \(d), expected F32"
        case .missingTensor(let f, let n): return "\(f): tensor '\(n)' is missing"
        case .unexpectedTensor(let f, let n): return "\(f): unexpected tensor '\(n)' (model config does not use it)"
        case .shapeMismatch(let f, let n, let e, let a):
            return "\(f): tensor '\(n)' has shape \(a), expected \(e) from config.json"
        case .writeFailed(let f, let r): return "\(f): cannot write (\(r))"
        }
    }
}

/// Hugging Face's safetensors format: an 8-byte little-endian header length, a JSON header mapping
/// each tensor name to `{dtype, shape, data_offsets}` (plus optional `__metadata__` of strings), then
/// the raw little-endian data. Loadable from Python with `safetensors.numpy.load_file`.
public enum SafeTensors {
    public typealias Tensor = (shape: [Int], data: [Float])

    /// Writes float32 tensors atomically (temporary file, fsync, rename).
    public static func write(
        _ tensors: [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)],
        metadata: [String: String] = [:], to url: URL
    ) throws {
        try FileIO.writeAtomically(try encode(tensors, metadata: metadata), to: url)
    }

    /// The bytes of a safetensors file holding `tensors` (data in the order given) and `metadata`.
    public static func encode(
        _ tensors: [(name: String, shape: [Int], data: UnsafeBufferPointer<Float>)], metadata: [String: String] = [:]
    ) throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            precondition(t.shape.reduce(1, *) == t.data.count, "tensor \(t.name) shape does not match its data")
            let bytes = t.data.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (json.count + 8) % 8 != 0 { json.append(0x20) } // pad with spaces to align the data
        var out = Data(capacity: 8 + json.count + offset)
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for t in tensors {
            t.data.withMemoryRebound(to: UInt8.self) { out.append(contentsOf: UnsafeRawBufferPointer($0)) }
        }
        return out
    }

    /// Reads every tensor and the metadata (`SafeTensorsFile.open`, then each tensor copied out).
    /// - Throws: `TensorFileError` if the file is missing, truncated, malformed or holds a non-F32 tensor.
    public static func read(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let file = try SafeTensorsFile.open(url)
        var tensors: [String: Tensor] = [:]
        for (name, e) in file.entries { tensors[name] = (e.shape, file.floats(name)) }
        return (tensors, file.metadata)
    }
}

/// A safetensors file in memory with its header parsed and checked: every tensor's dtype, shape and byte range.
///
/// The checks are those of the reference implementation (huggingface/safetensors `Metadata::validate`), with
/// overflow-checked arithmetic on every size read from the file:
/// - the 8-byte header length is at most 100,000,000 and within the file; the header is a UTF-8 JSON object;
/// - each entry has a `dtype` string, a `shape` of non-negative integers and `data_offsets` `[begin, end]`;
///   `__metadata__`, if present, maps strings to strings;
/// - sorted by offsets, the tensors tile the data section: each begins where the previous ended, its byte size is
///   `product(shape) x 4` (computed with overflow checks), and the last ends at the end of the file.
/// Only F32 tensors are accepted (`TensorFileError.unsupportedDType` for any other dtype).
public struct SafeTensorsFile {
    /// One tensor: its shape and where its little-endian float32 data lies in the file.
    public struct Entry: Equatable, Sendable {
        public let shape: [Int]
        /// Product of `shape` (checked against the byte range when the file was parsed).
        public let count: Int
        /// Byte range in the file (header included in the numbering).
        public let bytes: Range<Int>
    }

    /// Largest header the reference implementation reads (`MAX_HEADER_SIZE`).
    public static let maxHeaderLength = 100_000_000

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    let data: Data

    /// Largest file `open` reads by default: the weights of `ModelLimits.maxParameters` floats twice over (a
    /// checkpoint's Adam moments), plus the largest header.
    public static let maxFileBytes = 2 * 4 * ModelLimits.maxParameters + maxHeaderLength + 8

    /// Reads and checks a regular file of at most `limit` bytes.
    /// - Throws: `TensorFileError.notFound`, `.corrupt` (naming the field or tensor, or the file's size), `.unsupportedDType`.
    public static func open(_ url: URL, limit: Int = maxFileBytes) throws -> SafeTensorsFile {
        let path = url.path
        let data: Data
        do { data = try BoundedRead.contents(of: url, limit: limit) } catch let p as BoundedRead.Problem {
            if p == .missing { throw TensorFileError.notFound(file: path) }
            throw TensorFileError.corrupt(file: path, reason: "\(p)")
        }
        return try parse(data, path: path)
    }

    /// Parses and checks the bytes of a file as `open` does; `path` only names the file in errors.
    public static func parse(_ data: Data, path: String) throws -> SafeTensorsFile {
        func corrupt(_ r: String) -> TensorFileError { .corrupt(file: path, reason: r) }
        guard data.count >= 8 else { throw corrupt("\(data.count) bytes, too short for the 8-byte header length") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard n <= UInt64(maxHeaderLength) else {
            throw corrupt("header length \(n) exceeds the format's limit of \(maxHeaderLength) bytes")
        }
        guard n >= 2, Int(n) <= data.count - 8 else {
            throw corrupt("header length \(n) does not fit in the file's \(data.count) bytes")
        }
        let headerEnd = 8 + Int(n)
        let headerData = data.subdata(in: 8..<headerEnd)
        guard String(data: headerData, encoding: .utf8) != nil else { throw corrupt("header is not UTF-8") }
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw corrupt("header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var found: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for name in header.keys.sorted() {  // in name order, so the first problem reported is always the same
            let value = header[name]!
            let shown = MessageText.excerpt(name)  // names are untrusted text: escaped and cut for messages
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw corrupt("__metadata__ is not a map of strings to strings") }
                metadata = m
                continue
            }
            guard let info = value as? [String: Any] else { throw corrupt("entry '\(shown)' is not a JSON object") }
            guard let dtype = info["dtype"] as? String else { throw corrupt("tensor '\(shown)' has no dtype string") }
            guard dtype == "F32" else { throw TensorFileError.unsupportedDType(file: path, name: shown, dtype: MessageText.excerpt(dtype)) }
            guard let shapeArray = info["shape"] as? [Any] else { throw corrupt("tensor '\(shown)' has no shape list") }
            let shape = try shapeArray.map { d -> Int in
                guard let v = exactInt(d), v >= 0 else { throw corrupt("tensor '\(shown)' has shape \(MessageText.excerpt("\(shapeArray)")), not a list of integers >= 0") }
                return v
            }
            guard let offs = info["data_offsets"] as? [Any], offs.count == 2, let begin = exactInt(offs[0]), let end = exactInt(offs[1]),
                  begin >= 0, end >= begin else {
                throw corrupt("tensor '\(shown)' has data_offsets \(info["data_offsets"].map { MessageText.excerpt("\($0)") } ?? "missing"), not [begin, end] with 0 <= begin <= end")
            }
            found.append((name, shape, begin, end))
        }
        // The tensors, in offset order, must tile the data section exactly.
        found.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var entries: [String: Entry] = [:]
        var next = 0
        for t in found {
            let shown = MessageText.excerpt(t.name)
            guard t.begin == next else {
                throw corrupt("tensor '\(shown)' starts at data offset \(t.begin), expected \(next) (tensors must be contiguous, without gaps or overlaps)")
            }
            var count = 1
            for d in t.shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw corrupt("tensor '\(shown)' has shape \(MessageText.excerpt("\(t.shape)")), whose size overflows 64 bits") }
                count = p
            }
            let (bytes, o) = count.multipliedReportingOverflow(by: 4)
            guard !o else { throw corrupt("tensor '\(shown)' has shape \(MessageText.excerpt("\(t.shape)")), whose size overflows 64 bits") }
            guard bytes == t.end - t.begin else {
                throw corrupt("tensor '\(shown)' has shape \(MessageText.excerpt("\(t.shape)")) but data_offsets [\(t.begin), \(t.end)] hold \(t.end - t.begin) bytes")
            }
            guard t.end <= data.count - headerEnd else {
                throw corrupt("tensor '\(shown)' has data_offsets [\(t.begin), \(t.end)] beyond the \(data.count - headerEnd) data bytes of the file")
            }
            entries[t.name] = Entry(shape: t.shape, count: count, bytes: (headerEnd + t.begin)..<(headerEnd + t.end))
            next = t.end
        }
        guard headerEnd + next == data.count else {
            throw corrupt("the tensors end at data offset \(next) but the file holds \(data.count - headerEnd) data bytes")
        }
        return SafeTensorsFile(path: path, entries: entries, metadata: metadata, data: data)
    }

    /// A JSON number that is exactly an integer within `Int` (NSNumber bridging is exact: 1.5 and 2^64 give nil).
    private static func exactInt(_ v: Any) -> Int? { v as? Int }

    /// The floats of tensor `name` (row-major), `[product(shape)]`. - Precondition: the tensor exists.
    public func floats(_ name: String) -> [Float] {
        guard let e = entries[name] else { preconditionFailure("no tensor \(name) in \(path)") }
        return [Float](unsafeUninitializedCapacity: e.count) { buffer, initialized in
            copy(name, to: buffer.baseAddress!)
            initialized = e.count
        }
    }

    /// Copies tensor `name` (`product(shape)` floats) to `destination`. - Precondition: the tensor exists.
    public func copy(_ name: String, to destination: UnsafeMutablePointer<Float>) {
        guard let e = entries[name] else { preconditionFailure("no tensor \(name) in \(path)") }
        guard e.count > 0 else { return }
        data.withUnsafeBytes { raw in
            let src = UnsafeRawBufferPointer(rebasing: raw[e.bytes])
            for i in 0..<e.count {
                destination[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        }
    }
}

/// Small file helpers shared by checkpoints and model files.
public enum FileIO {
    /// Writes `data` to a temporary file beside `url`, fsyncs it and renames it over `url` (AtomicIO),
    /// so readers never see a partial file. - Throws: `TensorFileError.writeFailed`.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        do { try AtomicFile.write(data, to: url) } catch let e as AtomicFile.WriteError {
            throw TensorFileError.writeFailed(file: e.path, reason: e.reason)
        }
    }

    /// The one JSON encoding of the files synth writes (config.json, trainer_state.json, settings.json): pretty,
    /// keys sorted, slashes unescaped, ending in a newline.
    public static func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try enc.encode(value)
        data.append(0x0A)
        return data
    }

    /// `encodeJSON(value)` written atomically.
    public static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        try writeAtomically(try encodeJSON(value), to: url)
    }
}
