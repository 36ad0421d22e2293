// Krumhansl-Schmuckler key finding: the major or minor key whose Krumhansl-Kessler profile best fits the notes.

/// A major or minor key.
public struct MusicalKey: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Pitch class of the tonic, 0...11 (0 = C).
    public var tonic: Int
    public var minor: Bool

    public init(tonic: Int, minor: Bool) {
        self.tonic = ((tonic % 12) + 12) % 12
        self.minor = minor
    }

    /// Pitch classes of the key's scale: the major scale, or for minor the natural and harmonic minor together
    /// (8 classes: both the lowered and the raised 7th).
    public var scale: Set<Int> {
        let steps = minor ? [0, 2, 3, 5, 7, 8, 10, 11] : [0, 2, 4, 5, 7, 9, 11]
        return Set(steps.map { (tonic + $0) % 12 })
    }

    static let names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    public var description: String { "\(Self.names[tonic]) \(minor ? "minor" : "major")" }

    /// Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
    public static let majorProfile = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
    public static let minorProfile = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]

    /// The Krumhansl-Schmuckler key (Krumhansl 1990, "Cognitive Foundations of Musical Pitch", ch. 4) of `notes`:
    /// the duration-weighted pitch-class histogram is correlated (Pearson) with the 24 rotated profiles and the best
    /// key wins (ties: the lower tonic, major first). Drum notes (channel index 9) are left out. nil when no pitched
    /// note has a positive duration.
    public static func estimate(_ notes: [Note]) -> MusicalKey? {
        var h = [Double](repeating: 0, count: 12)
        for n in notes where n.channel != 9 && n.end > n.start && (0...127).contains(n.pitch) { h[n.pitch % 12] += n.end - n.start }
        guard h.contains(where: { $0 > 0 }) else { return nil }
        func pearson(_ a: [Double], _ b: [Double]) -> Double {
            let ma = a.reduce(0, +) / 12, mb = b.reduce(0, +) / 12
            var num = 0.0, da = 0.0, db = 0.0
            for i in 0..<12 { num += (a[i] - ma) * (b[i] - mb); da += (a[i] - ma) * (a[i] - ma); db += (b[i] - mb) * (b[i] - mb) }
            return da > 0 && db > 0 ? num / (da * db).squareRoot() : -1
        }
        var best: (r: Double, key: MusicalKey)? = nil
        for minor in [false, true] {
            let profile = minor ? minorProfile : majorProfile
            for tonic in 0..<12 {
                let rotated = (0..<12).map { profile[((($0 - tonic) % 12) + 12) % 12] }
                let r = pearson(h, rotated)
                if best == nil || r > best!.r { best = (r, MusicalKey(tonic: tonic, minor: minor)) }
            }
        }
        return best?.key
    }
}
