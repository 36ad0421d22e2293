// Text training data: plain-text files named by split (`*.train.txt`, `*.valid.txt`), checked to be text, read as
// byte tokens, and served to the shared trainer as random windows (training) and fixed windows (validation).
import AREngine
import AtomicIO
import Foundation
import NNCore

/// Why a text corpus cannot be used. Each description is one line naming the file or folder.
public enum TextDataError: Error, CustomStringConvertible, Equatable {
    /// No file of `split` among the paths given (`path`: what was searched).
    case missingSplit(path: String, split: String)
    case emptyFile(path: String)
    /// A file holding a NUL byte or bytes that are not UTF-8, at byte `offset`.
    case binaryFile(path: String, offset: Int, reason: String)
    /// A file given by name whose split cannot be told from its name.
    case unknownSplit(path: String)
    case unreadable(path: String, reason: String)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .missingSplit(let p, let s):
            return "\(p): no \(s) text: give a file named *.\(s).txt (or \(s).txt, *_\(s).txt, *-\(s).txt)"
        case .emptyFile(let p): return "\(p): empty text file"
        case .binaryFile(let p, let o, let r): return "\(p): not a text file (\(r) at byte \(o))"
        case .unknownSplit(let p): return "\(p): cannot tell the split from the name: call it NAME.train.txt or NAME.valid.txt"
        case .unreadable(let p, let r): return "\(p): \(r)"
        }
    }
}

/// The texts of a corpus, split by file name: `kjv.train.txt` is train, `kjv.valid.txt` valid (the last `.`, `_` or
/// `-` separated word of the name before `.txt`; `train.txt` and `valid.txt` too).
public struct TextCorpus: Sendable {
    /// Largest text file read: 1 GiB (byte tokens take 2 bytes each in memory).
    public static let maxFileBytes = 1 << 30

    /// (path, split) of every text file, sorted by path.
    public let files: [(path: String, split: String)]

    /// The split a file name says (`train`, `valid`, `test`), nil if it says none.
    public static func split(ofFileName name: String) -> String? {
        guard name.lowercased().hasSuffix(".txt") else { return nil }
        let stem = name.dropLast(4).lowercased()
        let last = stem.split(whereSeparator: { $0 == "." || $0 == "_" || $0 == "-" }).last.map(String.init) ?? ""
        return ["train", "valid", "test"].contains(last) ? last : nil
    }

    /// The text files of `paths`: each a folder (its `*.txt` files whose names say a split; others are ignored) or a
    /// file (whose name must say its split).
    /// - Throws: `TextDataError.unreadable` for a path that does not exist or a folder that cannot be listed,
    ///   `.unknownSplit` for a file named without a split.
    public init(paths: [String]) throws {
        var files: [(String, String)] = []
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: p, isDirectory: &isDir) else { throw TextDataError.unreadable(path: p, reason: "no such file or folder") }
            if isDir.boolValue {
                let names: [String]
                do { names = try fm.contentsOfDirectory(atPath: p) } catch {
                    throw TextDataError.unreadable(path: p, reason: "cannot list the folder")
                }
                for n in names.sorted() { if let s = Self.split(ofFileName: n) { files.append(((p as NSString).appendingPathComponent(n), s)) } }
            } else {
                guard let s = Self.split(ofFileName: (p as NSString).lastPathComponent) else { throw TextDataError.unknownSplit(path: p) }
                files.append((p, s))
            }
        }
        self.files = files.map { (path: $0.0, split: $0.1) }
        searched = paths.joined(separator: ", ")
    }

    let searched: String

    /// The files of `split`. - Throws: `TextDataError.missingSplit` when there are none.
    public func paths(_ split: String) throws -> [String] {
        let hit = files.filter { $0.split == split }.map(\.path)
        guard !hit.isEmpty else { throw TextDataError.missingSplit(path: searched, split: split) }
        return hit
    }

    /// The byte tokens of `split`: each file as BOS, its bytes, EOS, one after another.
    /// - Throws: `.missingSplit`, and for any file of the split `.emptyFile`, `.binaryFile`, `.unreadable`.
    public func tokens(_ split: String) throws -> [Int] {
        var out: [Int] = []
        for p in try paths(split) {
            let bytes = try Self.readText(p)
            out.reserveCapacity(out.count + bytes.count + 2)
            out.append(ByteTokenizer.bos)
            for b in bytes { out.append(Int(b)) }
            out.append(ByteTokenizer.eos)
        }
        return out
    }

    /// The bytes of a text file: a regular file of at most `maxFileBytes`, not empty, UTF-8 without NUL bytes.
    public static func readText(_ path: String) throws -> [UInt8] {
        let data: Data
        do { data = try BoundedRead.contents(of: URL(fileURLWithPath: path), limit: maxFileBytes) } catch {
            throw TextDataError.unreadable(path: path, reason: "\(error)")
        }
        guard !data.isEmpty else { throw TextDataError.emptyFile(path: path) }
        let bytes = [UInt8](data)
        if let (offset, reason) = firstBinaryByte(bytes) { throw TextDataError.binaryFile(path: path, offset: offset, reason: reason) }
        return bytes
    }

    /// Where `bytes` stop being text: the first NUL byte or ill-formed UTF-8 sequence (offset, reason), nil if none.
    public static func firstBinaryByte(_ bytes: [UInt8]) -> (Int, String)? {
        if let z = bytes.firstIndex(of: 0) { return (z, "a NUL byte") }
        var d = UTF8StreamDecoder(), valid = 0
        for (i, b) in bytes.enumerated() {
            _ = d.feed(b)
            if d.invalidSequences > 0 { return (valid, "invalid UTF-8") }
            if d.heldBack == 0 { valid = i + 1 }
        }
        return d.heldBack > 0 ? (valid, "a UTF-8 sequence cut short at the end") : nil
    }
}

/// Teacher-forcing data over byte tokens for the shared `Trainer`: training batches of `batchSize` windows of
/// `context + 1` tokens at uniformly random offsets of the train stream (each window starts from a zero state:
/// backpropagation through time is truncated at the window), and fixed validation windows: `validationWindows`
/// non-overlapping windows of `context + 1` tokens (stride `context`) spread evenly over the valid stream (all of
/// them when it holds fewer).
public final class TextTrainingData: TrainingData {
    public let train: [Int]
    public let valid: [Int]
    public let context: Int
    public let batchSize: Int
    let fixedValidation: [TokenBatch]
    public let validationTokenCount: Int

    /// - Precondition: `train.count > context + 1`, `context >= 1`, `batchSize >= 1`, `validationWindows >= 1`.
    public init(train: [Int], valid: [Int], context: Int, batchSize: Int, validationWindows: Int = 256) {
        precondition(train.count > context + 1 && context >= 1 && batchSize >= 1 && validationWindows >= 1)
        self.train = train
        self.valid = valid
        self.context = context
        self.batchSize = batchSize
        let all = TokenBatch.windows([valid], context: context, batchSize: 1).map { $0.tokens[0] }
        let step = max(1, all.count / validationWindows)
        let picked = stride(from: 0, to: all.count, by: step).prefix(validationWindows).map { all[$0] }
        fixedValidation = stride(from: 0, to: picked.count, by: batchSize).map {
            TokenBatch(tokens: Array(picked[$0..<min(picked.count, $0 + batchSize)]), ignoreIndex: -1)
        }
        validationTokenCount = picked.reduce(0) { $0 + $1.dropFirst().filter { $0 >= 0 }.count }
    }

    public var validationSignature: String {
        "\(validationTokenCount) bytes of \(valid.count) valid tokens in windows of \(context + 1)"
    }

    public func trainingBatch(rng: inout Xoshiro256) -> TokenBatch {
        let n = context + 1
        let rows = (0..<batchSize).map { _ -> [Int] in
            let start = rng.nextInt(below: train.count - n + 1)
            return Array(train[start..<(start + n)])
        }
        return TokenBatch(tokens: rows, ignoreIndex: -1)
    }

    public func validationBatches() -> [TokenBatch] { fixedValidation }
}
