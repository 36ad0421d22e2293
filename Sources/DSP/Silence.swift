// Silence detection and leading/trailing silence trimming for training data (librosa.effects.trim semantics).
import Foundation

/// Silence helpers for preparing training audio.
public enum Silence {
    /// Non-silent sample range of `x`, like `librosa.effects.trim(x, top_db:, frame_length:, hop_length:)`
    /// with `ref=np.max`: frame RMS is computed on `x` zero-padded by `frameLength/2` on both sides
    /// (frames `t = 0 ..< 1 + count/hopLength`, hop in samples), converted to dB relative to the
    /// loudest frame (amin 1e-5), and frames louder than `-topDB` dB are kept. The result is
    /// `firstKept*hopLength ..< min(count, (lastKept+1)*hopLength)` in samples.
    /// Returns an empty range (`0..<0`) if `x` is empty or the loudest frame's RMS is <= 1e-5
    /// (digital silence; librosa would keep everything there). `frameLength`, `hopLength` must be > 0.
    public static func trimSilence(_ x: [Float], frameLength: Int = 800, hopLength: Int = 200, topDB: Float = 40) -> Range<Int> {
        precondition(frameLength > 0 && hopLength > 0, "trimSilence: frameLength and hopLength must be positive")
        let n = x.count
        if n == 0 { return 0..<0 }
        let pad = frameLength / 2
        // Prefix sums of squares over the padded signal (zeros outside x).
        var prefix = [Double](repeating: 0, count: n + 1)
        for i in 0..<n { prefix[i + 1] = prefix[i] + Double(x[i]) * Double(x[i]) }
        func energy(_ a: Int, _ b: Int) -> Double { // sum of squares over padded [a, b)
            let lo = min(max(a - pad, 0), n), hi = min(max(b - pad, 0), n)
            return prefix[hi] - prefix[lo]
        }
        let frames = 1 + n / hopLength
        var power = [Double](repeating: 0, count: frames)
        for t in 0..<frames {
            power[t] = max(0, energy(t * hopLength, t * hopLength + frameLength)) / Double(frameLength)
        }
        let amin2 = 1e-10
        let refPower = power.max()!
        if refPower <= amin2 { return 0..<0 }
        let refDB = 10 * log10(refPower)
        let threshold = -Double(topDB)
        var first = -1, last = -1
        for t in 0..<frames where 10 * log10(max(amin2, power[t])) - refDB > threshold {
            if first < 0 { first = t }
            last = t
        }
        if first < 0 { return 0..<0 }
        return (first * hopLength)..<min(n, (last + 1) * hopLength)
    }

    /// True if the peak absolute sample is below `threshold` (linear amplitude); true for empty input.
    /// NaN samples are ignored.
    public static func isSilent(_ x: [Float], threshold: Float = 1e-4) -> Bool {
        for v in x where abs(v) >= threshold { return false }
        return true
    }
}
