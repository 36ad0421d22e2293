// FluidSynth rendering: a one-note file has energy at its fundamental and is silent after release.
import Audio
import MIDI
import XCTest
@testable import Music

/// Magnitude of the DFT of `x` at `freq` Hz (one bin, Goertzel-style direct sum), normalised by length.
func dftMagnitude(_ x: ArraySlice<Float>, freq: Double, sampleRate: Double) -> Double {
    var re = 0.0, im = 0.0
    for (i, v) in x.enumerated() {
        let ph = 2 * Double.pi * freq * Double(i) / sampleRate
        re += Double(v) * cos(ph)
        im -= Double(v) * sin(ph)
    }
    return (re * re + im * im).squareRoot() / Double(x.count)
}

func rms(_ x: ArraySlice<Float>) -> Double {
    (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot()
}

final class FluidSynthTests: XCTestCase {
    func testOneNoteHasItsFundamentalAndSilenceAfterRelease() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A4 (440 Hz), piano, 0.1 ... 0.6 s; read back from a file, as the CLI does.
        let url = dir.appendingPathComponent("a4.mid")
        try MIDIFile(notes: [Note(pitch: 69, velocity: 100, start: 0.1, end: 0.6)]).write(to: url)
        let sr = 16000
        let r = try FluidSynthRenderer(sampleRate: sr, effects: false, tail: 2.0)
        let y = try r.render(file: try MIDIFile.read(url: url))
        XCTAssertEqual(y.count, Int(2.6 * Double(sr)))
        let sounding = y[Int(0.15 * Double(sr))..<Int(0.55 * Double(sr))]
        let at440 = dftMagnitude(sounding, freq: 440, sampleRate: Double(sr))
        for off in [370.0, 415.0, 466.0, 523.0] {
            XCTAssertGreaterThan(at440, 5 * dftMagnitude(sounding, freq: off, sampleRate: Double(sr)), "440 Hz vs \(off) Hz")
        }
        XCTAssertGreaterThan(rms(sounding), 0.005)
        XCTAssertLessThan(rms(y[0..<Int(0.09 * Double(sr))]), 1e-4, "silence before the note-on")
        XCTAssertLessThan(rms(y[Int(2.0 * Double(sr))...]), 1e-3, "silence well after the release")
        // Written as WAV atomically and readable.
        let wav = dir.appendingPathComponent("a4.wav")
        try AudioIO.writeWAV(y, sampleRate: sr, to: wav)
        XCTAssertEqual(try AudioIO.read(wav).frameCount, y.count)
    }

    func testMissingSoundFontIsAClearError() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bogus = dir.appendingPathComponent("bogus.sf2")
        try Data("not a soundfont".utf8).write(to: bogus)
        // No SoundFont header: refused when the renderer is made, before any work.
        XCTAssertThrowsError(try FluidSynthRenderer(soundFont: bogus.path)) {
            XCTAssertEqual("\($0)", "\(bogus.path): not a SoundFont 2 file (no RIFF 'sfbk' header); give a General MIDI .sf2")
        }
        // A valid header over a truncated body: FluidSynth's own reason, in one line, when the renderer is made.
        let truncated = dir.appendingPathComponent("truncated.sf2")
        try Data("RIFF\u{10}\0\0\0sfbkLIST".utf8).write(to: truncated)
        XCTAssertThrowsError(try FluidSynthRenderer(soundFont: truncated.path)) {
            XCTAssertEqual("\($0)", "\(truncated.path): FluidSynth cannot load this SoundFont: SoundFont file size mismatch")
        }
        XCTAssertThrowsError(try FluidSynthRenderer(soundFont: "/nonexistent/x.sf2")) {
            XCTAssertEqual("\($0)", "/nonexistent/x.sf2: no such SoundFont file (given by --soundfont or $SYNTH_SOUNDFONT)")
        }
    }
}
