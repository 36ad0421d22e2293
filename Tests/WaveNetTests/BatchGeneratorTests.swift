// Batched lockstep generation: every slot equals the single-stream generator, bit for bit.
import AREngine
import Foundation
import NNCore
import XCTest
@testable import WaveNet

final class BatchGeneratorTests: XCTestCase {
    func tinyVoice(seed: UInt64 = 21) -> Voice {
        let m = WaveNetModel(config: tinyConfig(condLayers: 1))
        m.initialize(seed: seed)
        return Voice(name: "tiny", directory: URL(fileURLWithPath: "/nonexistent"), model: m)
    }

    func randomMels(_ c: WaveNetConfig, frames: Int, rng: inout Xoshiro256) -> [Float] {
        (0..<(frames * c.melBins)).map { _ in rng.nextGaussian() }
    }

    /// 8 utterances of different lengths through 5 slots (continuous batching; the kernels' 4-row, 2-row and
    /// 1-row paths all run as slots finish): each slot's logits are
    /// bitwise equal to `WaveNetGenerator` on that utterance alone, fed the same previous classes.
    func testSlotsMatchSingleGeneratorBitwise() {
        let v = tinyVoice(), c = v.config
        var rng = Xoshiro256(seed: 4)
        let lengths = [37, 12, 50, 5, 23, 8, 61, 30]
        let utts = lengths.map { n -> (mels: [Float], frames: Int, inputs: [Int32], speaker: Int) in
            let f = n / c.features.hopLength + 1
            return (randomMels(c, frames: f, rng: &rng), f, (0..<n).map { _ in Int32(rng.nextInt(below: c.classes)) },
                    rng.nextInt(below: c.speakers.count))
        }
        // Reference: each utterance alone.
        let S = 5
        let single = WaveNetGenerator(model: v.model, maxFrames: 64)
        let expected: [[Float]] = utts.map { u in
            single.start(mels: u.mels, frames: u.frames, speaker: u.speaker)
            return u.inputs.flatMap { x in Array(UnsafeBufferPointer(start: single.step(previous: Int(x)), count: c.classes)) }
        }
        let gen = WaveNetBatchGenerator(model: v.model, slots: S)
        var got = [[Float]](repeating: [], count: utts.count)
        var slotUtt = [Int?](repeating: nil, count: S)
        var nextUtt = 0
        func fill(_ b: Int) {
            if nextUtt < utts.count {
                let u = utts[nextUtt]
                gen.start(slot: b, mels: u.mels, frames: u.frames, speaker: u.speaker)
                slotUtt[b] = nextUtt; nextUtt += 1
            } else { gen.stop(slot: b); slotUtt[b] = nil }
        }
        for b in 0..<S { fill(b) }
        var previous = [Int32](repeating: 0, count: S)
        while gen.activeCount > 0 {
            for b in 0..<S { if let u = slotUtt[b] { previous[b] = utts[u].inputs[gen.time[b]] } }
            let logits = previous.withUnsafeBufferPointer { gen.step(previous: $0.baseAddress!) }
            for b in 0..<S {
                guard let u = slotUtt[b] else { continue }
                got[u] += Array(UnsafeBufferPointer(start: logits + b * c.classes, count: c.classes))
                if gen.time[b] == utts[u].inputs.count { fill(b) }
            }
        }
        for u in 0..<utts.count {
            XCTAssertEqual(got[u].count, expected[u].count, "utterance \(u) length")
            XCTAssertTrue(got[u] == expected[u], "utterance \(u): batched logits differ from single-stream logits")
        }
    }

    /// The renderer (5 slots, 2 threads, more utterances than slots) gives exactly what `Vocoder.generate`
    /// gives for each utterance alone with the same seed.
    func testRendererEqualsVocoderAloneWithSameSeed() throws {
        let v = tinyVoice(seed: 33), c = v.config
        var rng = Xoshiro256(seed: 5)
        let requests = (0..<13).map { i -> RenderRequest in
            let n = 20 + 13 * i
            let f = n / c.features.hopLength + 1
            return RenderRequest(id: i, mels: randomMels(c, frames: f, rng: &rng), frames: f, sampleCount: n,
                                 speaker: i % c.speakers.count, seed: UInt64(100 + i))
        }
        let settings = try Sampler(temperature: 0.9, topP: 0.95, minP: 0.01)
        let batched = BatchRenderer.renderAll(requests, voice: v, batch: 5, threads: 2, sampler: settings)
        let vocoder = try Vocoder(voice: v)
        for r in requests {
            var sampler = settings.reseeded(r.seed)
            let alone = vocoder.generate(mels: r.mels, frames: r.frames, sampleCount: r.sampleCount, speaker: r.speaker, sampler: &sampler)
            XCTAssertEqual(batched[r.id], alone, "request \(r.id)")
        }
        // Batch composition does not matter: B = 1 on one thread gives the same.
        XCTAssertEqual(BatchRenderer.renderAll(requests, voice: v, batch: 1, sampler: settings), batched)
    }
}
