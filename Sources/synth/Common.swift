// Shared CLI pieces: progress with ETA on stderr, voice and speaker resolution, sampling options.
import AREngine
import ArgumentParser
import Foundation
import WaveNet

/// Writes a line to standard error.
func printErr(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// A progress line on stderr (`\r`-updated on a terminal, one line per update otherwise, at most every 5 s), with
/// rate and ETA: "vocoding  45.0% 22000/49600 samples | 28100 samples/s | ETA 0m01s". Amounts may be fractional
/// ("9.5/20.0 s of music"), and a rate below one per second is shown as seconds per item ("3.1 s/file").
final class ProgressLine {
    let label: String
    var total: Double
    let unit: String
    let decimals: Int
    let start = Date()
    var last = Date.distantPast
    var finished = false
    let isTTY = isatty(2) != 0
    /// Seconds before the first line: a step that ends sooner prints nothing at all.
    let delay: Double
    var printed = false

    /// - Parameter decimals: digits after the point for the amounts (0 for counts).
    /// - Parameter delay: stay silent unless the work takes longer than this (0: the first update prints).
    init(_ label: String, total: Double, unit: String, decimals: Int = 0, delay: Double = 0) {
        self.label = label
        self.total = total
        self.unit = unit
        self.decimals = decimals
        self.delay = delay
    }

    convenience init(_ label: String, total: Int, unit: String, delay: Double = 0) {
        self.init(label, total: Double(total), unit: unit, delay: delay)
    }

    func update(_ done: Int, extra: String = "") { update(Double(done), extra: extra) }

    func update(_ done: Double, extra: String = "") {
        let now = Date()
        guard !finished, done >= total || now.timeIntervalSince(last) >= (isTTY ? 0.25 : 5) else { return }
        if done >= total { finished = true }
        if !printed && now.timeIntervalSince(start) < delay { return }
        printed = true
        last = now
        let dt = now.timeIntervalSince(start)
        let rate = dt > 0 ? done / dt : 0
        let pct = total > 0 ? 100 * done / total : 100
        let eta = rate > 0 ? formatDuration((total - done) / rate) : "?"
        let amount = String(format: "%.\(decimals)f/%.\(decimals)f", done, total)
        let line = String(format: "%@ %5.1f%% %@ %@ | %@ | ETA %@%@", label, pct, amount, unit, rateText(rate, unit: unit), eta, extra)
        if isTTY {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            printErr(line)
        }
    }
}

/// "28100 samples/s", "2.35 s of music/s", "3.1 s/file" (below one per second, the time per item).
func rateText(_ rate: Double, unit: String) -> String {
    if rate <= 0 { return "- \(unit)/s" }
    if rate >= 100 { return String(format: "%.0f %@/s", rate, unit) }
    if rate >= 10 { return String(format: "%.1f %@/s", rate, unit) }
    if rate >= 1 { return String(format: "%.2f %@/s", rate, unit) }
    let singular = unit.hasSuffix("s") && !unit.contains(" ") ? String(unit.dropLast()) : unit
    return String(format: "%.1f s/%@", 1 / rate, singular)
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

/// The distribution each mu-law sample is drawn from: temperature and truncation (top-p, min-p).
struct DistributionOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Sampling temperature for each mu-law sample (0 = greedy argmax, which tends to produce silence; 1 = the model's distribution).", valueName: "T"))
    var temperature: Float = 1.0

    @Option(parsing: .unconditional, help: ArgumentHelp("Nucleus (top-p) sampling: draw each sample from the smallest set of mu-law classes holding this much probability, in (0, 1] (1 = off). Measured on the default voice: a little cleaner (PESQ), not more intelligible (STOI); see docs/voices.md.", valueName: "P"))
    var topP: Float = 1.0

    @Option(parsing: .unconditional, help: ArgumentHelp("min-p sampling: drop mu-law classes below this fraction of the most probable one, in [0, 1) (0 = off).", valueName: "P"))
    var minP: Float = 0

    func makeSampler(seed: UInt64) throws -> Sampler {
        do { return try Sampler(temperature: temperature, topP: topP, minP: minP, seed: seed) } catch {
            throw ValidationError("\(error)")
        }
    }

    func validate() throws {
        _ = try makeSampler(seed: 0)
    }
}

/// Options shared by commands that sample from a voice: the seed and the distribution.
struct SamplingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Random seed; the same seed gives the same output.", valueName: "N"))
    var seed: UInt64 = 1

    @OptionGroup var distribution: DistributionOptions

    var temperature: Float { distribution.temperature }

    func makeSampler() throws -> Sampler { try distribution.makeSampler(seed: seed) }
}

/// `--voice`, shared by the commands that load a speech voice.
struct VoiceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Voice name (see `synth voices`) or path to a voice folder.", valueName: "NAME|DIR"))
    var voice: String = "default"

    /// The voice named by `--voice`. - Throws: `VoiceError` for an unknown or broken voice.
    func loadVoice() throws -> Voice { try Voice.load(try VoiceLibrary.resolve(voice)) }
}

/// `--speaker NAME` for commands without an input recording (`generate`): no `auto`.
struct SpeakerOption: ParsableArguments {
    @Option(help: ArgumentHelp("Speaker whose embedding conditions the voice (default: the voice's first speaker; `synth voices` lists them).", valueName: "NAME"))
    var speaker: String?

    /// The index of `--speaker` in `voice` (0 when omitted). - Throws: `VoiceError.unknownSpeaker`, or a one-line
    /// usage error for `auto`, which needs an input recording.
    func index(in voice: Voice) throws -> Int {
        if speaker?.lowercased() == "auto" {
            throw ValidationError("--speaker auto chooses a speaker for an input recording (synth vocode, synth render); name a speaker here")
        }
        return try speaker.map { try voice.config.speakerIndex($0) } ?? 0
    }
}
