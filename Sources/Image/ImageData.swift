// Grey-level images from CSV (one image per row, pixels in raster order, then the label) and training batches of them.
import AREngine
import Foundation
import NNCore
import Tabular

/// Images of one size with integer grey levels and class labels, read from a CSV file such as
/// `../shared/data/images/digits.train.csv` (UCI optical digits via scikit-learn: 8x8, levels 0...16, labels 0...9).
public struct ImageSet: Sendable {
    public let height: Int, width: Int, levels: Int
    /// Pixels of every image in raster order (row by row, left to right), each in `0..<levels`: `[count][height × width]`.
    public var pixels: [[Int]]
    /// The class of each image.
    public var labels: [Int]

    public var count: Int { pixels.count }

    public init(height: Int, width: Int, levels: Int, pixels: [[Int]], labels: [Int]) {
        precondition(pixels.count == labels.count && pixels.allSatisfy { $0.count == height * width }, "one label per image of height x width pixels")
        self.height = height
        self.width = width
        self.levels = levels
        self.pixels = pixels
        self.labels = labels
    }

    /// Reads a CSV (or TSV) whose header names `p0` ... `p{P-1}` and `label` (any order, case-insensitive).
    /// - Throws: `TableError.unreadable`, `.header` (missing columns), `.row` ("FILE:LINE: reason": a wrong number of
    ///   fields, a pixel that is not an integer in `0..<levels`, a label that is not an integer in `0..<classes`),
    ///   `ImageError.empty` for a file without images.
    public static func read(_ url: URL, height: Int = 8, width: Int = 8, levels: Int = 17, classes: Int = 10) throws -> ImageSet {
        let table = try Table.read(url)
        let names = (0..<(height * width)).map { "p\($0)" } + ["label"]
        let columns = try table.require(names, expected: "p0...p\(height * width - 1) and label (\(height)x\(width) pixels in raster order)")
        var pixels: [[Int]] = [], labels: [Int] = []
        for row in table.rows {
            let fields = try table.fields(row)
            func value(_ k: Int, below limit: Int, what: String) throws -> Int {
                let text = fields[columns[k]]
                guard let v = Int(text), v >= 0, v < limit else {
                    throw TableError.row(path: table.path, line: row.line,
                                         reason: "column \(names[k]): expected \(what) in 0...\(limit - 1), got '\(text)'")
                }
                return v
            }
            pixels.append(try (0..<(height * width)).map { try value($0, below: levels, what: "a grey level") })
            labels.append(try value(height * width, below: classes, what: "a class"))
        }
        guard !pixels.isEmpty else { throw ImageError.empty(path: url.path) }
        return ImageSet(height: height, width: width, levels: levels, pixels: pixels, labels: labels)
    }

    /// How often each class occurs, as probabilities with add-one smoothing (the class prior of `PixelCNNEvaluation`).
    public func classPrior(classes: Int) -> [Double] {
        var counts = [Double](repeating: 1, count: classes)
        for l in labels where l < classes { counts[l] += 1 }
        let total = counts.reduce(0, +)
        return counts.map { $0 / total }
    }
}

/// Batches of whole images as token sequences (`[start, pixels...]`) for the shared trainer: random images drawn with
/// the trainer's RNG (optionally moved by up to one pixel, `shift`), and every valid image once, in fixed batches.
public struct ImageTrainingData: TrainingData {
    public let train: [[Int]], valid: [[Int]]
    public let batchSize: Int
    /// Augmentation: each drawn image moves by a random `(dy, dx)` in `{-1, 0, 1}²` when no ink (non-zero pixel)
    /// leaves the frame (else it is used as it is); the vacated row or column is blank.
    public let shift: Bool
    let height: Int, width: Int

    /// - Throws: `ImageError.label` if the model's classes do not cover the labels.
    public init(model: PixelCNNModel, train: ImageSet, valid: ImageSet?, batchSize: Int, shift: Bool = false) throws {
        self.shift = shift
        height = train.height
        width = train.width
        func sequences(_ s: ImageSet) throws -> [[Int]] {
            try zip(s.pixels, s.labels).map { try model.sequence(pixels: $0, label: model.config.classes > 0 ? $1 : nil) }
        }
        self.train = try sequences(train)
        self.valid = try valid.map(sequences) ?? []
        self.batchSize = batchSize
    }

    public func trainingBatch(rng: inout Xoshiro256) -> TokenBatch {
        TokenBatch(tokens: (0..<batchSize).map { _ in
            let seq = train[rng.nextInt(below: train.count)]
            guard shift else { return seq }
            let dy = rng.nextInt(below: 3) - 1, dx = rng.nextInt(below: 3) - 1
            return Self.shifted(Array(seq.dropFirst()), dy: dy, dx: dx, height: height, width: width).map { [seq[0]] + $0 } ?? seq
        })
    }

    /// `pixels` (raster order) moved down `dy` and right `dx`, blank where nothing moves in; nil when ink would leave
    /// the frame.
    public static func shifted(_ pixels: [Int], dy: Int, dx: Int, height H: Int, width W: Int) -> [Int]? {
        var out = [Int](repeating: 0, count: H * W)
        for i in 0..<H {
            for j in 0..<W where pixels[i * W + j] != 0 {
                let y = i + dy, x = j + dx
                guard y >= 0, y < H, x >= 0, x < W else { return nil }
                out[y * W + x] = pixels[i * W + j]
            }
        }
        return out
    }

    public func validationBatches() -> [TokenBatch] {
        stride(from: 0, to: valid.count, by: batchSize).map { TokenBatch(tokens: Array(valid[$0..<min(valid.count, $0 + batchSize)])) }
    }

    public var validationSignature: String { "\(valid.count) images" }
}
