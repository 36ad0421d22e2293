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
    if quietStderr { return }
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// The one progress renderer: lines on stderr (`\r`-updated on a terminal, at most every 0.25 s; one line per update
/// every 5 s otherwise) with rate and ETA, drawn from the libraries' `ProgressReport`s, from the caller's own counts, or
/// from a caller's own text: "vocoding  45.0% 22000/49600 samples | 28100 samples/s | ETA 0m01s". Amounts may be
/// fractional ("9.5/20.0 s of music"), and a rate below one per second is shown as seconds per item ("3.1 s/file").
final class ProgressLine {
    let label: String
    /// The amount of work (0: not known in advance); a `ProgressReport` replaces it and the unit.
    var total: Double
    var unit: String
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
    init(_ label: String, total: Double = 0, unit: String = "", decimals: Int = 0, delay: Double = 0) {
        self.label = label
        self.total = total
        self.unit = unit
        self.decimals = decimals
        self.delay = delay
    }

    convenience init(_ label: String, total: Int, unit: String, delay: Double = 0) {
        self.init(label, total: Double(total), unit: unit, delay: delay)
    }

    /// Draws a library's report (its total and unit replace the line's).
    func update(_ r: ProgressReport, extra: String = "") {
        total = Double(r.total)
        unit = r.unit
        update(Double(r.done), extra: extra)
    }

    func update(_ done: Int, extra: String = "") { update(Double(done), extra: extra) }

    /// "scoring  42.0% 21/50 files | 3.00 files/s | ETA 0m10s" (or "... 1234 samples | 300 samples/s" without a total).
    func update(_ done: Double, extra: String = "") {
        let final = total > 0 && done >= total
        guard due(final: final) else { return }
        let dt = Date().timeIntervalSince(start)
        if !printed && dt < delay {
            finished = final
            return
        }
        let rate = dt > 0 ? done / dt : 0
        func amount(_ x: Double) -> String { String(format: "%.\(decimals)f", x) }
        guard total > 0 else {
            return draw("\(label) \(amount(done)) \(unit) | \(rateText(rate, unit: unit))\(extra)", final: false)
        }
        let eta = rate > 0 ? formatDuration((total - done) / rate) : "?"
        draw(String(format: "%@ %5.1f%% %@/%@ %@ | %@ | ETA %@%@", label, 100 * done / total, amount(done), amount(total), unit,
                    rateText(rate, unit: unit), eta, extra), final: final)
    }

    /// Whether a line may be drawn now: a final one once, others at most every 0.25 s (terminal) or 5 s.
    func due(final: Bool) -> Bool {
        !finished && (final || Date().timeIntervalSince(last) >= (isTTY ? 0.25 : 5))
    }

    /// Draws `line` unless one was drawn too recently; a `final` line is always drawn (once) and ends the line.
    func draw(_ line: String, final: Bool) {
        guard due(final: final) else { return }
        finished = final
        printed = true
        last = Date()
        if isTTY {
            if !quietStderr { FileHandle.standardError.write(Data("\r\u{1B}[K\(line)\(final ? "\n" : "")".utf8)) }
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

/// Fails before any work if an input file named by `option` does not exist (a usage error, exit status 64).
func requireFile(_ path: String, option: String) throws {
    guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(option): no such file: \(path)") }
}

/// The sampling options of every command that draws from a model (mu-law classes of a voice, music tokens, bytes,
/// pixels): the seed and the distribution each class or token is drawn from (temperature and truncation: top-k,
/// top-p, min-p). An option not given takes the model folder's generation_config.json key (`GenerationConfig`),
/// else its built-in default (temperature 1, every truncation off).
struct SamplingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Random seed; the same seed gives the same output (synth render: the base of each line's seed, base + FNV-1a-64(output name) for a line without a seed column).", valueName: "N"))
    var seed: UInt64 = 1

    @Option(name: .customLong("temperature"), parsing: .unconditional, help: ArgumentHelp("Sampling temperature (0 = greedy argmax; 1 = the model's distribution; for a voice, greedy tends to silence). (default: the model's generation_config.json, else 1)", valueName: "T"))
    var temperatureOption: Float?

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: ArgumentHelp("Keep only the k most probable classes or tokens (0 = off). (default: the model's generation_config.json, else 0)", valueName: "K"))
    var topKOption: Int?

    @Option(name: .customLong("top-p"), parsing: .unconditional, help: ArgumentHelp("Nucleus (top-p) sampling: draw from the smallest set of classes or tokens holding this much probability, in (0, 1] (1 = off). For the speech voice: a little cleaner (PESQ), not more intelligible (STOI); see docs/voices.md. (default: the model's generation_config.json, else 1)", valueName: "P"))
    var topPOption: Float?

    @Option(name: .customLong("min-p"), parsing: .unconditional, help: ArgumentHelp("min-p sampling: drop classes or tokens below this fraction of the most probable one, in [0, 1) (0 = off). (default: the model's generation_config.json, else 0)", valueName: "P"))
    var minPOption: Float?

    /// The sampler of these options: each option given, else the key of `defaults` (a model folder's
    /// generation_config.json), else off (temperature 1). `repetitionPenalty` comes from a command that has the option.
    /// - Throws: a usage error naming the option for a value out of range (a file's keys were checked when it was read).
    func makeSampler(repetitionPenalty: Float? = nil, defaults: GenerationConfig? = nil) throws -> Sampler {
        let d = defaults ?? GenerationConfig()
        do {
            return try Sampler(temperature: temperatureOption ?? d.temperature ?? 1, topK: topKOption ?? d.topK ?? 0,
                               topP: topPOption ?? d.topP ?? 1, minP: minPOption ?? d.minP ?? 0,
                               repetitionPenalty: repetitionPenalty ?? d.repetitionPenalty ?? 1, seed: seed)
        } catch let e as SamplerError {
            throw ValidationError("\(e.option): \(e)")
        }
    }

    /// `makeSampler` with the generation_config.json of the model folder `folder` (none: built-in defaults). The keys
    /// it takes from the file (those no option overrides) are named in a note on stderr.
    /// - Throws: `ModelFolderError` for a generation_config.json that cannot be read or holds a bad key.
    func makeSampler(repetitionPenalty: Float? = nil, folder: URL) throws -> Sampler {
        guard var file = try GenerationConfig.load(folder: folder) else { return try makeSampler(repetitionPenalty: repetitionPenalty) }
        if temperatureOption != nil { file.temperature = nil }
        if topKOption != nil { file.topK = nil }
        if topPOption != nil { file.topP = nil }
        if minPOption != nil { file.minP = nil }
        if repetitionPenalty != nil { file.repetitionPenalty = nil }
        if !file.isEmpty {
            printErr("note: sampling \(file.summary) from \(folder.appendingPathComponent(GenerationConfig.fileName).path) (options given win)")
        }
        return try makeSampler(repetitionPenalty: repetitionPenalty, defaults: file)
    }

    func validate() throws {
        _ = try makeSampler()
    }
}

extension SamplerError {
    /// The command-line option that sets the parameter in question.
    var option: String {
        switch self {
        case .invalidTemperature: return "--temperature"
        case .invalidTopK: return "--top-k"
        case .invalidTopP: return "--top-p"
        case .invalidMinP: return "--min-p"
        case .invalidRepetitionPenalty: return "--repetition-penalty"
        }
    }
}

/// `--voiced-temperature`: LPCNet's pitch-dependent sampling temperature for a voice with pitch conditioning.
struct VoicedTemperatureOption: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Factor on --temperature in voiced frames, for a voice with pitch conditioning (LPCNet's pitch-dependent temperature, Valin and Skoglund 2019): 0.5 halves the temperature where the input's voicing is 1, unvoiced frames keep --temperature; in (0, 1], 1 = off. A cleaner voiced excitation; see docs/voices.md.", valueName: "F"))
    var voicedTemperature: Float = 1

    func validate() throws {
        guard voicedTemperature.isFinite, voicedTemperature > 0, voicedTemperature <= 1 else {
            throw ValidationError("--voiced-temperature must be in (0, 1], got \(voicedTemperature)")
        }
    }

    /// The factor for `voice`.
    /// - Throws: `ValidationError` when it is not 1 and the voice has no voicing to apply it to.
    func factor(for voice: Voice) throws -> Float {
        if voicedTemperature != 1 && !voice.config.pitch {
            throw ValidationError("--voiced-temperature needs a voice with pitch conditioning; voice \(voice.name) has none")
        }
        return voicedTemperature
    }
}

/// `--pitch-postfilter`: the long-term postfilter of `synth vocode` and `synth render` (`DSP.PitchPostfilter`).
struct PitchPostfilterOption: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("A long-term (pitch) postfilter on the output, as speech codecs use: a comb at the input's pitch period that deepens the valleys between harmonics in voiced frames by (1 - G) / (1 + G), 0...1 (0 = off). Default: the voice's pitch_postfilter (`synth voices` shows it), else 0. F0 comes from the voice's pitch conditioning, or pYIN on the input for a voice without pitch (so that needs audio input, and holds the input waveform in memory; with .npy input the voice's default is skipped). docs/voices.md measures it.", valueName: "G"))
    var pitchPostfilter: Float?

    func validate() throws {
        if let g = pitchPostfilter, !(g >= 0 && g <= 1) {
            throw ValidationError("--pitch-postfilter must be in 0...1, got \(g)")
        }
    }

    /// The strength for `voice` reading `input`: the option, else the voice's default; the voice's default is
    /// dropped (with a note) for a `.npy` input that gives a voice without pitch no F0 to follow.
    /// - Throws: `RuntimeError` when the option asks for the postfilter on such an input.
    func strength(for voice: Voice, input: URL) throws -> Float {
        let g = pitchPostfilter ?? voice.config.pitchPostfilter ?? 0
        guard g > 0, !voice.config.pitch, input.pathExtension.lowercased() == "npy" else { return g }
        if pitchPostfilter != nil { throw RuntimeError(Self.npyRefusal(voice)) }
        printErr("note: voice '\(voice.name)''s pitch postfilter is off for .npy input: a voice without pitch conditioning finds F0 in the audio")
        return 0
    }

    /// The one-line refusal for `.npy` input to a voice without pitch conditioning when the postfilter is asked for.
    static func npyRefusal(_ voice: Voice) -> String {
        "--pitch-postfilter with voice '\(voice.name)' (no pitch conditioning) needs audio input to find F0, not .npy log-mels; give the recording, or drop --pitch-postfilter"
    }
}

/// `--mel-correction`: the mel-envelope correction of `synth vocode` and `synth render` (`DSP.MelEnvelopeCorrection`).
struct MelCorrectionOption: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Rounds of mel-envelope correction of the output toward the log-mels the voice is conditioned on, 0...100 (0 = off): each round rescales the output's STFT so that its mel band energies move to the input's (at most 12 dB per round), keeping the network's phases and harmonics. Default: the voice's mel_correction (`synth voices` shows it), else 0. Streamed output is held back by a block and a margin, about 5 (N + 1) window lengths (at least 16,000 samples), the same total. docs/voices.md measures it.", valueName: "N"))
    var melCorrection: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Momentum of those rounds, in [0, 1) (0 = plain rounds): each round starts from the last output pushed on along its last step, as the fast Griffin-Lim algorithm does, which gets as far in 25 rounds as plain rounds in 100. Default: the voice's mel_correction_momentum, else 0.", valueName: "B"))
    var melCorrectionMomentum: Float?

    func validate() throws {
        if let n = melCorrection, !(0...100).contains(n) {
            throw ValidationError("--mel-correction must be in 0...100, got \(n)")
        }
        if let b = melCorrectionMomentum, !(b.isFinite && b >= 0 && b < 1) {
            throw ValidationError("--mel-correction-momentum must be in [0, 1), got \(b)")
        }
    }

    /// The rounds for `voice`: the option, else the voice's default, else 0.
    func rounds(for voice: Voice) -> Int { melCorrection ?? voice.config.melCorrection ?? 0 }

    /// The momentum for `voice`: the option, else the voice's default, else 0.
    func momentum(for voice: Voice) -> Float { melCorrectionMomentum ?? voice.config.melCorrectionMomentum ?? 0 }
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

/// `--model`: the music model a command uses, by name or folder.
struct MusicModelOption: ParsableArguments {
    @Option(help: ArgumentHelp("Music model name (in voices/) or folder. (default: music; `music generate` with a prime of several instruments or drums: music-programs, when installed)", valueName: "NAME|DIR"))
    var model: String?

    /// The model's name or folder: `--model`, else `music`.
    var name: String { model ?? "music" }

    /// The model named by `--model`, loaded through the registry, whose vocabulary must be the performance tokens'.
    /// - Throws: `ModelFolderError` for an unknown model or a folder of another kind, a `RuntimeError` for a token
    ///   model over another vocabulary (a transformer trained on text), and the loading errors.
    func load() throws -> any TokenModel {
        try loadWithEncoding().model
    }

    /// The model named by `--model` and the token encoding its config.json names (`MusicEncoding.of(folder:)`),
    /// checked against the model's vocabulary.
    func loadWithEncoding() throws -> (model: any TokenModel, encoding: MusicEncoding) {
        let dir = try folder()
        let net = try ModelRegistry.synth.loadTokenModel(dir, as: .musicModel)
        let encoding = try MusicEncoding.of(folder: dir)
        try encoding.check(vocabularySize: net.vocabularySize, file: dir.appendingPathComponent(ModelFolder.configName).path)
        return (net, encoding)
    }

    /// The folder `--model` names. - Throws: `ModelFolderError.unknownModel`.
    func folder() throws -> URL { try ModelRegistry.synth.resolve(name, as: .musicModel) }
}
