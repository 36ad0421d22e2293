// Mel-envelope correction: rescales a waveform's STFT so that its mel band energies match a target log-mel
// spectrogram (the features a vocoder was conditioned on), block by block in bounded memory.
import Foundation

/// Corrects the spectral envelope of a generated waveform toward the log-mel spectrogram it was generated from.
///
/// One iteration: the STFT of the signal (the features' `n_fft`, hop, window; librosa's `center=True` framing), the
/// mel power of each frame through the features' Slaney filterbank, a gain per mel band `g = sqrt(target / current)`
/// (clamped to ±`maxGainDB`; a band whose target sits at the log floor is only attenuated, never raised, since the
/// floor hides how quiet the input was), spread over the FFT bins as the filterbank-weighted mean of the band gains
/// (bins no band covers, below `fmin` or above `fmax`, keep gain 1), and the inverse STFT (weighted overlap-add,
/// `STFT.inverse`). Each iteration moves the mel energies closer to the target while the phases and the fine
/// structure within each band (the harmonics of a neural vocoder's output) come from the signal itself, so it is a
/// post-filter: an adaptive equaliser at the resolution of the mel bands, like the spectral-envelope corrections of
/// speech enhancement. It knows nothing of models. Units: samples in about [-1, 1]; log-mels in natural log of
/// the power `|STFT|^2` (as `MelSpectrogram.logMel`), `[frames, n_mels]` frame-major; gains in dB.
///
/// With `momentum` β > 0 each round starts from its predecessor's output pushed on along the last step,
/// `y + β (y - y_prev)`, as the fast Griffin-Lim algorithm does (Perraudin, Balazs and Søndergaard, "A fast
/// Griffin-Lim algorithm", WASPAA 2013); the result is the last round's own output. On speech it reaches in 25 rounds
/// what plain rounds reach in 100 (docs/voices.md).
///
/// Streaming: `process` takes the signal in blocks of any size and hands out corrected samples in blocks of
/// `blockSize` (by default the larger of 16,000 samples and 4 margins, so that the margins cost at most half as much
/// again), `blockSize + margin` samples behind (`margin = (iterations + 1) * win_length`, rounded up to a hop),
/// with `finish` giving the rest; each block is corrected on a segment reaching `margin` samples beyond it on both
/// sides, which covers how far `iterations` rounds of STFT and overlap-add can carry a change, so the output equals
/// `apply` on the whole signal (tested to be bit for bit). Memory holds one segment, whatever the length.
public struct MelEnvelopeCorrection {
    public let iterations: Int
    public let maxGainDB: Float
    /// The momentum β of the rounds, in [0, 1) (0: plain rounds).
    public let momentum: Float
    /// Samples handed out per block (a multiple of the hop).
    public let blockSize: Int
    /// Samples of context on each side of a block (a multiple of the hop).
    public let margin: Int
    let stft: STFT
    let config: FeatureConfig
    let filterbank: [Float]   // [n_mels, bins]
    let bands: [Range<Int>]   // non-zero bins of each band
    let binWeight: [Float]    // [bins]: the sum of the filterbank's weights on each bin
    let target: [Float]       // [frames, n_mels] target mel power
    let targetFloored: [Bool] // per target value: at the log floor
    let targetFrames: Int
    let sampleCount: Int

    // Streaming state: `buffer` holds the signal from global sample `bufferStart` on; `emitted` samples are out.
    private var buffer: [Float] = []
    private var bufferStart = 0
    private var emitted = 0

    /// - Parameters:
    ///   - features: the feature settings the target was computed with (sample rate, n_fft, hop, window, mels).
    ///   - targetLogMel: natural-log mel power `[frames, n_mels]` (frame `f` centred on sample `f * hop`); frames
    ///     beyond it (a signal longer than the target covers) are left unchanged.
    ///   - sampleCount: the length of the whole signal, in samples.
    ///   - iterations: rounds of correction, >= 1.
    ///   - maxGainDB: the largest change of a band per round, in dB (> 0).
    ///   - momentum: β in [0, 1) (0: plain rounds).
    ///   - blockSize: samples per streamed block (rounded up to a multiple of the hop); nil: max(16,000, 4 margins).
    /// - Throws: `FeatureConfigError` for bad features, or `.invalid` when `targetLogMel` is not `[frames, n_mels]`
    ///   or a parameter is out of range.
    public init(features: FeatureConfig, targetLogMel: [Float], frames: Int, sampleCount: Int, iterations: Int = 6,
                maxGainDB: Float = 12, momentum: Float = 0, blockSize: Int? = nil) throws {
        try features.validate()
        let M = features.nMels, B = features.nFFT / 2 + 1, hop = features.hopLength
        guard frames >= 0, targetLogMel.count == frames * M else {
            throw FeatureConfigError.invalid(field: "targetLogMel", reason: "must be [frames, n_mels] = [\(frames), \(M)], has \(targetLogMel.count) values")
        }
        guard (1...100).contains(iterations), maxGainDB > 0, maxGainDB.isFinite, momentum >= 0, momentum < 1, sampleCount >= 0,
              (blockSize ?? 1) >= 1 else {
            throw FeatureConfigError.invalid(field: "iterations", reason: "need 1...100 iterations, a finite maxGainDB > 0, a momentum in [0, 1), blockSize >= 1")
        }
        config = features
        self.iterations = iterations
        self.maxGainDB = maxGainDB
        self.momentum = momentum
        let margin = ((iterations + 1) * features.winLength + hop - 1) / hop * hop
        self.margin = margin
        self.blockSize = ((blockSize ?? max(16_000, 4 * margin)) + hop - 1) / hop * hop
        stft = try STFT(nFFT: features.nFFT, hopLength: hop, winLength: features.winLength)
        let fb = MelSpectrogram.melFilterbank(sampleRate: features.sampleRate, nFFT: features.nFFT, nMels: M,
                                              fmin: features.fmin, fmax: features.fmax)
        filterbank = fb
        bands = MelSpectrogram.bandRanges(fb, nMels: M, bins: B)
        var w = [Float](repeating: 0, count: B)
        for m in 0..<M { for k in 0..<B { w[k] += fb[m * B + k] } }
        binWeight = w
        let floorLog = Foundation.log(features.logFloor)
        target = targetLogMel.map { $0.isFinite ? Foundation.exp(min($0, 80)) : 0 }
        targetFloored = targetLogMel.map { !$0.isFinite || $0 <= floorLog + 1e-3 }
        targetFrames = frames
        self.sampleCount = sampleCount
    }

    /// The whole signal corrected at once (`x.count` must be the `sampleCount` given at init).
    public func apply(_ x: [Float]) -> [Float] {
        precondition(x.count == sampleCount, "MelEnvelopeCorrection.apply: the signal must have sampleCount samples")
        return correct(x, from: 0)
    }

    /// The signal `x` of `sampleCount` samples corrected whole, in one call.
    public static func apply(_ x: [Float], features: FeatureConfig, targetLogMel: [Float], frames: Int, iterations: Int = 6,
                             maxGainDB: Float = 12, momentum: Float = 0) throws -> [Float] {
        try MelEnvelopeCorrection(features: features, targetLogMel: targetLogMel, frames: frames, sampleCount: x.count,
                                  iterations: iterations, maxGainDB: maxGainDB, momentum: momentum).apply(x)
    }

    /// Takes the next samples of the signal and appends to `out` every corrected sample now complete (in blocks of
    /// `blockSize`).
    public mutating func process(_ x: UnsafeBufferPointer<Float>, into out: inout [Float]) {
        buffer.append(contentsOf: x)
        // A block is complete when its right margin has arrived (or the signal ends there).
        while bufferStart + buffer.count >= emitted + blockSize + margin {
            emitBlock(upTo: emitted + blockSize, segmentEnd: emitted + blockSize + margin, into: &out)
        }
    }

    /// Appends the corrected samples still held back (call once the whole signal has been given to `process`).
    public mutating func finish(into out: inout [Float]) {
        let end = bufferStart + buffer.count
        while emitted < end {
            emitBlock(upTo: min(end, emitted + blockSize), segmentEnd: end, into: &out)
        }
    }

    private mutating func emitBlock(upTo blockEnd: Int, segmentEnd: Int, into out: inout [Float]) {
        let segmentStart = max(0, emitted - margin)
        let lo = segmentStart - bufferStart, hi = segmentEnd - bufferStart
        let segment = Array(buffer[lo..<hi])
        let corrected = correct(segment, from: segmentStart)
        out.append(contentsOf: corrected[(emitted - segmentStart)..<(blockEnd - segmentStart)])
        emitted = blockEnd
        // Keep what the next segment reads: from its start on.
        let keepFrom = max(0, emitted - margin)
        if keepFrom > bufferStart {
            buffer.removeFirst(keepFrom - bufferStart)
            bufferStart = keepFrom
        }
    }

    /// `iterations` rounds of correction of the samples `x` that start at global sample `start` (a multiple of the
    /// hop, so that local frame `g` is global frame `g + start / hop`); samples outside `x` count as zeros.
    func correct(_ x: [Float], from start: Int) -> [Float] {
        let hop = config.hopLength, M = config.nMels, B = stft.bins
        precondition(start % hop == 0, "MelEnvelopeCorrection: a segment starts on a hop")
        guard !x.isEmpty else { return x }
        let first = start / hop
        let limit = powf(10, maxGainDB / 20)
        var y = x
        var previous: [Float] = []   // the last round's output, for the momentum
        var gains = [Float](repeating: 1, count: M), binGain = [Float](repeating: 1, count: B)
        for _ in 0..<iterations {
            let frames = stft.frameCount(for: y.count)
            var spec = stft.forward(y)
            for g in 0..<frames {
                let f = first + g
                guard f < targetFrames else { continue }
                let row = g * B * 2
                for m in 0..<M {
                    var current: Float = 0
                    for k in bands[m] {
                        let re = spec[row + 2 * k], im = spec[row + 2 * k + 1]
                        current += filterbank[m * B + k] * (re * re + im * im)
                    }
                    let want = target[f * M + m]
                    var gain: Float = current > 0 ? (want / current).squareRoot() : 1
                    if !gain.isFinite { gain = 1 }
                    gain = min(max(gain, 1 / limit), limit)
                    if targetFloored[f * M + m] { gain = min(gain, 1) }
                    gains[m] = gain
                }
                for k in 0..<B { binGain[k] = 0 }
                for m in 0..<M { for k in bands[m] { binGain[k] += filterbank[m * B + k] * gains[m] } }
                for k in 0..<B {
                    let g = binWeight[k] > 0 ? binGain[k] / binWeight[k] : 1
                    spec[row + 2 * k] *= g
                    spec[row + 2 * k + 1] *= g
                }
            }
            let output = stft.inverse(spec, frames: frames, length: y.count)
            if momentum > 0 && !previous.isEmpty {
                for i in 0..<output.count { y[i] = output[i] + momentum * (output[i] - previous[i]) }
            } else {
                y = output
            }
            previous = output
        }
        return previous
    }
}
