// A first-order DC blocker, for removing the slow offsets a sample-by-sample generator can drift into.
import Foundation

/// A first-order DC blocker, one zero at 0 Hz and one real pole `r` just inside the unit circle:
/// `y[t] = x[t] - x[t-1] + r * y[t-1]`, `r = exp(-2 pi fc / sr)` (J. O. Smith, *Introduction to Digital Filters*,
/// "DC Blocker"). Its gain is 0 at 0 Hz, about -3 dB near `fc` (for `fc` much below the sample rate) and within
/// 0.1 dB of 1 from about `7 fc` up. Stateful: a signal processed in blocks gives the same samples as processed whole.
public struct DCBlocker: Sendable {
    /// The pole `r`.
    public let pole: Float
    private var previousInput: Float = 0
    private var previousOutput: Float = 0

    /// - Parameters:
    ///   - cutoffHz: the corner frequency `fc` in Hz, in `(0, sampleRate / 2)`.
    ///   - sampleRate: in Hz.
    public init(cutoffHz: Double, sampleRate: Int) {
        precondition(cutoffHz > 0 && cutoffHz < Double(sampleRate) / 2, "DCBlocker: cutoff must be in (0, sampleRate / 2)")
        pole = Float(exp(-2 * Double.pi * cutoffHz / Double(sampleRate)))
    }

    /// Filters one sample (the state starts at rest: `x[-1] = y[-1] = 0`).
    @inline(__always)
    public mutating func process(_ x: Float) -> Float {
        let y = x - previousInput + pole * previousOutput
        previousInput = x
        previousOutput = y
        return y
    }

    /// Filters `x` in place, continuing from the previous call.
    public mutating func process(_ x: UnsafeMutableBufferPointer<Float>) {
        for i in x.indices { x[i] = process(x[i]) }
    }
}
