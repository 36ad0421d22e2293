// The exact likelihood of `synth eval`: the cached generator's NLL equals the teacher-forced full forward pass.
import DSP
import NNCore
import XCTest
@testable import WaveNet

final class LikelihoodTests: XCTestCase {
    func testExactLikelihoodEqualsTheTeacherForcedForwardPass() {
        var c = tinyConfig()
        c.featureMean = [0.3, -0.2, 0.1]
        c.featureStd = [1.5, 0.7, 2.0]
        let model = WaveNetModel(config: c)
        model.initialize(seed: 5)
        let utts = syntheticUtterances(c, count: 3, length: 48, seed: 9)
        let full = WaveNetTrainable(model: model)
        let gen = WaveNetGenerator(model: model, maxFrames: utts[0].frames)
        var sums: [Double] = []
        for u in utts {
            let exact = SpeechLikelihood.score(u, generator: gen)
            let forward = full.loss(SpeechTrainingData.makeBatch([(u, 0)], config: c, segment: u.sampleCount), backward: false)
            XCTAssertEqual(exact.samples, 48)
            XCTAssertEqual(forward.count, 48)
            XCTAssertEqual(exact.nats, forward.sum, accuracy: 1e-4 * forward.sum)
            sums.append(exact.nats)
        }
        // An untrained 7-class model is near ln 7 = 1.95 nats per sample, but not at it.
        for s in sums { XCTAssertEqual(s / 48, log(7.0), accuracy: 0.5); XCTAssertNotEqual(s / 48, log(7.0), accuracy: 1e-3) }
        // Several threads give the same figures, in input order.
        let one = SpeechLikelihood.score(utts, model: model, threads: 1)
        let three = SpeechLikelihood.score(utts, model: model, threads: 3)
        XCTAssertEqual(one.map(\.nats), sums)
        XCTAssertEqual(three.map(\.nats), sums)
    }
}
