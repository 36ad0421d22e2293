// Throughput measurements for `synth bench`: cached generation and teacher-forced training speed.
import AREngine
import Foundation
import NNCore

/// Speed measurements of a WaveNet model on the current machine (wall-clock).
public enum WaveNetBenchmark {
    /// The reference configuration of the vocoder issue: 20 layers (dilations 1...512 twice), kernel 2,
    /// residual 64, gate 128, skip 128, 256 classes, 80 mel bins.
    public static func referenceConfig() -> WaveNetConfig {
        WaveNetConfig(dilations: WaveNetConfig.dilations(stacks: 2, cycle: 10), residualChannels: 64, gateChannels: 128,
                      skipChannels: 128, condChannels: 80, speakerEmbeddingDim: 16, speakers: ["reference"])
    }

    /// Generates `samples` samples with cached state (batch 1) from random conditioning; `progress` (unit "samples") follows it.
    /// - Returns: samples per second of wall-clock time.
    public static func generationSpeed(_ model: WaveNetModel, samples: Int, seed: UInt64 = 1,
                                       progress: (ProgressReport) -> Void = { _ in }) throws -> Double {
        let c = model.config
        let frames = samples / c.features.hopLength + 1
        var rng = Xoshiro256(seed: seed)
        let mels = (0..<(frames * c.frameFeatures)).map { _ in rng.nextGaussian() }
        let voice = Voice(name: "bench", directory: URL(fileURLWithPath: "/"), model: model)
        let vocoder = try Vocoder(voice: voice)
        var sampler = try Sampler(temperature: 1, seed: seed)
        _ = vocoder.generate(mels: mels, frames: frames, sampleCount: min(samples, 2000), speaker: 0, sampler: &sampler) // warm-up
        let t0 = Date()
        _ = vocoder.generate(mels: mels, frames: frames, sampleCount: samples, speaker: 0, sampler: &sampler, progress: progress)
        return Double(samples) / Date().timeIntervalSince(t0)
    }

    /// Runs `steps` teacher-forced forward + backward passes on random batches of `batch` x `segment` samples.
    /// - Returns: training samples per second (forward + backward, excluding the optimizer). `progress` (unit "steps")
    ///   follows the steps.
    public static func trainingSpeed(_ model: WaveNetModel, batch: Int, segment: Int, steps: Int, seed: UInt64 = 1,
                                     progress: (ProgressReport) -> Void = { _ in }) -> Double {
        let c = model.config
        let frames = segment / c.features.hopLength + 1
        var rng = Xoshiro256(seed: seed)
        let N = segment * batch
        var b = WaveNetBatch(
            time: segment, batch: batch,
            inputs: (0..<N).map { _ in Int32(rng.nextInt(below: c.classes)) },
            targets: (0..<N).map { _ in Int32(rng.nextInt(below: c.classes)) },
            mels: (0..<(frames * batch * c.frameFeatures)).map { _ in rng.nextGaussian() }, frames: frames,
            speakers: [Int32](repeating: 0, count: batch))
        if c.lpc {
            b.predictions = (0..<N).map { _ in Int32(rng.nextInt(below: c.classes)) }
            b.excitations = (0..<N).map { _ in Int32(rng.nextInt(below: c.classes)) }
        }
        if c.pitchLag { b.lags = (0..<N).map { _ in Int32(rng.nextInt(below: c.classes)) } }
        b.source = (0..<(N * c.sourceChannels)).map { _ in rng.nextGaussian() }
        let ws = WaveNetWorkspace(config: c, time: segment, batch: batch, frames: frames)
        model.parameters.zeroGrads()
        model.run(b, workspace: ws, backward: true) // warm-up
        let t0 = Date()
        for i in 0..<steps {
            model.run(b, workspace: ws, backward: true)
            progress(ProgressReport(done: i + 1, total: steps, unit: "steps"))
        }
        return Double(steps * segment * batch) / Date().timeIntervalSince(t0)
    }
}
