// Reader and writer for the safetensors format (float32 tensors), with atomic writes.
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

    public var description: String {
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

    /// Reads every tensor and the metadata.
    /// - Throws: `TensorFileError` if the file is missing, truncated, malformed or holds a non-F32 tensor.
    public static func read(_ url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw TensorFileError.notFound(file: path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw TensorFileError.corrupt(file: path, reason: "unreadable") }
        guard data.count >= 8 else { throw TensorFileError.corrupt(file: path, reason: "\(data.count) bytes, too short") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard n > 0, n <= UInt64(data.count - 8) else {
            throw TensorFileError.corrupt(file: path, reason: "header length \(n) exceeds file size \(data.count)")
        }
        let headerData = data.subdata(in: 8..<(8 + Int(n)))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw TensorFileError.corrupt(file: path, reason: "header is not a JSON object")
        }
        let base = 8 + Int(n)
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offs = info["data_offsets"] as? [Int], offs.count == 2
            else { throw TensorFileError.corrupt(file: path, reason: "bad entry for '\(name)'") }
            guard dtype == "F32" else { throw TensorFileError.unsupportedDType(file: path, name: name, dtype: dtype) }
            let count = shape.reduce(1, *)
            guard shape.allSatisfy({ $0 >= 0 }), offs[0] >= 0, offs[1] - offs[0] == count * 4,
                  base + offs[1] <= data.count
            else { throw TensorFileError.corrupt(file: path, reason: "tensor '\(name)' data out of bounds or wrong size") }
            var floats = [Float](repeating: 0, count: count)
            floats.withUnsafeMutableBytes { dst in
                _ = data.copyBytes(to: dst, from: (base + offs[0])..<(base + offs[1]))
            }
            tensors[name] = (shape, floats)
        }
        return (tensors, metadata)
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
