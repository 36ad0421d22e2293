// Dynamic evaluation: a token model scored on a sequence while it adapts its weights to the part already scored.
import NNCore

/// The settings of dynamic evaluation (Krause, Kahembwe, Murray and Renals 2018, "Dynamic evaluation of neural
/// sequence models", the SGD rule with their decay toward the trained weights).
///
/// Each sequence is read in consecutive segments of `segment` tokens. A segment is scored first, with the weights as
/// they are; then one step `θ ← θ − learningRate · ∇ℓ + decay · (θ₀ − θ)` is taken on that segment's mean
/// cross-entropy `ℓ` (nats per token), where `θ₀` are the trained weights, and the next segment is scored with the
/// adapted weights. So every token is predicted only from what precedes it, as in static evaluation: the model adapts
/// to the text it has already seen (its names, its phrases), as a compressor adapts to the data it codes. Each
/// sequence starts again from the trained weights.
public struct DynamicEvaluation: Equatable, Sendable {
    /// Step size η on the segment's mean NLL in nats per token (0 scores as static evaluation does over the same
    /// segments, a recurrent model carrying its state through them).
    public var learningRate: Float
    /// The pull λ back toward the trained weights per segment, in 0...1 (0: none).
    public var decay: Float
    /// Tokens scored per update (the window read by one teacher-forced pass; a recurrent model carries its state
    /// from one segment to the next).
    public var segment: Int

    /// Krause et al.'s "RMS" rule: each parameter's step is divided by the root mean square of its gradient over
    /// segments of the training text (`evaluateDynamically`'s `calibration`), and its decay is scaled by that RMS
    /// over the mean RMS (capped at 1), so parameters that move little in training move little here.
    public var rmsNormalized: Bool

    public init(learningRate: Float, decay: Float = 0, segment: Int, rmsNormalized: Bool = false) {
        precondition(learningRate >= 0 && learningRate.isFinite && (0...1).contains(decay) && segment >= 1,
                     "dynamic evaluation needs a learning rate >= 0, a decay in 0...1 and a segment >= 1")
        self.learningRate = learningRate
        self.decay = decay
        self.segment = segment
        self.rmsNormalized = rmsNormalized
    }
}

extension TokenModel {
    /// Mean NLL in nats per token over `sequences` (each BOS ... EOS; every token after each sequence's first is
    /// scored once) under dynamic evaluation (`DynamicEvaluation`). Segments are read one at a time (batch 1) through
    /// `streamingLoss`, so a recurrent model carries its state across them and a model with a fixed context reads
    /// each segment from its start (`segment` is capped at `contextLength`). The weights are restored when it
    /// returns. - Parameter progress: tokens scored so far (unit "tokens"), after each segment.
    /// - Parameter calibration: for `rmsNormalized`, training sequences whose segments (up to `calibrationTokens`
    ///   tokens, read as the evaluation reads) give each parameter's mean squared gradient; ignored otherwise.
    /// - Parameter scored: with it, each scored token's probability, in order (each sequence's tokens after its first,
    ///   as `tokenProbabilities` gives them statically).
    public func evaluateDynamically(_ sequences: [[Int]], _ settings: DynamicEvaluation, calibration: [[Int]] = [],
                                    calibrationTokens: Int = 100_000, scored: ((Double) -> Void)? = nil,
                                    progress: (ProgressReport) -> Void = { _ in }) -> (nats: Double, tokens: Int) {
        let P = parameters, n = P.count, lr = settings.learningRate, decay = settings.decay
        let segment = min(settings.segment, contextLength)
        let trained = UnsafeMutablePointer<Float>.allocate(capacity: n)
        trained.update(from: P.values, count: n)
        // Per parameter: the step's divisor and the decay's factor (1 and 1 for plain SGD).
        var divisor = [Float](repeating: 1, count: n), decayScale = [Float](repeating: 1, count: n)
        defer {
            P.values.update(from: trained, count: n)
            P.zeroGrads()
            trained.deallocate()
        }
        if settings.rmsNormalized {
            var meanSquare = [Double](repeating: 0, count: n), segments = 0
            forEachSegment(calibration, segment: segment, tokenLimit: calibrationTokens) { row, continuing, last in
                guard !last else { return }
                P.zeroGrads()
                _ = streamingLoss(TokenBatch(tokens: [row], ignoreIndex: -1), backward: true, continuing: continuing)
                for i in 0..<n { meanSquare[i] += Double(P.grads[i]) * Double(P.grads[i]) }
                segments += 1
            }
            if segments > 0 {
                let rms = meanSquare.map { Float(($0 / Double(segments)).squareRoot()) }
                let meanRMS = rms.reduce(0, +) / Float(n)
                for i in 0..<n {
                    divisor[i] = rms[i] + 1e-5
                    decayScale[i] = meanRMS > 0 ? min(rms[i] / meanRMS, 1 / max(decay, 1e-12)) : 1
                }
            }
        }
        let total = sequences.reduce(0) { $0 + max($1.count - 1, 0) }
        var sum = 0.0, count = 0
        let probabilities = UnsafeMutablePointer<Double>.allocate(capacity: segment)
        defer { probabilities.deallocate() }
        forEachSegment(sequences, segment: segment, tokenLimit: .max) { row, continuing, last in
            if !continuing { P.values.update(from: trained, count: n) }
            P.zeroGrads()
            let batch = TokenBatch(tokens: [row], ignoreIndex: -1), update = lr > 0 && !last
            let r: (sum: Double, count: Int)
            if let scored {
                r = streamingLoss(batch, backward: update, continuing: continuing, probabilities: probabilities)
                for t in 0..<segment where row[t + 1] >= 0 { scored(probabilities[t]) }
            } else {
                r = streamingLoss(batch, backward: update, continuing: continuing)
            }
            sum += r.sum
            count += r.count
            if lr > 0 && !last {
                let v = P.values, g = UnsafePointer(P.grads)
                for i in 0..<n { v[i] += decay * decayScale[i] * (trained[i] - v[i]) - lr * g[i] / divisor[i] }
            }
            progress(ProgressReport(done: count, total: total, unit: "tokens"))
        }
        return (count > 0 ? sum / Double(count) : .nan, count)
    }

    /// Calls `body(row, continuing, last)` for each consecutive segment of each sequence of at least 2 tokens: `row`
    /// holds `segment + 1` tokens (the last segment of a sequence padded with -1, and `last` true), `continuing` is
    /// false for a sequence's first segment. Stops once `tokenLimit` targets have been passed.
    private func forEachSegment(_ sequences: [[Int]], segment: Int, tokenLimit: Int, _ body: ([Int], Bool, Bool) -> Void) {
        var seen = 0
        for seq in sequences where seq.count >= 2 {
            var start = 0
            while start + 1 < seq.count && seen < tokenLimit {
                var row = Array(seq[start..<min(seq.count, start + segment + 1)])
                let last = row.count < segment + 1
                if last { row += [Int](repeating: -1, count: segment + 1 - row.count) }
                body(row, start > 0, last)
                seen += segment
                start += segment
            }
        }
    }
}
