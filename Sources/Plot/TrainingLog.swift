// Reading the losses out of a run's train.log (written by `synth train` and `synth music train`).
import Foundation

/// The train and valid losses of a training run, read from its `train.log`.
///
/// The lines it reads (Sources/synth/TrainingSupport.swift writes them):
/// - `step 250/20000  train 3.1234 nats  lr 1.00e-03  |g| 0.52  19000 samples/s  1h02m trained  ETA 3h10m`: the mean
///   train loss since the previous such line, and the training time of the run so far (kept across resumes);
/// - `step 250  valid 3.0640 nats (4.420 bits/sample)  best`: the validation loss;
/// - `# 2026-11-30T10:00:00Z synth train ...`: the start of an invocation.
/// Everything else is skipped. A resumed run that went back to an earlier checkpoint logs some steps again; the later
/// lines replace the earlier ones from that step on.
public struct TrainingLog: Equatable, Sendable {
    public struct Point: Equatable, Sendable {
        public var step: Int
        /// Mean loss in nats per position.
        public var loss: Double
        /// Hours of training when the line was written (for valid lines: interpolated from the train lines).
        public var hours: Double
    }

    public var train: [Point] = []
    public var valid: [Point] = []
    /// What a position is: "sample" (speech) or "token" (music), from the valid lines ("sample" when unknown).
    public var unit = "sample"
    /// The `--steps` target of the latest train line.
    public var totalSteps: Int?
    /// Invocations (lines starting with `#`).
    public var invocations = 0

    /// The best (lowest) valid point.
    public var best: Point? { valid.min { $0.loss < $1.loss } }

    public init() {}

    /// Parses the text of a train.log.
    public static func parse(_ text: String) -> TrainingLog {
        var log = TrainingLog()
        var validSteps: [(step: Int, loss: Double)] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("#") { log.invocations += 1; continue }
            guard line.hasPrefix("step ") else { continue }
            let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count >= 4 else { continue }
            if words[2] == "train", let loss = Double(words[3]) {
                let parts = words[1].split(separator: "/")
                guard let step = Int(parts[0]) else { continue }
                if parts.count == 2 { log.totalSteps = Int(parts[1]) }
                let hours = words.firstIndex(of: "trained").flatMap { $0 > 0 ? duration(words[$0 - 1]) : nil }.map { $0 / 3600 } ?? .nan
                // A resume from an earlier checkpoint: drop what it repeats.
                log.train.removeAll { $0.step >= step }
                validSteps.removeAll { $0.step >= step }
                log.train.append(Point(step: step, loss: loss, hours: hours))
            } else if words[2] == "valid", let step = Int(words[1]), let loss = Double(words[3]) {
                if let unitWord = words.first(where: { $0.hasPrefix("bits/") }) {
                    log.unit = String(unitWord.dropFirst(5).prefix { $0.isLetter })
                }
                validSteps.removeAll { $0.step >= step }
                validSteps.append((step, loss))
            }
        }
        log.valid = validSteps.map { Point(step: $0.step, loss: $0.loss, hours: log.hours(atStep: $0.step)) }
        return log
    }

    /// Hours of training at `step`, interpolated linearly between the train lines around it (NaN without them).
    public func hours(atStep step: Int) -> Double {
        let known = train.filter { $0.hours.isFinite }
        guard let first = known.first else { return .nan }
        if step <= first.step { return first.step > 0 ? first.hours * Double(step) / Double(first.step) : first.hours }
        for (a, b) in zip(known, known.dropFirst()) where step <= b.step {
            let f = Double(step - a.step) / Double(max(1, b.step - a.step))
            return a.hours + f * (b.hours - a.hours)
        }
        return known.last!.hours
    }

    /// Seconds in `formatDuration`'s forms "1h02m" and "3m05s".
    static func duration(_ s: String) -> Double? {
        let scanner = s.replacingOccurrences(of: "h", with: " h ").replacingOccurrences(of: "m", with: " m ")
            .replacingOccurrences(of: "s", with: " s ").split(separator: " ")
        var total = 0.0, value: Double?
        for token in scanner {
            if let v = Double(token) { value = v; continue }
            guard let v = value else { return nil }
            switch token {
            case "h": total += 3600 * v
            case "m": total += 60 * v
            case "s": total += v
            default: return nil
            }
            value = nil
        }
        return value == nil ? total : nil
    }
}
