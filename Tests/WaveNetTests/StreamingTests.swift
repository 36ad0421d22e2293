// Streamed vocoding (features block by block, conditioning a window at a time, samples block by block) against the
// whole-utterance path: the same numbers bit for bit.
import AREngine
import Audio
import DSP
import Foundation
import NNCore
import XCTest
@testable import WaveNet

final class StreamingTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("StreamingTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    /// A small random voice with conditioning blocks (reach 3 frames) and pre-emphasis, plus LPC and the output DC
    /// blocker (20 Hz) when asked; the same weights either way.
    func voice(lpc: Bool = false, highpass: Bool = false) -> Voice {
        var c = WaveNetConfig(dilations: [1, 2, 4, 8], residualChannels: 8, gateChannels: 8, skipChannels: 8, condChannels: 6,
                              speakerEmbeddingDim: 2, speakers: ["a", "b"], preemphasis: 0.85, condLayers: 2, lpc: lpc)
        if highpass { c.outputHighpassHz = 20 }
        var rng = Xoshiro256(seed: 5)
        c.featureMean = (0..<80).map { _ in -6 + rng.nextGaussian() }
        c.featureStd = (0..<80).map { _ in 2 + abs(rng.nextGaussian()) }
        let m = WaveNetModel(config: c)
        m.initialize(seed: 9)
        return Voice(name: "t", directory: tmp, model: m)
    }

    /// A 44.1 kHz stereo file of 2.3 s (chirp plus noise), long enough for several read blocks and resampler calls.
    func input() throws -> URL {
        var rng = Xoshiro256(seed: 2)
        let n = 101_430
        var x = [Float](repeating: 0, count: n)
        for t in 0..<n {
            let s = Double(t) / 44100
            x[t] = Float(0.3 * sin(2 * .pi * (150 + 400 * s) * s)) + 0.02 * rng.nextGaussian()
        }
        let url = tmp.appendingPathComponent("in.wav")
        try AudioIO.write(x, sampleRate: 44100, to: url, format: .wav16)
        return url
    }

    func testStreamedFeaturesEqualWholeFileFeatures() throws {
        let vocoder = try Vocoder(voice: voice())
        let url = try input()
        let whole = try vocoder.conditioning(for: url)
        let streamed = try vocoder.streamedConditioning(for: url, keepSeconds: 0.5)
        XCTAssertEqual(streamed.frames, whole.frames)
        XCTAssertEqual(streamed.sampleCount, whole.sampleCount)
        XCTAssertEqual(streamed.mels.count, whole.mels.count)
        let diff = zip(streamed.mels, whole.mels).map { abs($0 - $1) }.max() ?? 1
        XCTAssertEqual(diff, 0, "largest difference \(diff)")
        XCTAssertEqual(streamed.samples, Array(whole.samples!.prefix(8000)))
    }

    /// Windows of 3 and 7 frames (reach 3) slide 15 and 5 times over the utterance; the samples are those of the
    /// whole-utterance generator, for a plain and an LPC voice, and one with the output DC blocker.
    func testStreamedGenerationEqualsWholeUtterance() throws {
        for (lpc, highpass) in [(false, false), (true, false), (true, true)] {
            let vocoder = try Vocoder(voice: voice(lpc: lpc, highpass: highpass))
            var rng = Xoshiro256(seed: 4)
            let frames = 31, count = 30 * 200 + 37
            let mels = (0..<(frames * 80)).map { _ in rng.nextGaussian() }
            var s1 = try Sampler(temperature: 1, seed: 3)
            let whole = vocoder.generate(mels: mels, frames: frames, sampleCount: count, speaker: 1, sampler: &s1)
            for window in [3, 7] {
                var s2 = try Sampler(temperature: 1, seed: 3)
                var streamed: [Float] = []
                var reports: [Int] = []
                let cond = Vocoder.Conditioning(mels: mels, frames: frames, sampleCount: count, samples: nil)
                try vocoder.generate(cond, speaker: 1, sampler: &s2, window: window, blockSize: 1000, progress: { reports.append($0.done) }) {
                    streamed += $0
                }
                XCTAssertEqual(streamed.count, count)
                let diff = zip(streamed, whole).map { abs($0 - $1) }.max() ?? 1
                XCTAssertEqual(diff, 0, "lpc \(lpc), high-pass \(highpass), window \(window): largest difference \(diff)")
                XCTAssertEqual(reports.last, count)
                XCTAssertEqual(reports.count, 7)
            }
            if highpass {
                // The blocker acts: the same draws without it differ by the removed low-frequency part, and its output
                // is the DC blocker applied to theirs.
                var s3 = try Sampler(temperature: 1, seed: 3)
                let plain = try Vocoder(voice: voice(lpc: lpc)).generate(mels: mels, frames: frames, sampleCount: count, speaker: 1, sampler: &s3)
                var dc = DCBlocker(cutoffHz: 20, sampleRate: 16000)
                let expected = plain.map { dc.process($0) }
                XCTAssertGreaterThan(zip(plain, whole).map { abs($0 - $1) }.max() ?? 0, 1e-3)
                XCTAssertEqual(expected, whole)
            }
            // With the mel-envelope correction: the whole-utterance samples corrected toward the conditioning's
            // log-mels, bit for bit, held back and handed out in blocks but the same total.
            vocoder.melCorrection = 2
            var s4 = try Sampler(temperature: 1, seed: 3)
            var corrected: [Float] = []
            let cond = Vocoder.Conditioning(mels: mels, frames: frames, sampleCount: count, samples: nil)
            try vocoder.generate(cond, speaker: 1, sampler: &s4, window: 7, blockSize: 1000) { corrected += $0 }
            let expected = try MelEnvelopeCorrection.apply(whole, features: vocoder.voice.config.features,
                                                           targetLogMel: vocoder.logMels(mels, frames: frames), frames: frames, iterations: 2)
            XCTAssertEqual(corrected, expected, "lpc \(lpc), high-pass \(highpass)")
            XCTAssertGreaterThan(zip(corrected, whole).map { abs($0 - $1) }.max() ?? 0, 1e-3, "the correction acts")
        }
    }
}
