// Speech training data: manifest parsing, silence trimming, log-mel features and random teacher-forcing segments.
import AREngine
import Audio
import DSP
import Foundation
import NNCore
import Tabular

/// One utterance ready for training: mu-law classes, un-normalised log-mels and pitch, and (after `prepare`) the
/// voice's conditioning frames and LPC classes.
public struct Utterance {
    public var path: String
    public var speaker: Int
    /// mu-law classes of the (pre-emphasised) waveform, `[samples]`.
    public var classes: [Int32]
    /// Log-mel frames `[frames, mel_bins]` (natural log), frame `f` centred on sample `f * hop`.
    public var logMel: [Float]
    public var frames: Int
    /// Continuous F0 in Hz and voicing (0 or 1) per frame, `[frames]` each (pYIN); empty when not analysed.
    public var f0: [Float] = []
    public var voicing: [Float] = []
    /// The pre-emphasised waveform, clamped to [-1, 1], `[samples]`; kept until `prepare` derives the LPC classes.
    public var waveform: [Float] = []
    /// Set by `prepare(config:lpc:)`: the normalised conditioning and what derives from it.
    public var conditioning: FrameConditioning?
    /// Set by `prepare` for an `lpc` voice: classes of `p[t]` and of `e[t] = s[t] - p[t]`, `[samples]` each.
    public var predictionClasses: [Int32] = []
    public var excitationClasses: [Int32] = []
    public var sampleCount: Int { classes.count }

    public init(path: String, speaker: Int, classes: [Int32], logMel: [Float], frames: Int,
                f0: [Float] = [], voicing: [Float] = [], waveform: [Float] = []) {
        self.path = path
        self.speaker = speaker
        self.classes = classes
        self.logMel = logMel
        self.frames = frames
        self.f0 = f0
        self.voicing = voicing
        self.waveform = waveform
    }

    /// `prepare(config:lpc:)` on a copy, building the LPC analysis when the voice needs it.
    public func prepared(config c: WaveNetConfig) -> Utterance {
        var u = self
        u.prepare(config: c, lpc: try! c.makeMelLPC())  // a config that loaded or trained was validated
        return u
    }

    /// Computes the voice's conditioning frames (normalised with `config`'s statistics) and, for an `lpc` voice,
    /// the prediction and excitation classes; then drops the waveform. Idempotent.
    public mutating func prepare(config c: WaveNetConfig, lpc: MelLPC?) {
        if conditioning != nil { return }
        precondition(!c.pitch || (f0.count == frames && voicing.count == frames), "\(path): a pitch voice needs the utterance's pitch track")
        let cond = FrameConditioning(config: c, features: c.frameFeatures(logMel: logMel, f0: f0, voicing: voicing),
                                     frames: frames, lpc: lpc)
        if c.lpc {
            precondition(waveform.count == sampleCount, "\(path): an LPC voice needs the utterance's waveform")
            (predictionClasses, excitationClasses) = cond.lpcClasses(signal: classes, config: c, waveform: waveform)
        }
        conditioning = cond
        waveform = []
    }
}

/// Errors about training data; each names the manifest line or file.
public enum DatasetError: Error, CustomStringConvertible {
    case manifest(path: String, line: Int, reason: String)
    case empty(path: String, split: String)
    case tooShort(path: String, needed: Int)

    public var description: String {
        switch self {
        case .manifest(let p, let l, let r): return "\(p):\(l): \(r)"
        case .empty(let p, let s): return "\(p): no usable utterances in split '\(s)'"
        case .tooShort(let p, let n): return "\(p): every utterance is shorter than the segment length (\(n) samples); lower --segment"
        }
    }
}

/// A row of a speech manifest (TSV or CSV with a header naming at least `path` and `speaker`;
/// `split` is optional and defaults to `train`). Paths are relative to the manifest's folder.
public struct ManifestRow: Equatable {
    public var path: String
    public var speaker: String
    public var split: String
    public var line: Int
}

public enum SpeechManifest {
    /// Parses a manifest (the `Table` format: TSV or CSV).
    /// - Throws: `TableError` for an unreadable file, a header without `path` and `speaker`, or a malformed row
    ///   (wrong field count, empty path or speaker, a split other than `train` or `valid`), naming the line.
    public static func read(_ url: URL) throws -> [ManifestRow] {
        let table = try Table.read(url)
        let cols = try table.require(["path", "speaker"], expected: "path, speaker[, split]")
        let (pi, si) = (cols[0], cols[1])
        let spi = table.column("split")
        return try table.rows.map { row in
            let f = try table.fields(row)
            func bad(_ r: String) -> TableError { .row(path: table.path, line: row.line, reason: r) }
            guard !f[pi].isEmpty, !f[si].isEmpty else { throw bad("empty path or speaker") }
            let split = spi.map { f[$0] } ?? "train"
            guard split == "train" || split == "valid" else { throw bad("split must be 'train' or 'valid', got '\(split)'") }
            return ManifestRow(path: f[pi], speaker: f[si], split: split, line: row.line)
        }
    }
}

extension SpeechManifest {
    /// Loads the rows of one split as utterances (`SpeechLoader.load`: trimmed, pre-emphasised, mu-law classes
    /// and log-mels), in manifest order; files that are silent after trimming are left out. Relative paths are
    /// resolved against `manifest`'s folder; speakers are numbered by their index in `speakers`.
    /// `limit > 0` keeps the first `limit` rows of the split. Progress counts files.
    /// - Throws: `DatasetError.manifest` naming the line, for a speaker not in `speakers` or a file that cannot
    ///   be read.
    public static func utterances(_ rows: [ManifestRow], split: String, manifest: URL, speakers: [String],
                                  loader: SpeechLoader, limit: Int = 0,
                                  progress: (ProgressReport) -> Void = { _ in }) throws -> [Utterance] {
        var sel = rows.filter { $0.split == split }
        if limit > 0 { sel = Array(sel.prefix(limit)) }
        var utts: [Utterance] = []
        for (i, r) in sel.enumerated() {
            guard let spk = speakers.firstIndex(of: r.speaker) else {
                throw DatasetError.manifest(path: manifest.path, line: r.line,
                                            reason: "speaker '\(r.speaker)' is not one of the voice's speakers (\(speakers.joined(separator: ", ")))")
            }
            let url = Table.resolve(r.path, relativeTo: manifest)
            do {
                if let u = try loader.load(url, speaker: spk) { utts.append(u) }
            } catch {
                throw DatasetError.manifest(path: manifest.path, line: r.line, reason: "\(error)")
            }
            progress(ProgressReport(done: i + 1, total: sel.count, unit: "files"))
        }
        return utts
    }
}

/// Loads and prepares utterances: read (libsndfile), mix down and resample (libsamplerate), trim
/// leading and trailing silence (`top_db`), optionally change the speed, pre-emphasise, mu-law encode, and
/// compute log-mels.
public struct SpeechLoader {
    public var features: FeatureConfig
    public var classes: Int
    public var preemphasis: Float
    /// Pitch analysis (pYIN) of every utterance, for `pitch` voices; nil = none.
    public var pitch: PitchEstimator?
    /// Keep the pre-emphasised waveform in each utterance (needed by `Utterance.prepare` for `lpc` voices).
    public var keepWaveform = false
    public var trimTopDB: Float = 40
    /// Silence kept on each side after trimming, in samples.
    public var trimMargin: Int = 800
    /// Speed perturbation factor (Ko et al. 2015, "Audio augmentation for speech recognition"): the trimmed
    /// audio is resampled with libsamplerate as if it had been recorded at `speed` times the sample rate, so
    /// it plays `speed` times faster, with pitch and formants scaled by `speed` and `1 / speed` as many
    /// samples. 1 = unchanged. Must be positive (`load` throws `AudioError.invalidArgument` otherwise).
    public var speed: Double = 1
    let mel: MelSpectrogram

    public init(features: FeatureConfig, classes: Int, preemphasis: Float) throws {
        self.features = features
        self.classes = classes
        self.preemphasis = preemphasis
        mel = try MelSpectrogram(config: features)
    }

    /// A loader that prepares what `config`'s switches need (pitch analysis, the waveform for LPC).
    public init(config c: WaveNetConfig) throws {
        try self.init(features: c.features, classes: c.classes, preemphasis: c.preemphasis)
        if c.pitch { pitch = try PitchEstimator(config: c.pitchConfig, sampleRate: c.features.sampleRate, hopLength: c.features.hopLength) }
        keepWaveform = c.lpc
    }

    /// Pre-emphasis `y[t] = x[t] - coef * x[t-1]` (identity when `coef == 0`).
    public static func preemphasize(_ x: [Float], coef: Float) -> [Float] {
        guard coef > 0, !x.isEmpty else { return x }
        var y = x
        for t in stride(from: x.count - 1, to: 0, by: -1) { y[t] = x[t] - coef * x[t - 1] }
        return y
    }

    /// Inverse of `preemphasize`: `y[t] = x[t] + coef * y[t-1]`.
    public static func deemphasize(_ x: inout [Float], coef: Float) {
        guard coef > 0, x.count > 1 else { return }
        for t in 1..<x.count { x[t] += coef * x[t - 1] }
    }

    /// Loads one file as an utterance, or nil if it is silent after trimming.
    public func load(_ url: URL, speaker: Int, trim: Bool = true) throws -> Utterance? {
        var x = try AudioIO.readMono(url, sampleRate: features.sampleRate)
        if trim {
            let r = Silence.trimSilence(x, frameLength: features.winLength, hopLength: features.hopLength, topDB: trimTopDB)
            if r.isEmpty { return nil }
            // Keep a margin and start on a frame boundary so segment starts align with frames.
            let lo = max(0, r.lowerBound - trimMargin) / features.hopLength * features.hopLength
            let hi = min(x.count, r.upperBound + trimMargin)
            x = Array(x[lo..<hi])
        }
        if speed != 1 {
            let rate = features.sampleRate
            x = try AudioIO.resample(x, from: Int((Double(rate) * speed).rounded()), to: rate, path: url.path)
        }
        if x.isEmpty { return nil }
        return utterance(x, path: url.path, speaker: speaker)
    }

    /// An utterance from a waveform at the feature sample rate (no trimming): log-mels, pitch if the loader
    /// analyses it, pre-emphasised mu-law classes, and the waveform if kept.
    public func utterance(_ x: [Float], path: String, speaker: Int) -> Utterance {
        let lm = mel.logMel(x)
        let frames = mel.frameCount(for: x.count)
        let e = Self.preemphasize(x, coef: preemphasis).map { min(max($0, -1), 1) }
        let cls = e.map { Int32(MuLaw.encode($0, classes: classes)) }
        var u = Utterance(path: path, speaker: speaker, classes: cls, logMel: lm, frames: frames)
        if let pitch {
            let track = pitch.track(x)
            u.f0 = track.continuousF0()
            u.voicing = track.voiced.map { $0 ? 1 : 0 }
        }
        if keepWaveform { u.waveform = e }
        return u
    }
}

/// Training data for `WaveNetTrainable`: random frame-aligned segments from training utterances
/// (chosen in proportion to their length) and a fixed set of validation segments.
public final class SpeechTrainingData: TrainingData {
    public let config: WaveNetConfig
    public let train: [Utterance]
    public let valid: [Utterance]
    /// Segment length in samples (a multiple of hop_length) and segments per batch.
    public let segment: Int
    public let batchSize: Int
    /// Standard deviation, in mu-law classes, of the Gaussian noise of training batches (rounded to whole classes
    /// and clamped to the class range); validation batches stay clean. 0 = off. The model learns not to trust its
    /// past samples exactly, as it cannot when it generates from its own draws.
    /// - Without `lpc` (FFTNet, Jin et al. 2018): the noise is added to the teacher-forced input samples; the
    ///   targets stay the recording's.
    /// - With `lpc` (LPCNet, Valin and Skoglund 2019, section 3.3): the noise is added to the excitation that is fed
    ///   back, and the segment is rebuilt as generation would rebuild it from those draws (`s = p + e`, the predictor
    ///   reading the rebuilt signal), so the errors pass through the synthesis filter as they do in generation; the
    ///   target at each sample is the excitation that would bring the signal back to the recording,
    ///   `e[t] = s_clean[t] - p_noisy[t]` (`simulateGeneration`).
    public var inputNoise: Float = 0
    /// Training utterances drawn in proportion to their number of segment starts.
    let picker: WeightedPicker
    let fixedValidation: [WaveNetBatch]

    /// - Parameter validationSegments: validation segments, rounded up to a multiple of `batchSize`. They
    ///   are centred on evenly spaced points of the valid split's concatenated samples, so each file counts
    ///   in proportion to its length (as in `synth eval`, which scores every sample).
    /// - Throws: `DatasetError.tooShort` if no training utterance holds a full segment.
    /// - Throws: `DatasetError.tooShort` if no training utterance holds a full segment; `FeatureConfigError` for a
    ///   config that cannot build its LPC analysis.
    public init(config: WaveNetConfig, train: [Utterance], valid: [Utterance], segment: Int, batchSize: Int, validationSegments: Int = 96) throws {
        let hop = config.features.hopLength
        self.config = config
        let seg = segment / hop * hop
        self.segment = seg
        self.batchSize = batchSize
        let lpc = try config.makeMelLPC()
        func prepared(_ utts: [Utterance]) -> [Utterance] {
            utts.filter { $0.sampleCount > seg }.map { var u = $0; u.prepare(config: config, lpc: lpc); return u }
        }
        let trainUtts = prepared(train), validUtts = prepared(valid)
        self.train = trainUtts
        self.valid = validUtts
        guard !trainUtts.isEmpty else { throw DatasetError.tooShort(path: "training split", needed: seg) }
        picker = WeightedPicker(weights: trainUtts.map { $0.sampleCount - seg })
        // Validation: deterministic segments centred on evenly spaced points of the valid samples.
        var vb: [WaveNetBatch] = []
        let count = (max(1, validationSegments) + batchSize - 1) / batchSize * batchSize
        var ends: [Int] = []
        var validSamples = 0
        for u in validUtts { validSamples += u.sampleCount; ends.append(validSamples) }
        if !validUtts.isEmpty {
            var picks: [(Utterance, Int)] = []
            for k in 0..<count {
                let point = Int((Double(k) + 0.5) * Double(validSamples) / Double(count))
                let i = ends.firstIndex { $0 > point } ?? validUtts.count - 1
                let u = validUtts[i]
                let within = point - (ends[i] - u.sampleCount)
                let lastFrame = (u.sampleCount - seg - 1) / hop
                picks.append((u, min(max(0, (within - seg / 2) / hop), lastFrame) * hop))
            }
            for chunk in stride(from: 0, to: picks.count, by: batchSize) {
                vb.append(Self.makeBatch(Array(picks[chunk..<chunk + batchSize]), config: config, segment: seg))
            }
        }
        fixedValidation = vb
        validationSignature = validUtts.isEmpty ? "no validation data"
            : "\(count) segments of \(seg) samples from \(validUtts.count) valid files, \(validSamples) samples, " +
              "\(config.conditioningReach) mel frame\(config.conditioningReach == 1 ? "" : "s") of context on each side"
    }

    public func trainingBatch(rng: inout Xoshiro256) -> WaveNetBatch {
        trainingBatch(rng: &rng, rows: 0..<batchSize)
    }

    public var batchRows: Int { batchSize }

    /// Rows `rows` of the batch `trainingBatch(rng:)` draws: every row's segment and every input's noise are drawn
    /// (so `rng` advances as for the whole batch), and only the rows asked for are built.
    public func trainingBatch(rng: inout Xoshiro256, rows: Range<Int>) -> WaveNetBatch {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= batchSize && !rows.isEmpty, "rows \(rows) of a batch of \(batchSize)")
        let hop = config.features.hopLength
        var picks: [(Utterance, Int)] = []
        for b in 0..<batchSize {
            let u = train[picker.pick(&rng)]
            let maxFrameStart = (u.sampleCount - segment - 1) / hop
            let start = rng.nextInt(below: maxFrameStart + 1) * hop
            if rows.contains(b) { picks.append((u, start)) }
        }
        var batch = Self.makeBatch(picks, config: config, segment: segment)
        if inputNoise > 0 && config.lpc {
            // One draw per (row, sample), row-major over the whole batch, applied to the rows built here.
            var noise: [Float] = []
            noise.reserveCapacity(rows.count * segment)
            for b in 0..<batchSize {
                for _ in 0..<segment {
                    let n = inputNoise * rng.nextGaussian()
                    if rows.contains(b) { noise.append(n) }
                }
            }
            Self.simulateGeneration(&batch, picks: picks, config: config, noise: noise)
        } else if inputNoise > 0 {
            // Time-major, as the whole batch's inputs: one draw per (t, b), applied to the rows built here.
            let top = Float(config.classes - 1), B = batchSize, R = rows.count
            for t in 0..<segment {
                for b in 0..<B {
                    let noise = inputNoise * rng.nextGaussian()
                    guard rows.contains(b) else { continue }
                    let i = t * R + b - rows.lowerBound
                    let noisy = (Float(batch.inputs[i]) + noise).rounded()
                    batch.inputs[i] = Int32(min(max(noisy, 0), top))
                }
            }
        }
        return batch
    }

    public func validationBatches() -> [WaveNetBatch] { fixedValidation }
    public let validationSignature: String

    /// Builds a time-major teacher-forcing batch from (utterance, start sample) pairs of prepared utterances
    /// (`Utterance.prepare`): `T` samples of each, `start` a multiple of hop_length and `start + T <= sampleCount`.
    /// The input at step t is the class of sample start+t-1 (the true previous sample, or silence at 0), the target
    /// that of sample start+t (with `lpc`: of the excitation, and the inputs add the classes of `p[t]` and `e[t-1]`;
    /// with `source`: the harmonic source of each sample, by its index in the utterance); the conditioning is
    /// `T / hop + 1` normalised frames from frame `start / hop`, with `framePad = conditioningReach` frames of context
    /// on each side, so that the conditioning network computes what it computes over the whole utterance in
    /// generation (`WaveNetModel.utteranceConditioning`); frames outside the utterance are zeros there and here.
    public static func makeBatch(_ picks: [(Utterance, Int)], config c: WaveNetConfig, segment T: Int) -> WaveNetBatch {
        let B = picks.count, hop = c.features.hopLength, W = c.frameFeatures, pad = c.conditioningReach
        let frames = T / hop + 1 + 2 * pad, K = c.sourceChannels
        let silence = Int32(MuLaw.encode(0, classes: c.classes))
        var inputs = [Int32](repeating: 0, count: T * B), targets = inputs
        var predictions = c.lpc ? inputs : [], excitations = c.lpc ? inputs : [], lags = c.pitchLag ? inputs : []
        var source = [Float](repeating: 0, count: T * B * K)
        var mels = [Float](repeating: 0, count: frames * B * W)
        let harmonic = c.harmonicSource
        for (b, (u, start)) in picks.enumerated() {
            guard let cond = u.conditioning else { preconditionFailure("\(u.path): makeBatch needs a prepared utterance") }
            for t in 0..<T {
                targets[t * B + b] = c.lpc ? u.excitationClasses[start + t] : u.classes[start + t]
                inputs[t * B + b] = start + t > 0 ? u.classes[start + t - 1] : silence
                if c.lpc {
                    predictions[t * B + b] = u.predictionClasses[start + t]
                    excitations[t * B + b] = start + t > 0 ? u.excitationClasses[start + t - 1] : silence
                }
                if c.pitchLag {
                    let back = start + t - Int(cond.lags[MelLPC.frame(ofSample: start + t, hop: hop, frames: cond.frames)])
                    lags[t * B + b] = back >= 0 ? u.excitationClasses[back] : silence
                }
            }
            if K > 0 {
                source.withUnsafeMutableBufferPointer { sp in
                    for t in 0..<T { cond.fillSource(harmonic, sample: start + t, out: sp.baseAddress! + (t * B + b) * K) }
                }
            }
            let first = start / hop - pad
            for f in 0..<frames {
                let src = first + f
                guard src >= 0, src < u.frames else { continue }
                for k in 0..<W { mels[(f * B + b) * W + k] = cond.features[src * W + k] }
            }
        }
        var batch = WaveNetBatch(time: T, batch: B, inputs: inputs, targets: targets, mels: mels, frames: frames,
                                 speakers: picks.map { Int32($0.0.speaker) }, framePad: pad)
        batch.predictions = predictions
        batch.excitations = excitations
        batch.lags = lags
        batch.source = source
        return batch
    }

    /// For an `lpc` voice: rewrites a teacher-forcing batch (from `makeBatch` with the same `picks`) as generation
    /// would produce it if every drawn excitation class were off by `noise` classes, rounded (`[segments, time]`, one
    /// value per sample; `trainingBatch` draws them Gaussian; LPCNet's training-time noise, Valin and Skoglund 2019). Per segment, from the recording's
    /// samples before the segment: `p[t]` from the rebuilt history, target `e[t] = encode(decode(class of s[t]) - p[t])`
    /// (the correction back to the recording), the drawn `e~[t] = clamp(e[t] + n[t])`, and the rebuilt sample's class
    /// `encode(p[t] + decode(e~[t]))`, exactly as `SampleStream` rebuilds it. The inputs at `t + 1` are that class,
    /// `p[t + 1]`'s class and `e~[t]`; with `pitch_lag`, `e~[t - P]` (the recording's excitation before the segment).
    /// With zero noise the history is the recording's (up to its 8-bit quantisation).
    static func simulateGeneration(_ batch: inout WaveNetBatch, picks: [(Utterance, Int)], config c: WaveNetConfig,
                                   noise: [Float]) {
        precondition(noise.count == picks.count * batch.time, "simulateGeneration: one noise value per sample of every segment")
        let B = picks.count, T = batch.time, K = c.classes, hop = c.features.hopLength, order = c.lpcOrder
        let decode = (0..<K).map { MuLaw.decode($0, classes: K) }
        var lp = LinearPredictor(order: order)
        defer { lp.deallocate() }
        var draws = [Int32](repeating: 0, count: T)
        for (b, (u, start)) in picks.enumerated() {
            guard let cond = u.conditioning else { preconditionFailure("\(u.path): simulateGeneration needs a prepared utterance") }
            lp.reset()
            for k in stride(from: order, through: 1, by: -1) where start - k >= 0 { lp.push(decode[Int(u.classes[start - k])]) }
            cond.coefficients.withUnsafeBufferPointer { a in
                for t in 0..<T {
                    let n = start + t
                    let p = lp.predict(coefficients: a.baseAddress! + MelLPC.frame(ofSample: n, hop: hop, frames: cond.frames) * order)
                    let target = MuLaw.encode(decode[Int(u.classes[n])] - p, classes: K)
                    let drawn = min(max(target + Int(noise[b * T + t].rounded()), 0), K - 1)
                    let signal = MuLaw.encode(p + decode[drawn], classes: K)
                    batch.predictions[t * B + b] = Int32(MuLaw.encode(p, classes: K))
                    batch.targets[t * B + b] = Int32(target)
                    draws[t] = Int32(drawn)
                    if c.pitchLag {
                        let back = t - Int(cond.lags[MelLPC.frame(ofSample: n, hop: hop, frames: cond.frames)])
                        if back >= 0 { batch.lags[t * B + b] = draws[back] }
                    }
                    if t + 1 < T {
                        batch.inputs[(t + 1) * B + b] = Int32(signal)
                        batch.excitations[(t + 1) * B + b] = Int32(drawn)
                    }
                    lp.push(decode[signal])
                }
            }
        }
    }

    /// Per-mel-bin mean and standard deviation of log-mels over utterances (for `feature_mean`/`feature_std`).
    public static func featureStatistics(_ utts: [Utterance], melBins M: Int) -> (mean: [Float], std: [Float]) {
        var sum = [Double](repeating: 0, count: M), sq = sum
        var n = 0
        for u in utts {
            for f in 0..<u.frames { for k in 0..<M { let v = Double(u.logMel[f * M + k]); sum[k] += v; sq[k] += v * v } }
            n += u.frames
        }
        let mean = sum.map { $0 / Double(max(n, 1)) }
        let std = (0..<M).map { k in max(1e-3, (sq[k] / Double(max(n, 1)) - mean[k] * mean[k]).squareRoot()) }
        return (mean.map(Float.init), std.map(Float.init))
    }

    /// Mean and standard deviation of ln F0 (Hz) over the voiced frames of utterances (for `f0_mean`/`f0_std`);
    /// ln 150 Hz and 0.3 when no frame is voiced.
    public static func pitchStatistics(_ utts: [Utterance]) -> (mean: Float, std: Float) {
        var sum = 0.0, sq = 0.0, n = 0
        for u in utts { for (f, v) in zip(u.f0, u.voicing) where v > 0.5 { let l = Double(log(f)); sum += l; sq += l * l; n += 1 } }
        guard n > 1 else { return (Float(log(150.0)), 0.3) }
        let mean = sum / Double(n)
        return (Float(mean), Float(max(0.05, (sq / Double(n) - mean * mean).squareRoot())))
    }
}

/// Adapts `WaveNetModel` to the engine's `TrainableModel`, keeping a workspace per batch shape (a few at most).
public final class WaveNetTrainable: TrainableModel {
    public let model: WaveNetModel
    let workspaces = WorkspaceCache<WaveNetWorkspace>()
    public var parameters: ParameterSet { model.parameters }

    public init(model: WaveNetModel) { self.model = model }

    public func loss(_ batch: WaveNetBatch, backward: Bool) -> (sum: Double, count: Int) {
        let ws = workspaces.workspace(for: [batch.time, batch.batch, batch.frames]) {
            WaveNetWorkspace(config: model.config, time: batch.time, batch: batch.batch, frames: batch.frames)
        }
        let r = model.run(batch, workspace: ws, backward: backward)
        return (r.loss, r.count)
    }
}
