// A long-term (pitch) postfilter: a comb at the pitch period that deepens the valleys between harmonics in voiced
// speech, as speech codecs' postfilters do (Chen and Gersho 1995, "Adaptive postfiltering for quality enhancement of
// coded speech"; ITU-T G.729's long-term postfilter).

/// A symmetric long-term postfilter driven by a frame-rate F0 track, applied to a waveform as it streams.
///
/// `y[t] = (x[t] + g(t)/2 · (x[t - P(t)] + x[t + P(t)])) / (1 + g(t))`, with `P(t) = sample_rate / F0(t)` samples
/// (fractional: read by linear interpolation) and `g(t) = strength · voicing(t)`. `F0` and the voicing are linearly
/// interpolated between frames, frame `f` centred on sample `f · hop` (as the conditioning and `HarmonicSource` do).
/// Its response `(1 + g cos(ω P)) / (1 + g)` is 1 at every harmonic of F0 and `(1 - g) / (1 + g)` halfway between
/// them; unvoiced frames pass unchanged. Samples before the start and after the end read as 0.
///
/// Streaming: `process` takes the next samples and returns those now complete; the output runs `delay` samples behind
/// the input (it needs `x[t + P]`), and `finish` returns the rest. Memory stays at a few periods.
public struct PitchPostfilter: Sendable {
    /// The comb's gain in voiced frames, in 0...1 (0: off).
    public let strength: Float
    public let sampleRate: Int
    public let hopLength: Int
    /// The longest period read, in samples (`sample_rate / 40 Hz`): F0 below 40 Hz is read as 40 Hz.
    public let maxLag: Int
    /// How far the output runs behind the input, in samples.
    public var delay: Int { maxLag + 1 }
    let f0: [Float], voicing: [Float]
    /// Input samples from `bufferStart` on.
    private var buffer: [Float] = []
    private var bufferStart = 0
    private var received = 0
    private var emitted = 0

    /// - Parameters:
    ///   - strength: `g` in voiced frames, 0...1.
    ///   - f0: F0 in Hz per frame `[frames]` (continuous: no zeros; values are clamped to 40 Hz ... sample_rate / 2).
    ///   - voicing: per frame in 0...1 `[frames]`.
    /// - Precondition: `f0` and `voicing` have the same non-zero length, `strength` is in 0...1, rates are positive.
    public init(strength: Float, f0: [Float], voicing: [Float], sampleRate: Int, hopLength: Int) {
        precondition((0...1).contains(strength) && !f0.isEmpty && f0.count == voicing.count && sampleRate > 0 && hopLength > 0,
                     "PitchPostfilter: a strength in 0...1 and one F0 and voicing value per frame")
        self.strength = strength
        self.sampleRate = sampleRate
        self.hopLength = hopLength
        self.f0 = f0
        self.voicing = voicing
        maxLag = (sampleRate + 39) / 40
    }

    /// The period `P(t)` in samples and the gain `g(t)` at sample `t`.
    func periodAndGain(at t: Int) -> (Float, Float) {
        let pos = Double(t) / Double(hopLength)
        let f = min(Int(pos), f0.count - 1), f1 = min(f + 1, f0.count - 1)
        let w = Float(pos - Double(f))
        let hz = (1 - w) * f0[f] + w * f0[f1], v = (1 - w) * voicing[f] + w * voicing[f1]
        let period = Float(sampleRate) / min(max(hz.isFinite ? hz : 0, 40), Float(sampleRate) / 2)
        return (min(max(period, 2), Float(maxLag)), strength * min(max(v.isFinite ? v : 0, 0), 1))
    }

    /// Input sample `t` (0 outside what has been received, and before the start).
    private func input(_ t: Int) -> Float {
        t >= bufferStart && t < received ? buffer[t - bufferStart] : 0
    }

    /// `x[t + offset]` for a fractional offset, by linear interpolation.
    private func input(_ t: Int, offset: Float) -> Float {
        let i = Int(offset.rounded(.down)), frac = offset - Float(i)
        return (1 - frac) * input(t + i) + frac * input(t + i + 1)
    }

    private mutating func emit(upTo end: Int, into out: inout [Float]) {
        while emitted < end {
            let t = emitted
            let (p, g) = periodAndGain(at: t)
            let x = input(t)
            if g > 0 {
                let back = input(t, offset: -p), ahead = input(t, offset: p)
                out.append((x + g / 2 * (back + ahead)) / (1 + g))
            } else {
                out.append(x)
            }
            emitted += 1
        }
        // Keep what later outputs read: from `emitted - maxLag - 1` on.
        let keepFrom = emitted - maxLag - 1
        if keepFrom - bufferStart > 4 * (maxLag + 1) {
            buffer.removeFirst(keepFrom - bufferStart)
            bufferStart = keepFrom
        }
    }

    /// Appends the next input samples and appends to `out` every output sample now complete.
    public mutating func process(_ x: UnsafeBufferPointer<Float>, into out: inout [Float]) {
        buffer.append(contentsOf: x)
        received += x.count
        emit(upTo: max(emitted, received - delay), into: &out)
    }

    /// Appends to `out` the output samples still held (the input has ended).
    public mutating func finish(into out: inout [Float]) {
        emit(upTo: received, into: &out)
    }

    /// The whole filtered signal of `x` `[samples]`.
    public static func apply(_ x: [Float], strength: Float, f0: [Float], voicing: [Float], sampleRate: Int, hopLength: Int) -> [Float] {
        var filter = PitchPostfilter(strength: strength, f0: f0, voicing: voicing, sampleRate: sampleRate, hopLength: hopLength)
        var out: [Float] = []
        out.reserveCapacity(x.count)
        x.withUnsafeBufferPointer { filter.process($0, into: &out) }
        filter.finish(into: &out)
        return out
    }
}
