// Continuous-batching vocoder: many utterances through one WaveNetBatchGenerator, each with its own seeded sampler.
import AREngine
import DSP
import Foundation
import NNCore

/// One utterance to render: normalised log-mels `[frames, mel_bins]`, the number of samples to generate
/// (at the voice's sample rate), a speaker row and the seed of its own sampler.
public struct RenderRequest: Sendable {
    /// Caller's identifier (e.g. the manifest line), handed back with the result.
    public var id: Int
    public var mels: [Float]
    public var frames: Int
    public var sampleCount: Int
    public var speaker: Int
    public var seed: UInt64

    public init(id: Int, mels: [Float], frames: Int, sampleCount: Int, speaker: Int, seed: UInt64) {
        self.id = id
        self.mels = mels
        self.frames = frames
        self.sampleCount = sampleCount
        self.speaker = speaker
        self.seed = seed
    }
}

/// Renders a stream of utterances B at a time in lockstep, refilling a slot as soon as its utterance ends
/// (continuous batching).
///
/// Each utterance gets its own sampler (the renderer's settings, `Sampler.reseeded` with the request's seed) and its
/// own generator slot, and the slot's
/// arithmetic equals `WaveNetGenerator`'s, so every output is identical to `Vocoder.generate` on that
/// utterance alone with the same seed, whatever else is in the batch and in whatever order.
/// One renderer is used by one thread; run several (sharing the read-only `Voice`) to use several cores.
public final class BatchRenderer {
    public let voice: Voice
    /// Slots rendered in lockstep (B).
    public let batch: Int
    /// The sampling settings of every utterance (its seed is replaced by the request's).
    public let sampler: Sampler
    let generator: WaveNetBatchGenerator

    /// - Parameter voicedTemperature: a factor on the sampling temperature in voiced frames (`pitch` voices; 1 = off),
    ///   as `Vocoder.voicedTemperature`.
    public init(voice: Voice, batch: Int, sampler: Sampler, voicedTemperature: Float = 1) {
        precondition(batch >= 1, "batch must be >= 1")
        self.voice = voice
        self.batch = batch
        self.sampler = sampler
        generator = WaveNetBatchGenerator(model: voice.model, slots: batch)
        generator.voicedTemperature = voicedTemperature
    }

    /// Renders requests pulled from `next` (called whenever a slot is free, until it returns nil) and hands
    /// each finished waveform (`[sampleCount]` in [-1, 1], de-emphasised) to `finished`. Progress counts the samples
    /// generated so far (summed over slots; the total is not known in advance), about every 4,000 steps.
    /// All three closures are called on the calling thread.
    public func run(next: () -> RenderRequest?, finished: (RenderRequest, [Float]) -> Void,
                    progress: (ProgressReport) -> Void = { _ in }) {
        let c = voice.config, V = c.classes, B = batch
        let silence = Int32(MuLaw.encode(0, classes: V))
        var requests = [RenderRequest?](repeating: nil, count: B)
        var samplers = [Sampler?](repeating: nil, count: B)
        var outputs = [[Float]](repeating: [], count: B)
        var previous = [Int32](repeating: silence, count: B)
        var exhausted = false
        var generated = 0
        let none = EmptyCollection<Int>()

        func fill(_ b: Int) {
            while !exhausted {
                guard let r = next() else { exhausted = true; break }
                if r.sampleCount <= 0 { finished(r, []); continue }
                generator.start(slot: b, mels: r.mels, frames: r.frames, speaker: r.speaker)
                requests[b] = r
                samplers[b] = sampler.reseeded(r.seed)
                outputs[b] = [Float](repeating: 0, count: r.sampleCount)
                previous[b] = silence
                return
            }
            generator.stop(slot: b)
            requests[b] = nil
        }
        for b in 0..<B { fill(b) }
        var steps = 0
        while generator.activeCount > 0 {
            let logits = previous.withUnsafeBufferPointer { generator.step(previous: $0.baseAddress!) }
            for b in 0..<B where requests[b] != nil {
                let k = samplers[b]!.sample(logits: UnsafeMutableBufferPointer(start: logits + b * V, count: V), history: none)
                previous[b] = Int32(k)
                let t = generator.time[b] - 1
                outputs[b][t] = generator.value(ofClass: k, slot: b)
                generated += 1
                if t + 1 == requests[b]!.sampleCount {
                    var y = outputs[b]
                    outputs[b] = []
                    OutputFilter.apply(&y, config: c)
                    let r = requests[b]!
                    fill(b)  // the slot takes the next utterance before the finished one is written
                    finished(r, y)
                }
            }
            steps += 1
            if steps % 4000 == 0 { progress(ProgressReport(done: generated, total: 0, unit: "samples")) }
        }
        progress(ProgressReport(done: generated, total: 0, unit: "samples"))
    }

    /// Renders `requests` with `threads` renderers of `batch` slots each (work is pulled from a shared
    /// queue) and returns the waveforms in request order. Call `BLAS.setThreads(1)` first when threads > 1.
    public static func renderAll(_ requests: [RenderRequest], voice: Voice, batch: Int, threads: Int = 1,
                                 sampler: Sampler, voicedTemperature: Float = 1) -> [[Float]] {
        let renderers = (0..<max(1, threads)).map { _ in
            BatchRenderer(voice: voice, batch: batch, sampler: sampler, voicedTemperature: voicedTemperature)
        }
        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var cursor = 0
            var results: [[Float]]
            init(_ n: Int) { results = [[Float]](repeating: [], count: n) }
        }
        let shared = Shared(requests.count)
        DispatchQueue.concurrentPerform(iterations: renderers.count) { i in
            renderers[i].run(next: {
                shared.lock.withLock {
                    guard shared.cursor < requests.count else { return nil }
                    var r = requests[shared.cursor]
                    r.id = shared.cursor
                    shared.cursor += 1
                    return r
                }
            }, finished: { r, y in shared.lock.withLock { shared.results[r.id] = y } })
        }
        return shared.results
    }
}
