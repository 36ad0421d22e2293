// Tempo map: converts ticks to seconds (and back) from the tempo events of a file.

/// A tempo change at an absolute tick.
public struct TempoChange: Equatable, Sendable {
    /// Absolute time in ticks.
    public var tick: Int64
    /// Microseconds per quarter note (500 000 = 120 bpm).
    public var microsecondsPerQuarter: Int

    public init(tick: Int64, microsecondsPerQuarter: Int) {
        self.tick = tick
        self.microsecondsPerQuarter = microsecondsPerQuarter
    }
}

/// Piecewise-linear mapping between ticks and seconds.
///
/// Metrical files: tempo is 120 bpm (500 000 µs per quarter note) until the first tempo change;
/// changes from all tracks are merged and sorted by tick; when several fall on the same tick the
/// last one (in track order, then file order) wins. Tempo events of 0 µs per quarter note are ignored.
/// SMPTE files: a fixed number of ticks per second (`Division.ticksPerSecond`); tempo events are ignored.
public struct TempoMap: Equatable, Sendable {
    /// Ticks per quarter note, `nil` for SMPTE timing.
    public let ticksPerQuarter: Int?
    /// The effective tempo changes, sorted by tick, starting with one at tick 0.
    public let changes: [TempoChange]
    private let segmentTicks: [Int64]
    private let segmentSeconds: [Double]
    private let segmentSecondsPerTick: [Double]

    /// A metrical map from ticks per quarter note (must be > 0; values below 1 are treated as 1)
    /// and tempo changes in any order.
    public init(ticksPerQuarter: Int, changes: [TempoChange] = []) {
        let tpq = max(1, ticksPerQuarter)
        var merged: [TempoChange] = [TempoChange(tick: 0, microsecondsPerQuarter: 500_000)]
        let sorted = changes.enumerated()
            .filter { $0.element.microsecondsPerQuarter > 0 }
            .sorted { ($0.element.tick, $0.offset) < ($1.element.tick, $1.offset) }
            .map { TempoChange(tick: max(0, $0.element.tick), microsecondsPerQuarter: $0.element.microsecondsPerQuarter) }
        for change in sorted {
            if let last = merged.last, last.tick == change.tick {
                merged[merged.count - 1] = change
            } else {
                merged.append(change)
            }
        }
        var ticks: [Int64] = []
        var seconds: [Double] = []
        var rates: [Double] = []
        var elapsed = 0.0
        for (i, change) in merged.enumerated() {
            if i > 0 {
                elapsed += Double(change.tick - merged[i - 1].tick) * rates[i - 1]
            }
            ticks.append(change.tick)
            seconds.append(elapsed)
            rates.append(Double(change.microsecondsPerQuarter) / 1_000_000.0 / Double(tpq))
        }
        self.ticksPerQuarter = tpq
        self.changes = merged
        self.segmentTicks = ticks
        self.segmentSeconds = seconds
        self.segmentSecondsPerTick = rates
    }

    /// A fixed-rate map (SMPTE timing) with the given ticks per second (values ≤ 0 or not finite are treated as 1).
    public init(ticksPerSecond: Double) {
        let rate = ticksPerSecond.isFinite && ticksPerSecond > 0 ? ticksPerSecond : 1
        self.ticksPerQuarter = nil
        self.changes = []
        self.segmentTicks = [0]
        self.segmentSeconds = [0]
        self.segmentSecondsPerTick = [1 / rate]
    }

    /// The map of a file: all tempo events of all tracks for formats 0 and 1. For format 2, pass
    /// `track` to use only that track's tempo events (tracks are independent); without it all are merged.
    public init(file: MIDIFile, track: Int? = nil) {
        switch file.division {
        case .smpte:
            self.init(ticksPerSecond: file.division.ticksPerSecond ?? 1)
        case .ticksPerQuarter(let tpq):
            var changes: [TempoChange] = []
            for (index, t) in file.tracks.enumerated() where track == nil || track == index {
                for e in t.events {
                    if case .tempo(let us) = e.event {
                        changes.append(TempoChange(tick: e.tick, microsecondsPerQuarter: us))
                    }
                }
            }
            self.init(ticksPerQuarter: tpq, changes: changes)
        }
    }

    /// Seconds from tick 0 to `tick` (ticks before 0 extrapolate at the first tempo).
    public func seconds(atTick tick: Int64) -> Double {
        let lo = Self.segment(startingAtOrBefore: tick, in: segmentTicks)
        return segmentSeconds[lo] + (Double(tick) - Double(segmentTicks[lo])) * segmentSecondsPerTick[lo]
    }

    /// The (fractional) tick at `seconds` from the start; the inverse of `seconds(atTick:)`.
    public func tick(atSeconds seconds: Double) -> Double {
        let lo = Self.segment(startingAtOrBefore: seconds, in: segmentSeconds)
        return Double(segmentTicks[lo]) + (seconds - segmentSeconds[lo]) / segmentSecondsPerTick[lo]
    }

    /// The time of the last quarter-note beat (a whole number of quarter notes from tick 0) at or before `seconds`
    /// (clamped to 0 and above); nil for SMPTE timing, which has no beats.
    public func beat(atOrBefore seconds: Double) -> Double? {
        guard let tpq = ticksPerQuarter, seconds.isFinite else { return nil }
        let tick = tick(atSeconds: max(0, seconds))
        // A hair of tolerance so a cut exactly on a beat (up to rounding) keeps that beat.
        let beats = ((tick + 1e-6) / Double(tpq)).rounded(.down)
        return self.seconds(atTick: Int64(beats) * Int64(tpq))
    }

    /// `seconds` moved to the nearest multiple of `1/division` of a quarter note (4: sixteenth notes), counted from
    /// tick 0 under this map; unchanged for SMPTE timing or a time that is not finite.
    public func snapped(_ seconds: Double, division: Int = 4) -> Double {
        guard let tpq = ticksPerQuarter, seconds.isFinite, division > 0 else { return seconds }
        let unit = Double(tpq) / Double(division)
        let tick = (tick(atSeconds: max(0, seconds)) / unit).rounded() * unit
        return self.seconds(atTick: Int64(tick.rounded()))
    }

    /// The last segment whose start (in `starts`, ascending) is at most `x`; 0 when none is.
    static func segment<T: Comparable>(startingAtOrBefore x: T, in starts: [T]) -> Int {
        var lo = 0
        var hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= x { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}
