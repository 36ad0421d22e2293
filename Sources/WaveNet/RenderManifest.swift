// Render manifests (CSV/TSV: input, speaker[, output][, seed]), per-line checks, output names, seeds and shards.
import AtomicIO
import Foundation
import Tabular

/// One data row of a render manifest.
public struct RenderLine: Equatable, Sendable {
    /// 1-based line number in the file (for messages).
    public var line: Int
    /// 0-based index among the data rows (blank lines are not rows); decides the shard.
    public var index: Int
    /// Audio file or `.npy` log-mels, as written (relative paths are resolved against the manifest's folder).
    public var input: String
    public var speaker: String
    /// Output file name inside the output folder, always ending in `.wav`.
    public var output: String
    /// The `seed` column, if given.
    public var seed: UInt64?
}

/// A row that cannot be rendered, with the reason (it still belongs to a shard by its index).
public struct RenderProblem: Equatable, Sendable {
    public var line: Int
    public var index: Int
    public var reason: String
}

/// A parsed render manifest: a header naming `input` and `speaker` (and optionally `output` and `seed`),
/// then one utterance per line, in the `Table` format (TSV or CSV with double quotes). Problems with single
/// rows are not thrown: they are collected in `problems` so the other rows still render.
///
/// Output names: the `output` column, else the input's file name with its extension replaced by `.wav`;
/// `.wav` is appended when missing. Names must be plain file names (no `/`, not starting with `.`, no control
/// characters such as NUL or a line break), and inputs must not hold a NUL byte.
/// A name used by an earlier row makes the later row a problem, over the whole manifest and before
/// sharding, so shards never write the same file.
public struct RenderManifest: Sendable {
    public var path: String
    public var lines: [RenderLine]
    public var problems: [RenderProblem]
    /// Number of data rows (renderable lines + problems).
    public var rowCount: Int { lines.count + problems.count }

    /// - Throws: `TableError.unreadable` or `.header` (see `parse`).
    public static func read(_ url: URL) throws -> RenderManifest {
        try parse(Table.read(url))
    }

    /// - Throws: `TableError.header` when the header is missing or lacks `input` or `speaker`.
    public static func parse(_ text: String, path: String) throws -> RenderManifest {
        try parse(Table.parse(text, path: path))
    }

    static func parse(_ table: Table) throws -> RenderManifest {
        let cols = try table.require(["input", "speaker"], expected: "input, speaker[, output][, seed]")
        let (ii, si) = (cols[0], cols[1])
        let oi = table.column("output"), di = table.column("seed")
        var out = RenderManifest(path: table.path, lines: [], problems: [])
        var firstUse: [String: Int] = [:]
        for row in table.rows {
            func problem(_ r: String) { out.problems.append(RenderProblem(line: row.line, index: row.index, reason: MessageText.oneLine(r))) }
            if let p = row.problem { problem(p); continue }
            let f = row.fields
            let input = f[ii], speaker = f[si]
            guard !input.isEmpty else { problem("empty input"); continue }
            guard !input.unicodeScalars.contains("\0") else { problem("input contains a NUL byte, which no path can hold"); continue }
            guard !speaker.isEmpty else { problem("empty speaker"); continue }
            var seed: UInt64?
            if let di, !f[di].isEmpty {
                guard let s = UInt64(f[di]) else { problem("seed must be an integer in 0...\(UInt64.max), got '\(f[di])'"); continue }
                seed = s
            }
            var name = oi.map { f[$0] } ?? ""
            if name.isEmpty {
                name = ((input as NSString).lastPathComponent as NSString).deletingPathExtension
            }
            if !name.lowercased().hasSuffix(".wav") { name += ".wav" }
            if let c = name.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                problem("output name \(name.debugDescription) holds the control character U+\(String(format: "%04X", c.value)) (a NUL byte would be written as %00); give a plain file name")
                continue
            }
            guard !name.contains("/"), !name.hasPrefix(".") else {
                problem("output name '\(name)' must be a plain file name (no '/', not starting with '.')"); continue
            }
            if let first = firstUse[name] {
                problem("duplicate output name '\(name)' (already used on line \(first))"); continue
            }
            firstUse[name] = row.line
            out.lines.append(RenderLine(line: row.line, index: row.index, input: input, speaker: speaker, output: name, seed: seed))
        }
        return out
    }

    /// The seed of a line: its `seed` column if given, else `base &+ fnv1a64(output name)` (FNV-1a, 64-bit,
    /// over the UTF-8 bytes of the output file name). Stable across runs, shards, batch sizes and orderings.
    public static func seed(for line: RenderLine, base: UInt64) -> UInt64 {
        line.seed ?? base &+ fnv1a64(line.output)
    }

    /// 64-bit FNV-1a hash of a string's UTF-8 bytes.
    public static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}

/// A deterministic 1/N share of a manifest: data row `i` (0-based) belongs to shard `i mod N`; shards are
/// numbered 0..<N (the numbering of `SLURM_ARRAY_TASK_ID` for `--array=0-(N-1)` and of `JOB_COMPLETION_INDEX`).
public struct RenderShard: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int
    public static let all = RenderShard(uncheckedIndex: 0, count: 1)

    init(uncheckedIndex: Int, count: Int) { index = uncheckedIndex; self.count = count }

    /// - Throws: a message when `count < 1` or `index` is outside `0..<count`.
    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw RenderShardError("shard count must be >= 1, got \(count)") }
        guard index >= 0, index < count else {
            throw RenderShardError("shard index must be in 0...\(count - 1) (0-based), got \(index)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `K/N` (0-based K).
    public init(parsing s: String) throws {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw RenderShardError("--shard must look like K/N with 0 <= K < N (e.g. 0/4), got '\(s)'")
        }
        try self.init(index: k, count: n)
    }

    /// The shard described by the environment, or nil when none of the variables is set:
    /// Slurm job arrays (`SLURM_ARRAY_TASK_ID` - `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`), or
    /// Kubernetes indexed Jobs (`JOB_COMPLETION_INDEX` of `SYNTH_SHARDS`, which the Job must set to its
    /// `completions`, since Kubernetes does not export it).
    public static func fromEnvironment(_ env: [String: String]) throws -> RenderShard? {
        func int(_ k: String) throws -> Int? {
            guard let v = env[k] else { return nil }
            guard let i = Int(v) else { throw RenderShardError("\(k)='\(v)' is not an integer") }
            return i
        }
        if let id = try int("SLURM_ARRAY_TASK_ID") {
            guard let n = try int("SLURM_ARRAY_TASK_COUNT") else {
                throw RenderShardError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard K/N")
            }
            let base = try int("SLURM_ARRAY_TASK_MIN") ?? 0
            return try RenderShard(index: id - base, count: n)
        }
        if let k = try int("JOB_COMPLETION_INDEX") {
            guard let n = try int("SYNTH_SHARDS") else {
                throw RenderShardError("JOB_COMPLETION_INDEX is set but SYNTH_SHARDS (the Job's completions) is not; set it or pass --shard K/N")
            }
            return try RenderShard(index: k, count: n)
        }
        return nil
    }

    public func contains(_ rowIndex: Int) -> Bool { rowIndex % count == index }
    public var description: String { "\(index)/\(count)" }
}

public struct RenderShardError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}
