// Feature-extraction settings (sample rate, STFT and mel parameters) shared by training and vocoding, with validation.
import Foundation

/// Errors thrown by `FeatureConfig.validate()` and `MelSpectrogram.init(config:)`.
public enum FeatureConfigError: Error, CustomStringConvertible, Equatable {
    /// A field has an unusable value; `reason` explains which constraint it breaks.
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let field, let reason):
            return "feature config: invalid '\(field)': \(reason)"
        }
    }
}

/// Mel-spectrogram settings. JSON keys are snake_case (`sample_rate`, `n_fft`, `win_length`,
/// `hop_length`, `n_mels`, `fmin`, `fmax`, `log_floor`); missing keys take the `.default` value.
public struct FeatureConfig: Codable, Equatable, Sendable {
    /// Sample rate in Hz.
    public var sampleRate: Int
    /// FFT size in samples; the spectrum has `nFFT / 2 + 1` bins.
    public var nFFT: Int
    /// Hann window length in samples (zero-padded, centred, to `nFFT`).
    public var winLength: Int
    /// Hop between frames in samples.
    public var hopLength: Int
    /// Number of mel bands.
    public var nMels: Int
    /// Lowest mel-filter edge in Hz.
    public var fmin: Double
    /// Highest mel-filter edge in Hz (<= sampleRate / 2).
    public var fmax: Double
    /// Floor applied before the natural log in `MelSpectrogram.logMel` (power units).
    public var logFloor: Float

    enum CodingKeys: String, CodingKey {
        case sampleRate = "sample_rate"
        case nFFT = "n_fft"
        case winLength = "win_length"
        case hopLength = "hop_length"
        case nMels = "n_mels"
        case fmin
        case fmax
        case logFloor = "log_floor"
    }

    /// 16 kHz, n_fft 1024, win 800 (50 ms), hop 200 (12.5 ms), 80 mels over 50–7600 Hz, log floor 1e-5.
    public static let `default` = FeatureConfig(
        sampleRate: 16000, nFFT: 1024, winLength: 800, hopLength: 200,
        nMels: 80, fmin: 50, fmax: 7600, logFloor: 1e-5)

    public init(sampleRate: Int, nFFT: Int, winLength: Int, hopLength: Int,
                nMels: Int, fmin: Double, fmax: Double, logFloor: Float) {
        self.sampleRate = sampleRate
        self.nFFT = nFFT
        self.winLength = winLength
        self.hopLength = hopLength
        self.nMels = nMels
        self.fmin = fmin
        self.fmax = fmax
        self.logFloor = logFloor
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = FeatureConfig.default
        sampleRate = try c.decodeIfPresent(Int.self, forKey: .sampleRate) ?? d.sampleRate
        nFFT = try c.decodeIfPresent(Int.self, forKey: .nFFT) ?? d.nFFT
        winLength = try c.decodeIfPresent(Int.self, forKey: .winLength) ?? d.winLength
        hopLength = try c.decodeIfPresent(Int.self, forKey: .hopLength) ?? d.hopLength
        nMels = try c.decodeIfPresent(Int.self, forKey: .nMels) ?? d.nMels
        fmin = try c.decodeIfPresent(Double.self, forKey: .fmin) ?? d.fmin
        fmax = try c.decodeIfPresent(Double.self, forKey: .fmax) ?? d.fmax
        logFloor = try c.decodeIfPresent(Float.self, forKey: .logFloor) ?? d.logFloor
    }

    /// Upper bounds of the integer fields (a config.json is untrusted input): sample rates up to 768 kHz, FFTs up to
    /// 65,536 points, hops up to 65,536 samples, up to 512 mel bands.
    public static let sampleRates = 1000...768_000, maxFFT = 65536, maxHop = 65536, maxMels = 512

    /// Checks the settings are usable.
    /// - Throws: `FeatureConfigError.invalid` naming the first offending field when sample_rate is outside
    ///   1000...768000 Hz, n_fft, win_length, hop_length or n_mels is not positive or above its bound (65,536,
    ///   n_fft, 65,536, 512), log_floor is not positive, fmin < 0, fmax > sample_rate / 2, or fmin >= fmax.
    public func validate() throws {
        func positive(_ name: String, _ v: Double) throws {
            guard v > 0, v.isFinite else { throw FeatureConfigError.invalid(field: name, reason: "must be positive, got \(v)") }
        }
        func range(_ name: String, _ v: Int, _ r: ClosedRange<Int>) throws {
            guard r.contains(v) else { throw FeatureConfigError.invalid(field: name, reason: "must be in \(r.lowerBound)...\(r.upperBound), got \(v)") }
        }
        try range("sample_rate", sampleRate, Self.sampleRates)
        try range("n_fft", nFFT, 1...Self.maxFFT)
        try range("win_length", winLength, 1...Self.maxFFT)
        try range("hop_length", hopLength, 1...Self.maxHop)
        try range("n_mels", nMels, 1...Self.maxMels)
        try positive("log_floor", Double(logFloor))
        guard fmin >= 0, fmin.isFinite else {
            throw FeatureConfigError.invalid(field: "fmin", reason: "must be >= 0 Hz, got \(fmin)")
        }
        guard winLength <= nFFT else {
            throw FeatureConfigError.invalid(field: "win_length", reason: "\(winLength) exceeds n_fft \(nFFT)")
        }
        guard fmax.isFinite, fmax <= Double(sampleRate) / 2 else {
            throw FeatureConfigError.invalid(field: "fmax", reason: "\(fmax) Hz exceeds the Nyquist frequency \(Double(sampleRate) / 2) Hz")
        }
        guard fmin < fmax else {
            throw FeatureConfigError.invalid(field: "fmin", reason: "\(fmin) Hz must be below fmax \(fmax) Hz")
        }
    }
}
