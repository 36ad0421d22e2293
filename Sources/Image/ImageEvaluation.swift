// Scoring images: a PixelCNN's NLL (conditional and marginal over classes) and two count baselines on the same pixels.
import AREngine
import Foundation
import NNCore

/// An independent categorical distribution per pixel position, fitted by counting: `p(x_p = v) = (n_{p,v} + α) /
/// (n_p + α · levels)` with `α = 1/2` (Krichevsky-Trofimov). The "no context" anchor.
public struct PositionCategorical {
    public let levels: Int, pixels: Int
    let logp: [Double]  // [pixels, levels]

    public init(train: ImageSet, alpha: Double = 0.5) {
        levels = train.levels
        pixels = train.height * train.width
        var counts = [Double](repeating: alpha, count: pixels * levels)
        for img in train.pixels { for (p, v) in img.enumerated() { counts[p * levels + v] += 1 } }
        let L = levels
        logp = (0..<pixels).flatMap { p -> [Double] in
            let row = counts[(p * L)..<((p + 1) * L)], total = row.reduce(0, +)
            return row.map { log($0 / total) }
        }
    }

    /// Negative log-likelihood of one image in nats.
    public func nats(_ image: [Int]) -> Double {
        image.enumerated().reduce(0) { $0 - logp[$1.offset * levels + $1.element] }
    }
}

/// A count model over each pixel's causal neighbours: the distribution of pixel `(i, j)` given its position, its left
/// neighbour `(i, j-1)` and its upper neighbour `(i-1, j)` (a value `levels` stands for "outside the image"), fitted by
/// counting with add-½ smoothing, `(n_{ctx,v} + 1/2) / (n_ctx + levels/2)`; a context never seen is uniform.
public struct CausalNeighbourCounts {
    public let levels: Int, width: Int
    let alpha: Double
    var counts: [Int: [Double]] = [:]

    public init(train: ImageSet, alpha: Double = 0.5) {
        levels = train.levels
        width = train.width
        self.alpha = alpha
        for img in train.pixels {
            for p in 0..<img.count { counts[context(img, p), default: [Double](repeating: 0, count: levels)][img[p]] += 1 }
        }
    }

    func context(_ img: [Int], _ p: Int) -> Int {
        let j = p % width, border = levels
        let left = j > 0 ? img[p - 1] : border, up = p >= width ? img[p - width] : border
        return (p * (levels + 1) + left) * (levels + 1) + up
    }

    /// Negative log-likelihood of one image in nats.
    public func nats(_ image: [Int]) -> Double {
        var sum = 0.0
        for p in 0..<image.count {
            let row = counts[context(image, p)]
            let n = row?.reduce(0, +) ?? 0
            sum -= log(((row?[image[p]] ?? 0) + alpha) / (n + alpha * Double(levels)))
        }
        return sum
    }
}

extension PixelCNNModel {
    /// Negative log-likelihood in nats of each image given each start token of `starts[i]` (one per image): the sum
    /// over its pixels of `-log p(x_p | x_<p, class)`, from one teacher-forced pass (batches of `batchSize` images).
    public func imageNats(_ images: [[Int]], starts: [Int], batchSize: Int = 64) -> [Double] {
        precondition(images.count == starts.count, "one start token per image")
        let P = config.pixels, V = config.vocabSize, L = config.levels
        var out: [Double] = []
        out.reserveCapacity(images.count)
        for b0 in stride(from: 0, to: images.count, by: batchSize) {
            let rows = (b0..<min(images.count, b0 + batchSize)).map { [starts[$0]] + images[$0] }
            let B = rows.count, ws = workspace(batch: B, time: P)
            TokenBatch(tokens: rows).teacherForcing(vocabularySize: V, layout: .timeMajor, inputs: ws.inputs, targets: ws.targets)
            forward(ws)
            for b in 0..<B {
                var nats = 0.0
                for p in 0..<P {
                    let l = ws.logits + (p * B + b) * V
                    var m = l[0]
                    for v in 1..<L { m = max(m, l[v]) }
                    var s = 0.0
                    for v in 0..<L { s += Double(exp(l[v] - m)) }
                    nats += Double(m) + log(s) - Double(l[rows[b][p + 1]])
                }
                out.append(nats)
            }
        }
        return out
    }
}

/// A PixelCNN's scores on a set of images, in nats per image.
public struct PixelCNNScore: Sendable {
    /// `-log p(x)`: the unconditional model's NLL, or for a class-conditional one the marginal
    /// `-log Σ_y p(y) p(x | y)` over every class with the training set's class frequencies as `p(y)`.
    public var nats: Double
    /// `-log p(x | y)` with the true labels (class-conditional models only).
    public var conditionalNats: Double?

    /// Nats per image to bits per pixel (dimension).
    public static func bitsPerPixel(_ nats: Double, pixels: Int) -> Double { nats / Double(pixels) / log(2.0) }
}

extension PixelCNNModel {
    /// Mean NLL over `images`: unconditional, or with classes both the conditional (true labels) and the marginal.
    /// - Parameter prior: `p(y)` for the marginal (e.g. `ImageSet.classPrior`); `classes` entries.
    public func score(_ images: ImageSet, prior: [Double]) throws -> PixelCNNScore {
        let n = Double(images.count), k = config.classes
        guard k > 0 else {
            let nats = imageNats(images.pixels, starts: [Int](repeating: config.levels, count: images.count))
            return PixelCNNScore(nats: nats.reduce(0, +) / n, conditionalNats: nil)
        }
        precondition(prior.count == k, "a prior over the \(k) classes")
        let byClass = try (0..<k).map { c in imageNats(images.pixels, starts: [Int](repeating: try startToken(label: c), count: images.count)) }
        var conditional = 0.0, marginal = 0.0
        for i in 0..<images.count {
            conditional += byClass[images.labels[i]][i]
            let terms = (0..<k).map { log(prior[$0]) - byClass[$0][i] }
            let m = terms.max()!
            marginal -= m + log(terms.reduce(0) { $0 + exp($1 - m) })
        }
        return PixelCNNScore(nats: marginal / n, conditionalNats: conditional / n)
    }

    /// Samples `count` images of class `label` (nil: unconditional) through the shared generation loop, one pixel at a
    /// time in raster order with the cached state, and reports progress in pixels.
    /// - Throws: `ImageError.label` for a class the model does not have (or none for a class-conditional model).
    /// - Parameter cached: false samples through `RecomputingPixelCNN` (the whole image rerun for every pixel), to
    ///   measure what the cache saves.
    public func sample(count: Int, label: Int?, sampler: inout Sampler, cached: Bool = true,
                       progress: (ProgressReport) -> Void = { _ in }) throws -> [[Int]] {
        let start = try startToken(label: label), P = config.pixels
        let options = GenerationOptions(maxNewTokens: P, slidingWindow: false)
        let uncached = cached ? nil : RecomputingPixelCNN(self)
        return (0..<count).map { i in
            let report = { (r: ProgressReport) in progress(ProgressReport(done: i * P + r.done, total: count * P, unit: "pixels")) }
            if let uncached { return Generation.sample(uncached, prompt: [start], options: options, sampler: &sampler, progress: report).tokens }
            return Generation.sample(self, prompt: [start], options: options, sampler: &sampler, progress: report).tokens
        }
    }
}
