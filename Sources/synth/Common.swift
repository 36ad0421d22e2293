// Shared CLI pieces: the progress renderer, input and output checks, and the option groups (sampling, voice, speaker,
// music model).
import AREngine
import ArgumentParser
import Foundation
import MIDI
import Music
import WaveNet

/// Writes a line to standard error.
func printErr(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// The one progress renderer: lines on stderr (`\r`-updated on a terminal, at most every 0.25 s; one line per update
/// every 5 s otherwise) drawn from the libraries' `ProgressReport`s, with rate and ETA, or from a caller's own text.
final class ProgressLine {
    let label: String
    let start = Date()
    var last = Date.distantPast
    var finished = false
    let isTTY = isatty(2) != 0

    init(_ label: String) {
        self.label = label
    }

    /// "scoring  42.0% 21/50 files | 3 files/s | ETA 0m10s" (or "... 1234 samples | 300 samples/s" without a total).
    func update(_ r: ProgressReport, extra: String = "") {
        let final = r.total > 0 && r.done >= r.total
        guard due(final: final) else { return }
        let dt = Date().timeIntervalSince(start)
        let rate = dt > 0 ? Double(r.done) / dt : 0
        guard r.total > 0 else {
            return draw(String(format: "%@ %d %@ | %.0f %@/s%@", label, r.done, r.unit, rate, r.unit, extra), final: false)
        }
        let eta = rate > 0 ? Double(r.total - r.done) / rate : 0
        draw(String(format: "%@ %5.1f%% %d/%d %@ | %.0f %@/s | ETA %@%@", label, 100 * Double(r.done) / Double(r.total), r.done,
                    r.total, r.unit, rate, r.unit, formatDuration(eta), extra), final: final)
    }

    /// Whether a line may be drawn now: a final one once, others at most every 0.25 s (terminal) or 5 s.
    func due(final: Bool) -> Bool {
        !finished && (final || Date().timeIntervalSince(last) >= (isTTY ? 0.25 : 5))
    }

    /// Draws `line` unless one was drawn too recently; a `final` line is always drawn (once) and ends the line.
    func draw(_ line: String, final: Bool) {
        guard due(final: final) else { return }
        finished = final
        last = Date()
        if isTTY {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)\(final ? "\n" : "")".utf8))
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

/// Fails before any work if an input file named by `option` does not exist (a usage error, exit status 64).
func requireFile(_ path: String, option: String) throws {
    guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(option): no such file: \(path)") }
}

/// The sampling options of every command that draws from a model (mu-law classes of a voice, music tokens).
struct SamplingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Random seed; the same seed gives the same output (render: the base of each line's seed).")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: ArgumentHelp("Sampling temperature (0 = greedy argmax, which makes a voice tend to silence; 1 = the model's distribution).", valueName: "T"))
    var temperature: Float = 1.0

    @Option(parsing: .unconditional, help: ArgumentHelp("Keep only the k most probable classes or tokens (0 = off).", valueName: "K"))
    var topK = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Nucleus (top-p) sampling: draw from the smallest set of classes or tokens holding this much probability, in (0, 1] (1 = off). On the default voice: a little cleaner (PESQ), not more intelligible (STOI); see docs/voices.md.", valueName: "P"))
    var topP: Float = 1.0

    @Option(parsing: .unconditional, help: ArgumentHelp("min-p sampling: drop classes or tokens below this fraction of the most probable one, in [0, 1) (0 = off).", valueName: "P"))
    var minP: Float = 0

    /// The sampler of these options (`repetitionPenalty` from a command that has the option).
    func makeSampler(repetitionPenalty: Float = 1) throws -> Sampler {
        do {
            return try Sampler(temperature: temperature, topK: topK, topP: topP, minP: minP, repetitionPenalty: repetitionPenalty, seed: seed)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func validate() throws {
        _ = try makeSampler()
    }
}

/// `--voice`: the voice a command uses, by name or folder.
struct VoiceOption: ParsableArguments {
    @Option(help: ArgumentHelp("Voice name (see `synth voices`) or path to a voice folder.", valueName: "NAME|DIR"))
    var voice: String = "default"

    /// The voice named by `--voice`, loaded through the registry.
    /// - Throws: `ModelFolderError` for an unknown voice or a folder of another kind, and the loading errors.
    func load() throws -> Voice { try loadVoice(voice) }
}

/// Loads the voice `nameOrPath` (a name in the search paths or a folder) through the registry.
func loadVoice(_ nameOrPath: String) throws -> Voice {
    try Voice.load(try ModelRegistry.synth.resolve(nameOrPath, as: .voice), registry: .synth)
}

/// `--speaker`: one of the voice's speakers, or `auto`.
struct SpeakerOption: ParsableArguments {
    @Option(help: "Speaker whose embedding conditions the voice (default: the voice's first speaker). With an input recording (vocode), `auto` picks the speaker under which the voice finds the input most likely.")
    var speaker: String?

    /// `--speaker auto`: the caller chooses the speaker from its input recording.
    var isAuto: Bool { speaker?.lowercased() == "auto" }

    /// The index of `--speaker` in `voice` (0 when omitted). - Throws: `VoiceError.unknownSpeaker`, or a
    /// one-line error for `auto`, which only a command with an input recording can resolve.
    func index(in voice: Voice) throws -> Int {
        if isAuto { throw ValidationError("--speaker auto needs an input recording (synth vocode); name a speaker instead") }
        return try speaker.map { try voice.config.speakerIndex($0) } ?? 0
    }
}

/// `--model`: the music model a command uses, by name or folder.
struct MusicModelOption: ParsableArguments {
    @Option(help: ArgumentHelp("Music model name (in voices/) or folder.", valueName: "NAME|DIR"))
    var model = "music"

    /// The model named by `--model`, loaded through the registry.
    /// - Throws: `ModelFolderError` for an unknown model or a folder of another kind, and the loading errors.
    func load() throws -> any TokenModel {
        try loadWithEncoding().model
    }

    /// The model named by `--model` and the token encoding its config.json names (`MusicEncoding.of(folder:)`),
    /// checked against the model's vocabulary.
    func loadWithEncoding() throws -> (model: any TokenModel, encoding: MusicEncoding) {
        let dir = try ModelRegistry.synth.resolve(model, as: .musicModel)
        let net = try ModelRegistry.synth.loadTokenModel(dir, as: .musicModel)
        let encoding = try MusicEncoding.of(folder: dir)
        try encoding.check(vocabularySize: net.vocabularySize, file: dir.appendingPathComponent(ModelFolder.configName).path)
        return (net, encoding)
    }
}
