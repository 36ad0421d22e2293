// Music training data: a MIDI manifest, pieces as notes and performance tokens, augmented random windows.
import AREngine
import Foundation
import MIDI
import NNCore
import Tabular

/// Errors about a music corpus (manifest format errors are `TableError`s).
public enum MusicDataError: Error, CustomStringConvertible, Equatable {
    case empty(path: String, split: String)
    /// A MIDI file with no notes to learn from or continue; `detail` adds what the reader tolerated, if anything.
    case noNotes(detail: String)
    /// A MIDI file whose notes run past `MusicCorpus.maxPieceSeconds` (its tokens would have no bound: one time
    /// shift per second of music).
    case tooLong(seconds: Double, limit: Double)

    public var description: String {
        switch self {
        case .noNotes(let d): return "the MIDI file holds no notes" + (d.isEmpty ? "" : " (\(d))")
        case .tooLong(let s, let l):
            return String(format: "the MIDI file's notes run to %.0f s; a piece may last at most %.0f s", s, l)
        case .empty(let p, let s): return "\(p): no usable MIDI files in split '\(s)'"
        }
    }
}

/// A row of a music manifest: TSV or CSV with a header naming `path` and `split` (and usually `collection`);
/// paths are relative to the manifest's folder.
public struct MusicManifestRow: Equatable, Sendable {
    public var path: String
    public var collection: String
    public var split: String
    /// 1-based line in the manifest.
    public var line: Int
}

/// One piece ready for training: its notes (sustain pedal already applied) and their tokens.
public struct MusicPiece: Sendable {
    public var path: String
    public var notes: [Note]
    /// The tokens of `notes` in `encoding`, BOS ... EOS.
    public var tokens: [Int]
    public var encoding: MusicEncoding

    public init(path: String, notes: [Note], encoding: MusicEncoding = .performance) {
        self.path = path
        self.notes = notes
        self.encoding = encoding
        tokens = encoding.encode(notes: notes)
    }

    /// Seconds of music: the latest note end (0 without notes).
    public var seconds: Double { notes.lazy.map(\.end).max() ?? 0 }
}

/// A MIDI file that could not be used, with a one-line reason.
public struct SkippedFile: Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): skipped: \(reason)" }
}

public enum MusicCorpus {
    /// Longest piece (or prime) read from a MIDI file, in seconds of music: one hour. A 37-byte file can place a
    /// note 10^8 s away (a delta time of 2^28 ticks at one tick per quarter note), which would take 10^8 time-shift
    /// tokens (a gigabyte) to encode.
    public static let maxPieceSeconds = 3600.0

    /// `MusicDataError.tooLong` if the latest note end (or start) is past `maxPieceSeconds`.
    static func checkLength(_ notes: [Note]) throws {
        let last = notes.lazy.flatMap { [$0.start, $0.end] }.filter(\.isFinite).max() ?? 0
        if last > maxPieceSeconds { throw MusicDataError.tooLong(seconds: last, limit: maxPieceSeconds) }
    }

    /// Parses a manifest (the `Table` format: TSV or CSV).
    /// - Throws: `TableError` for an unreadable file, a header without `path` and `split`, or a malformed row
    ///   (wrong field count, empty path), naming the line.
    public static func readManifest(_ url: URL) throws -> [MusicManifestRow] {
        let table = try Table.read(url)
        let cols = try table.require(["path", "split"], expected: "path, split[, collection]")
        let (pi, si) = (cols[0], cols[1])
        let ci = table.column("collection")
        return try table.rows.map { row in
            let f = try table.fields(row)
            guard !f[pi].isEmpty else { throw TableError.row(path: table.path, line: row.line, reason: "empty path") }
            return MusicManifestRow(path: f[pi], collection: ci.map { f[$0] } ?? "", split: f[si], line: row.line)
        }
    }

    /// Reads one MIDI file as a piece (sustain pedal applied to the notes).
    /// - Throws: `MIDIError` for an unreadable or corrupt file; `MusicDataError.noNotes` if it holds no notes,
    ///   `.tooLong` if its notes run past `maxPieceSeconds`.
    public static func loadPiece(_ url: URL, encoding: MusicEncoding = .performance) throws -> MusicPiece {
        let file = try MIDIFile.read(url: url)
        let notes = file.notes().applyingSustain(file.sustainSpans())
        try checkLength(notes)
        let piece = MusicPiece(path: url.path, notes: notes, encoding: encoding)
        guard piece.tokens.count > 2 else { throw MusicDataError.noNotes(detail: file.warnings.first.map { "\($0)" } ?? "") }
        return piece
    }

    /// Loads every file of `split`. Files that fail to parse or hold no notes are skipped and reported
    /// through `skipped`, never fatal. - Parameter limit: at most this many files (0 = all).
    public static func load(manifest url: URL, split: String, limit: Int = 0, encoding: MusicEncoding = .performance,
                            skipped: (SkippedFile) -> Void = { _ in }) throws -> [MusicPiece] {
        var rows = try readManifest(url).filter { $0.split == split }
        if limit > 0 { rows = Array(rows.prefix(limit)) }
        var pieces: [MusicPiece] = []
        for r in rows {
            let file = Table.resolve(r.path, relativeTo: url)
            do { pieces.append(try loadPiece(file, encoding: encoding)) } catch {
                skipped(SkippedFile(path: file.path, reason: "\(error)"))
            }
        }
        return pieces
    }
}

/// Augmentation of training pieces (Music Transformer, Huang et al. 2018): a random transposition of
/// `-maxTranspose...maxTranspose` semitones and a random time stretch in `1 ± maxStretch`, applied to the
/// notes and re-tokenised for every window drawn.
///
/// With a `randomProgramShare` above 0 (for `.performancePrograms` only), each track of a piece also plays, with that
/// probability, a General MIDI program drawn uniformly from 0...127 (independently per track and per window; drums stay
/// drums), so that a model trained on single-instrument pieces such as the chorales learns to keep whatever
/// instruments its prime has.
public struct MusicAugmentation: Codable, Equatable, Sendable {
    public var maxTranspose: Int
    public var maxStretch: Double
    /// Probability in 0...1 that a track gets a random program (0: never).
    public var randomProgramShare: Double
    /// The share `--random-programs` uses unless told otherwise.
    public static let defaultRandomProgramShare = 0.75
    public static let none = MusicAugmentation(maxTranspose: 0, maxStretch: 0)
    public static let standard = MusicAugmentation(maxTranspose: 3, maxStretch: 0.05)
    /// - Precondition: `randomProgramShare` is in 0...1.
    public init(maxTranspose: Int, maxStretch: Double, randomProgramShare: Double = 0) {
        precondition((0...1).contains(randomProgramShare), "random program share \(randomProgramShare) outside 0...1")
        self.maxTranspose = maxTranspose
        self.maxStretch = maxStretch
        self.randomProgramShare = randomProgramShare
    }
}

/// Teacher-forcing data over performance tokens: training batches of `batchSize` random windows of
/// `context + 1` tokens from augmented pieces (chosen in proportion to their length), and fixed
/// validation windows that cover every validation token once (non-overlapping windows of `context + 1`
/// tokens with stride `context`, the last padded with `ignoreIndex` = -1), without augmentation.
/// Every token but each piece's leading BOS is scored exactly once, as in `NGramModel.evaluate`.
public final class MusicTrainingData: TrainingData {
    public let train: [MusicPiece]
    public let valid: [MusicPiece]
    public let context: Int
    public let batchSize: Int
    public let augmentation: MusicAugmentation
    /// The pieces' encoding (that of the first training piece).
    public let encoding: MusicEncoding
    /// Training pieces drawn in proportion to their length in tokens.
    let picker: WeightedPicker
    let fixedValidation: [TokenBatch]

    /// - Precondition: `train` is not empty, `context >= 1`, `batchSize >= 1`.
    public init(train: [MusicPiece], valid: [MusicPiece], context: Int, batchSize: Int, augmentation: MusicAugmentation = .standard) {
        precondition(!train.isEmpty && context >= 1 && batchSize >= 1)
        self.train = train
        self.valid = valid
        self.context = context
        self.batchSize = batchSize
        self.augmentation = augmentation
        encoding = train[0].encoding
        picker = WeightedPicker(weights: train.map(\.tokens.count))
        fixedValidation = TokenBatch.windows(valid.map(\.tokens), context: context, batchSize: batchSize)
    }

    public var validationSignature: String { "\(validationTokenCount) tokens of \(valid.count) valid pieces in windows of \(context + 1)" }

    /// Tokens of a training piece under a random augmentation.
    public func augmentedTokens(_ piece: MusicPiece, rng: inout Xoshiro256) -> [Int] {
        let a = augmentation
        let programs = a.randomProgramShare > 0 && encoding == .performancePrograms
        guard a.maxTranspose > 0 || a.maxStretch > 0 || programs else { return piece.tokens }
        let shift = a.maxTranspose > 0 ? rng.nextInt(below: 2 * a.maxTranspose + 1) - a.maxTranspose : 0
        let factor = 1 + a.maxStretch * (2 * Double(rng.nextFloat()) - 1)
        var notes = (try? piece.notes.transposed(by: shift).stretched(by: factor)) ?? piece.notes
        if programs {
            var program: [Int: Int] = [:]  // track → program
            for t in Set(notes.map(\.track)).sorted() where Double(rng.nextFloat()) < a.randomProgramShare {
                program[t] = rng.nextInt(below: 128)
            }
            for i in notes.indices where notes[i].channel != 9 {
                if let p = program[notes[i].track] { notes[i].program = p }
            }
        }
        return encoding.encode(notes: notes)
    }

    public func trainingBatch(rng: inout Xoshiro256) -> TokenBatch {
        trainingBatch(rng: &rng, rows: 0..<batchSize)
    }

    public var batchRows: Int { batchSize }

    /// Rows `rows` of the batch `trainingBatch(rng:)` draws. Every row is drawn (an augmented piece's length decides
    /// the next draw), so `rng` advances as for the whole batch; only the rows asked for are kept.
    public func trainingBatch(rng: inout Xoshiro256, rows wanted: Range<Int>) -> TokenBatch {
        precondition(wanted.lowerBound >= 0 && wanted.upperBound <= batchSize && !wanted.isEmpty, "rows \(wanted) of a batch of \(batchSize)")
        var rows: [[Int]] = []
        for b in 0..<batchSize {
            let toks = augmentedTokens(train[picker.pick(&rng)], rng: &rng)
            let n = context + 1
            if toks.count > n {
                let start = rng.nextInt(below: toks.count - n + 1)
                if wanted.contains(b) { rows.append(Array(toks[start..<(start + n)])) }
            } else if wanted.contains(b) {
                rows.append(toks + [Int](repeating: -1, count: n - toks.count))
            }
        }
        return TokenBatch(tokens: rows, ignoreIndex: -1)
    }

    public func validationBatches() -> [TokenBatch] { fixedValidation }

    /// Number of scored validation tokens.
    public var validationTokenCount: Int {
        fixedValidation.reduce(0) { $0 + $1.tokens.reduce(0) { $0 + $1.dropFirst().filter { $0 >= 0 }.count } }
    }
}
