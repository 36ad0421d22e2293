// Training: the loss falls, checkpoints hold everything, and a resumed run continues exactly.
import AREngine
import Audio
import DSP
import Foundation
import NNCore
import XCTest
@testable import WaveNet

/// Synthetic utterances: a speaker-specific sine with a little noise, mu-law encoded, with random "mels".
func syntheticUtterances(_ c: WaveNetConfig, count: Int, length: Int, seed: UInt64) -> [Utterance] {
    var rng = Xoshiro256(seed: seed)
    return (0..<count).map { i in
        let spk = i % c.speakers.count
        let freq = Float(spk + 1) * 0.05
        let cls = (0..<length).map { t in Int32(MuLaw.encode(0.5 * sinf(freq * Float(t)) + 0.02 * rng.nextGaussian(), classes: c.classes)) }
        let frames = length / c.features.hopLength + 1
        return Utterance(path: "synthetic-\(i)", speaker: spk, classes: cls,
                         logMel: (0..<(frames * c.melBins)).map { _ in rng.nextGaussian() }, frames: frames).prepared(config: c)
    }
}

final class TrainingTests: XCTestCase {
    func makeTrainer(steps: Int, dir: URL?, validationSegments: Int = 2) throws -> (Trainer<WaveNetTrainable>, SpeechTrainingData, WaveNetModel) {
        let c = tinyConfig()
        let model = WaveNetModel(config: c)
        model.initialize(seed: 1)
        let utts = syntheticUtterances(c, count: 6, length: 200, seed: 2)
        let data = try SpeechTrainingData(config: c, train: Array(utts.prefix(4)), valid: Array(utts.suffix(2)), segment: 40, batchSize: 2, validationSegments: validationSegments)
        let opts = TrainingOptions(steps: steps, schedule: LearningRateSchedule(peak: 1e-2, warmupSteps: 2, totalSteps: 20, minLR: 1e-3),
                                   checkpointEvery: 5, validateEvery: 5, logEvery: 5, seed: 3)
        let trainer = Trainer(model: WaveNetTrainable(model: model), options: opts, checkpoints: dir.map { CheckpointStore(runDirectory: $0) })
        return (trainer, data, model)
    }

    func testLossFallsOnLearnableData() throws {
        let (trainer, data, _) = try makeTrainer(steps: 60, dir: nil)
        let before = trainer.validate(data)
        var losses: [Double] = []
        try trainer.train(data, configJSON: Data("{}".utf8)) { e in if case let .train(_, l, _, _, _, _) = e { losses.append(l) } }
        let after = trainer.validate(data)
        XCTAssertLessThan(after, before - 0.3, "valid loss \(before) -> \(after)")
        XCTAssertEqual(before, log(7.0), accuracy: 0.5) // near uniform over 7 classes at init
    }

    /// The parts of a batch that data-parallel ranks draw (`trainingBatch(rng:rows:)`) make up the whole batch, input
    /// noise included, and the RNG advances as for the whole batch.
    func testBatchPartsMakeUpTheWholeBatch() throws {
        let c = tinyConfig()
        let data = try SpeechTrainingData(config: c, train: syntheticUtterances(c, count: 6, length: 200, seed: 2), valid: [],
                                          segment: 40, batchSize: 5, validationSegments: 1)
        data.inputNoise = 0.8
        XCTAssertEqual(data.batchRows, 5)
        var whole = Xoshiro256(seed: 4)
        let full = data.trainingBatch(rng: &whole)
        let B = 5, T = full.time, W = c.frameFeatures
        for parts in [[0..<2, 2..<5], [0..<1, 1..<3, 3..<5]] {
            for part in parts {
                var rng = Xoshiro256(seed: 4)
                let b = data.trainingBatch(rng: &rng, rows: part)
                XCTAssertEqual(rng.state, whole.state)
                let R = part.count
                XCTAssertEqual(b.batch, R)
                XCTAssertEqual(b.speakers, Array(full.speakers[part]))
                for t in 0..<T {
                    for j in 0..<R {
                        XCTAssertEqual(b.inputs[t * R + j], full.inputs[t * B + part.lowerBound + j])
                        XCTAssertEqual(b.targets[t * R + j], full.targets[t * B + part.lowerBound + j])
                    }
                }
                for f in 0..<full.frames {
                    for j in 0..<R {
                        XCTAssertEqual(Array(b.mels[((f * R + j) * W)..<((f * R + j + 1) * W)]),
                                       Array(full.mels[((f * B + part.lowerBound + j) * W)..<((f * B + part.lowerBound + j + 1) * W)]))
                    }
                }
            }
        }
        // Noise was drawn: some inputs differ from the clean previous sample (the targets shifted by one).
        XCTAssertTrue((1..<T).contains { t in full.inputs[t * B] != full.targets[(t - 1) * B] })
    }

    /// 10 steps in one go == 5 steps, checkpoint, new process state, resume, 5 more: identical weights.
    func testResumeContinuesTheSameRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (straight, data1, m1) = try makeTrainer(steps: 10, dir: nil)
        try straight.train(data1, configJSON: Data("{}".utf8)) { _ in }

        let (first, data2, _) = try makeTrainer(steps: 5, dir: dir)
        try first.train(data2, configJSON: Data("{}".utf8)) { _ in }
        let store = CheckpointStore(runDirectory: dir)
        let latest = try store.latest()
        XCTAssertTrue(latest.lastPathComponent.hasSuffix("00000005"))
        for f in ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json", "COMPLETE"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: latest.appendingPathComponent(f).path), f)
        }
        let (second, data3, m3) = try makeTrainer(steps: 10, dir: dir)
        try second.resume(from: latest)
        XCTAssertEqual(second.state.step, 5)
        XCTAssertEqual(second.adam.step, 5)
        try second.train(data3, configJSON: Data("{}".utf8)) { _ in }
        var worst: Float = 0
        for i in 0..<m1.parameters.count { worst = max(worst, abs(m1.parameters.values[i] - m3.parameters.values[i])) }
        XCTAssertEqual(worst, 0, "resumed weights differ by up to \(worst)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.bestDirectory.appendingPathComponent("model.safetensors").path))
    }

    /// Validation segments are rounded up to whole batches and spread over the valid audio by length.
    func testValidationSegmentsFollowTheValidAudio() throws {
        var c = tinyConfig()
        c.featureStd = [1, 1, 1]
        let short = syntheticUtterances(c, count: 1, length: 400, seed: 4)[0]
        var long = syntheticUtterances(c, count: 1, length: 1200, seed: 5)[0]
        long.speaker = 1
        let data = try SpeechTrainingData(config: c, train: [long], valid: [short, long], segment: 40, batchSize: 2, validationSegments: 3)
        let batches = data.validationBatches()
        XCTAssertEqual(batches.map(\.batch), [2, 2])
        // Points 200, 600, 1000, 1400 of the 1,600 valid samples: one in the short file, three in the long one.
        XCTAssertEqual(batches.flatMap(\.speakers), [0, 1, 1, 1])
        // The first segment is centred on sample 200: it starts at frame 45 (sample 180).
        XCTAssertEqual(batches[0].targets[0], short.classes[180])
        XCTAssertEqual(data.validationSignature, "4 segments of 40 samples from 2 valid files, 1600 samples, 1 mel frame of context on each side")
    }

    /// Resuming with another validation set re-scores the best weights on it, so the best loss compares like
    /// with like; the model's own weights are left as they were.
    func testChangedValidationSetRescoresTheBestWeights() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("revalid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (first, data1, _) = try makeTrainer(steps: 5, dir: dir)
        try first.train(data1, configJSON: Data("{}".utf8)) { _ in }
        XCTAssertEqual(first.state.validationSet, data1.validationSignature)
        let (second, data2, model) = try makeTrainer(steps: 6, dir: dir, validationSegments: 6)
        XCTAssertNotEqual(data2.validationSignature, data1.validationSignature)
        try second.resume(from: try CheckpointStore(runDirectory: dir).latest())
        // The figure to expect: best/ loaded into a separate model and scored on the new set.
        let best = WaveNetModel(config: tinyConfig())
        let file = dir.appendingPathComponent("best/model.safetensors")
        try best.parameters.load(try SafeTensors.read(file).tensors, source: file.path)
        var sum = 0.0, count = 0
        for b in data2.validationBatches() { let r = WaveNetTrainable(model: best).loss(b, backward: false); sum += r.sum; count += r.count }
        // Scoring best/ restores the model's weights (scrambled here so that they differ from best/).
        var rng = Xoshiro256(seed: 11)
        for i in 0..<model.parameters.count { model.parameters.values[i] = rng.nextGaussian() * 0.3 }
        let scrambled = Array(UnsafeBufferPointer(start: model.parameters.values, count: model.parameters.count))
        let rescored = try XCTUnwrap(try second.validateBest(data2))
        XCTAssertEqual(rescored, sum / Double(count), accuracy: 1e-9)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: model.parameters.values, count: model.parameters.count)), scrambled)
        XCTAssertNotEqual(second.validate(data2), rescored, accuracy: 1e-3)
        var events: [TrainingEvent] = []
        try second.train(data2, configJSON: Data("{}".utf8)) { events.append($0) }
        guard case let .validationSetChanged(from, to, bestRescored)? = events.first else { return XCTFail("\(events)") }
        XCTAssertEqual(from, data1.validationSignature)
        XCTAssertEqual(to, data2.validationSignature)
        XCTAssertEqual(try XCTUnwrap(bestRescored), rescored, accuracy: 1e-9)
        XCTAssertEqual(second.state.validationSet, data2.validationSignature)
    }

    /// A stop request (SIGINT or SIGTERM in the CLI) saves a checkpoint before returning, and writes best/ if no validation ran yet.
    func testStopRequestSavesCheckpoint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stop-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (trainer, data, _) = try makeTrainer(steps: 100, dir: dir)
        var calls = 0
        try trainer.train(data, configJSON: Data("{}".utf8), shouldStop: { calls += 1; return calls > 3 }) { _ in }
        XCTAssertEqual(trainer.state.step, 3)
        XCTAssertTrue(try CheckpointStore(runDirectory: dir).latest().lastPathComponent.hasSuffix("00000003"))
        // Stopped before its first validation (every 5 steps): validated once, so best/ holds step 3's weights.
        let best = CheckpointStore(runDirectory: dir).bestDirectory.appendingPathComponent("model.safetensors")
        XCTAssertTrue(FileManager.default.fileExists(atPath: best.path))
        let loss = try XCTUnwrap(trainer.state.bestValidLoss)
        XCTAssertEqual(loss, trainer.validate(data), accuracy: 1e-9)
        // A stop after a validation does not validate again.
        let dir2 = dir.appendingPathComponent("later")
        let (later, data2, _) = try makeTrainer(steps: 100, dir: dir2)
        var calls2 = 0, validations = 0
        try later.train(data2, configJSON: Data("{}".utf8), shouldStop: { calls2 += 1; return calls2 > 7 }) {
            if case .validation = $0 { validations += 1 }
        }
        XCTAssertEqual(later.state.step, 7)
        XCTAssertEqual(validations, 1)
    }

    func testIncompleteCheckpointIsIgnoredAndRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (trainer, data, _) = try makeTrainer(steps: 5, dir: dir)
        try trainer.train(data, configJSON: Data("{}".utf8)) { _ in }
        let partial = dir.appendingPathComponent("checkpoints/step-00000099")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        let store = CheckpointStore(runDirectory: dir)
        XCTAssertTrue(try store.latest().lastPathComponent.hasSuffix("00000005"))
        XCTAssertThrowsError(try trainer.resume(from: partial)) { XCTAssertTrue("\($0)".contains("incomplete"), "\($0)") }
    }

    func testManifestParsing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("man-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("m.tsv")
        try "path\tspeaker\tsplit\tseconds\na.flac\tx\ttrain\t1.0\nb.flac\ty\tvalid\t2\n".write(to: good, atomically: true, encoding: .utf8)
        let rows = try SpeechManifest.read(good)
        XCTAssertEqual(rows, [ManifestRow(path: "a.flac", speaker: "x", split: "train", line: 2),
                              ManifestRow(path: "b.flac", speaker: "y", split: "valid", line: 3)])
        let csv = dir.appendingPathComponent("m.csv")
        try "speaker,path\nx,a.wav\n".write(to: csv, atomically: true, encoding: .utf8)
        XCTAssertEqual(try SpeechManifest.read(csv).first?.split, "train")
        let bad = dir.appendingPathComponent("bad.tsv")
        try "path\tspeaker\na.flac\tx\nb.flac\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SpeechManifest.read(bad)) { XCTAssertTrue("\($0)".hasSuffix("bad.tsv:3: expected 2 tab-separated fields (path, speaker), got 1"), "\($0)") }
        let badSplit = dir.appendingPathComponent("split.tsv")
        try "path\tspeaker\tsplit\na.flac\tx\tvalidation\n".write(to: badSplit, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SpeechManifest.read(badSplit)) { XCTAssertTrue("\($0)".hasSuffix("split.tsv:2: split must be 'train' or 'valid', got 'validation'"), "\($0)") }
        let noHeader = dir.appendingPathComponent("nh.tsv")
        try "file\twho\n".write(to: noHeader, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SpeechManifest.read(noHeader)) { XCTAssertTrue("\($0)".contains("'path' and 'speaker'"), "\($0)") }
    }

    func testPreemphasisRoundTrip() {
        let x: [Float] = (0..<100).map { sinf(Float($0) * 0.3) * 0.5 }
        var y = SpeechLoader.preemphasize(x, coef: 0.85)
        XCTAssertEqual(y[1], x[1] - 0.85 * x[0], accuracy: 1e-7)
        SpeechLoader.deemphasize(&y, coef: 0.85)
        for i in 0..<100 { XCTAssertEqual(y[i], x[i], accuracy: 1e-5) }
    }

    /// Speed perturbation plays the audio `speed` times faster: a 440 Hz tone loaded at speed 0.9 is the
    /// 396 Hz tone, 1/0.9 times as long, sample for sample (within mu-law's quantisation); at 1.1 it is the
    /// 484 Hz tone, with as many log-mel frames as the perturbed audio has.
    func testSpeedPerturbationResamplesTheAudio() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("speed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let rate = 16000, n = 16000
        let tone = (0..<n).map { 0.5 * sinf(2 * Float.pi * 440 * Float($0) / Float(rate)) }
        let url = dir.appendingPathComponent("tone.wav")
        try AudioIO.writeWAV(tone, sampleRate: rate, to: url)
        var loader = try SpeechLoader(features: .default, classes: 256, preemphasis: 0)
        for (speed, length) in [(0.9, 17778), (1.1, 14546)] {
            loader.speed = speed
            let u = try XCTUnwrap(try loader.load(url, speaker: 0, trim: false))
            XCTAssertEqual(u.sampleCount, length, "speed \(speed)")
            XCTAssertEqual(u.frames, 1 + length / 200, "speed \(speed)")
            let y = MuLaw.decode(u.classes.map(Int.init), classes: 256)
            // Away from the ends, where the resampler's filter runs off the signal.
            var worst: Float = 0
            for t in 200..<(length - 200) {
                let want = 0.5 * sinf(2 * Float.pi * 440 * Float(speed) * Float(t) / Float(rate))
                worst = max(worst, abs(y[t] - want))
            }
            XCTAssertLessThan(worst, 0.02, "speed \(speed)")
        }
        loader.speed = 1
        let same = try XCTUnwrap(try loader.load(url, speaker: 0, trim: false))
        XCTAssertEqual(same.sampleCount, n)
        loader.speed = 0
        XCTAssertThrowsError(try loader.load(url, speaker: 0, trim: false))
    }

    /// Noise injection perturbs only the teacher-forced inputs of training batches, by a rounded Gaussian of the
    /// given standard deviation in classes; the same RNG picks the same segments, so targets match the clean batch.
    func testInputNoisePerturbsOnlyTrainingInputs() throws {
        var c = tinyConfig()
        c.classes = 256
        let utts = syntheticUtterances(c, count: 4, length: 4000, seed: 6)
        let clean = try SpeechTrainingData(config: c, train: utts, valid: utts, segment: 400, batchSize: 4, validationSegments: 4)
        let noisy = try SpeechTrainingData(config: c, train: utts, valid: utts, segment: 400, batchSize: 4, validationSegments: 4)
        noisy.inputNoise = 3
        var r1 = Xoshiro256(seed: 9), r2 = Xoshiro256(seed: 9)
        let a = clean.trainingBatch(rng: &r1), b = noisy.trainingBatch(rng: &r2)
        XCTAssertEqual(a.targets, b.targets)
        XCTAssertEqual(a.mels, b.mels)
        XCTAssertEqual(a.speakers, b.speakers)
        let d = zip(a.inputs, b.inputs).map { Double($1 - $0) }
        let mean = d.reduce(0, +) / Double(d.count)
        let std = (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count)).squareRoot()
        // A rounded N(0, 3^2) has standard deviation (9 + 1/12)^0.5 = 3.01; 1,600 draws give about +-0.06.
        XCTAssertEqual(mean, 0, accuracy: 0.25)
        XCTAssertEqual(std, 3.01, accuracy: 0.2)
        XCTAssertTrue(b.inputs.allSatisfy { (0..<256).contains($0) })
        XCTAssertEqual(clean.validationBatches().map(\.inputs), noisy.validationBatches().map(\.inputs))
        // Off by default: the same seed gives the same inputs.
        var r3 = Xoshiro256(seed: 9)
        XCTAssertEqual(clean.trainingBatch(rng: &r3).inputs, a.inputs)
    }

    /// A training segment's conditioning equals the whole utterance's at the same frames, at the utterance's
    /// start, middle and end: the batch carries the conditioning network's reach of context frames (zeros
    /// outside the utterance, as the generator pads), so edge frames are not computed from zero padding.
    func testSegmentConditioningMatchesTheWholeUtterance() throws {
        let c = tinyConfig(condLayers: 2)
        let m = WaveNetModel(config: c)
        m.initialize(seed: 17)
        let u = syntheticUtterances(c, count: 1, length: 400, seed: 18)[0]
        let gen = WaveNetGenerator(model: m, maxFrames: u.frames)
        gen.start(mels: c.normalize(logMel: u.logMel), frames: u.frames, speaker: u.speaker)
        let T = 40, LG = c.layers * c.gateChannels
        for start in [0, 200, 400 - T] {
            let b = SpeechTrainingData.makeBatch([(u, start)], config: c, segment: T)
            XCTAssertEqual(b.framePad, 3)
            XCTAssertEqual(b.frames, T / 4 + 1 + 6)
            let ws = WaveNetWorkspace(config: c, time: T, batch: 1, frames: b.frames)
            m.run(b, workspace: ws, backward: false)
            var worst: Float = 0
            for f in 0...(T / 4) {
                for j in 0..<LG { worst = max(worst, abs(ws.condP[(3 + f) * LG + j] - gen.condP[(start / 4 + f) * LG + j])) }
            }
            XCTAssertLessThan(worst, 1e-5, "segment at \(start): max |segment - utterance| conditioning = \(worst)")
        }
    }
}
