// Data-parallel exactness under `mpirun -np 2`: the test relaunches its own bundle under mpirun, where
// `MPIWorkerTests` compares, on every rank, what 2 ranks compute together with what one process computes alone.
import AREngine
import Cluster
import DSP
import Foundation
import Music
import NNCore
import WaveNet
import XCTest

/// A tiny vocoder config (hop 4, 3 mels, 7 classes), as WaveNetTests' `tinyConfig`.
func tinyVoiceConfig() -> WaveNetConfig {
    var f = FeatureConfig.default
    f.hopLength = 4
    f.nMels = 3
    return WaveNetConfig(dilations: [1, 2, 4, 1], residualChannels: 4, gateChannels: 6, skipChannels: 5, classes: 7,
                         condChannels: 3, speakerEmbeddingDim: 2, speakers: ["a", "b"], features: f)
}

/// Learnable synthetic utterances: a speaker-specific sine with a little noise, random mels.
func tinyUtterances(_ c: WaveNetConfig, count: Int, length: Int, seed: UInt64) -> [Utterance] {
    var rng = Xoshiro256(seed: seed)
    return (0..<count).map { i in
        let spk = i % c.speakers.count
        let cls = (0..<length).map { t in
            Int32(MuLaw.encode(0.5 * sinf(Float(spk + 1) * 0.05 * Float(t)) + 0.02 * rng.nextGaussian(), classes: c.classes))
        }
        let frames = length / c.features.hopLength + 1
        return Utterance(path: "synthetic-\(i)", speaker: spk, classes: cls,
                         logMel: (0..<(frames * c.melBins)).map { _ in rng.nextGaussian() }, frames: frames).prepared(config: c)
    }
}

/// Token rows of different lengths (padded with -1), so the ranks' parts score different numbers of positions.
final class RaggedTokens: TrainingData {
    let batchSize: Int, context: Int, vocab: Int
    init(batchSize: Int, context: Int, vocab: Int) { self.batchSize = batchSize; self.context = context; self.vocab = vocab }
    var batchRows: Int { batchSize }
    func trainingBatch(rng: inout Xoshiro256) -> TokenBatch { trainingBatch(rng: &rng, rows: 0..<batchSize) }
    func trainingBatch(rng: inout Xoshiro256, rows: Range<Int>) -> TokenBatch {
        var out: [[Int]] = []
        for b in 0..<batchSize {
            let length = 2 + rng.nextInt(below: context)
            let row = (0..<(context + 1)).map { $0 < length ? rng.nextInt(below: vocab) : -1 }
            if rows.contains(b) { out.append(row) }
        }
        return TokenBatch(tokens: out, ignoreIndex: -1)
    }
    func validationBatches() -> [TokenBatch] { [] }
}

func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
    var d = 0.0, n = 0.0
    for (x, y) in zip(a, b) { d += Double(x - y) * Double(x - y); n += Double(y) * Double(y) }
    return (d / max(n, 1e-300)).squareRoot()
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func snapshot(_ p: ParameterSet, grads: Bool = false) -> [Float] {
    Array(UnsafeBufferPointer(start: grads ? p.grads : p.values, count: p.count))
}

/// Runs on every rank of `mpirun -np 2` (skipped otherwise). Each rank also computes the one-process answer itself.
final class MPIWorkerTests: XCTestCase {
    nonisolated(unsafe) static var shared: MPICommunicator?
    var world: MPICommunicator!

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["SYNTH_MPI_WORKER"] != nil, MPICommunicator.isLaunched else {
            throw XCTSkip("runs only under mpirun, started by DataParallelTests.testTwoRanksMatchOneProcess")
        }
        if Self.shared == nil { Self.shared = try MPICommunicator.launched() }
        world = Self.shared
        XCTAssertEqual(world.size, 2)
    }

    /// Every rank ends MPI after the class's tests (mpirun counts a rank that exits without it as failed).
    override class func tearDown() {
        shared?.finalize()
        super.tearDown()
    }

    func voiceTrainer(_ comm: any Communicator, steps: Int = 20, clip: Float = 1) throws -> (Trainer<WaveNetTrainable>, SpeechTrainingData) {
        let c = tinyVoiceConfig()
        let model = WaveNetModel(config: c)
        model.initialize(seed: 1)
        let utts = tinyUtterances(c, count: 6, length: 200, seed: 2)
        let data = try SpeechTrainingData(config: c, train: Array(utts.prefix(4)), valid: Array(utts.suffix(2)), segment: 40,
                                          batchSize: 4, validationSegments: 2)
        data.inputNoise = 0.7
        let opts = TrainingOptions(steps: steps, schedule: LearningRateSchedule(peak: 1e-2, warmupSteps: 2, totalSteps: 20, minLR: 1e-3),
                                   clipNorm: clip, checkpointEvery: 1000, validateEvery: 1000, logEvery: 5, seed: 3)
        return (Trainer(model: WaveNetTrainable(model: model), options: opts, checkpoints: nil, communicator: comm), data)
    }

    /// 2 ranks x 2 rows == 1 process x 4 rows, for five successive batches of the stream (input noise on).
    func testVoiceGradientOfTwoRanksEqualsOneProcess() throws {
        let (two, data) = try voiceTrainer(world)
        let (one, _) = try voiceTrainer(SingleProcess())
        var rngTwo = Xoshiro256(seed: 9), rngOne = Xoshiro256(seed: 9)
        var worst = 0.0
        for _ in 0..<5 {
            let a = try XCTUnwrap(try two.computeGradient(data, rng: &rngTwo))
            let b = try XCTUnwrap(try one.computeGradient(data, rng: &rngOne))
            XCTAssertEqual(a.count, b.count)
            XCTAssertEqual(a.sum, b.sum, accuracy: 1e-9 * abs(b.sum))
            XCTAssertEqual(rngTwo.state, rngOne.state)
            worst = max(worst, relativeDifference(snapshot(two.model.parameters, grads: true), snapshot(one.model.parameters, grads: true)))
        }
        XCTAssertLessThan(worst, 1e-6, "relative L2 difference of the gradients")
        if world.rank == 0 { print("voice gradient: 2 ranks vs 1 process, relative L2 difference \(worst)") }
    }

    /// Ragged token rows (the ranks score 
    /// different numbers of positions): the weighted sum is still the whole batch's mean gradient.
    func testTransformerGradientWithUnevenPartsEqualsOneProcess() throws {
        func make(_ comm: any Communicator) -> Trainer<TransformerModel> {
            let m = TransformerModel(config: TransformerConfig(vocabSize: 11, contextLength: 12, dModel: 8, nHeads: 2, nLayers: 1, dFF: 16))
            m.initialize(seed: 4)
            return Trainer(model: m, options: TrainingOptions(steps: 1, schedule: LearningRateSchedule(peak: 1e-3, warmupSteps: 0, totalSteps: 1, minLR: 1e-3)),
                           checkpoints: nil, communicator: comm)
        }
        let data = RaggedTokens(batchSize: 5, context: 12, vocab: 11)
        let two = make(world), one = make(SingleProcess())
        var rngTwo = Xoshiro256(seed: 5), rngOne = Xoshiro256(seed: 5)
        var worst = 0.0
        for _ in 0..<4 {
            let a = try XCTUnwrap(try two.computeGradient(data, rng: &rngTwo))
            let b = try XCTUnwrap(try one.computeGradient(data, rng: &rngOne))
            XCTAssertEqual(a.count, b.count)
            worst = max(worst, relativeDifference(snapshot(two.model.parameters, grads: true), snapshot(one.model.parameters, grads: true)))
        }
        XCTAssertLessThan(worst, 1e-6)
        if world.rank == 0 { print("transformer gradient (uneven parts): relative L2 difference \(worst)") }
    }

    /// 20 steps of 2 ranks == 20 steps of 1 process: same weights within 1e-5 (absolute, weights of order 0.1-1),
    /// the same RNG state and step. Clipping on (clip 0.5), so it must see the global norm.
    func testTwentyStepsOfTwoRanksReachTheSameWeights() throws {
        let (two, data) = try voiceTrainer(world, clip: 0.5)
        let (one, _) = try voiceTrainer(SingleProcess(), clip: 0.5)
        var events = 0
        try two.train(data, configJSON: Data("{}".utf8)) { _ in events += 1 }
        try one.train(data, configJSON: Data("{}".utf8)) { _ in }
        let d = maxAbsDifference(snapshot(two.model.parameters), snapshot(one.model.parameters))
        XCTAssertLessThan(d, 1e-5)
        XCTAssertEqual(two.state.step, 20)
        XCTAssertEqual(two.state.rngState, one.state.rngState)
        XCTAssertEqual(two.state.positionsSeen, one.state.positionsSeen)
        // Only rank 0 reports (train and communication lines, validation at the end).
        if world.rank == 0 { XCTAssertGreaterThanOrEqual(events, 9) } else { XCTAssertEqual(events, 0) }
        if world.rank == 0 { print("20 steps: 2 ranks vs 1 process, max |weight difference| \(d)") }
    }

    /// Ranks started with different configs fail at start-up, on every rank, with the mismatch error.
    func testMismatchedRanksFailAtStartUp() throws {
        let (t, data) = try voiceTrainer(world, steps: 2)
        XCTAssertThrowsError(try t.train(data, configJSON: Data("{\"rank\": \(world.rank)}".utf8)) { _ in }) { e in
            XCTAssertEqual(e as? DataParallelError, .mismatch(rank: self.world.rank, ranks: 2))
        }
        XCTAssertEqual(t.state.step, 0)
        // The same config on both: no error.
        try t.train(data, configJSON: Data("{}".utf8)) { _ in }
        XCTAssertEqual(t.state.step, 2)
    }
}

/// Launches `MPIWorkerTests` on 2 ranks of this machine; skipped when mpirun is not installed.
final class DataParallelTests: XCTestCase {
    func testTwoRanksMatchOneProcess() throws {
        if ProcessInfo.processInfo.environment["SYNTH_MPI_WORKER"] != nil { throw XCTSkip("this is a worker") }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard let mpirun = path.map({ "\($0)/mpirun" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("mpirun not found: the 2-rank exactness tests are skipped (Debian: openmpi-bin)")
        }
        let bundle = CommandLine.arguments[0]
        guard bundle.hasSuffix(".xctest"), FileManager.default.isExecutableFile(atPath: bundle) else {
            throw XCTSkip("the test bundle is not an executable (\(bundle)); run the 2-rank tests on Linux")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["120", mpirun, "-np", "2", "--oversubscribe", "-x", "SYNTH_MPI_WORKER=1", bundle, "ClusterTests.MPIWorkerTests"]
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        print(text.split(separator: "\n").filter { $0.contains("difference") || $0.contains("error") }
            .joined(separator: "\n"))
        XCTAssertEqual(p.terminationStatus, 0, text)
        // Both ranks ran the 4 worker tests, none skipped.
        XCTAssertEqual(text.components(separatedBy: "Test Suite 'MPIWorkerTests' passed").count - 1, 2, text)
        XCTAssertTrue(text.contains("Executed 4 tests, with 0 failures"), text)
        XCTAssertFalse(text.contains("skipped"), text)
    }
}
