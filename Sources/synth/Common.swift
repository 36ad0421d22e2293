// Shared CLI pieces: progress with ETA on stderr, voice and speaker resolution, sampling options.
import AREngine
import ArgumentParser
import Foundation
import WaveNet

/// Writes a line to standard error.
func printErr(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// A progress line on stderr (`\r`-updated on a terminal, one line per update otherwise), with rate and ETA.
final class ProgressLine {
    let label: String
    let total: Int
    let unit: String
    let start = Date()
    var last = Date.distantPast
    var finished = false
    let isTTY = isatty(2) != 0

    init(_ label: String, total: Int, unit: String) {
        self.label = label
        self.total = total
        self.unit = unit
    }

    func update(_ done: Int, extra: String = "") {
        let now = Date()
        guard !finished, done >= total || now.timeIntervalSince(last) >= (isTTY ? 0.25 : 5) else { return }
        if done >= total { finished = true }
        last = now
        let dt = now.timeIntervalSince(start)
        let rate = dt > 0 ? Double(done) / dt : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let pct = total > 0 ? 100 * Double(done) / Double(total) : 100
        let line = String(format: "%@ %5.1f%% %d/%d %@ | %.0f %@/s | ETA %@%@", label, pct, done, total, unit, rate, unit,
                          formatDuration(eta), extra)
        if isTTY {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            printErr(line)
        }
    }
}

/// "1 speaker", "19 speakers": a count and a noun that takes -s in the plural.
func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

/// "real-time factor 0.551, 1.81x faster than real time": compute seconds per audio second, and the speed-up
/// (or slow-down) it means.
func realTimeText(audioSeconds audio: Double, computeSeconds dt: Double) -> String {
    guard audio > 0, dt > 0 else { return "real-time factor -" }
    return String(format: "real-time factor %.3f, %.2fx %@ than real time", dt / audio, max(audio / dt, dt / audio),
                  dt <= audio ? "faster" : "slower")
}

func formatDuration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
}

/// Fails before any work if an output file cannot be written: its folder does not exist or does not let us
/// create a file (probed by creating and removing one), or the path is a folder. So a long run never ends in
/// "cannot write". - Throws: `ValidationError` naming the path or folder.
func checkOutputPath(_ path: String, option: String) throws {
    let fm = FileManager.default
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw ValidationError("\(option): output folder \(dir) does not exist")
    }
    if fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        throw ValidationError("\(option): \(path) is a folder; give a file name")
    }
    let probe = URL(fileURLWithPath: dir).appendingPathComponent(".synth-write-test-\(UUID().uuidString)").path
    guard fm.createFile(atPath: probe, contents: nil) else {
        throw ValidationError("\(option): cannot create files in output folder \(dir)")
    }
    try? fm.removeItem(atPath: probe)
}

/// Options shared by commands that sample from a voice.
struct SamplingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Random seed; the same seed gives the same output.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: ArgumentHelp("Sampling temperature for each mu-law sample (0 = greedy argmax, which tends to produce silence; 1 = the model's distribution).", valueName: "T"))
    var temperature: Float = 1.0

    @Option(parsing: .unconditional, help: ArgumentHelp("Nucleus (top-p) sampling: draw each sample from the smallest set of mu-law classes holding this much probability, in (0, 1] (1 = off). Measured on the default voice: a little cleaner (PESQ), not more intelligible (STOI); see docs/voices.md.", valueName: "P"))
    var topP: Float = 1.0

    @Option(parsing: .unconditional, help: ArgumentHelp("min-p sampling: drop mu-law classes below this fraction of the most probable one, in [0, 1) (0 = off).", valueName: "P"))
    var minP: Float = 0

    func makeSampler() throws -> Sampler {
        do { return try Sampler(temperature: temperature, topP: topP, minP: minP, seed: seed) } catch {
            throw ValidationError("\(error)")
        }
    }

    func validate() throws {
        _ = try makeSampler()
    }
}

/// Options naming a voice and one of its speakers.
struct VoiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Voice name (see `synth voices`) or path to a voice folder.", valueName: "NAME|DIR"))
    var voice: String = "default"

    @Option(help: "Speaker whose embedding conditions the voice (default: the voice's first speaker). With an input recording (vocode), `auto` picks the speaker under which the voice finds the input most likely.")
    var speaker: String?

    /// `--speaker auto`: the caller chooses the speaker from its input recording.
    var isAuto: Bool { speaker?.lowercased() == "auto" }

    /// The voice named by `--voice`. - Throws: `VoiceError` for an unknown or broken voice.
    func loadVoice() throws -> Voice { try Voice.load(try VoiceLibrary.resolve(voice)) }

    /// The index of `--speaker` in `voice` (0 when omitted). - Throws: `VoiceError.unknownSpeaker`, or a
    /// one-line error for `auto`, which only a command with an input recording can resolve.
    func speakerIndex(in voice: Voice) throws -> Int {
        if isAuto { throw ValidationError("--speaker auto needs an input recording (synth vocode); name a speaker instead") }
        return try speaker.map { try voice.config.speakerIndex($0) } ?? 0
    }

    func load() throws -> (Voice, Int) {
        let v = try loadVoice()
        return (v, try speakerIndex(in: v))
    }
}
