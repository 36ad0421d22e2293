// Vocoding in bounded memory: features computed block by block as the input is read, conditioning projected a window
// of frames at a time, and samples handed out block by block; the same numbers as the whole-utterance path.
import AREngine
import Audio
import DSP
import Foundation

extension WaveNetGenerator {
    /// Projects the conditioning of frames `a ..< a + n` of the streamed utterance into `condP` (frame rate, once per
    /// window): the frames `a - reach ..< a + n + reach` (zeros outside the utterance, as `utteranceConditioning`
    /// pads) go through `conditioningForward`, and the `n` frames whose receptive field lies inside are kept. Each
    /// kernel-3 layer reads one frame on each side, so a frame `reach` frames from the window's edge sees exactly
    /// what it sees in the whole utterance.
    func projectWindow(from a: Int, count n: Int) {
        guard let (cond, _) = streaming else { return }
        let c = model.config, P = c.conditioningReach, M = c.frameFeatures, LG = c.layers * c.gateChannels
        precondition(n >= 1 && n <= maxFrames, "projectWindow: window larger than the generator")
        var padded = [Float](repeating: 0, count: (n + 2 * P) * M)
        let lo = max(0, a - P), hi = min(cond.frames, a + n + P)
        cond.features.withUnsafeBufferPointer { f in
            padded.withUnsafeMutableBufferPointer { p in
                (p.baseAddress! + (lo - (a - P)) * M).update(from: f.baseAddress! + lo * M, count: (hi - lo) * M)
                model.conditioningForward(mels: p.baseAddress!, frames: n + 2 * P, batch: 1, speakers: speakerIndex,
                                          condH: condH, condP: condP, spkE: spkE, spkP: spkP)
            }
        }
        let src = condP + P * LG
        for i in 0..<(n * LG) { condP[i] = src[i] }
        (condFirst, condHeld) = (a, n)
    }
}

extension Vocoder {
    /// Frames of conditioning projected at a time by the streamed `generate` (256 frames: 3.2 s at hop 200 and
    /// 16 kHz, about 2.6 MB of projections for the shipped voice, whatever the length).
    public static let streamingWindow = 256

    /// `conditioning(for:)` computed while the input is read, so memory holds one block of audio and the features,
    /// not the waveform: audio is read in blocks (`MonoAudioStream`: mono mix, libsamplerate's streaming
    /// converter), and each block's complete STFT frames are turned into normalised log-mels at once. The result
    /// equals `conditioning(for:)` bit for bit. `samples` holds only the first `keepSeconds` of the waveform.
    ///
    /// A `.npy` input, and any input of a voice with pitch conditioning (pYIN decodes the whole track at once), is
    /// read whole by `conditioning(for:)`.
    /// - Throws: as `conditioning(for:)`: `AudioError` (unreadable, empty, NaN samples), `VocoderError.silentInput`.
    /// `progress` counts samples read (unit "samples") against the length the header announces.
    public func streamedConditioning(for url: URL, keepSeconds: Double = 0,
                                     progress: (ProgressReport) -> Void = { _ in }) throws -> Conditioning {
        let c = voice.config
        if c.pitch || url.pathExtension.lowercased() == "npy" {
            var whole = try conditioning(for: url)
            if let x = whole.samples { whole.samples = Array(x.prefix(Int(keepSeconds * Double(c.features.sampleRate)))) }
            return whole
        }
        let stream = try MonoAudioStream(url: url, sampleRate: c.features.sampleRate)
        let hop = c.features.hopLength, n = c.features.nFFT, half = n / 2, floor = c.features.logFloor
        let keep = Int(keepSeconds * Double(c.features.sampleRate))
        var window: [Float] = [], windowStart = 0, total = 0, done = 0
        var features: [Float] = [], kept: [Float] = [], loud = false
        // Room for every frame the header announces, so the array is not copied as it grows.
        features.reserveCapacity(mel.frameCount(for: stream.expectedCount) * c.frameFeatures)
        func analyse(upTo frames: Int) {
            guard frames > done else { return }
            let power = window.withUnsafeBufferPointer { mel.power(frames: done..<frames, of: $0, startingAt: windowStart, sampleCount: total) }
            features += c.normalize(logMel: power.map { Foundation.log(max($0, floor)) })
            done = frames
            // Keep only what the next frame reads: from its first sample on.
            let from = min(max(windowStart, done * hop - half), windowStart + window.count)
            window.removeFirst(from - windowStart)
            windowStart = from
        }
        while let block = try stream.next() {
            if !loud { loud = !Silence.isSilent(block) }
            if kept.count < keep { kept += block.prefix(keep - kept.count) }
            window += block
            total += block.count
            // Frames whose last sample has been read.
            if total + half >= n { analyse(upTo: (total + half - n) / hop + 1) }
            progress(ProgressReport(done: total, total: max(total, stream.expectedCount), unit: "samples"))
        }
        analyse(upTo: mel.frameCount(for: total))
        if !loud { throw VocoderError.silentInput(path: url.path) }
        return Conditioning(mels: features, frames: done, sampleCount: total, samples: kept)
    }

    /// `generate(mels:frames:sampleCount:speaker:sampler:progress:)` block by block: the same samples bit for bit,
    /// but the conditioning is projected `window` frames at a time and each block of `blockSize` de-emphasised (and,
    /// with `output_highpass_hz`, DC-blocked) samples (in [-1, 1], at the voice's rate) goes to `output` as soon as it
    /// is made, so memory does not grow with the utterance. `progress` (unit "samples") follows each block.
    /// With `pitchPostfilter` above 0 and an F0 track for the input (`postfilterPitch`), the samples pass through a
    /// `PitchPostfilter` first, and with `melCorrection` above 0 through a `MelEnvelopeCorrection` toward the
    /// conditioning's log-mels, so `output` gets them in blocks of other sizes, later (the same total).
    /// - Throws: what `output` throws.
    public func generate(_ cond: Conditioning, speaker: Int, sampler: inout Sampler, window: Int = Vocoder.streamingWindow,
                         blockSize: Int = 4000, progress: (ProgressReport) -> Void = { _ in },
                         output: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        let c = voice.config, count = cond.sampleCount
        let gen = WaveNetGenerator(model: voice.model, maxFrames: window + 1)
        gen.voicedTemperature = voicedTemperature
        gen.start(FrameConditioning(config: c, features: cond.mels, frames: cond.frames, lpc: gen.stream.lpc), speaker: speaker,
                  window: window)
        var previous = MuLaw.encode(0, classes: c.classes)
        let none = EmptyCollection<Int>()
        var block = [Float](repeating: 0, count: blockSize)
        var filter = OutputFilter(config: c)
        var postfilter = pitchPostfilter > 0 ? postfilterPitch(cond).map {
            PitchPostfilter(strength: pitchPostfilter, f0: $0.f0, voicing: $0.voicing, sampleRate: c.features.sampleRate,
                            hopLength: c.features.hopLength)
        } : nil
        var corrector = try envelopeCorrection(for: cond)
        var filtered: [Float] = [], corrected: [Float] = []
        /// The block's samples through the envelope correction (when there is one) to `output`.
        func emit(_ x: UnsafeBufferPointer<Float>, last: Bool) throws {
            guard corrector != nil else { return try output(x) }
            corrected.removeAll(keepingCapacity: true)
            corrector!.process(x, into: &corrected)
            if last { corrector!.finish(into: &corrected) }
            try corrected.withUnsafeBufferPointer { try output($0) }
        }
        var t = 0
        while t < count {
            let m = min(blockSize, count - t)
            for i in 0..<m {
                let logits = gen.step(previous: previous)
                previous = sampler.sample(logits: UnsafeMutableBufferPointer(start: logits, count: c.classes), history: none)
                block[i] = gen.value(ofClass: previous)
            }
            block.withUnsafeMutableBufferPointer { filter.process(UnsafeMutableBufferPointer(rebasing: $0[0..<m])) }
            if postfilter != nil {
                filtered.removeAll(keepingCapacity: true)
                block.withUnsafeBufferPointer { postfilter!.process(UnsafeBufferPointer(rebasing: $0[0..<m]), into: &filtered) }
                if t + m == count { postfilter!.finish(into: &filtered) }
                try filtered.withUnsafeBufferPointer { try emit($0, last: t + m == count) }
            } else {
                try block.withUnsafeBufferPointer { try emit(UnsafeBufferPointer(rebasing: $0[0..<m]), last: t + m == count) }
            }
            t += m
            progress(ProgressReport(done: t, total: count, unit: "samples"))
        }
    }
}

extension Vocoder.Conditioning {
    /// The voice's mean features (all zeros after normalisation) for `sampleCount` samples: what `synth generate`
    /// conditions on, so that only the speaker embedding shapes the output.
    public static func neutral(sampleCount: Int, config c: WaveNetConfig) -> Vocoder.Conditioning {
        let frames = sampleCount / c.features.hopLength + 1
        return Vocoder.Conditioning(mels: [Float](repeating: 0, count: frames * c.frameFeatures), frames: frames,
                                    sampleCount: sampleCount, samples: nil)
    }
}
