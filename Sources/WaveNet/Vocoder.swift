// The vocoding pipeline: waveform or log-mels in, a WaveNet voice sampling one sample at a time, waveform out.
import AREngine
import Audio
import DSP
import Foundation
import NNCore

/// Errors about vocoder inputs.
public enum VocoderError: Error, CustomStringConvertible, Equatable {
    case silentInput(path: String)
    case featureShape(path: String, expected: Int, layout: String, actual: [Int])
    case nonFiniteFeatures(path: String, frame: Int, bin: Int)

    public var description: String {
        switch self {
        case .silentInput(let p): return "\(p): input is silent (peak below -80 dBFS); nothing to vocode"
        case .featureShape(let p, let e, let l, let a):
            let mine = a.count == 2 && a[1] + 2 == e ? " (it holds mels only: write this voice's features with `synth features --voice V`)" : ""
            return "\(p): feature array has shape \(a), expected [frames, \(e)] (frames >= 1) for this voice: \(l)\(mine)"
        case .nonFiniteFeatures(let p, let f, let b):
            return "\(p): log-mel array holds NaN or infinity at frame \(f), bin \(b)"
        }
    }
}

/// Turns features into speech with a WaveNet voice (van den Oord et al. 2016; Fast WaveNet queues).
public final class Vocoder {
    public let voice: Voice
    let mel: MelSpectrogram
    let pitch: PitchEstimator?
    /// What `speakerScores` builds its teacher-forced utterance with, and the voice's LPC analysis.
    let loader: SpeechLoader
    let lpcAnalysis: MelLPC?
    var generator: WaveNetGenerator?
    /// A factor on the sampling temperature in voiced frames, for `pitch` voices (1 = off, the default): LPCNet's
    /// pitch-dependent temperature, see `WaveNetGenerator.voicedTemperature`. Used by every `generate`.
    public var voicedTemperature: Float = 1
    /// The long-term postfilter's strength on the output (`PitchPostfilter`, 0...1; 0 = off), applied by the streaming
    /// `generate(_:speaker:...)` when `postfilterPitch` finds an F0 track for the input. Starts at the voice's
    /// `pitch_postfilter` (0 without one).
    public var pitchPostfilter: Float
    /// Rounds of mel-envelope correction of the output toward the conditioning's log-mels (`DSP.MelEnvelopeCorrection`;
    /// 0 = off), applied by the streaming `generate(_:speaker:...)` after the pitch postfilter. Starts at the voice's
    /// `mel_correction` (0 without one).
    public var melCorrection: Int
    /// The momentum of those rounds, in [0, 1) (`DSP.MelEnvelopeCorrection.momentum`). Starts at the voice's
    /// `mel_correction_momentum` (0 without one).
    public var melCorrectionMomentum: Float

    /// - Throws: `FeatureConfigError` if the voice's feature or pitch settings cannot be built.
    public init(voice: Voice) throws {
        self.voice = voice
        loader = try SpeechLoader(config: voice.config)
        mel = loader.mel
        pitch = loader.pitch
        lpcAnalysis = try voice.config.makeMelLPC()
        pitchPostfilter = voice.config.pitchPostfilter ?? 0
        melCorrection = voice.config.melCorrection ?? 0
        melCorrectionMomentum = voice.config.melCorrectionMomentum ?? 0
    }

    /// The natural-log mels `[frames, n_mels]` of normalised conditioning frames `[frames, frame_features]`: the first
    /// `n_mels` columns de-normalised with the voice's statistics (what Griffin-Lim and the mel-envelope correction
    /// aim at).
    public func logMels(_ mels: [Float], frames: Int) -> [Float] {
        let c = voice.config, M = c.melBins, W = c.frameFeatures
        var logMel = [Float](repeating: 0, count: frames * M)
        for f in 0..<frames { for k in 0..<M { logMel[f * M + k] = mels[f * W + k] * c.featureStd[k] + c.featureMean[k] } }
        return logMel
    }

    /// The mel-envelope correction of this vocoder's output for `cond` (nil when `melCorrection` is 0).
    /// - Throws: `FeatureConfigError` for features it cannot analyse (not for a voice that loaded).
    public func envelopeCorrection(for cond: Conditioning) throws -> MelEnvelopeCorrection? {
        guard melCorrection > 0 else { return nil }
        return try MelEnvelopeCorrection(features: voice.config.features, targetLogMel: logMels(cond.mels, frames: cond.frames),
                                         frames: cond.frames, sampleCount: cond.sampleCount, iterations: melCorrection,
                                         momentum: melCorrectionMomentum)
    }

    /// The voice's conditioning frames of a waveform at its sample rate: `[frames, frame_features]`, the
    /// normalised log-mels `(ln(max(mel, log_floor)) - feature_mean) / feature_std` and, for a `pitch` voice, the
    /// normalised ln F0 (pYIN, interpolated through unvoiced frames) and the voicing (0 or 1).
    public func features(of samples: [Float]) -> (mels: [Float], frames: Int) {
        let frames = mel.frameCount(for: samples.count)
        var f0: [Float] = [], voicing: [Float] = []
        if let pitch {
            let track = pitch.track(samples)
            f0 = track.continuousF0()
            voicing = track.voiced.map { $0 ? 1 : 0 }
        }
        return (voice.config.frameFeatures(logMel: mel.logMel(samples), f0: f0, voicing: voicing), frames)
    }

    /// The F0 track (Hz) and voicing `[frames]` the pitch postfilter follows: a `pitch` voice's own conditioning
    /// columns (so `.npy` input works); for a voice without pitch, pYIN (the voice's `pitch_config`) on the input
    /// waveform when `cond.samples` holds all of it; else nil.
    public func postfilterPitch(_ cond: Conditioning) -> (f0: [Float], voicing: [Float])? {
        let c = voice.config
        if let columns = c.pitchColumns(features: cond.mels, frames: cond.frames) { return columns }
        guard let x = cond.samples, x.count == cond.sampleCount, !x.isEmpty,
              let estimator = try? PitchEstimator(config: c.pitchConfig, sampleRate: c.features.sampleRate, hopLength: c.features.hopLength)
        else { return nil }
        let track = estimator.track(x)
        return (track.continuousF0(), track.voiced.map { $0 ? 1 : 0 })
    }

    /// Conditioning of one input, ready for `generate`: normalised conditioning frames `[frames, frame_features]`
    /// and the number of samples to generate.
    public struct Conditioning: Sendable {
        public var mels: [Float]
        public var frames: Int
        public var sampleCount: Int
        /// The input waveform at the voice's rate (nil for `.npy` input): what `speakerScores` reads.
        public var samples: [Float]?
    }

    /// Reads an input the way every command does: a `.npy` file (by extension) is taken as normalised
    /// conditioning frames, float32 `[frames, frame_features]` (see `features(of:)`), rendered as
    /// `frames * hop_length` samples; anything else is read as audio (libsndfile; mixed to mono, resampled to the
    /// voice's rate) and its features computed.
    /// - Throws: `AudioError` / `NPYError` for unreadable files or a wrong dtype, `VocoderError.featureShape`
    ///   for a wrong shape, `.nonFiniteFeatures`, or `.silentInput` for silent audio.
    public func conditioning(for url: URL) throws -> Conditioning {
        let c = voice.config
        if url.pathExtension.lowercased() == "npy" {
            let a = try NPY.read(url)
            guard a.shape.count == 2, a.shape[1] == c.frameFeatures, a.shape[0] > 0 else {
                throw VocoderError.featureShape(path: url.path, expected: c.frameFeatures, layout: c.frameLayout, actual: a.shape)
            }
            if let i = a.data.firstIndex(where: { !$0.isFinite }) {
                throw VocoderError.nonFiniteFeatures(path: url.path, frame: i / c.frameFeatures, bin: i % c.frameFeatures)
            }
            return Conditioning(mels: a.data, frames: a.shape[0], sampleCount: a.shape[0] * c.features.hopLength, samples: nil)
        }
        let x = try waveform(of: url)
        let (mels, frames) = features(of: x)
        return Conditioning(mels: mels, frames: frames, sampleCount: x.count, samples: x)
    }

    /// An audio input as `conditioning(for:)` reads it, without its features: mono samples in [-1, 1] at the
    /// voice's sample rate (libsndfile, libsamplerate). What `speakerScores` needs.
    /// - Throws: `AudioError` for an unreadable file, `VocoderError.silentInput` for silent audio.
    public func waveform(of url: URL) throws -> [Float] {
        let x = try AudioIO.readMono(url, sampleRate: voice.config.features.sampleRate)
        if Silence.isSilent(x) { throw VocoderError.silentInput(path: url.path) }
        return x
    }

    /// Generates `sampleCount` samples (in [-1, 1], at the voice's sample rate) conditioned on normalised
    /// frames `[frames, frame_features]` and a speaker, drawing each mu-law class with `sampler`.
    /// Progress counts samples, every 4,000.
    public func generate(mels: [Float], frames: Int, sampleCount: Int, speaker: Int, sampler: inout Sampler,
                         progress: (ProgressReport) -> Void = { _ in }) -> [Float] {
        let c = voice.config
        if generator == nil || generator!.maxFrames < frames {
            generator = WaveNetGenerator(model: voice.model, maxFrames: frames)
        }
        let gen = generator!
        gen.voicedTemperature = voicedTemperature
        gen.start(mels: mels, frames: frames, speaker: speaker)
        var out = [Float](repeating: 0, count: sampleCount)
        var previous = MuLaw.encode(0, classes: c.classes)
        let none = EmptyCollection<Int>()
        for t in 0..<sampleCount {
            let logits = gen.step(previous: previous)
            previous = sampler.sample(logits: UnsafeMutableBufferPointer(start: logits, count: c.classes), history: none)
            out[t] = gen.value(ofClass: previous)
            if t % 4000 == 3999 { progress(ProgressReport(done: t + 1, total: sampleCount, unit: "samples")) }
        }
        OutputFilter.apply(&out, config: c)
        progress(ProgressReport(done: sampleCount, total: sampleCount, unit: "samples"))
        return out
    }
}

extension Vocoder {
    /// The Griffin-Lim baseline on the same features (`DSP.GriffinLim`, 60 iterations of the fast variant): the
    /// conditioning's log-mels, de-normalised with the voice's statistics, turned into `sampleCount` samples. It
    /// uses neither the network nor the speaker, so it shows what the features alone hold.
    public func griffinLim(mels: [Float], frames: Int, sampleCount: Int, iterations: Int = 60, seed: UInt64 = 1) throws -> [Float] {
        try GriffinLim(features: voice.config.features, iterations: iterations).invert(logMel: logMels(mels, frames: frames), frames: frames,
                                                                                         length: sampleCount, seed: seed)
    }

    /// How well each of the voice's speakers explains a recording, for `--speaker auto`: the mean teacher-forced
    /// cross-entropy in nats/sample (lower is better) of its first `seconds` of speech, one value per speaker
    /// in `config.speakers` order.
    ///
    /// Leading silence is trimmed (40 dB below the loudest frame), and the excerpt is scored in frame-aligned
    /// segments of `segment` samples, as validation scores held-out audio. In copy synthesis the recording is
    /// the input, so this picks the speaker embedding under which the model finds the input most likely (a
    /// maximum-likelihood speaker choice; its pitch range and recording conditions matter most). The cost is one
    /// forward pass per speaker over the excerpt. Progress counts speakers.
    public func speakerScores(samples x: [Float], seconds: Double = 1.5, segment: Int = 2000,
                              progress: (ProgressReport) -> Void = { _ in }) -> [Double] {
        let c = voice.config, hop = c.features.hopLength
        let speech = Silence.trimSilence(x, frameLength: c.features.winLength, hopLength: hop)
        let lo = speech.isEmpty ? 0 : speech.lowerBound / hop * hop
        let excerpt = Array(x[lo..<min(x.count, lo + Int(seconds * Double(c.features.sampleRate)))])
        let T = min(segment, excerpt.count) / hop * hop
        guard T > 0 else { return [Double](repeating: 0, count: c.speakers.count) }
        var base = loader.utterance(excerpt, path: "", speaker: 0)
        base.prepare(config: c, lpc: lpcAnalysis)
        let starts = Array(stride(from: 0, through: excerpt.count - T, by: T))
        let scorer = WaveNetTrainable(model: voice.model)
        return c.speakers.indices.map { s in
            var u = base
            u.speaker = s
            var sum = 0.0, count = 0
            // One segment per forward pass keeps the workspace at `segment` rows (about 60 MB for the default voice).
            for start in starts {
                let r = scorer.loss(SpeechTrainingData.makeBatch([(u, start)], config: c, segment: T), backward: false)
                sum += r.sum
                count += r.count
            }
            progress(ProgressReport(done: s + 1, total: c.speakers.count, unit: "speakers"))
            return sum / Double(max(count, 1))
        }
    }

    /// The speaker with the lowest `speakerScores` (ties: the first), and all the scores.
    public func bestSpeaker(samples x: [Float], progress: (ProgressReport) -> Void = { _ in }) -> (index: Int, scores: [Double]) {
        let scores = speakerScores(samples: x, progress: progress)
        return (scores.indices.min { scores[$0] < scores[$1] } ?? 0, scores)
    }
}
