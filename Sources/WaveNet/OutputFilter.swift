// What every generation path does to the network's samples before they are written.
import DSP

/// The generated samples' way out: de-emphasis `y[t] = x[t] + coef * y[t-1]` (undoing the voice's pre-emphasis, as
/// `SpeechLoader.deemphasize`), then, for a voice with `output_highpass_hz`, a DC blocker (`DSP.DCBlocker`).
/// Stateful, so an utterance filtered block by block (streaming) gives the same samples bit for bit as filtered whole.
struct OutputFilter {
    let coef: Float
    var blocker: DCBlocker?
    /// The last de-emphasised sample (nil before the first).
    private var last: Float?

    init(config c: WaveNetConfig) {
        coef = c.preemphasis
        blocker = c.outputHighpassHz.map { DCBlocker(cutoffHz: Double($0), sampleRate: c.features.sampleRate) }
    }

    /// Filters the next samples of the utterance in place (layout `[samples]`, values in about [-1, 1]).
    mutating func process(_ x: UnsafeMutableBufferPointer<Float>) {
        if coef > 0 {
            for i in x.indices {
                if let previous = last { x[i] += coef * previous }
                last = x[i]
            }
        }
        blocker?.process(x)
    }

    /// Filters a whole utterance.
    static func apply(_ x: inout [Float], config c: WaveNetConfig) {
        var f = OutputFilter(config: c)
        x.withUnsafeMutableBufferPointer { f.process($0) }
    }
}
