// mu-law companding between waveform samples in [-1, 1] and integer classes 0..mu for the WaveNet output layer.
import Foundation

/// mu-law companding with `mu = classes - 1` (256 classes: mu = 255, classes 0...255).
public enum MuLaw {
    /// Encodes one sample to a class index in `0...classes-1`.
    /// `x` is clipped to [-1, 1] (±inf clip to the end classes; NaN is treated as 0, giving the
    /// middle class, 128 for 256 classes). `f = sign(x)·ln(1+mu|x|)/ln(1+mu)`,
    /// `q = Int((f+1)/2·mu + 0.5)`. `classes` must be >= 2 (precondition).
    @inlinable
    public static func encode(_ x: Float, classes: Int = 256) -> Int {
        precondition(classes >= 2, "MuLaw: classes must be >= 2")
        let mu = Double(classes - 1)
        let v: Double = x.isNaN ? 0 : min(max(Double(x), -1), 1)
        let f = (v < 0 ? -1.0 : 1.0) * log1p(mu * abs(v)) / log1p(mu)
        return Int((f + 1) / 2 * mu + 0.5)
    }

    /// Decodes a class index to a sample in [-1, 1]; `q` is clamped to `0...classes-1`.
    /// `y = 2q/mu − 1`, `x = sign(y)·((1+mu)^|y| − 1)/mu`.
    @inlinable
    public static func decode(_ q: Int, classes: Int = 256) -> Float {
        precondition(classes >= 2, "MuLaw: classes must be >= 2")
        let mu = Double(classes - 1)
        let qc = Double(min(max(q, 0), classes - 1))
        let y = 2 * qc / mu - 1
        let x = (y < 0 ? -1.0 : 1.0) * (pow(1 + mu, abs(y)) - 1) / mu
        return Float(x)
    }

    /// Encodes `[n]` samples to `[n]` class indices (see `encode(_:classes:)`).
    public static func encode(_ x: [Float], classes: Int = 256) -> [Int] {
        x.map { encode($0, classes: classes) }
    }

    /// Decodes `[n]` class indices to `[n]` samples (see `decode(_:classes:)`).
    public static func decode(_ q: [Int], classes: Int = 256) -> [Float] {
        q.map { decode($0, classes: classes) }
    }
}
