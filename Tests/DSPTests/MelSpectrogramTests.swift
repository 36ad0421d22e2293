// Golden tests of the mel filterbank and mel spectrogram against librosa fixtures, plus FeatureConfig tests.
import Foundation
import XCTest
import Audio
@testable import DSP

func fixture(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
}

final class MelSpectrogramTests: XCTestCase {
    func testFilterbankMatchesLibrosa() throws {
        let ref = try NPY.read(fixture("mel_filterbank.npy"))
        XCTAssertEqual(ref.shape, [80, 513])
        let c = FeatureConfig.default
        let fb = MelSpectrogram.melFilterbank(sampleRate: c.sampleRate, nFFT: c.nFFT, nMels: c.nMels, fmin: c.fmin, fmax: c.fmax)
        XCTAssertEqual(fb.count, ref.data.count)
        let maxRef = ref.data.map(abs).max()!
        let maxDiff = zip(fb, ref.data).map { abs($0 - $1) }.max()!
        // Tolerance: 1e-6 relative to the largest weight (float32 rounding only).
        XCTAssertLessThanOrEqual(maxDiff, 1e-6 * maxRef, "filterbank max |diff| = \(maxDiff) (max weight \(maxRef))")
    }

    func testHannWindowIsPeriodicAndCentred() {
        let w = MelSpectrogram.hannWindow(winLength: 800, nFFT: 1024)
        XCTAssertEqual(w.count, 1024)
        XCTAssertEqual(w[111], 0); XCTAssertEqual(w[112], 0) // left pad 112, w[0] of Hann is 0
        XCTAssertEqual(w[112 + 400], 1, accuracy: 1e-7)     // periodic: peak at n/2
        XCTAssertEqual(w[113], w[112 + 799], accuracy: 1e-7)
        XCTAssertEqual(w[912], 0)
    }

    func testPowerMatchesLibrosa() throws {
        let y = try NPY.read(fixture("chirp_noise_16k.npy")).data
        let ref = try NPY.read(fixture("mel_power.npy"))
        let mel = try MelSpectrogram(config: .default)
        XCTAssertEqual(mel.frameCount(for: y.count), 41)
        XCTAssertEqual(ref.shape, [41, 80])
        let p = mel.power(y)
        XCTAssertEqual(p.count, ref.data.count)
        let maxRef = ref.data.max()!
        let maxDiff = zip(p, ref.data).map { abs($0 - $1) }.max()!
        // Tolerance: 1e-4 relative to the spectrogram maximum.
        XCTAssertLessThanOrEqual(maxDiff, 1e-4 * maxRef, "mel power max |diff| = \(maxDiff) (max \(maxRef))")
    }

    func testLogMelMatchesLibrosa() throws {
        let y = try NPY.read(fixture("chirp_noise_16k.npy")).data
        let ref = try NPY.read(fixture("mel_power.npy")).data.map { Foundation.log(max($0, 1e-5)) }
        let lm = try MelSpectrogram(config: .default).logMel(y)
        let maxDiff = zip(lm, ref).map { abs($0 - $1) }.max()!
        // Tolerance: 1e-3 absolute in natural-log units.
        XCTAssertLessThanOrEqual(maxDiff, 1e-3, "log-mel max |diff| = \(maxDiff)")
    }

    func testShapesAndEdgeCases() throws {
        let mel = try MelSpectrogram(config: .default)
        XCTAssertEqual(mel.frameCount(for: 0), 1)
        XCTAssertEqual(mel.frameCount(for: 199), 1)
        XCTAssertEqual(mel.frameCount(for: 200), 2)
        XCTAssertEqual(mel.power([]).count, 80)
        XCTAssertEqual(mel.logMel(Array(repeating: 0, count: 450)), Array(repeating: Foundation.log(Float(1e-5)), count: 3 * 80))
    }

    func testConcurrentUseMatchesSerial() throws {
        let y = try NPY.read(fixture("chirp_noise_16k.npy")).data
        let mel = try MelSpectrogram(config: .default)
        let serial = mel.power(y)
        var results = [[Float]](repeating: [], count: 4)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let other = try! MelSpectrogram(config: .default) // plan creation under the global lock
            let r = i % 2 == 0 ? mel.power(y) : other.power(y)
            lock.lock(); results[i] = r; lock.unlock()
        }
        for r in results { XCTAssertEqual(r, serial) }
    }

    func testConfigJSONAndDefaults() throws {
        let json = try JSONEncoder().encode(FeatureConfig.default)
        let dict = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        XCTAssertEqual(Set(dict.keys), ["sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "fmin", "fmax", "log_floor"])
        XCTAssertEqual(try JSONDecoder().decode(FeatureConfig.self, from: json), .default)
        let partial = try JSONDecoder().decode(FeatureConfig.self, from: Data(#"{"sample_rate": 22050, "fmax": 8000}"#.utf8))
        XCTAssertEqual(partial.sampleRate, 22050)
        XCTAssertEqual(partial.fmax, 8000)
        XCTAssertEqual(partial.nFFT, 1024)
        XCTAssertNoThrow(try FeatureConfig.default.validate())
    }

    func testConfigValidation() {
        func expectInvalid(_ field: String, _ edit: (inout FeatureConfig) -> Void, line: UInt = #line) {
            var c = FeatureConfig.default
            edit(&c)
            XCTAssertThrowsError(try c.validate(), line: line) { e in
                guard case .invalid(let f, _)? = e as? FeatureConfigError else { return XCTFail("got \(e)", line: line) }
                XCTAssertEqual(f, field, line: line)
                XCTAssertTrue("\(e)".hasPrefix("feature config: invalid '\(field)'"), "\(e)", line: line)
            }
            XCTAssertThrowsError(try MelSpectrogram(config: c), line: line)
        }
        expectInvalid("sample_rate") { $0.sampleRate = 0 }
        expectInvalid("n_fft") { $0.nFFT = -1 }
        expectInvalid("hop_length") { $0.hopLength = 0 }
        expectInvalid("n_mels") { $0.nMels = 0 }
        expectInvalid("log_floor") { $0.logFloor = 0 }
        expectInvalid("win_length") { $0.winLength = 2048 }
        expectInvalid("fmax") { $0.fmax = 8001 }
        expectInvalid("fmin") { $0.fmin = 7600 }
        expectInvalid("fmin") { $0.fmin = -1 }
    }
}
