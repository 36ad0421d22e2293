// Offline rendering of notes or MIDI files to audio through FluidSynth and a General MIDI SoundFont.
import Audio
import CFluidSynth
import Foundation
import MIDI

/// Errors while rendering audio; each says how to fix it.
public enum RenderError: Error, CustomStringConvertible, Equatable {
    case noSoundFont(searched: [String])
    case notASoundFont(path: String)
    case soundFontUnreadable(path: String, reason: String)
    case soundFontMissing(path: String)
    case synth(reason: String)
    case tooLong(seconds: Double)

    public var description: String {
        switch self {
        case .noSoundFont(let s):
            return "no SoundFont found (looked at $SYNTH_SOUNDFONT and \(s.joined(separator: ", "))); install timgm6mb-soundfont or fluid-soundfont-gm, or set SYNTH_SOUNDFONT=/path/to/file.sf2"
        case .notASoundFont(let p): return "\(p): not a SoundFont 2 file (no RIFF 'sfbk' header); give a General MIDI .sf2"
        case .soundFontUnreadable(let p, let r): return "\(p): FluidSynth cannot load this SoundFont: \(r)"
        case .soundFontMissing(let p): return "\(p): no such SoundFont file (given by --soundfont or $SYNTH_SOUNDFONT)"
        case .synth(let r): return "FluidSynth: \(r)"
        case .tooLong(let s): return String(format: "refusing to render %.0f s of audio (limit 3600 s)", s)
        }
    }
}

/// Renders notes with FluidSynth offline (`fluid_synth_write_float`, no audio driver) to a mono float
/// buffer at `sampleRate` Hz (the mean of FluidSynth's left and right outputs), in [-1, 1] before clipping.
///
/// Each note plays on its `channel` with its `program` (a program change is sent whenever a channel's
/// program changes; channel 9 is General MIDI percussion). Event times are rounded to the nearest sample;
/// at equal times note-offs come before note-ons.
public struct FluidSynthRenderer {
    /// Debian's General MIDI SoundFonts, in order of preference.
    public static let debianSoundFonts = [
        "/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
    ]

    /// `explicit` if given, else `$SYNTH_SOUNDFONT`, else the first Debian SoundFont that exists.
    /// - Throws: `RenderError.soundFontMissing` for a named file that does not exist, `.notASoundFont` for one
    ///   without a SoundFont 2 header (`fluid_is_soundfont`), `.noSoundFont` listing where it looked when none
    ///   is named and no Debian SoundFont is installed.
    public static func resolveSoundFont(_ explicit: String? = nil) throws -> String {
        let fm = FileManager.default
        if let p = explicit ?? ProcessInfo.processInfo.environment["SYNTH_SOUNDFONT"], !p.isEmpty {
            guard fm.fileExists(atPath: p) else { throw RenderError.soundFontMissing(path: p) }
            // fluid_is_soundfont logs its own error line on a mismatch; ours says it in one.
            guard capturingStandardError({ fluid_is_soundfont(p) != 0 }).0 else { throw RenderError.notASoundFont(path: p) }
            return p
        }
        guard let p = debianSoundFonts.first(where: { fm.fileExists(atPath: $0) }) else {
            throw RenderError.noSoundFont(searched: debianSoundFonts)
        }
        return p
    }

    public let soundFont: String
    public let sampleRate: Int
    /// FluidSynth's master gain (`synth.gain`, 0...10; 1.0 puts a four-voice chorale near -10 dBFS peaks with TimGM6mb).
    public let gain: Double
    /// Whether FluidSynth's reverb and chorus are on.
    public let effects: Bool
    /// The longest audio `render` produces, in seconds (the last note-off plus `tail`).
    public static let maxSeconds = 3600.0
    /// Seconds rendered after the last note-off (release and reverb tail).
    public let tail: Double
    /// What FluidSynth reported while loading a named SoundFont that did load (warnings), one line each, for the
    /// caller to show; the library prints nothing.
    public let loadMessages: [String]

    /// A SoundFont named by `soundFont` or `$SYNTH_SOUNDFONT` is loaded once here, so that a corrupt file fails
    /// before any work; Debian's are trusted and first loaded by `render`.
    /// - Throws: `RenderError.noSoundFont`, `.soundFontMissing` or `.notASoundFont` (see `resolveSoundFont`);
    ///   `.soundFontUnreadable` for a named file that FluidSynth cannot load.
    public init(soundFont: String? = nil, sampleRate: Int = 44100, gain: Double = 1.0, effects: Bool = true, tail: Double = 1.5) throws {
        precondition(sampleRate >= 8000 && sampleRate <= 96000, "sample rate must be in 8000...96000 Hz")
        self.soundFont = try Self.resolveSoundFont(soundFont)
        var messages: [String] = []
        if !Self.debianSoundFonts.contains(self.soundFont) {
            guard let settings = new_fluid_settings() else { throw RenderError.synth(reason: "cannot create settings") }
            defer { delete_fluid_settings(settings) }
            guard let synth = new_fluid_synth(settings) else { throw RenderError.synth(reason: "cannot create a synthesizer") }
            defer { delete_fluid_synth(synth) }
            messages = try Self.load(self.soundFont, into: synth)
        }
        loadMessages = messages
        self.sampleRate = sampleRate
        self.gain = gain
        self.effects = effects
        self.tail = tail
    }

    /// Renders `notes` (times in seconds) to mono samples, from time 0 to the last note-off plus `tail`. What
    /// FluidSynth reports while loading the SoundFont (warnings of a load that succeeds) goes to `messages`, a line each.
    /// - Throws: `RenderError.tooLong` past 3600 s; `.soundFontUnreadable` with FluidSynth's first error line
    ///   when the SoundFont has a valid header but does not load (truncated or corrupt).
    public func render(notes: [Note], messages: (String) -> Void = { _ in }) throws -> [Float] {
        let end = (notes.map(\.end).max() ?? 0) + tail
        guard end.isFinite, end <= Self.maxSeconds else { throw RenderError.tooLong(seconds: end) }
        fluid_set_log_function(Int32(FLUID_WARN.rawValue), nil, nil)
        fluid_set_log_function(Int32(FLUID_INFO.rawValue), nil, nil)
        fluid_set_log_function(Int32(FLUID_DBG.rawValue), nil, nil)
        guard let settings = new_fluid_settings() else { throw RenderError.synth(reason: "cannot create settings") }
        defer { delete_fluid_settings(settings) }
        fluid_settings_setnum(settings, "synth.sample-rate", Double(sampleRate))
        fluid_settings_setnum(settings, "synth.gain", gain)
        fluid_settings_setint(settings, "synth.reverb.active", effects ? 1 : 0)
        fluid_settings_setint(settings, "synth.chorus.active", effects ? 1 : 0)
        fluid_settings_setint(settings, "synth.polyphony", 256)
        guard let synth = new_fluid_synth(settings) else { throw RenderError.synth(reason: "cannot create a synthesizer") }
        defer { delete_fluid_synth(synth) }
        try Self.load(soundFont, into: synth).forEach(messages)

        // (sample, isOn, channel, pitch, velocity, program)
        var events: [(at: Int, on: Bool, ch: Int32, key: Int32, vel: Int32, prog: Int32)] = []
        let sr = Double(sampleRate)
        for n in notes where (0...127).contains(n.pitch) && n.velocity > 0 && n.end >= n.start && n.start >= 0 {
            let ch = Int32(min(15, max(0, n.channel)))
            events.append((Int((n.start * sr).rounded()), true, ch, Int32(n.pitch), Int32(min(127, n.velocity)), Int32(min(127, max(0, n.program)))))
            events.append((Int((n.end * sr).rounded()), false, ch, Int32(n.pitch), 0, 0))
        }
        events.sort { ($0.at, $0.on ? 1 : 0) < ($1.at, $1.on ? 1 : 0) }
        let total = Int((end * sr).rounded())
        var out = [Float](repeating: 0, count: total)
        let block = 1024
        var left = [Float](repeating: 0, count: block), right = left
        var pos = 0
        func renderUntil(_ target: Int) {
            while pos < target {
                let n = min(block, target - pos)
                left.withUnsafeMutableBufferPointer { l in
                    right.withUnsafeMutableBufferPointer { r in
                        _ = fluid_synth_write_float(synth, Int32(n), l.baseAddress, 0, 1, r.baseAddress, 0, 1)
                    }
                }
                for i in 0..<n { out[pos + i] = 0.5 * (left[i] + right[i]) }
                pos += n
            }
        }
        var program = [Int32](repeating: 0, count: 16)
        for e in events {
            renderUntil(min(e.at, total))
            if e.on {
                if program[Int(e.ch)] != e.prog, e.ch != 9 {
                    fluid_synth_program_change(synth, e.ch, e.prog)
                    program[Int(e.ch)] = e.prog
                }
                fluid_synth_noteon(synth, e.ch, e.key, e.vel)
            } else {
                fluid_synth_noteoff(synth, e.ch, e.key)
            }
        }
        renderUntil(total)
        return out
    }

    /// Loads `soundFont` into `synth`. FluidSynth and libinstpatch (its DLS loader, through GLib) report a failed
    /// load on stderr over several lines; they are captured and returned (a line each) if the load succeeds, and the
    /// first error becomes the reason in ours if not. - Throws: `RenderError.soundFontUnreadable`.
    @discardableResult
    static func load(_ soundFont: String, into synth: OpaquePointer) throws -> [String] {
        let (loaded, messages) = capturingStandardError { fluid_synth_sfload(synth, soundFont, 1) != FLUID_FAILED }
        guard loaded else {
            let reason = messages.split(separator: "\n").first { $0.hasPrefix("fluidsynth: error: ") }
                .map { String($0.dropFirst("fluidsynth: error: ".count)) } ?? "unknown error"
            throw RenderError.soundFontUnreadable(path: soundFont, reason: reason)
        }
        return messages.split(separator: "\n").map(String.init)
    }

    /// Renders a file's notes (sustain pedal applied).
    public func render(file: MIDIFile, messages: (String) -> Void = { _ in }) throws -> [Float] {
        try render(notes: file.notes().applyingSustain(file.sustainSpans()), messages: messages)
    }

    /// Renders `notes` and writes a 16-bit mono WAV atomically (`AudioIO.writeWAV`).
    public func writeWAV(notes: [Note], to url: URL) throws {
        try AudioIO.writeWAV(try render(notes: notes), sampleRate: sampleRate, to: url)
    }
}

/// Runs `body` with file descriptor 2 pointed at a temporary file, and returns its result and what was written
/// to standard error meanwhile (anything any thread wrote). Without a temporary file, runs `body` uncaptured.
private func capturingStandardError<T>(_ body: () -> T) -> (T, String) {
    fflush(stderr)
    guard let file = tmpfile() else { return (body(), "") }
    defer { fclose(file) }
    let saved = dup(2)
    guard saved >= 0, dup2(fileno(file), 2) >= 0 else {
        if saved >= 0 { close(saved) }
        return (body(), "")
    }
    let result = body()
    fflush(stderr)
    dup2(saved, 2)
    close(saved)
    var text = Data()
    lseek(fileno(file), 0, SEEK_SET)
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fileno(file), &buffer, buffer.count)
        guard n > 0 else { break }
        text.append(contentsOf: buffer[0..<n])
    }
    return (result, String(decoding: text, as: UTF8.self))
}
