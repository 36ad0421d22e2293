// Objective distances between a reference recording and a resynthesis: log-mel distance, F0 RMSE, voicing error.
import Foundation

/// How far a resynthesised waveform is from its reference on the features a vocoder is given: the same measures as
/// `scripts/compare_vocoders.py` (there with librosa's pYIN of 60-500 Hz; here with `PitchEstimator`'s settings).
public struct SpeechMetrics: Sendable, Equatable, Codable {
    /// RMS over frames and bins of the difference of `10 log10(max(mel power, 1e-5))`, in dB (the mels of
    /// `MelSpectrogram` with the given feature settings).
    public var logMelDistance: Double
    /// RMS of `1200 log2(F0_deg / F0_ref)` over the frames voiced in both, in cents; NaN when no frame is.
    public var f0RMSE: Double
    /// Share of frames whose voicing decisions differ, in [0, 1].
    public var voicingError: Double
    /// Frames compared (the shorter signal's) and frames voiced in both.
    public var frames: Int
    public var voicedInBoth: Int

    enum CodingKeys: String, CodingKey {
        case logMelDistance = "log_mel_distance_db"
        case f0RMSE = "f0_rmse_cents"
        case voicingError = "vuv_error"
        case frames
        case voicedInBoth = "voiced_in_both"
    }

    /// Compares `degraded` with `reference` (mono, same sample rate, cut to the shorter length).
    public static func compare(reference: [Float], degraded: [Float], mel: MelSpectrogram, pitch: PitchEstimator) -> SpeechMetrics {
        let n = min(reference.count, degraded.count)
        let r = Array(reference.prefix(n)), d = Array(degraded.prefix(n))
        let a = mel.power(r), b = mel.power(d)
        var sq = 0.0
        for (x, y) in zip(a, b) {
            let v = 10 * (log10(Double(max(x, 1e-5))) - log10(Double(max(y, 1e-5))))
            sq += v * v
        }
        let lsd = a.isEmpty ? 0 : (sq / Double(a.count)).squareRoot()
        let tr = pitch.track(r), td = pitch.track(d)
        var both = 0, differ = 0, cents = 0.0
        for f in 0..<min(tr.frames, td.frames) {
            if tr.voiced[f] != td.voiced[f] { differ += 1 }
            if tr.voiced[f] && td.voiced[f] {
                both += 1
                let c = 1200 * log2(Double(td.f0[f]) / Double(tr.f0[f]))
                cents += c * c
            }
        }
        let frames = min(tr.frames, td.frames)
        return SpeechMetrics(logMelDistance: lsd, f0RMSE: both > 0 ? (cents / Double(both)).squareRoot() : .nan,
                             voicingError: frames > 0 ? Double(differ) / Double(frames) : 0, frames: frames, voicedInBoth: both)
    }
}
