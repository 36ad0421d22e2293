// A per-sample harmonic-plus-noise excitation source driven by a frame-rate F0 track (after NSF, Wang and Yamagishi).
import Foundation

/// The source signal of the neural source-filter models (Wang, Takaki and Yamagishi 2019, "Neural source-filter
/// waveform models"; hn-NSF): sines at F0 and its harmonics where the speech is voiced, noise where it is not,
/// here as `2 * harmonics + 1` separate channels per sample so that a network can weigh each:
///
/// | channel | value at sample t |
/// |---|---|
/// | `2h`, `2h + 1` (h = 0..<harmonics) | `v(t) sin(2 pi (h+1) phi(t))`, `v(t) cos(2 pi (h+1) phi(t))`, 0 where `(h+1) F0(t) >= sr/2` |
/// | `2 * harmonics` | `(1 - v(t)) n(t)`, `n(t)` unit-variance noise |
///
/// `F0(t)` and the voicing `v(t)` are linearly interpolated between frames exactly as the conditioning is
/// (frame `f` centred on sample `f * hop`), and the phase `phi(t)` (cycles) integrates `F0/sr` in closed form within
/// each frame from a per-frame start phase, so a training segment and whole-utterance generation give the same
/// value for the same sample index. The noise `n(t)` is a hash of the sample index (counter-based), so it too
/// is the same in both. Per-sample work: one sine and cosine, a recurrence for the harmonics, no allocation.
public struct HarmonicSource: Sendable {
    public let harmonics: Int
    public let sampleRate: Int
    public let hopLength: Int
    public var channels: Int { 2 * harmonics + 1 }

    public init(harmonics: Int, sampleRate: Int, hopLength: Int) {
        precondition(harmonics >= 0 && sampleRate > 0 && hopLength > 0, "HarmonicSource: bad sizes")
        self.harmonics = harmonics
        self.sampleRate = sampleRate
        self.hopLength = hopLength
    }

    /// Phase in cycles, in [0, 1), at the first sample of each frame (`f * hop`) for a continuous F0 track in Hz
    /// `[frames]`: `Phi_0 = 0`, `Phi_(f+1) = Phi_f + (hop F0_f + (F0_(f+1) - F0_f)(hop - 1)/2) / sr`.
    public func framePhases(f0: [Float]) -> [Double] {
        var out = [Double](repeating: 0, count: f0.count)
        let hop = Double(hopLength), sr = Double(sampleRate)
        for f in 1..<max(1, f0.count) {
            let a = Double(f0[f - 1]), b = Double(f0[f])
            let next = out[f - 1] + (hop * a + (b - a) * (hop - 1) / 2) / sr
            out[f] = next - next.rounded(.down)
        }
        return out
    }

    /// Writes the `channels` values of sample `t` into `out`.
    /// - Parameters:
    ///   - f0: continuous F0 in Hz per frame `[frames]` (no zeros; see `PitchTrack.continuousF0`).
    ///   - voicing: per frame, in [0, 1] `[frames]`.
    ///   - phases: `framePhases(f0:)` `[frames]`.
    @inline(__always)
    public func fill(sample t: Int, f0: UnsafePointer<Float>, voicing: UnsafePointer<Float>, phases: UnsafePointer<Double>,
                     frames: Int, out: UnsafeMutablePointer<Float>) {
        let f = min(t / hopLength, frames - 1), f1 = min(f + 1, frames - 1)
        let k = t - f * hopLength
        let w = Float(k) / Float(hopLength)
        let a = Double(f0[f]), b = Double(f0[f1]), kd = Double(k)
        let dF = f1 == f ? 0 : b - a
        var phi = phases[f] + (kd * a + dF * kd * (kd - 1) / (2 * Double(hopLength))) / Double(sampleRate)
        phi -= phi.rounded(.down)
        let hz = (1 - w) * f0[f] + w * f0[f1]
        let v = (1 - w) * voicing[f] + w * voicing[f1]
        let x = 2 * Double.pi * phi
        let s1 = sin(x), c1 = cos(x)
        var sPrev = 0.0, cPrev = 1.0, s = s1, c = c1
        let nyquist = Float(sampleRate) / 2
        for h in 0..<harmonics {
            let audible = Float(h + 1) * hz < nyquist
            out[2 * h] = audible ? v * Float(s) : 0
            out[2 * h + 1] = audible ? v * Float(c) : 0
            // sin((h+2)x) = 2 cos x sin((h+1)x) - sin(hx), and the same for cos.
            let sNext = 2 * c1 * s - sPrev, cNext = 2 * c1 * c - cPrev
            sPrev = s; cPrev = c; s = sNext; c = cNext
        }
        out[2 * harmonics] = (1 - v) * Self.noise(t)
    }

    /// Unit-variance noise as a function of the sample index: a SplitMix64 hash mapped to a uniform value in
    /// [-sqrt(3), sqrt(3)).
    @inline(__always)
    public static func noise(_ t: Int) -> Float {
        var z = UInt64(bitPattern: Int64(t)) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u = Float(z >> 40) / Float(1 << 24)  // [0, 1)
        return (2 * u - 1) * 1.7320508
    }
}
