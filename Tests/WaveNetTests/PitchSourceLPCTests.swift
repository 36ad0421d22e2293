// The pitch, source and LPC switches: cached generation equals the teacher-forced pass, gradients match finite
// differences, free-running generation equals teacher forcing on its own draws, and old voices keep loading.
import AREngine
import DSP
import Foundation
import NNCore
import TestSupport
import XCTest
@testable import WaveNet

/// The tiny config with the given switches (LPC of order 4, 3 harmonics).
func switchedConfig(pitch: Bool, source: Bool, lpc: Bool, pitchLag: Bool = false, condLayers: Int = 1) -> WaveNetConfig {
    var c = tinyConfig(condLayers: condLayers)
    c.pitch = pitch || source || pitchLag
    c.source = source
    c.lpc = lpc || pitchLag
    c.pitchLag = pitchLag
    c.lpcOrder = 4
    c.sourceHarmonics = 3
    c.preemphasis = 0.5
    c.featureMean = [-4, -5, -6]
    c.featureStd = [2, 1.5, 1]
    c.f0Mean = pitchLag ? 7.6 : 5  // ln 2 kHz for the high F0 of `switchedUtterances` with pitch_lag
    c.f0Std = 0.4
    return c
}

/// Utterances with a waveform (a speaker-specific sine and noise), random log-mels around the voice's means, and an
/// F0 track with voiced and unvoiced stretches (80-280 Hz; 1-4 kHz with `pitch_lag`, so that its lags of 4-16 samples
/// reach back inside these short utterances); prepared for `c`.
func switchedUtterances(_ c: WaveNetConfig, count: Int, length: Int, seed: UInt64) -> [Utterance] {
    var rng = Xoshiro256(seed: seed)
    let lpc = try! c.makeMelLPC()
    return (0..<count).map { i in
        let spk = i % c.speakers.count
        let freq = Float(spk + 1) * 0.07
        let wave = (0..<length).map { t in min(max(0.4 * sinf(freq * Float(t)) + 0.05 * rng.nextGaussian(), -1), 1) }
        let frames = length / c.features.hopLength + 1
        var u = Utterance(path: "synthetic-\(i)", speaker: spk, classes: wave.map { Int32(MuLaw.encode($0, classes: c.classes)) },
                          logMel: (0..<(frames * c.melBins)).map { k in c.featureMean[k % c.melBins] + rng.nextGaussian() },
                          frames: frames, waveform: wave)
        u.f0 = (0..<frames).map { _ in c.pitchLag ? 1000 + 3000 * Float(rng.nextInt(below: 1000)) / 1000
                                                  : 80 + 200 * Float(rng.nextInt(below: 1000)) / 1000 }
        u.voicing = (0..<frames).map { f in (f / 3) % 2 == 0 ? 1 : 0 }
        u.prepare(config: c, lpc: lpc)
        return u
    }
}

final class PitchSourceLPCTests: XCTestCase {
    static let switches: [(pitch: Bool, source: Bool, lpc: Bool, lag: Bool)] = [
        (true, false, false, false), (true, true, false, false), (false, false, true, false), (true, true, true, false),
        (true, true, true, true),
    ]

    /// For each switch, the cached generator fed the recording (teacher forcing) gives the NLL of the full
    /// teacher-forced pass over the whole utterance, and over a segment that starts later.
    func testCachedGenerationEqualsTheTeacherForcedPass() {
        for s in Self.switches {
            let c = switchedConfig(pitch: s.pitch, source: s.source, lpc: s.lpc, pitchLag: s.lag)
            let model = WaveNetModel(config: c)
            model.initialize(seed: 4)
            let utts = switchedUtterances(c, count: 2, length: 64, seed: 7)
            let full = WaveNetTrainable(model: model)
            let gen = WaveNetGenerator(model: model, maxFrames: utts[0].frames)
            for u in utts {
                let exact = SpeechLikelihood.score(u, generator: gen)
                let forward = full.loss(SpeechTrainingData.makeBatch([(u, 0)], config: c, segment: u.sampleCount), backward: false)
                XCTAssertEqual(exact.nats, forward.sum, accuracy: 1e-4 * forward.sum, "\(s)")
                // A segment from sample 24 sees the predictor's and the source's state of the whole utterance: once
                // its receptive field lies inside the segment, its logits are those of the whole utterance's pass.
                let T = 32, start = 24, L = u.sampleCount
                func logits(_ b: WaveNetBatch) -> [Float] {
                    let ws = WaveNetWorkspace(config: c, time: b.time, batch: 1, frames: b.frames)
                    model.run(b, workspace: ws, backward: false)
                    return Array(UnsafeBufferPointer(start: ws.logits, count: b.time * c.classes))
                }
                let whole = logits(SpeechTrainingData.makeBatch([(u, 0)], config: c, segment: L))
                let seg = logits(SpeechTrainingData.makeBatch([(u, start)], config: c, segment: T))
                var worst: Float = 0
                for t in c.receptiveField..<T { for k in 0..<c.classes {
                    worst = max(worst, abs(seg[t * c.classes + k] - whole[(start + t) * c.classes + k]))
                } }
                XCTAssertLessThan(worst, 1e-4, "\(s)")
            }
        }
    }

    /// Free-running generation rebuilds `s = p + e` exactly as teacher forcing on the drawn samples computes it.
    func testFreeRunningEqualsTeacherForcingOnItsOwnDraws() throws {
        for s in Self.switches {
            let c = switchedConfig(pitch: s.pitch, source: s.source, lpc: s.lpc, pitchLag: s.lag)
            let model = WaveNetModel(config: c)
            model.initialize(seed: 11)
            let u = switchedUtterances(c, count: 1, length: 80, seed: 3)[0]
            let gen = WaveNetGenerator(model: model, maxFrames: u.frames)
            gen.start(u.conditioning!, speaker: 0)
            var sampler = try Sampler(temperature: 1, seed: 5)
            var drawn: [Int] = [], signal: [Int] = [], logits: [[Float]] = []
            var previous = MuLaw.encode(0, classes: c.classes)
            for _ in 0..<80 {
                let l = gen.step(previous: previous)
                logits.append(Array(UnsafeBufferPointer(start: l, count: c.classes)))
                previous = sampler.sample(logits: UnsafeMutableBufferPointer(start: l, count: c.classes), history: EmptyCollection<Int>())
                drawn.append(previous)
                signal.append(MuLaw.encode(gen.value(ofClass: previous), classes: c.classes))
            }
            gen.start(u.conditioning!, speaker: 0)
            for t in 0..<80 {
                let l = gen.step(previous: t == 0 ? MuLaw.encode(0, classes: c.classes) : drawn[t - 1],
                                 signalClass: t > 0 ? signal[t - 1] : nil)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: l, count: c.classes)), logits[t], "\(s) sample \(t)")
            }
        }
    }

    /// LPCNet's training-time noise: the batch that `simulateGeneration` rewrites is what generation feeds the
    /// network when it draws exactly the noisy excitations (the cached generator's logits equal the teacher-forced
    /// pass over the batch), and without noise the rebuilt signal stays close to the recording's (the classes differ by less than half a
    /// class on average, from the 8-bit quantisation of the excitation).
    func testLPCNoiseInjectionFeedsWhatGenerationWouldFeed() {
        let c = switchedConfig(pitch: true, source: true, lpc: true, pitchLag: true)
        let model = WaveNetModel(config: c)
        model.initialize(seed: 9)
        let u = switchedUtterances(c, count: 1, length: 64, seed: 5)[0]
        let T = 64
        let clean = SpeechTrainingData.makeBatch([(u, 0)], config: c, segment: T)
        var noisy = clean, rng = Xoshiro256(seed: 2)
        SpeechTrainingData.simulateGeneration(&noisy, picks: [(u, 0)], config: c, noise: (0..<T).map { _ in 3 * rng.nextGaussian() })
        XCTAssertGreaterThan(zip(noisy.inputs, clean.inputs).filter { $0 != $1 }.count, T / 4)
        // The lag input reads the noisy draws one period back, inside the segment.
        XCTAssertGreaterThan(zip(noisy.lags, clean.lags).filter { $0 != $1 }.count, T / 4)
        let ws = WaveNetWorkspace(config: c, time: T, batch: 1, frames: noisy.frames)
        model.run(noisy, workspace: ws, backward: false)
        let gen = WaveNetGenerator(model: model, maxFrames: u.frames)
        gen.start(u.conditioning!, speaker: 0)
        var worst: Float = 0
        for t in 0..<T {
            let l = gen.step(previous: Int(noisy.excitations[t]))
            for k in 0..<c.classes { worst = max(worst, abs(l[k] - ws.logits[t * c.classes + k])) }
        }
        XCTAssertLessThan(worst, 1e-4)
        var quiet = clean
        SpeechTrainingData.simulateGeneration(&quiet, picks: [(u, 0)], config: c, noise: [Float](repeating: 0, count: T))
        func distance(_ b: WaveNetBatch) -> Double {
            Double(zip(b.inputs, clean.inputs).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(T)
        }
        XCTAssertLessThan(distance(quiet), 0.5)
        XCTAssertGreaterThan(distance(noisy), 4 * distance(quiet))
        XCTAssertEqual(quiet.predictions.count, T)
    }

    /// Finite differences for every tensor of a voice with all three switches (and pitch alone).
    func testGradientsMatchFiniteDifferences() {
        for s in [Self.switches[0], Self.switches[3], Self.switches[4]] {
            let c = switchedConfig(pitch: s.pitch, source: s.source, lpc: s.lpc, pitchLag: s.lag)
            let m = WaveNetModel(config: c)
            m.initialize(seed: 2)
            let utts = switchedUtterances(c, count: 2, length: 40, seed: 6)
            let b = SpeechTrainingData.makeBatch([(utts[0], 0), (utts[1], 8)], config: c, segment: 24)
            let ws = WaveNetWorkspace(config: c, time: b.time, batch: b.batch, frames: b.frames)
            m.parameters.zeroGrads()
            m.run(b, workspace: ws, backward: true)
            let analytic = Array(UnsafeBufferPointer(start: m.parameters.grads, count: m.parameters.count))
            func loss() -> Double { let (l, n) = m.run(b, workspace: ws, backward: false); return l / Double(n) }
            var rng = Xoshiro256(seed: 3)
            for e in m.parameters.entries {
                // Embedding rows that no input uses have zero gradient both ways; sample the used rows of the new tables.
                for _ in 0..<min(6, e.count) {
                    let i = e.offset + rng.nextInt(below: e.count)
                    let num = numericGradient(m.parameters.values, i, eps: 2e-3) { loss() }
                    XCTAssertEqual(Double(analytic[i]), num, accuracy: 3e-3 + 3e-2 * abs(num), "\(s) \(e.name) index \(i - e.offset)")
                }
            }
            // The new tensors receive gradient at all.
            for name in ["lpc.prediction_embedding", "lpc.excitation_embedding", "lpc.lag_embedding", "source.proj.weight"] {
                guard let e = m.parameters.entry(name) else { continue }
                XCTAssertGreaterThan((e.offset..<(e.offset + e.count)).map { abs(analytic[$0]) }.max()!, 0, name)
            }
        }
    }

    /// Batched rendering gives each slot the single-stream generator's logits, with LPC and source on.
    func testBatchGeneratorMatchesTheSingleStream() {
        let c = switchedConfig(pitch: true, source: true, lpc: true, pitchLag: true)
        let model = WaveNetModel(config: c)
        model.initialize(seed: 9)
        let utts = switchedUtterances(c, count: 3, length: 60, seed: 12)
        let single = WaveNetGenerator(model: model, maxFrames: 64)
        let batch = WaveNetBatchGenerator(model: model, slots: 3)
        for (b, u) in utts.enumerated() { batch.start(slot: b, mels: u.conditioning!.features, frames: u.frames, speaker: u.speaker) }
        var previous = [Int32](repeating: Int32(MuLaw.encode(0, classes: c.classes)), count: 3)
        var expected: [[[Float]]] = []
        for u in utts {
            single.start(mels: u.conditioning!.features, frames: u.frames, speaker: u.speaker)
            var prev = MuLaw.encode(0, classes: c.classes)
            expected.append((0..<60).map { t in
                let l = Array(UnsafeBufferPointer(start: single.step(previous: prev), count: c.classes))
                prev = (t * 7 + u.speaker) % c.classes
                return l
            })
        }
        for t in 0..<60 {
            let l = previous.withUnsafeBufferPointer { batch.step(previous: $0.baseAddress!) }
            for b in 0..<3 {
                XCTAssertEqual(Array(UnsafeBufferPointer(start: l + b * c.classes, count: c.classes)), expected[b][t], "slot \(b) t \(t)")
                previous[b] = Int32((t * 7 + utts[b].speaker) % c.classes)
            }
        }
    }

    /// `voicedTemperature` (LPCNet's pitch-dependent temperature) doubles the logits of samples in voiced frames at 0.5
    /// and leaves those of unvoiced frames alone, in the single-stream and the batched generator alike; at 1 it is off.
    func testVoicedTemperatureSharpensOnlyVoicedFrames() {
        for s in [Self.switches[0], Self.switches[4]] {
            let c = switchedConfig(pitch: s.pitch, source: s.source, lpc: s.lpc, pitchLag: s.lag)
            let model = WaveNetModel(config: c)
            model.initialize(seed: 5)
            let u = switchedUtterances(c, count: 1, length: 60, seed: 3)[0]
            let plain = WaveNetGenerator(model: model, maxFrames: 64), sharp = WaveNetGenerator(model: model, maxFrames: 64)
            let batch = WaveNetBatchGenerator(model: model, slots: 2)
            sharp.voicedTemperature = 0.5
            batch.voicedTemperature = 0.5
            XCTAssertEqual(plain.voicedTemperature, 1)
            for g in [plain, sharp] { g.start(mels: u.conditioning!.features, frames: u.frames, speaker: u.speaker) }
            batch.start(slot: 1, mels: u.conditioning!.features, frames: u.frames, speaker: u.speaker)
            var previous: [Int32] = [0, Int32(MuLaw.encode(0, classes: c.classes))]
            var prev = Int(previous[1])
            var voiced = 0, unvoiced = 0
            for t in 0..<60 {
                let a = Array(UnsafeBufferPointer(start: plain.step(previous: prev), count: c.classes))
                let b = Array(UnsafeBufferPointer(start: sharp.step(previous: prev), count: c.classes))
                let l = previous.withUnsafeBufferPointer { batch.step(previous: $0.baseAddress!) }
                let v = u.conditioning!.voicing[MelLPC.frame(ofSample: t, hop: c.features.hopLength, frames: u.frames)]
                if v == 1 { voiced += 1 } else { unvoiced += 1 }
                XCTAssertEqual(b, a.map { $0 * (v == 1 ? 2 : 1) }, "t \(t), voicing \(v)")
                XCTAssertEqual(Array(UnsafeBufferPointer(start: l + c.classes, count: c.classes)), b, "batched, t \(t)")
                prev = (t * 5 + 3) % c.classes
                previous[1] = Int32(prev)
            }
            XCTAssertGreaterThan(voiced, 10)
            XCTAssertGreaterThan(unvoiced, 10)
        }
    }

    /// `--init-from V --grow --pitch --source --lpc`: the switches' new inputs start at zero, so the grown model gives
    /// the base's logits for the same previous samples and mels.
    func testGrowingSwitchesThemOnWithoutChangingTheOutputs() throws {
        var base = tinyConfig(condLayers: 1)
        base.preemphasis = 0.5
        base.featureMean = [-4, -5, -6]
        base.featureStd = [2, 1.5, 1]
        let b = WaveNetModel(config: base)
        b.initialize(seed: 5)
        let target = switchedConfig(pitch: true, source: true, lpc: true, pitchLag: true)
        let g = try WaveNetModel.growing(b, to: target, seed: 6)
        XCTAssertTrue(g.config.pitch && g.config.source && g.config.lpc && g.config.pitchLag)
        let u = switchedUtterances(target, count: 1, length: 48, seed: 2)[0]
        var plain = u
        plain.conditioning = nil
        plain.prepare(config: base, lpc: nil)
        func logits(_ m: WaveNetModel, _ x: Utterance) -> [Float] {
            let batch = SpeechTrainingData.makeBatch([(x, 0)], config: m.config, segment: 48)
            let ws = WaveNetWorkspace(config: m.config, time: 48, batch: 1, frames: batch.frames)
            m.run(batch, workspace: ws, backward: false)
            return Array(UnsafeBufferPointer(start: ws.logits, count: 48 * m.config.classes))
        }
        let worst = zip(logits(g, u), logits(b, plain)).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-5)
    }

    /// config.json: the switches round-trip; a voice saved before them loads with all three off, and a voice
    /// without them writes none of their keys.
    func testConfigKeys() throws {
        let c = switchedConfig(pitch: true, source: true, lpc: true)
        let json = try JSONEncoder().encode(c)
        XCTAssertEqual(try JSONDecoder().decode(WaveNetConfig.self, from: json), c)
        let plain = try JSONSerialization.jsonObject(with: JSONEncoder().encode(tinyConfig())) as! [String: Any]
        for key in ["pitch", "source", "lpc", "f0_mean", "lpc_order", "source_harmonics", "pitch_config"] { XCTAssertNil(plain[key], key) }
        var dict = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        for key in ["pitch", "source", "lpc", "f0_mean", "f0_std", "lpc_order", "source_harmonics", "pitch_config"] { dict[key] = nil }
        let old = try JSONDecoder().decode(WaveNetConfig.self, from: JSONSerialization.data(withJSONObject: dict))
        XCTAssertFalse(old.pitch || old.source || old.lpc)
        XCTAssertEqual(old.frameFeatures, 3)
        XCTAssertEqual(c.frameFeatures, 5)
        XCTAssertEqual(c.sourceChannels, 7)
        var bad = c
        bad.pitch = false
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("source needs pitch")) }
        XCTAssertEqual(WaveNetModel(config: c).parameters.entry("cond.conv.weight")?.shape, [3, 5, 3])
        XCTAssertEqual(WaveNetModel(config: c).parameters.entry("source.proj.weight")?.shape, [7, 4])
        XCTAssertNil(WaveNetModel(config: c).parameters.entry("lpc.lag_embedding"))
    }

    /// `pitch_lag`: absent in voices saved before it (off), round-trips, adds `lpc.lag_embedding`, needs lpc and pitch;
    /// its lags are `round(sample_rate / F0)` clamped to 2 ... sample_rate / 40.
    func testPitchLagKey() throws {
        let c = switchedConfig(pitch: true, source: true, lpc: true, pitchLag: true)
        let dict = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: Any]
        XCTAssertEqual(dict["pitch_lag"] as? Bool, true)
        XCTAssertEqual(try JSONDecoder().decode(WaveNetConfig.self, from: JSONEncoder().encode(c)), c)
        let off = try JSONSerialization.jsonObject(with: JSONEncoder().encode(switchedConfig(pitch: true, source: true, lpc: true))) as! [String: Any]
        XCTAssertNil(off["pitch_lag"])
        XCTAssertEqual(WaveNetModel(config: c).parameters.entry("lpc.lag_embedding")?.shape, [7, 4])
        var bad = c
        bad.lpc = false
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("pitch_lag needs lpc and pitch"), "\($0)") }
        XCTAssertEqual(c.pitchLagRange, 2...400)
        // Frames at 100 Hz, 1 kHz, 20 Hz (below the range) and 12 kHz (above, and above the tracker's clamp of 10 kHz).
        let W = c.frameFeatures, M = c.melBins
        var features = [Float](repeating: 0, count: 4 * W)
        for (f, hz) in [100.0, 1000, 20, 12000].enumerated() { features[f * W + M] = Float((log(hz) - Double(c.f0Mean)) / Double(c.f0Std)) }
        let cond = FrameConditioning(config: c, features: features, frames: 4, lpc: try c.makeMelLPC())
        XCTAssertEqual(cond.lags, [160, 16, 400, 2])
    }

    /// `lpc_noise_floor_db`: absent in voices saved before it (no floor), round-trips, reaches the LPC analysis as an
    /// RMS, and is refused outside -120...-10 dB.
    func testLPCNoiseFloorKey() throws {
        var c = switchedConfig(pitch: true, source: true, lpc: true)
        XCTAssertNil(c.lpcNoiseFloorDB)
        XCTAssertEqual(try c.makeMelLPC()?.absoluteFloorRMS, 0)
        c.lpcNoiseFloorDB = -40
        let dict = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: Any]
        XCTAssertEqual(dict["lpc_noise_floor_db"] as? Double, -40)
        XCTAssertEqual(try JSONDecoder().decode(WaveNetConfig.self, from: JSONEncoder().encode(c)), c)
        XCTAssertEqual(try XCTUnwrap(c.makeMelLPC()).absoluteFloorRMS, 0.01, accuracy: 1e-9)
        for bad: Float in [-5, -200, .nan] {
            c.lpcNoiseFloorDB = bad
            XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("lpc_noise_floor_db"), "\($0)") }
        }
    }

    /// `output_highpass_hz`: absent in voices saved before it, round-trips, refused outside 1...200 Hz.
    func testOutputHighpassKey() throws {
        var c = tinyConfig()
        XCTAssertNil(c.outputHighpassHz)
        c.outputHighpassHz = 20
        let dict = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as! [String: Any]
        XCTAssertEqual(dict["output_highpass_hz"] as? Double, 20)
        XCTAssertEqual(try JSONDecoder().decode(WaveNetConfig.self, from: JSONEncoder().encode(c)), c)
        XCTAssertNoThrow(try c.validate())
        for bad: Float in [0, 500, .infinity] {
            c.outputHighpassHz = bad
            XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("output_highpass_hz"), "\($0)") }
        }
    }
}
