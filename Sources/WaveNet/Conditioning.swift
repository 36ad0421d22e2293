// What a voice derives from an utterance's conditioning frames: pitch for the harmonic source, LPC coefficients, and the
// per-sample linear prediction, computed the same way for training segments and for generation.
import DSP
import Foundation

/// The frame-rate conditioning of one utterance and what is derived from it alone.
///
/// Everything is computed from the normalised conditioning frames (what `synth features` writes and a `.npy`
/// input holds), never from the audio, so training (from a recording) and vocoding (from a recording or a `.npy`)
/// derive bit-identical F0 tracks, phases and LPC coefficients:
/// - with `pitch`: F0 in Hz `exp(column * f0_std + f0_mean)` and the voicing, per frame;
/// - with `source`: the harmonic source's per-frame start phases (`HarmonicSource.framePhases`);
/// - with `lpc`: LPC coefficients `[frames, lpc_order]` from the de-normalised log-mels (`MelLPC`).
public struct FrameConditioning: Sendable {
    /// Normalised conditioning frames `[frames, frame_features]`.
    public let features: [Float]
    public let frames: Int
    /// F0 in Hz and voicing in [0, 1] per frame, `[frames]` each (empty without `pitch`).
    public let f0: [Float]
    public let voicing: [Float]
    /// Phase in cycles at each frame's first sample, `[frames]` (empty without `source`).
    public let phases: [Double]
    /// Predictor coefficients `[frames, lpc_order]` (empty without `lpc`).
    public let coefficients: [Float]
    /// With `pitch_lag`: the pitch period in samples, `round(sample_rate / F0)` clamped to `pitchLagRange`,
    /// `[frames]` (empty otherwise).
    public let lags: [Int32]

    /// - Parameter lpc: the voice's `MelLPC` (needed when `config.lpc`).
    public init(config c: WaveNetConfig, features: [Float], frames: Int, lpc: MelLPC?) {
        precondition(features.count == frames * c.frameFeatures, "FrameConditioning: features must be [frames, frame_features]")
        self.features = features
        self.frames = frames
        let W = c.frameFeatures, M = c.melBins
        (f0, voicing) = c.pitchColumns(features: features, frames: frames) ?? ([], [])
        phases = c.source ? c.harmonicSource.framePhases(f0: f0) : []
        let range = c.pitchLagRange, rate = Float(c.features.sampleRate)
        lags = c.pitchLag ? f0.map { Int32(min(max((rate / $0).rounded(), Float(range.lowerBound)), Float(range.upperBound))) } : []
        if c.lpc, let lpc {
            var logMel = [Float](repeating: 0, count: frames * M)
            for f in 0..<frames { for k in 0..<M { logMel[f * M + k] = features[f * W + k] * c.featureStd[k] + c.featureMean[k] } }
            coefficients = lpc.coefficients(logMel: logMel, frames: frames)
        } else {
            precondition(!c.lpc, "FrameConditioning: an LPC voice needs its MelLPC")
            coefficients = []
        }
    }

    /// Writes the harmonic source's channels for sample `t` (with `source`).
    @inline(__always)
    func fillSource(_ src: HarmonicSource, sample t: Int, out: UnsafeMutablePointer<Float>) {
        f0.withUnsafeBufferPointer { f in
            voicing.withUnsafeBufferPointer { v in
                phases.withUnsafeBufferPointer { p in
                    src.fill(sample: t, f0: f.baseAddress!, voicing: v.baseAddress!, phases: p.baseAddress!, frames: frames, out: out)
                }
            }
        }
    }
}

extension WaveNetConfig {
    /// F0 in Hz and voicing in [0, 1] per frame `[frames]` each, read from a `pitch` voice's normalised conditioning
    /// frames `[frames, frame_features]` (nil without `pitch`). Clamped so that a hostile .npy cannot make F0 infinite
    /// or zero (0.1 Hz ... 10 kHz); a non-finite voicing reads as 0.
    public func pitchColumns(features: [Float], frames: Int) -> (f0: [Float], voicing: [Float])? {
        guard pitch else { return nil }
        precondition(features.count == frames * frameFeatures, "pitchColumns: features must be [frames, frame_features]")
        let W = frameFeatures, M = melBins
        let f0 = (0..<frames).map { f in
            let v = features[f * W + M] * f0Std + f0Mean
            return v.isFinite ? exp(min(max(v, -2.3), 9.2)) : exp(f0Mean)
        }
        let voicing = (0..<frames).map { f in let v = features[f * W + M + 1]; return v.isFinite ? min(max(v, 0), 1) : 0 }
        return (f0, voicing)
    }

    /// The harmonic source of a `source` voice.
    public var harmonicSource: HarmonicSource {
        HarmonicSource(harmonics: sourceHarmonics, sampleRate: features.sampleRate, hopLength: features.hopLength)
    }

    /// The mel-to-LPC converter of an `lpc` voice (nil otherwise).
    /// - Throws: `FeatureConfigError` or `LinearPredictionError` for a config that `validate()` would refuse.
    public func makeMelLPC() throws -> MelLPC? {
        guard lpc else { return nil }
        let floorRMS = lpcNoiseFloorDB.map { pow(10, Double($0) / 20) } ?? 0
        return try MelLPC(features: features, order: lpcOrder, preemphasis: preemphasis, absoluteFloorRMS: floorRMS)
    }
}

/// The linear prediction of one stream of samples (LPCNet's `p[t]`), advanced one sample at a time.
///
/// The predictor reads the mu-law-decoded signal `decode(class of s[t-k])`, as LPCNet does, so that training (from
/// the recording's classes) and generation (from the drawn samples' classes) compute it identically.
struct LinearPredictor {
    let order: Int
    /// The last `order` decoded samples, most recent first.
    let history: UnsafeMutablePointer<Float>
    /// The prediction of the current sample.
    private(set) var prediction: Float = 0

    init(order: Int) {
        self.order = order
        history = .allocate(capacity: max(order, 1))
        history.update(repeating: 0, count: max(order, 1))
    }

    func deallocate() { history.deallocate() }

    mutating func reset() {
        history.update(repeating: 0, count: max(order, 1))
        prediction = 0
    }

    /// Takes the previous sample's decoded value `s[t-1]` (skip at the first sample) and computes `p[t]` with the
    /// coefficients of `t`'s frame.
    @inline(__always)
    mutating func push(_ previous: Float) {
        var k = order - 1
        while k > 0 { history[k] = history[k - 1]; k -= 1 }
        history[0] = previous
    }

    @inline(__always)
    mutating func predict(coefficients: UnsafePointer<Float>) -> Float {
        prediction = MelLPC.predict(coefficients: coefficients, history: history, order: order)
        return prediction
    }
}

extension FrameConditioning {
    /// With `lpc`: the mu-law classes of the prediction `p[t]` and of the excitation `e[t] = s[t] - p[t]` for every
    /// sample of an utterance whose pre-emphasised waveform has the classes `signal` (`[samples]` each), as generation
    /// would see them if it drew exactly these samples: the predictor reads `decode(signal[t-k])`.
    func lpcClasses(signal: [Int32], config c: WaveNetConfig, waveform: [Float]) -> (predictions: [Int32], excitations: [Int32]) {
        let hop = c.features.hopLength, K = c.classes
        var lp = LinearPredictor(order: c.lpcOrder)
        defer { lp.deallocate() }
        let decode = (0..<K).map { MuLaw.decode($0, classes: K) }
        var pc = [Int32](repeating: 0, count: signal.count), ec = pc
        coefficients.withUnsafeBufferPointer { a in
            for t in 0..<signal.count {
                if t > 0 { lp.push(decode[Int(signal[t - 1])]) }
                let f = MelLPC.frame(ofSample: t, hop: hop, frames: frames)
                let p = lp.predict(coefficients: a.baseAddress! + f * c.lpcOrder)
                pc[t] = Int32(MuLaw.encode(p, classes: K))
                ec[t] = Int32(MuLaw.encode(waveform[t] - p, classes: K))
            }
        }
        return (pc, ec)
    }
}
