// `synth music generate`: continues a MIDI prime (or starts from nothing) and writes MIDI and optionally WAV.
import AREngine
import ArgumentParser
import Audio
import Foundation
import MIDI
import Music
import NNCore
import WaveNet

struct MusicGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a MIDI prime with a music model; write MIDI (prime + continuation) and optionally WAV.",
        discussion: """
            The prime is tokenised like the training data (sustain pedal applied, 10 ms time grid). A prime longer than the model's context conditions the model on its last context-length tokens only (a note on stderr says so), but the output still holds the whole prime. Generation runs for --seconds of music time (the sum of generated time shifts) or --tokens tokens; when the context fills, the model slides to the last half of it. BOS and EOS are never sampled. The model's config.json names its token encoding: \"performance\" (the default; one piano stream) or \"performance_programs\" (instruments and drums). Output MIDI holds one track per instrument with its program (one piano track for a performance model); --wav renders it through FluidSynth with a General MIDI SoundFont ($SYNTH_SOUNDFONT or /usr/share/sounds/sf2/TimGM6mb.sf2 / FluidR3_GM.sf2). Files are written atomically.
            """)

    @OptionGroup var modelOption: MusicModelOption
    @Option(help: ArgumentHelp("MIDI file whose notes the continuation follows.", valueName: "IN.mid"))
    var prime: String?
    @Option(parsing: .unconditional, help: "Use only the first S seconds of the prime.")
    var primeSeconds: Double?
    @Option(help: "Where --prime-seconds cuts: exact (at S) or beat (at the last quarter-note beat of the prime's tempo map at or before S; the continuation starts on that beat).")
    var primeCut: String = "exact"
    @Option(parsing: .unconditional, help: "Release any note the model holds longer than S seconds (a decoding processor; off by default).")
    var maxNoteSeconds: Double?
    @Option(parsing: .unconditional, help: "Seconds of music to generate (default 20 unless --tokens is given).")
    var seconds: Double?
    @Option(parsing: .unconditional, help: "Number of tokens to generate instead of --seconds.")
    var tokens: Int?
    @OptionGroup var sampling: SamplingOptions
    @Option(parsing: .unconditional, help: "Repetition penalty over the last 64 tokens (1 = off).")
    var repetitionPenalty: Float = 1.0
    @Option(parsing: .unconditional, help: "Beam search with N beams instead of sampling (needs --tokens; slow: O(N × context) per token).")
    var beam: Int?
    @Option(parsing: .unconditional, help: "Beam search length penalty (score = log-prob / length^penalty).")
    var lengthPenalty: Float = 1.0
    @Option(name: .shortAndLong, help: ArgumentHelp("Output MIDI file.", valueName: "OUT.mid"))
    var output: String
    @Option(help: ArgumentHelp("Also render a mono 16-bit WAV through FluidSynth.", valueName: "OUT.wav"))
    var wav: String?
    @Option(parsing: .unconditional, help: "Sample rate of the WAV in Hz.")
    var sampleRate = 44100
    @Option(help: ArgumentHelp("SoundFont for --wav (default: $SYNTH_SOUNDFONT, then Debian's GM SoundFonts).", valueName: "FILE.sf2"))
    var soundfont: String?

    func validate() throws {
        _ = try sampling.makeSampler(repetitionPenalty: repetitionPenalty)
        if seconds != nil && tokens != nil { throw ValidationError("give --seconds or --tokens, not both") }
        if let s = seconds, !(s > 0 && s <= 3600) { throw ValidationError("--seconds must be in (0, 3600], got \(s)") }
        if let t = tokens, !(t >= 1 && t <= 1_000_000) { throw ValidationError("--tokens must be in 1...1000000, got \(t)") }
        if let b = beam {
            guard let t = tokens else { throw ValidationError("--beam needs --tokens (beam search counts tokens, not seconds)") }
            do { _ = try BeamSearch(beamWidth: b, lengthPenalty: lengthPenalty, maxLength: t, eosToken: PerformanceTokenizer.eos) } catch {
                throw ValidationError("\(error)")
            }
        }
        if let p = primeSeconds, !(p > 0 && p.isFinite) { throw ValidationError("--prime-seconds must be > 0, got \(p)") }
        if primeSeconds != nil && prime == nil { throw ValidationError("--prime-seconds needs --prime") }
        guard PrimeCut(rawValue: primeCut) != nil else { throw ValidationError("--prime-cut must be exact or beat, got \(primeCut)") }
        if let m = maxNoteSeconds, !(m >= 0.01 && m <= 60) { throw ValidationError("--max-note-seconds must be in [0.01, 60], got \(m)") }
        if let p = prime { try requireFile(p, option: "--prime") }
        guard (8000...96000).contains(sampleRate) else { throw ValidationError("--sample-rate must be in 8000...96000, got \(sampleRate)") }
        try checkOutputPath(output, option: "-o")
        if let wav { try checkOutputPath(wav, option: "--wav") }
    }

    func run() throws {
        BLAS.setThreads(1)
        let (net, encoding) = try modelOption.loadWithEncoding()
        // Resolve the SoundFont before any work, so a missing one fails fast.
        let renderer = try wav.map { _ in try FluidSynthRenderer(soundFont: soundfont, sampleRate: sampleRate) }
        renderer?.loadMessages.forEach(printErr)
        let p: MusicPrime
        if let path = prime {
            do {
                p = try MusicPrime(midi: URL(fileURLWithPath: path), maxSeconds: primeSeconds, cut: PrimeCut(rawValue: primeCut) ?? .exact,
                                   encoding: encoding)
            } catch {
                throw RuntimeError("\(path): \(error)")
            }
            for w in p.warnings { printErr("warning: \(path): \(w) (continuing with the notes that were read)") }
        } else {
            p = .empty
        }
        if let path = prime, let r = renderer {
            // Fail before generating if the WAV could not be rendered: the prime's own music plus what is asked for.
            let primeEnd = MusicGeneration.seconds(of: p.tokens), asked = tokens == nil ? seconds ?? 20 : 0
            let total = primeEnd + asked + r.tail
            if total > FluidSynthRenderer.maxSeconds {
                throw RuntimeError(String(format: "%@: the prime's music runs to %.0f s; with %.0f s more and the %.1f s tail the WAV would last %.0f s, more than the %.0f s that --wav renders (cut the prime with --prime-seconds)",
                                          path, primeEnd, asked, r.tail, total, FluidSynthRenderer.maxSeconds))
            }
        }
        if p.tokens.count > net.contextLength {
            printErr("note: the prime has \(p.tokens.count) tokens, more than the model's context of \(net.contextLength); the model is conditioned on its last \(net.contextLength) tokens (the output keeps the whole prime)")
        }
        let bar = ProgressLine("generating")
        let start = Date()
        let generated = try continuation(net, prime: p.tokens, encoding: encoding) { bar.update($0) }
        let dt = Date().timeIntervalSince(start)
        let all = p.tokens + generated
        let notes = encoding.decode(all).arrangedByInstrument()
        let audio = try renderer.map { try $0.render(notes: notes, messages: printErr) }
        try MIDIFile(notes: notes).write(to: URL(fileURLWithPath: output))
        if let wav, let audio, let r = renderer {
            try AudioIO.writeWAV(audio, sampleRate: r.sampleRate, to: URL(fileURLWithPath: wav))
        }
        let newNotes = generated.filter(encoding.isNoteOn).count
        let instruments = Set(notes.map(\.track)).count
        printErr(String(format: "wrote %@: %d prime tokens + %d generated (%.1f s of music, %d new notes, %d instrument track%@) in %.2f s, %.0f tokens/s%@",
                        output, p.tokens.count, generated.count, MusicGeneration.seconds(of: generated), newNotes, instruments,
                        instruments == 1 ? "" : "s", dt,
                        Double(generated.count) / max(dt, 1e-9), wav.map { ", and \($0)" } ?? ""))
    }

    /// The continuation of `prime`: beam search with --beam, else sampling for --tokens or --seconds.
    func continuation<M: TokenModel>(_ model: M, prime: [Int], encoding: MusicEncoding, progress: (ProgressReport) -> Void) throws -> [Int] {
        if let b = beam, let t = tokens {
            let search = try BeamSearch(beamWidth: b, lengthPenalty: lengthPenalty, maxLength: t, eosToken: PerformanceTokenizer.eos)
            return MusicGeneration.beamContinuation(model, prime: prime, search: search, progress: progress)
        }
        var sampler = try sampling.makeSampler(repetitionPenalty: repetitionPenalty)
        let length: GenerationLength = tokens.map { .tokens($0) } ?? .seconds(seconds ?? 20)
        return MusicGeneration.continuation(model, prime: prime, length: length, sampler: &sampler,
                                            noteRelease: maxNoteSeconds.map { NoteRelease(maxSeconds: $0, encoding: encoding) },
                                            progress: progress).tokens
    }
}
