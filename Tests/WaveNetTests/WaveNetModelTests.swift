// WaveNet: gradients against finite differences, and cached generation against the full forward pass.
import AREngine
import DSP
import NNCore
import TestSupport
import XCTest
@testable import WaveNet

/// A tiny voice configuration for tests (hop 4 so a few samples span several frames).
func tinyConfig(speakers: [String] = ["a", "b"], condLayers: Int = 0) -> WaveNetConfig {
    var f = FeatureConfig.default
    f.hopLength = 4
    f.nMels = 3
    return WaveNetConfig(
        dilations: [1, 2, 4, 1], residualChannels: 4, gateChannels: 6, skipChannels: 5, classes: 7,
        condChannels: 3, speakerEmbeddingDim: 2, speakers: speakers, features: f, condLayers: condLayers)
}

/// Random segments from the start of random utterances: `time / hop + 1` frames of random mels, with the
/// conditioning's reach of zero frames on each side (`framePad`), as training batches at an utterance's start.
func tinyBatch(_ c: WaveNetConfig, time: Int, batch: Int, seed: UInt64) -> WaveNetBatch {
    var rng = Xoshiro256(seed: seed)
    let P = c.conditioningReach, frames = time / c.features.hopLength + 1 + 2 * P, M = c.melBins
    let inner = (P * batch * M)..<((frames - P) * batch * M)
    return WaveNetBatch(
        time: time, batch: batch,
        inputs: (0..<(time * batch)).map { _ in Int32(rng.nextInt(below: c.classes)) },
        targets: (0..<(time * batch)).map { i in i % 5 == 3 ? -1 : Int32(rng.nextInt(below: c.classes)) },
        mels: (0..<(frames * batch * M)).map { inner.contains($0) ? rng.nextGaussian() : 0 },
        frames: frames,
        speakers: (0..<batch).map { _ in Int32(rng.nextInt(below: c.speakers.count)) },
        framePad: P)
}

/// Segment `b` of a batch's mels without the padding frames, `[frames - 2 framePad, mel_bins]`: what a
/// generator is given for that utterance.
func utteranceMels(_ x: WaveNetBatch, segment b: Int, melBins M: Int) -> [Float] {
    (x.framePad..<(x.frames - x.framePad)).flatMap { f in (0..<M).map { x.mels[(f * x.batch + b) * M + $0] } }
}

final class WaveNetModelTests: XCTestCase {
    func testReceptiveFieldAndParameterShapes() {
        let c = WaveNetConfig(dilations: WaveNetConfig.dilations(stacks: 2, cycle: 10), residualChannels: 64,
                              gateChannels: 128, skipChannels: 128, condChannels: 80, speakerEmbeddingDim: 16, speakers: ["x"])
        XCTAssertEqual(c.layers, 20)
        XCTAssertEqual(c.receptiveField, 2 * 1023 + 2)
        let m = WaveNetModel(config: c)
        XCTAssertEqual(m.parameters.entry("layers.19.conv.weight")?.shape, [2, 64, 128])
        XCTAssertEqual(m.parameters.entry("layers.0.out.weight")?.shape, [64, 192])
        XCTAssertEqual(m.parameters.entry("post.conv2.weight")?.shape, [128, 256])
        // The reference configuration: ~1.2 MFLOP per sample.
        XCTAssertEqual(Double(2 * c.macsPerSample) / 1e6, 1.24, accuracy: 0.05)
    }

    /// Fine-tuning start: known speakers keep their index and row, new ones start at the mean row, and every
    /// other tensor is copied, so a known speaker's logits are unchanged.
    func testExtendingAVoiceWithNewSpeakers() {
        let base = WaveNetModel(config: tinyConfig(speakers: ["a", "b"]))
        base.initialize(seed: 3)
        let m = WaveNetModel.extending(base, speakers: ["c", "b", "d", "c"])
        XCTAssertEqual(m.config.speakers, ["a", "b", "c", "d"])
        XCTAssertEqual(m.parameters.entry("speaker_embedding")?.shape, [4, 2])
        let e0 = base.parameters.value("speaker_embedding"), e = m.parameters.value("speaker_embedding")
        for k in 0..<2 {
            XCTAssertEqual(e[k], e0[k]); XCTAssertEqual(e[2 + k], e0[2 + k])
            XCTAssertEqual(e[4 + k], (e0[k] + e0[2 + k]) / 2, accuracy: 1e-6)
            XCTAssertEqual(e[6 + k], e[4 + k])
        }
        let w0 = base.parameters.value("layers.2.out.weight"), w = m.parameters.value("layers.2.out.weight")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: w, count: 10)), Array(UnsafeBufferPointer(start: w0, count: 10)))
        // Speaker "b" (index 1 in both) gives the same logits through both models.
        var b = tinyBatch(base.config, time: 12, batch: 1, seed: 4)
        b.speakers = [1]
        let ws0 = WaveNetWorkspace(config: base.config, time: 12, batch: 1, frames: b.frames)
        let ws = WaveNetWorkspace(config: m.config, time: 12, batch: 1, frames: b.frames)
        base.run(b, workspace: ws0, backward: false)
        m.run(b, workspace: ws, backward: false)
        for i in 0..<(12 * base.config.classes) { XCTAssertEqual(ws.logits[i], ws0.logits[i]) }
    }

    /// Every parameter's gradient (a sample of entries in each tensor) matches central differences, with the
    /// single-convolution conditioning network and with two residual blocks after it.
    func testFullModelGradientsMatchFiniteDifferences() {
        // Seeds where no ReLU input lies within the finite-difference step of 0 (at seed 5, two blocks put one
        // post-net pre-activation 3e-4 from its kink, where a central difference measures half the slope).
        checkGradients(tinyConfig(condLayers: 0), seed: 5)
        checkGradients(tinyConfig(condLayers: 2), seed: 6)
    }

    func checkGradients(_ c: WaveNetConfig, seed: UInt64) {
        let m = WaveNetModel(config: c)
        m.initialize(seed: seed)
        // Non-zero conditioning biases, so that one added in the wrong place shows. (The other biases stay zero:
        // random ones put ReLU kinks within the finite-difference step of some entries.)
        var brng = Xoshiro256(seed: 7)
        for e in m.parameters.entries where e.name.hasPrefix("cond.") && e.name.hasSuffix("bias") {
            m.parameters.initNormal(e.name, std: 0.2, rng: &brng)
        }
        let b = tinyBatch(c, time: 12, batch: 2, seed: 6)
        let ws = WaveNetWorkspace(config: c, time: 12, batch: 2, frames: b.frames)
        m.parameters.zeroGrads()
        let (_, count) = m.run(b, workspace: ws, backward: true)
        let analytic = Array(UnsafeBufferPointer(start: m.parameters.grads, count: m.parameters.count))
        func loss() -> Double {
            let (l, n) = m.run(b, workspace: ws, backward: false)
            return l / Double(n)
        }
        XCTAssertEqual(count, 24 - 5)
        var rng = Xoshiro256(seed: 3)
        for e in m.parameters.entries {
            for _ in 0..<min(6, e.count) {
                let i = e.offset + rng.nextInt(below: e.count)
                let num = numericGradient(m.parameters.values, i, eps: 2e-3) { loss() }
                let ana = Double(analytic[i])
                XCTAssertEqual(ana, num, accuracy: 3e-3 + 3e-2 * abs(num), "\(e.name) flat index \(i - e.offset), cond_layers \(c.condLayers)")
            }
        }
    }

    /// Fast WaveNet generation with queues gives the same logits as the teacher-forced full pass.
    func testCachedGenerationEqualsFullForward() {
        for condLayers in [0, 2] { checkCachedGeneration(tinyConfig(condLayers: condLayers)) }
    }

    func checkCachedGeneration(_ c: WaveNetConfig) {
        let m = WaveNetModel(config: c)
        m.initialize(seed: 8)
        let T = 40
        var b = tinyBatch(c, time: T, batch: 1, seed: 9)
        b.targets = [Int32](repeating: 0, count: T)
        let ws = WaveNetWorkspace(config: c, time: T, batch: 1, frames: b.frames)
        m.run(b, workspace: ws, backward: false)
        let gen = WaveNetGenerator(model: m, maxFrames: 64)
        let mels = utteranceMels(b, segment: 0, melBins: c.melBins), frames = b.frames - 2 * b.framePad
        gen.start(mels: mels, frames: frames, speaker: Int(b.speakers[0]))
        var worst: Float = 0
        for t in 0..<T {
            let logits = gen.step(previous: Int(b.inputs[t]))
            for k in 0..<c.classes { worst = max(worst, abs(logits[k] - ws.logits[t * c.classes + k])) }
        }
        XCTAssertLessThan(worst, 1e-4, "max |cached - full| = \(worst)")
        XCTAssertEqual(gen.time, T)
        // A restart reproduces the first step exactly (queues are reset).
        let first = Array(UnsafeBufferPointer(start: ws.logits, count: c.classes))
        gen.start(mels: mels, frames: frames, speaker: Int(b.speakers[0]))
        let again = gen.step(previous: Int(b.inputs[0]))
        for k in 0..<c.classes { XCTAssertEqual(again[k], first[k], accuracy: 1e-4) }
    }

    /// config.json round-trips `cond_layers`; a voice saved before the field existed reads as 0 blocks.
    func testConditioningBlocksInConfigJSON() throws {
        let c = tinyConfig(condLayers: 2)
        let json = try JSONEncoder().encode(c)
        XCTAssertEqual(try JSONDecoder().decode(WaveNetConfig.self, from: json), c)
        var dict = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        XCTAssertEqual(dict["cond_layers"] as? Int, 2)
        dict["cond_layers"] = nil
        let old = try JSONDecoder().decode(WaveNetConfig.self, from: try JSONSerialization.data(withJSONObject: dict))
        XCTAssertEqual(old.condLayers, 0)
        XCTAssertEqual(WaveNetModel(config: c).parameters.entry("cond.blocks.1.conv.weight")?.shape, [3, 3, 3])
        XCTAssertEqual(c.condActivationsPerFrame, 15)
        var bad = c
        bad.condLayers = 17
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("cond_layers must be in 0...16, got 17"), "\($0)") }
    }

    /// Each sequence in a batch is independent: batch-of-2 logits equal the two single runs.
    func testBatchRowsAreIndependent() {
        let c = tinyConfig()
        let m = WaveNetModel(config: c)
        m.initialize(seed: 10)
        let T = 16
        let b = tinyBatch(c, time: T, batch: 2, seed: 11)
        let ws = WaveNetWorkspace(config: c, time: T, batch: 2, frames: b.frames)
        m.run(b, workspace: ws, backward: false)
        for bi in 0..<2 {
            let single = WaveNetBatch(
                time: T, batch: 1,
                inputs: (0..<T).map { b.inputs[$0 * 2 + bi] }, targets: [Int32](repeating: 0, count: T),
                mels: (0..<b.frames).flatMap { f in (0..<c.melBins).map { b.mels[(f * 2 + bi) * c.melBins + $0] } },
                frames: b.frames, speakers: [b.speakers[bi]], framePad: b.framePad)
            let w1 = WaveNetWorkspace(config: c, time: T, batch: 1, frames: b.frames)
            m.run(single, workspace: w1, backward: false)
            for t in 0..<T { for k in 0..<c.classes {
                XCTAssertEqual(w1.logits[t * c.classes + k], ws.logits[(t * 2 + bi) * c.classes + k], accuracy: 1e-4)
            } }
        }
    }
}

/// Growing a voice (`WaveNetModel.growing`): the larger model starts with the same outputs and its new units learn.
final class WaveNetGrowthTests: XCTestCase {
    func grownPair() throws -> (WaveNetModel, WaveNetModel) {
        let base = WaveNetModel(config: tinyConfig(condLayers: 1))
        base.initialize(seed: 11)
        // Perturb the biases too, so that a wrongly placed copy cannot hide behind zeros.
        var rng = Xoshiro256(seed: 12)
        for e in base.parameters.entries where e.name.hasSuffix("bias") { base.parameters.initNormal(e.name, std: 0.3, rng: &rng) }
        var target = tinyConfig()
        target.dilations = [1, 8, 2, 4, 1, 2]   // two new layers, one between old ones and one at the end
        target.residualChannels = 6
        target.gateChannels = 10
        target.skipChannels = 7
        target.condChannels = 4
        target.condLayers = 2                   // one new conditioning block after the old one
        target.speakerEmbeddingDim = 3
        return (base, try WaveNetModel.growing(base, to: target, seed: 13))
    }

    func testGrownModelGivesTheSameLogits() throws {
        let (base, grown) = try grownPair()
        XCTAssertEqual(grown.config.layers, 6)
        XCTAssertEqual(grown.parameters.entry("layers.3.conv.weight")?.shape, [2, 6, 10])
        XCTAssertEqual(grown.config.featureMean, base.config.featureMean)
        XCTAssertGreaterThan(grown.parameters.count, base.parameters.count)
        for spk: Int32 in [0, 1] {
            var b = tinyBatch(base.config, time: 24, batch: 1, seed: 14)
            b.speakers = [spk]
            let ws0 = WaveNetWorkspace(config: base.config, time: 24, batch: 1, frames: b.frames)
            let ws = WaveNetWorkspace(config: grown.config, time: 24, batch: 1, frames: b.frames)
            let (l0, _) = base.run(b, workspace: ws0, backward: false)
            let (l1, _) = grown.run(b, workspace: ws, backward: false)
            XCTAssertEqual(l1, l0, accuracy: 1e-5 * abs(l0))
            var worst: Float = 0
            for i in 0..<(24 * base.config.classes) { worst = max(worst, abs(ws.logits[i] - ws0.logits[i])) }
            XCTAssertLessThan(worst, 1e-5, "speaker \(spk): max |grown - base| logit = \(worst)")
        }
    }

    /// The zero read-out weights of the new units get a gradient at once, so training can use them.
    func testNewUnitsReceiveGradients() throws {
        let (_, grown) = try grownPair()
        let b = tinyBatch(grown.config, time: 24, batch: 2, seed: 15)
        let ws = WaveNetWorkspace(config: grown.config, time: 24, batch: 2, frames: b.frames)
        grown.parameters.zeroGrads()
        grown.run(b, workspace: ws, backward: true)
        func gradNorm(_ name: String, from: Int, count: Int) -> Float {
            let g = grown.parameters.grad(name)
            return (from..<(from + count)).reduce(0) { $0 + g[$1] * g[$1] }.squareRoot()
        }
        // New layer 1 (dilation 8): its whole read-out is zero and must get a gradient.
        XCTAssertEqual(grown.parameters.value("layers.1.out.weight")[0], 0)
        XCTAssertGreaterThan(gradNorm("layers.1.out.weight", from: 0, count: 5 * 13), 1e-6)
        // Old layer 0: the read-out row of a new gate unit (tanh unit 4 of 5).
        XCTAssertEqual(grown.parameters.value("layers.0.out.weight")[4 * 13], 0)
        XCTAssertGreaterThan(gradNorm("layers.0.out.weight", from: 4 * 13, count: 13), 1e-6)
        // Post-net rows reading the new skip channels (5, 6).
        XCTAssertGreaterThan(gradNorm("post.conv1.weight", from: 5 * 7, count: 14), 1e-6)
        // The new conditioning block's read-out, and the old block's row reading the new frame channel (3 of 4).
        XCTAssertEqual(grown.parameters.value("cond.blocks.1.out.weight")[0], 0)
        XCTAssertGreaterThan(gradNorm("cond.blocks.1.out.weight", from: 0, count: 16), 1e-6)
        XCTAssertEqual(grown.parameters.value("cond.blocks.0.out.weight")[3 * 4], 0)
        XCTAssertGreaterThan(gradNorm("cond.blocks.0.out.weight", from: 3 * 4, count: 4), 1e-6)
    }

    func testShrinkingOrReorderingIsRefused() {
        let base = WaveNetModel(config: tinyConfig())
        var smaller = tinyConfig()
        smaller.skipChannels = 4
        XCTAssertThrowsError(try WaveNetModel.growing(base, to: smaller, seed: 1)) { e in
            XCTAssertTrue("\(e)".contains("skip channels can only grow: the voice has 5, asked for 4"), "\(e)")
        }
        var reordered = tinyConfig()
        reordered.dilations = [1, 4, 2, 1]
        XCTAssertThrowsError(try WaveNetModel.growing(base, to: reordered, seed: 1)) { e in
            XCTAssertTrue("\(e)".contains("not a subsequence"), "\(e)")
        }
        let blocks = WaveNetModel(config: tinyConfig(condLayers: 2))
        XCTAssertThrowsError(try WaveNetModel.growing(blocks, to: tinyConfig(condLayers: 1), seed: 1)) { e in
            XCTAssertTrue("\(e)".contains("conditioning blocks can only grow: the voice has 2, asked for 1"), "\(e)")
        }
    }
}

final class VoiceFolderTests: XCTestCase {
    /// The shipped voice loads as `synth vocode` loads it, with and without its `model_type` (voices saved before the
    /// key existed are read as WaveNet voices), and a saved voice's config.json says `model_type` wavenet.
    func testShippedVoiceLoadsWithAndWithoutModelType() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../voices/default")
        XCTAssertEqual(try ModelFolder.readConfig(shipped).modelType, "wavenet")
        let v = try Voice.load(shipped)
        XCTAssertEqual(v.config.layers, 20)
        XCTAssertEqual(v.model.parameters.count, 932_368)  // 21 speakers of 16 dimensions
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("voice-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = try String(contentsOf: shipped.appendingPathComponent("config.json"), encoding: .utf8)
        try config.replacingOccurrences(of: "  \"model_type\" : \"wavenet\",\n", with: "")
            .write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: shipped.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertNil(try ModelFolder.readConfig(dir).modelType)
        let old = try Voice.load(dir)
        XCTAssertEqual(old.config, v.config)
        let out = dir.appendingPathComponent("saved")
        try Voice.save(old.model, to: out)
        XCTAssertEqual(try ModelFolder.readConfig(out).modelType, "wavenet")
        XCTAssertEqual(try Voice.load(out).config, v.config)
    }
}
