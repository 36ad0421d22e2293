// Exact teacher-forced likelihood of recordings under a voice, for `synth eval`.
import AREngine
import DSP
import Dispatch
import Foundation
import NNCore

/// Negative log-likelihood of utterances under a WaveNet voice, with teacher forcing.
///
/// Each utterance is scored whole, from its first sample, by the cached generator fed the true previous
/// sample: every sample sees its full receptive field (zeros before the start, as in generation), unlike
/// training's validation loss, which scores segments whose first samples see a truncated history.
/// The cached generator gives the logits of the full forward pass (see `WaveNetGenerator`), so this is the
/// model's exact NLL of the recording's mu-law classes (pre-emphasised, as trained).
public enum SpeechLikelihood {
    /// Summed NLL in nats of one utterance's mu-law classes (with `lpc`: of its excitation's classes), and the
    /// number of samples scored. `generator` must belong to `model` and hold at least `u.frames` frames; `u` must
    /// be prepared (`Utterance.prepare`) for the generator's voice, as in training.
    public static func score(_ u: Utterance, generator: WaveNetGenerator) -> (nats: Double, samples: Int) {
        let c = generator.model.config
        guard let cond = u.conditioning else { preconditionFailure("\(u.path): score needs a prepared utterance") }
        generator.start(cond, speaker: u.speaker)
        var previous = MuLaw.encode(0, classes: c.classes)
        var sum = 0.0
        for t in 0..<u.sampleCount {
            let logits = generator.step(previous: previous, signalClass: t > 0 ? Int(u.classes[t - 1]) : nil)
            var target = c.lpc ? u.excitationClasses[t] : u.classes[t]
            // dLogits aliases the logits, which the next step overwrites anyway.
            sum += Layers.softmaxCrossEntropy(logits: logits, targets: &target, rows: 1, vocab: c.classes, scale: 0, dLogits: logits)
            previous = Int(target)
        }
        return (sum, u.sampleCount)
    }

    /// Scores utterances on `threads` threads (one generator each), returning one `(nats, samples)` per
    /// utterance in input order; the result does not depend on `threads`. Call `BLAS.setThreads(1)` first
    /// when `threads > 1`. Progress counts samples, after each utterance, one call at a time.
    public static func score(_ utts: [Utterance], model: WaveNetModel, threads: Int,
                             progress: @escaping (ProgressReport) -> Void = { _ in }) -> [(nats: Double, samples: Int)] {
        let maxFrames = utts.map(\.frames).max() ?? 1
        let total = utts.reduce(0) { $0 + $1.sampleCount }
        let lock = NSLock()
        var results = [(nats: Double, samples: Int)](repeating: (0, 0), count: utts.count)
        var next = 0, done = 0
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, utts.count))) { _ in
            let gen = WaveNetGenerator(model: model, maxFrames: maxFrames)
            while true {
                lock.lock(); let i = next; next += 1; lock.unlock()
                guard i < utts.count else { return }
                let r = score(utts[i], generator: gen)
                lock.lock(); results[i] = r; done += r.samples; progress(ProgressReport(done: done, total: total, unit: "samples")); lock.unlock()
            }
        }
        return results
    }
}
