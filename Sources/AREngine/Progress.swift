// The one shape of progress that long-running library calls report; the CLI draws it (ProgressLine).

/// How far a long-running call has got: `done` of `total` `unit`s (4,000 of 49,600 "samples", 12 of 40 "files").
/// `total` is 0 when the amount of work is not known in advance. Libraries hand it to a `(ProgressReport) -> Void`
/// closure and never print; training reports `TrainingEvent`s instead, which carry losses.
public struct ProgressReport: Equatable, Sendable {
    public var done: Int
    public var total: Int
    public var unit: String

    public init(done: Int, total: Int, unit: String) {
        self.done = done
        self.total = total
        self.unit = unit
    }

    /// `done / total` (0 when the total is not known).
    public var fraction: Double { total > 0 ? Double(done) / Double(total) : 0 }
}
