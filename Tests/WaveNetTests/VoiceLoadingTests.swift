// Loading hostile voice folders (issue 17): configs are bounded and checked against the weights before allocation.
import DSP
import Foundation
import NNCore
import TestSupport
import XCTest
@testable import WaveNet

final class VoiceLoadingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-voiceload-\(UUID().uuidString)")
        let m = WaveNetModel(config: tinyConfig())
        m.initialize(seed: 3)
        try Voice.save(m, to: dir)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var configURL: URL { dir.appendingPathComponent("config.json") }

    /// Rewrites one field of config.json (a key path such as "features.sample_rate").
    func patch(_ path: String, _ value: Any) throws {
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        let keys = path.split(separator: ".").map(String.init)
        if keys.count == 1 { root[keys[0]] = value } else {
            var inner = root[keys[0]] as! [String: Any]
            inner[keys[1]] = value
            root[keys[0]] = inner
        }
        try JSONSerialization.data(withJSONObject: root).write(to: configURL)
    }

    /// `Voice.load` fails with exactly `message` after `config.json: invalid voice config: `, quickly.
    func assertRefused(_ reason: String, file: StaticString = #filePath, line: UInt = #line) {
        let t0 = Date()
        XCTAssertThrowsError(try Voice.load(dir), file: file, line: line) { e in
            XCTAssertEqual("\(e)", "\(configURL.path): invalid voice config: \(reason)", file: file, line: line)
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), timeLimit(1), "refusing took long: something big was built", file: file, line: line)
    }

    func testTheTinyVoiceLoads() throws {
        XCTAssertEqual(try Voice.load(dir).model.parameters.count, WaveNetModel(config: tinyConfig()).parameters.count)
    }

    /// `speaker_statistics` is a config key like the others: saved with the voice, read back equal, absent by
    /// default; its sizes come from the file, so a mixture that disagrees with them is refused in one line.
    func testSpeakerStatisticsTravelInTheConfigAndAreChecked() throws {
        XCTAssertNil(try Voice.load(dir).config.speakerStatistics)
        let m = try Voice.load(dir).model
        let good = SpeakerStatistics.Mixture(weights: [0.25, 0.75], means: [0, 1, 2, 3], variances: [1, 1, 0.5, 0.5], frames: 9)
        var stats = SpeakerStatistics(coefficients: 2, components: 2, speakers: ["alice": good])
        stats.background = good
        stats.threshold = 0.5
        var c = m.config
        c.speakerStatistics = stats
        let withStats = WaveNetModel(config: c)
        withStats.parameters.values.update(from: m.parameters.values, count: m.parameters.count)
        try Voice.save(withStats, to: dir)
        XCTAssertEqual(try Voice.load(dir).config.speakerStatistics, stats)
        XCTAssertEqual(SpeakerStatistics.read(voice: try Voice.load(dir)), stats)

        var bad = stats
        bad.speakers["alice"]!.means = [0, 1, 2]  // [2 components, 2 coefficients] needs 4
        try patch("speaker_statistics", try JSONSerialization.jsonObject(with: JSONEncoder().encode(bad)))
        assertRefused("speaker_statistics: mixture 'alice' must hold 1...2 components of 2 coefficients, got 2 weights, 3 means, 4 variances")
        bad = stats
        bad.coefficients = 1_000_000
        try patch("speaker_statistics", try JSONSerialization.jsonObject(with: JSONEncoder().encode(bad)))
        assertRefused("speaker_statistics: coefficients must be in 1...\(m.config.melBins), got 1000000")
        bad = stats
        bad.background!.variances[0] = -1
        try patch("speaker_statistics", try JSONSerialization.jsonObject(with: JSONEncoder().encode(bad)))
        assertRefused("speaker_statistics: mixture 'background': weights and variances must be positive and finite, means finite")
    }

    /// The configs of issue 17's table: each allocated gigabytes (or corrupted memory) before any check.
    func testIssueConfigsAreRefusedByTheirBounds() throws {
        try patch("features.sample_rate", 1 << 62)
        assertRefused("features: feature config: invalid 'sample_rate': must be in 1000...768000, got 4611686018427387904")
        try patch("features.sample_rate", 16000)
        try patch("residual_channels", 1_048_576)
        assertRefused("residual_channels must be in 1...4096, got 1048576")
        try patch("residual_channels", 4)
        try patch("dilations", [Int](repeating: 1, count: 100_000))
        assertRefused("dilations must list 1...1024 layers, got 100000")
    }

    func testTotalsAreBounded() throws {
        // Each field within its bound, but 20 layers of 2048/4096/2048 channels hold 508 million parameters.
        try patch("dilations", [Int](repeating: 1, count: 20))
        try patch("residual_channels", 2048)
        try patch("gate_channels", 4096)
        try patch("skip_channels", 2048)
        let n = WaveNetModel.layout(try JSONDecoder().decode(WaveNetConfig.self, from: Data(contentsOf: configURL))).count
        XCTAssertEqual(n, 508_114_985)
        assertRefused("the model would have 508114985 parameters, more than the limit of 268435456")
        // Queues: 1024 layers of dilation 65536 x 4 channels = 2^28 floats.
        try patch("residual_channels", 4)
        try patch("gate_channels", 6)
        try patch("skip_channels", 5)
        try patch("dilations", [Int](repeating: 65536, count: 1024))
        assertRefused("the generator's queues would hold sum(dilations) x residual_channels = 268435456 floats, more than the limit of 134217728")
    }

    /// Within the bounds but not what the weights hold: refused by the layout check, before the 25-million-float
    /// parameter set the config asks for is allocated.
    func testSizesAreCheckedAgainstTheWeightsBeforeAllocation() throws {
        try patch("residual_channels", 1024)
        try patch("gate_channels", 2048)
        try patch("skip_channels", 1024)
        let t0 = Date()
        XCTAssertThrowsError(try Voice.load(dir)) { e in
            XCTAssertEqual("\(e)", "\(dir.appendingPathComponent("model.safetensors").path): tensor 'input_embedding' has shape [7, 4], expected [7, 1024] from config.json")
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), timeLimit(1))
    }

    /// Issue 17: a tensor whose data_offsets end at 2^63 - 1 crashed the reader (SIGILL).
    func testWeightsWithHugeOffsetsAreRefused() throws {
        let weights = dir.appendingPathComponent("model.safetensors")
        let header = #"{"input_embedding":{"dtype":"F32","shape":[7,4],"data_offsets":[0,9223372036854775807]}}"#
        var d = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(count: 112))
        try d.write(to: weights)
        XCTAssertThrowsError(try Voice.load(dir)) { e in
            XCTAssertEqual("\(e)", "\(weights.path): not a valid safetensors file (tensor 'input_embedding' has shape [7, 4] but data_offsets [0, 9223372036854775807] hold 9223372036854775807 bytes)")
        }
    }

    func testConfigFilesThatAreNotSmallRegularFilesAreRefused() throws {
        try FileManager.default.removeItem(at: configURL)
        try FileManager.default.createSymbolicLink(atPath: configURL.path, withDestinationPath: "/dev/zero")
        XCTAssertThrowsError(try Voice.load(dir)) { XCTAssertEqual("\($0)", "\(configURL.path): not a regular file") }
        try FileManager.default.removeItem(at: configURL)
        try Data(count: ModelLimits.maxConfigBytes + 1).write(to: configURL)
        XCTAssertThrowsError(try Voice.load(dir)) {
            XCTAssertEqual("\($0)", "\(configURL.path): 4194305 bytes, more than the 4194304 this file may hold")
        }
    }
}
