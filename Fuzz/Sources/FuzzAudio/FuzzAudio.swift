// Fuzz target: audio files through libsndfile (virtual I/O over the input, the same decoding as AudioIO.read),
// mixed to mono, resampled to 16 kHz as every command does, and the first second's log-mels.
import Audio
import DSP
import Foundation
import FuzzSupport

let mel = try! MelSpectrogram(config: .default)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        let audio = try AudioIO.read(data: input(data, size), path: "fuzz.wav")
        precondition(audio.channels >= 1 && audio.samples.count % audio.channels == 0, "\(audio.samples.count) samples, \(audio.channels) channels")
        let mono = audio.mono()
        precondition(mono.count == audio.frameCount)
        // Resampling cost grows with the length: the first 4 seconds at most.
        let head = Array(mono.prefix(4 * audio.sampleRate))
        let x = audio.sampleRate == 16000 ? head : try AudioIO.resample(head, from: audio.sampleRate, to: 16000, path: "fuzz.wav")
        let clip = Array(x.prefix(16000))
        _ = Silence.isSilent(clip)
        let m = mel.logMel(clip)
        precondition(m.count == mel.frameCount(for: clip.count) * 80)
    } catch let e as AudioError {
        checkOneLine(e, "Audio")
    } catch {
        fatalError("Audio: unexpected error type \(type(of: error)): \(error)")
    }
    return 0
}
