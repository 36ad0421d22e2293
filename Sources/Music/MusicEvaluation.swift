// Negative log-likelihood of a music model on a split, scored on the same tokens as the n-gram baseline.
import AREngine
import Foundation

extension MusicModel {
    /// Mean NLL in nats per token over `sequences` (each BOS ... EOS): non-overlapping windows of
    /// `context + 1` tokens with stride `context` (every token after each BOS is scored once, as in
    /// `NGramModel.evaluate`; a window's first tokens see less history than the n-gram's).
    /// - Parameter context: window length; a transformer uses at most its own context length.
    /// - Parameter progress: `(batches done, batches)` after each batch of windows.
    public func evaluate(_ sequences: [[Int]], context: Int, batchSize: Int = 16,
                         progress: (Int, Int) -> Void = { _, _ in }) -> (nats: Double, tokens: Int) {
        var ctx = context
        if case .transformer(let m) = self { ctx = min(ctx, m.config.contextLength) }
        var sum = 0.0, n = 0
        let batches = MusicTrainingData.windows(sequences, context: ctx, batchSize: batchSize)
        for (i, b) in batches.enumerated() {
            let r: (sum: Double, count: Int)
            switch self {
            case .transformer(let m): r = m.loss(b, backward: false)
            case .wavenet(let m): r = m.loss(b, backward: false)
            }
            sum += r.sum
            n += r.count
            progress(i + 1, batches.count)
        }
        return (n > 0 ? sum / Double(n) : .nan, n)
    }
}
