// Fuzz target: the Standard MIDI File reader and what `synth music generate --prime` does with a file: notes with
// the sustain pedal, performance tokens (whole, or cut at 8 s for odd-length inputs), and the tokens decoded and
// written back as MIDI.
import Foundation
import FuzzSupport
import MIDI
import Music

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = input(data, size)
    do {
        _ = try? MIDIFile(data: bytes, strict: true)
        let file = try MIDIFile(data: bytes)
        for w in file.warnings { checkOneLine(w, "MIDI warning") }
        // Each notes()/sustainSpans() pass merges every event of the file; one prime keeps the target fast.
        do {
            let prime = try MusicPrime(midi: file, maxSeconds: bytes.count % 2 == 0 ? nil : 8)
            let notes = PerformanceTokenizer().decode(prime.tokens)
            let written = try MIDIFile(notes: notes).encoded()
            _ = try MIDIFile(data: written, strict: true)
        } catch let e as MusicDataError {
            checkOneLine(e, "MusicPrime")
        }
    } catch let e as MIDIError {
        checkOneLine(e, "MIDI")
    } catch {
        fatalError("MIDI: unexpected error type \(type(of: error)): \(error)")
    }
    return 0
}
