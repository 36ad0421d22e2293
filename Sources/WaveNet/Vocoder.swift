// The vocoding pipeline: waveform or log-mels in, a WaveNet voice sampling one sample at a time, waveform out.
import AREngine
import Audio
import DSP
import Foundation
import NNCore

/// Errors about vocoder inputs.
public enum VocoderError: Error, CustomStringConvertible, Equatable {
    case silentInput(path: String)
    case featureShape(path: String, expected: Int, actual: [Int])
    case nonFiniteFeatures(path: String, frame: Int, bin: Int)

    public var description: String {
        switch self {
        case .silentInput(let p): return "\(p): input is silent (peak below -80 dBFS); nothing to vocode"
        case .featureShape(let p, let e, let a):
            return "\(p): log-mel array has shape \(a), expected [frames, \(e)] (frames >= 1) for this voice"
        case .nonFiniteFeatures(let p, let f, let b):
            return "\(p): log-mel array holds NaN or infinity at frame \(f), bin \(b)"
        }
    }
}

/// Turns features into speech with a WaveNet voice (van den Oord et al. 2016; Fast WaveNet queues).
public final class Vocoder {
    public let voice: Voice
    let mel: MelSpectrogram
    var generator: WaveNetGenerator?

    public init(voice: Voice) throws {
        self.voice = voice
        mel = try MelSpectrogram(config: voice.config.features)
    }

    /// Normalised log-mels of a waveform at the voice's sample rate: `[frames, mel_bins]`,
    /// `(ln(max(mel, log_floor)) - feature_mean) / feature_std`.
    public func features(of samples: [Float]) -> (mels: [Float], frames: Int) {
        normalize(logMel: mel.logMel(samples), frames: mel.frameCount(for: samples.count))
    }

    /// Conditioning of one input, ready for `generate`: normalised log-mels `[frames, mel_bins]` and the
    /// number of samples to generate.
    public struct Conditioning: Sendable {
        public var mels: [Float]
        public var frames: Int
        public var sampleCount: Int
        /// The input waveform at the voice's rate (nil for `.npy` input): what `speakerScores` reads.
        public var samples: [Float]?
    }

    /// Reads an input the way every command does: a `.npy` file (by extension) is taken as normalised
    /// log-mels, float32 `[frames, mel_bins]`, rendered as `frames * hop_length` samples; anything else is
    /// read as audio (libsndfile; mixed to mono, resampled to the voice's rate) and its features computed.
    /// - Throws: `AudioError` / `NPYError` for unreadable files or a wrong dtype, `VocoderError.featureShape`
    ///   for a wrong shape, `.nonFiniteFeatures`, or `.silentInput` for silent audio.
    public func conditioning(for url: URL) throws -> Conditioning {
        let c = voice.config
        if url.pathExtension.lowercased() == "npy" {
            let a = try NPY.read(url)
            guard a.shape.count == 2, a.shape[1] == c.melBins, a.shape[0] > 0 else {
                throw VocoderError.featureShape(path: url.path, expected: c.melBins, actual: a.shape)
            }
            if let i = a.data.firstIndex(where: { !$0.isFinite }) {
                throw VocoderError.nonFiniteFeatures(path: url.path, frame: i / c.melBins, bin: i % c.melBins)
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

    /// Applies the voice's per-bin normalisation to raw natural-log mels `[frames, mel_bins]`.
    public func normalize(logMel: [Float], frames: Int) -> (mels: [Float], frames: Int) {
        (voice.config.normalize(logMel: logMel), frames)
    }

    /// Generates `sampleCount` samples (in [-1, 1], at the voice's sample rate) conditioned on normalised
    /// log-mels `[frames, mel_bins]` and a speaker, drawing each mu-law class with `sampler`.
    /// `progress(done, total)` is called every 4,000 samples.
    public func generate(mels: [Float], frames: Int, sampleCount: Int, speaker: Int, sampler: inout Sampler,
                         progress: (Int, Int) -> Void = { _, _ in }) -> [Float] {
        let c = voice.config
        if generator == nil || generator!.maxFrames < frames {
            generator = WaveNetGenerator(model: voice.model, maxFrames: frames)
        }
        let gen = generator!
        gen.start(mels: mels, frames: frames, speaker: speaker)
        let decode = (0..<c.classes).map { MuLaw.decode($0, classes: c.classes) }
        var out = [Float](repeating: 0, count: sampleCount)
        var previous = MuLaw.encode(0, classes: c.classes)
        let none = EmptyCollection<Int>()
        for t in 0..<sampleCount {
            let logits = gen.step(previous: previous)
            previous = sampler.sample(logits: UnsafeMutableBufferPointer(start: logits, count: c.classes), history: none)
            out[t] = decode[previous]
            if t % 4000 == 3999 { progress(t + 1, sampleCount) }
        }
        SpeechLoader.deemphasize(&out, coef: c.preemphasis)
        progress(sampleCount, sampleCount)
        return out
    }
}

extension Vocoder {
    /// How well each of the voice's speakers explains a recording, for `--speaker auto`: the mean teacher-forced
    /// cross-entropy in nats/sample (lower is better) of its first `seconds` of speech, one value per speaker
    /// in `config.speakers` order.
    ///
    /// Leading silence is trimmed (40 dB below the loudest frame), and the excerpt is scored in frame-aligned
    /// segments of `segment` samples, as validation scores held-out audio. In copy synthesis the recording is
    /// the input, so this picks the speaker embedding under which the model finds the input most likely (a
    /// maximum-likelihood speaker choice; its pitch range and recording conditions matter most). The cost is one
    /// forward pass per speaker over the excerpt. `progress(done, total)` counts speakers.
    public func speakerScores(samples x: [Float], seconds: Double = 1.5, segment: Int = 2000,
                              progress: (Int, Int) -> Void = { _, _ in }) -> [Double] {
        let c = voice.config, hop = c.features.hopLength
        let speech = Silence.trimSilence(x, frameLength: c.features.winLength, hopLength: hop)
        let lo = speech.isEmpty ? 0 : speech.lowerBound / hop * hop
        let excerpt = Array(x[lo..<min(x.count, lo + Int(seconds * Double(c.features.sampleRate)))])
        let T = min(segment, excerpt.count) / hop * hop
        guard T > 0 else { return [Double](repeating: 0, count: c.speakers.count) }
        let classes = SpeechLoader.preemphasize(excerpt, coef: c.preemphasis).map { Int32(MuLaw.encode($0, classes: c.classes)) }
        let base = Utterance(path: "", speaker: 0, classes: classes, logMel: mel.logMel(excerpt),
                             frames: mel.frameCount(for: excerpt.count))
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
            progress(s + 1, c.speakers.count)
            return sum / Double(max(count, 1))
        }
    }

    /// The speaker with the lowest `speakerScores` (ties: the first), and all the scores.
    public func bestSpeaker(samples x: [Float], progress: (Int, Int) -> Void = { _, _ in }) -> (index: Int, scores: [Double]) {
        let scores = speakerScores(samples: x, progress: progress)
        return (scores.indices.min { scores[$0] < scores[$1] } ?? 0, scores)
    }
}
