// Normalised log-mel features and .npy input against numpy/librosa fixtures (scripts/fixtures/render_fixtures.py).
import Audio
import DSP
import Foundation
import XCTest
@testable import WaveNet

final class FeaturesTests: XCTestCase {
    func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!
    }

    func voice(mean: [Float], std: [Float]) -> Voice {
        var c = WaveNetConfig(dilations: [1, 2], residualChannels: 4, gateChannels: 4, skipChannels: 4, condChannels: 2,
                              speakerEmbeddingDim: 2, speakers: ["a"])
        c.featureMean = mean
        c.featureStd = std
        return Voice(name: "fixture", directory: URL(fileURLWithPath: "/"), model: WaveNetModel(config: c))
    }

    /// `Vocoder.features` equals librosa's `(ln(max(mel, 1e-5)) - mean) / std` (the recipe in docs/features.md).
    func testNormalisedLogMelMatchesLibrosa() throws {
        let stats = try NPY.read(fixture("features_stats.npy"))
        let v = voice(mean: Array(stats.data[0..<80]), std: Array(stats.data[80..<160]))
        let y = try NPY.read(fixture("features_wave.npy")).data
        let expected = try NPY.read(fixture("features_expected.npy"))
        let (mels, frames) = try Vocoder(voice: v).features(of: y)
        XCTAssertEqual([frames, 80], expected.shape)
        var worst: Float = 0
        for (a, b) in zip(mels, expected.data) { worst = max(worst, abs(a - b) / (1e-3 + 1e-3 * abs(b))) }
        XCTAssertLessThan(worst, 1, "max scaled |swift - librosa| = \(worst) (atol 1e-3, rtol 1e-3)")
    }

    /// A numpy-written float32 [frames, 80] array is accepted as input as is; writing it back gives numpy's bytes;
    /// float64 arrays are read (rounded to float32) and 3-D arrays rejected with a message naming the file and the shape.
    func testNumpyWrittenMelsRoundTrip() throws {
        let v = voice(mean: [Float](repeating: 0, count: 80), std: [Float](repeating: 1, count: 80))
        let vocoder = try Vocoder(voice: v)
        let cond = try vocoder.conditioning(for: fixture("mels_numpy.npy"))
        let raw = try NPY.read(fixture("mels_numpy.npy"))
        XCTAssertEqual(cond.frames, 7)
        XCTAssertEqual(cond.sampleCount, 7 * 200)
        XCTAssertEqual(cond.mels, raw.data)
        let back = FileManager.default.temporaryDirectory.appendingPathComponent("synth-features-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: back) }
        try NPY.write(NPYArray(shape: [cond.frames, 80], data: cond.mels), to: back)
        XCTAssertEqual(try Data(contentsOf: back), try Data(contentsOf: fixture("mels_numpy.npy")), "bytes differ from numpy.save")
        // float64 log-mels (e.g. from an acoustic model in numpy's default dtype) are rounded to float32 on reading.
        XCTAssertEqual(try vocoder.conditioning(for: fixture("mels_numpy_f8.npy")).mels, raw.data)
        XCTAssertThrowsError(try vocoder.conditioning(for: fixture("mels_numpy_3d.npy"))) {
            XCTAssertTrue("\($0)".contains("mels_numpy_3d.npy") && "\($0)".contains("(2, 7, 80)"), "\($0)")
        }
    }
}
