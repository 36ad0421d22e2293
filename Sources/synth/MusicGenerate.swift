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
            The prime is tokenised like the training data (sustain pedal applied, 10 ms time grid). A prime longer than the model's context conditions the model on its last context-length tokens only (a note on stderr says so), but the output still holds the whole prime. Generation runs for --seconds of music time (the sum of generated time shifts) or --tokens tokens; when the context fills, the model slides to the last half of it. BOS and EOS are never sampled. Progress is shown in seconds of music (or tokens).

            The model's config.json names its token encoding: "performance" (the default; one piano stream) or "performance_programs" (instruments and drums, every note kept). With no --model, a prime of several instruments or drums is continued by music-programs (a performance_programs model) when it is installed, others by music. OUT.mid holds the prime followed by the continuation, one track per instrument with its program (one piano track for a performance model). --prime-cut beat cuts the prime at a quarter-note beat so the continuation starts on it; --max-note-seconds, --max-polyphony, --key-bias and --key-profile-bias are decoding processors, and --snap-to-prime-grid quantizes the continuation to the prime's sixteenth notes. With a prime, each of these not given takes the model folder's generation_config.json key (prime_cut, max_note_seconds, max_polyphony, key_bias, key_profile_bias, snap_to_prime_grid; voices/music sets all but key_bias, see docs/music.md; a note names them), else it is off; --prime-cut exact, off, --key-bias 0, --key-profile-bias 0 and --no-snap-to-prime-grid turn them off. A folder's ngram_cache (voices/music-programs has one) mixes the model with an n-gram of the piece so far, so phrases heard before come back; --no-ngram-cache plays the model alone. A performance_programs model keeps to the prime's instruments unless --new-instruments is given, and never writes an instrument token the encoding would not (the same instrument again, or two in a row). --wav renders the same notes, prime and continuation, through FluidSynth with a General MIDI SoundFont ($SYNTH_SOUNDFONT or /usr/share/sounds/sf2/TimGM6mb.sf2 / FluidR3_GM.sf2), so with a 30 s prime and --seconds 20 it is about 50 s long; --wav-continuation-only renders only the generated part (notes starting after the prime ends, moved to start at 0 s). The WAV's format follows its extension (.wav, .flac, .ogg, .mp3, .aiff). Files are written atomically.
            """)

    @OptionGroup var modelOption: MusicModelOption
    @Option(help: ArgumentHelp("MIDI file whose notes the continuation follows (default: none; the model starts from nothing).", valueName: "IN.mid"))
    var prime: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Use only the first S seconds of the prime (default: all of it).", valueName: "S"))
    var primeSeconds: Double?
    @Option(help: ArgumentHelp("Where --prime-seconds cuts: exact (at S) or beat (at the last quarter-note beat of the prime's tempo map at or before S; the continuation starts on that beat). (default: the model's generation_config.json prime_cut, else exact)", valueName: "exact|beat"))
    var primeCut: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Release any note held longer than S seconds, or than the prime's longest note plus S with prime+S (a decoding processor; off = none; default: the model's generation_config.json max_note_seconds with a prime, else off).", valueName: "S|prime+S|off"))
    var maxNoteSeconds: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Start no note while N notes sound, or the prime's most plus N with prime+N (a decoding processor; off = none; default: the model's generation_config.json max_polyphony with a prime, else off).", valueName: "N|prime+N|off"))
    var maxPolyphony: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Keep the continuation in the prime's key (Krumhansl-Schmuckler): subtract X nats from the logits of note-ons outside its scale (a decoding processor; 0 = off; default: the model's generation_config.json key_bias with a prime, else off).", valueName: "X"))
    var keyBias: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("Draw the continuation toward the prime's key (Krumhansl-Schmuckler): subtract W × ln(P(tonic) / P(degree)) nats from the logits of note-ons of the key's scale, P being its Krumhansl-Kessler profile, and the scale's mean of that from the others, so the tonic and dominant gain on the weaker degrees and the share outside the scale stays the model's (a decoding processor, beside or instead of --key-bias; 0 = off; default: the model's generation_config.json key_profile_bias with a prime, else off; voices/music: 2.5, which keeps the key in 86 % of continuations, docs/music.md).", valueName: "W"))
    var keyProfileBias: Float?
    @Flag(help: "With a performance_programs model: let the continuation bring in instruments the prime does not have (by default it keeps to the prime's).")
    var newInstruments = false
    @Flag(inversion: .prefixedNo, help: "Move the continuation's onsets and releases to the nearest sixteenth note of the prime's tempo map (a post-processing quantize of the written notes; default: the model's generation_config.json snap_to_prime_grid with a prime, else off). With --max-polyphony, a note that snapping would make exceed it keeps its own timing.")
    var snapToPrimeGrid: Bool?
    @Flag(help: "Do not mix the model with an n-gram cache of the piece (default: the model's generation_config.json ngram_cache, with a prime: the model's next-token probabilities mixed with those of an n-gram of the prime and the continuation so far, so phrases heard before come back as in the training music; see synth music eval --fit-ngram-cache).")
    var noNgramCache = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds of music to generate (default: 20 unless --tokens is given).", valueName: "S"))
    var seconds: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Number of tokens to generate instead of --seconds (default: off).", valueName: "N"))
    var tokens: Int?
    @OptionGroup var sampling: SamplingOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("Repetition penalty over the last 64 tokens (1 = off). (default: the model's generation_config.json, else 1)", valueName: "X"))
    var repetitionPenalty: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("Beam search with N beams instead of sampling (default: off, sampling; needs --tokens; slow: O(N × context) per token).", valueName: "N"))
    var beam: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Beam search length penalty (score = log-prob / length^penalty).", valueName: "X"))
    var lengthPenalty: Float = 1.0
    @Option(name: .shortAndLong, help: ArgumentHelp("Output MIDI file: the prime and the continuation (- for standard output).", valueName: "OUT.mid"))
    var output: String
    @Option(help: ArgumentHelp("Also render the notes of OUT.mid (prime and continuation) through FluidSynth, mono, to this audio file (default: none).", valueName: "OUT.wav"))
    var wav: String?
    @Flag(help: "With --wav: render only the continuation (the notes after the prime), starting at 0 s.")
    var wavContinuationOnly = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Sample rate of the WAV in Hz.", valueName: "HZ"))
    var sampleRate = 44100
    @Option(help: ArgumentHelp("SoundFont for --wav (default: $SYNTH_SOUNDFONT, then Debian's GM SoundFonts).", valueName: "FILE.sf2"))
    var soundfont: String?
    @OptionGroup var jsonOption: JSONOption

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
        if let c = primeCut, PrimeCut(rawValue: c) == nil { throw ValidationError("--prime-cut must be exact or beat, got \(c)") }
        if let m = maxNoteSeconds, !MusicGenerationConfig.isValidMaxNoteSeconds(m) {
            throw ValidationError("--max-note-seconds must be S or prime+S with S in [0.01, 60], or off, got \(m)")
        }
        if let m = maxPolyphony, !MusicGenerationConfig.isValidMaxPolyphony(m) {
            throw ValidationError("--max-polyphony must be N or prime+N with N a whole number in 1...128, or off, got \(m)")
        }
        if (maxNoteSeconds?.hasPrefix("prime+") ?? false || maxPolyphony?.hasPrefix("prime+") ?? false) && prime == nil {
            throw ValidationError("prime+ limits need --prime")
        }
        if let k = keyBias, !MusicGenerationConfig.isValidKeyBias(k) { throw ValidationError("--key-bias must be in [0, 100], got \(k)") }
        if keyBias != nil && prime == nil { throw ValidationError("--key-bias needs --prime (the key is the prime's)") }
        if let k = keyProfileBias, !MusicGenerationConfig.isValidKeyBias(k) { throw ValidationError("--key-profile-bias must be in [0, 100], got \(k)") }
        if keyProfileBias != nil && prime == nil { throw ValidationError("--key-profile-bias needs --prime (the key is the prime's)") }
        if snapToPrimeGrid == true && prime == nil { throw ValidationError("--snap-to-prime-grid needs --prime (the grid is the prime's)") }
        if beam != nil && ((keyBias ?? 0) > 0 || (keyProfileBias ?? 0) > 0 || (maxNoteSeconds ?? "off") != "off" || (maxPolyphony ?? "off") != "off") {
            throw ValidationError("--key-bias, --key-profile-bias, --max-note-seconds and --max-polyphony apply to sampling, not --beam")
        }
        if let p = prime { try requireFile(p, option: "--prime") }
        guard (8000...96000).contains(sampleRate) else { throw ValidationError("--sample-rate must be in 8000...96000, got \(sampleRate)") }
        try checkOutputPath(output, option: "-o")
        if let wav {
            try checkOutputPath(wav, option: "--wav")
            do { _ = try AudioFileFormat.resolve(path: wav) } catch { throw ValidationError("--wav: \(error)") }
        }
        if wavContinuationOnly && wav == nil { throw ValidationError("--wav-continuation-only needs --wav") }
        let toStdout = [output] + (wav.map { [$0] } ?? []) + (jsonOption.json ? ["--json"] : [])
        if toStdout.filter({ $0 == "--json" || isStandardOutput($0) }).count > 1 {
            throw ValidationError("only one of -o, --wav and --json can write to standard output")
        }
    }

    /// The continuation settings in effect: each option given, else (with a prime) the key of the model's
    /// generation_config.json (`MusicGenerationConfig`; the three decoding processors only when sampling, not with
    /// --beam), else off. `note` names the keys taken from the file, for stderr once the prime has been read.
    struct Continuation {
        var primeCut = PrimeCut.exact
        var maxNoteSeconds: String?
        var maxPolyphony: String?
        var keyBias: Float?
        var keyProfileBias: Float?
        var snapToPrimeGrid = false
        var ngramCache: NGramCacheSettings?
        var note: String?
    }

    /// - Throws: `ModelFolderError` for a generation_config.json that cannot be read or holds a bad key.
    func continuationSettings(folder: URL) throws -> Continuation {
        var file = (try MusicGenerationConfig.load(folder: folder)) ?? MusicGenerationConfig()
        if prime == nil { file = MusicGenerationConfig() }
        if beam != nil { file.maxNoteSeconds = nil; file.maxPolyphony = nil; file.keyBias = nil; file.keyProfileBias = nil; file.ngramCache = nil }
        if noNgramCache { file.ngramCache = nil }
        if primeCut != nil { file.primeCut = nil }
        if maxNoteSeconds != nil { file.maxNoteSeconds = nil }
        if maxPolyphony != nil { file.maxPolyphony = nil }
        if keyBias != nil { file.keyBias = nil }
        if keyProfileBias != nil { file.keyProfileBias = nil }
        if snapToPrimeGrid != nil { file.snapToPrimeGrid = nil }
        let off: (String?) -> String? = { $0 == "off" ? nil : $0 }
        return Continuation(primeCut: primeCut.flatMap(PrimeCut.init(rawValue:)) ?? file.primeCut ?? .exact,
                            maxNoteSeconds: off(maxNoteSeconds ?? file.maxNoteSeconds), maxPolyphony: off(maxPolyphony ?? file.maxPolyphony),
                            keyBias: (keyBias ?? file.keyBias).flatMap { $0 > 0 ? $0 : nil },
                            keyProfileBias: (keyProfileBias ?? file.keyProfileBias).flatMap { $0 > 0 ? $0 : nil },
                            snapToPrimeGrid: snapToPrimeGrid ?? file.snapToPrimeGrid ?? false, ngramCache: file.ngramCache,
                            note: file.isEmpty ? nil : "note: \(file.summary) from \(folder.appendingPathComponent(GenerationConfig.fileName).path) (options given win; off, 0, exact, --no-snap-to-prime-grid or --no-ngram-cache turn them off)")
    }

    /// The model for primes of several instruments or drums when `--model` is not given.
    static let instrumentModel = "music-programs"

    /// "5 instruments (drums too)" when the prime's first --prime-seconds, cut as `cut` says, has several instruments
    /// or drums (General MIDI programs, and drums as their own kind); nil for one instrument or a file that does not
    /// encode.
    func severalInstruments(_ file: MIDIFile, cut: PrimeCut) -> String? {
        let range = ProgramPerformanceTokenizer.programBase...ProgramPerformanceTokenizer.drums
        let whole = try? MusicPrime(midi: file, maxSeconds: primeSeconds, cut: cut, encoding: .performancePrograms)
        let instruments = Set((whole?.tokens ?? []).filter { range.contains($0) })
        let drums = instruments.contains(ProgramPerformanceTokenizer.drums)
        guard instruments.count > 1 || drums else { return nil }
        return "\(instruments.count) instruments" + (drums ? " (drums too)" : "")
    }

    /// With no `--model` and a prime of several instruments or drums, continues with `music-programs` (one track per
    /// instrument) when it is installed, with a note; else the model stays `--model`'s (default `music`). A prime
    /// that does not read is left for `run` to report.
    mutating func chooseModel() {
        guard modelOption.model == nil, let path = prime,
              let file = try? MIDIFile.read(url: URL(fileURLWithPath: path)),
              (try? ModelRegistry.synth.resolve(Self.instrumentModel, as: .musicModel)) != nil,
              let several = severalInstruments(file, cut: .exact) else { return }
        modelOption.model = Self.instrumentModel
        printErr("note: \(path) has \(several): continuing with the model \(Self.instrumentModel), which keeps them (--model music plays them as one piano stream)")
    }

    /// A note on stderr when a `performance` model (one piano stream) is primed with several instruments or drums,
    /// which it plays as piano; `--new-instruments` is noted as ignored.
    func noteFlattenedInstruments(_ file: MIDIFile, path: String, cut: PrimeCut) {
        if let several = severalInstruments(file, cut: cut) {
            printErr("note: \(path) has \(several); this model's encoding (performance) plays every note as one piano stream; a performance_programs model such as `--model music-programs` keeps them (docs/music.md)")
        }
        if newInstruments { printErr("note: --new-instruments is ignored: this model's encoding (performance) has no instruments") }
    }

    mutating func run() throws {
        BLAS.setThreads(1)
        chooseModel()
        let (net, encoding) = try modelOption.loadWithEncoding()
        let settings = try continuationSettings(folder: try modelOption.folder())
        // Resolve the SoundFont before any work, so a missing one fails fast.
        let renderer = try wav.map { _ in try FluidSynthRenderer(soundFont: soundfont, sampleRate: sampleRate) }
        renderer?.loadMessages.forEach(printErr)
        let p: MusicPrime
        if let path = prime {
            let file: MIDIFile
            do {
                file = try MIDIFile.read(url: URL(fileURLWithPath: path))
                p = try MusicPrime(midi: file, maxSeconds: primeSeconds, cut: settings.primeCut, encoding: encoding)
            } catch {
                throw RuntimeError("\(path): \(error)")
            }
            for w in p.warnings { printErr("warning: \(path): \(w) (continuing with the notes that were read)") }
            if encoding == .performance { noteFlattenedInstruments(file, path: path, cut: settings.primeCut) }
        } else {
            p = .empty
        }
        if let path = prime, let r = renderer {
            // Fail before generating if the WAV could not be rendered: the prime's own music (unless only the
            // continuation is rendered) plus what is asked for plus the tail.
            let primeEnd = wavContinuationOnly ? 0 : MusicGeneration.seconds(of: p.tokens), asked = tokens == nil ? seconds ?? 20 : 0
            let total = primeEnd + asked + r.tail
            if total > FluidSynthRenderer.maxSeconds {
                throw RuntimeError(String(format: "%@: the prime's music runs to %.0f s; with %.0f s more and the %.1f s tail the WAV would last %.0f s, more than the %.0f s that --wav renders (cut the prime with --prime-seconds)",
                                          path, primeEnd, asked, r.tail, total, FluidSynthRenderer.maxSeconds))
            }
        }
        settings.note.map(printErr)
        var processors: [any MusicDecodingProcessor] = []
        if let c = settings.ngramCache {
            guard c.problem(vocabularySize: net.vocabularySize) == nil else {
                throw RuntimeError("\(try modelOption.folder().appendingPathComponent(GenerationConfig.fileName).path): key 'ngram_cache': \(c.problem(vocabularySize: net.vocabularySize)!)")
            }
            processors.append(NGramCache(c, vocabularySize: net.vocabularySize))
        }
        var polyphonyLimit: Int?  // --max-polyphony, which --snap-to-prime-grid keeps too
        if encoding == .performancePrograms && prime != nil && !newInstruments { processors.append(InstrumentSet(prime: p.tokens)) }
        if settings.maxNoteSeconds != nil || settings.maxPolyphony != nil {
            let primeNotes = encoding.decode(p.tokens)
            let seconds = settings.maxNoteSeconds.flatMap { NoteRelease.limit($0, prime: NoteRelease.longestNote(primeNotes)) } ?? .infinity
            polyphonyLimit = settings.maxPolyphony.flatMap { NoteRelease.limit($0, prime: Double(NoteRelease.maxPolyphony(primeNotes))) }.map { Int($0) }
            processors.append(NoteRelease(maxSeconds: seconds, maxPolyphony: polyphonyLimit, encoding: encoding))
        }
        if settings.keyBias != nil || settings.keyProfileBias != nil, let key = MusicalKey.estimate(encoding.decode(p.tokens)) {
            let scale = settings.keyBias ?? 0, profile = settings.keyProfileBias ?? 0
            processors.append(ScaleBias(key: key, penalty: scale, profileWeight: profile, encoding: encoding))
            let parts = (scale > 0 ? ["\(scale) nats against notes outside \(key)"] : []) + (profile > 0 ? ["\(profile) × ln profile ratio toward \(key)"] : [])
            printErr("note: key bias \(parts.joined(separator: ", ")) (the prime's key)")
        }
        if encoding == .performancePrograms { processors.append(InstrumentGrammar()) }
        if p.tokens.count > net.contextLength {
            printErr("note: the prime has \(p.tokens.count) tokens, more than the model's context of \(net.contextLength); the model is conditioned on its last \(net.contextLength) tokens (the output keeps the whole prime)")
        }
        // Progress in seconds of music, or in tokens with --tokens.
        let bar = tokens.map { ProgressLine("generating", total: $0, unit: "tokens") }
            ?? ProgressLine("generating", total: seconds ?? 20, unit: "s of music", decimals: 1)
        let start = Date()
        let generated = try continuation(net, prime: p.tokens, processors: processors) { r in
            // With --seconds, MusicGeneration counts centiseconds of music, drawn as seconds.
            tokens == nil ? bar.update(Double(r.done) / 100) : bar.update(r)
        }
        let dt = Date().timeIntervalSince(start)
        let all = p.tokens + generated
        var notes = encoding.decode(all).arrangedByInstrument()
        if settings.snapToPrimeGrid, let map = p.tempoMap {
            notes = notes.snapped(to: map, from: MusicGeneration.seconds(of: p.tokens), maxPolyphony: polyphonyLimit)
        }
        // --wav-continuation-only: the notes that start after the prime ends, moved to 0 s.
        let primeEnd = MusicGeneration.seconds(of: p.tokens)
        let heard = wavContinuationOnly
            ? notes.filter { $0.start >= primeEnd - 1e-9 }.map { n -> Note in var m = n; m.start -= primeEnd; m.end -= primeEnd; return m }
            : notes
        let audio = try renderer.map { try $0.render(notes: heard, messages: printErr) }
        try MIDIFile(notes: notes).write(to: outputURL(output))
        var wavSeconds = 0.0
        if let wav, let audio, let r = renderer {
            try AudioIO.write(audio, sampleRate: r.sampleRate, to: outputURL(wav), format: try AudioFileFormat.resolve(path: wav))
            wavSeconds = Double(audio.count) / Double(r.sampleRate)
        }
        let newNotes = generated.filter(encoding.isNoteOn).count
        let instruments = Set(notes.map(\.track)).count
        let musicSeconds = MusicGeneration.seconds(of: generated)
        let wavText = wav.map { String(format: ", and %@ (%.1f s: %@)", $0, wavSeconds,
                                       wavContinuationOnly ? "the continuation only" : String(format: "%.1f s of prime and the continuation", primeEnd)) } ?? ""
        printErr(String(format: "wrote %@: %d prime tokens + %d generated (%.1f s of music, %d new notes, %d instrument track%@) in %.2f s, %.0f tokens/s%@",
                        output, p.tokens.count, generated.count, musicSeconds, newNotes, instruments, instruments == 1 ? "" : "s", dt,
                        Double(generated.count) / max(dt, 1e-9), wavText))
        if jsonOption.json {
            var result: [String: Any] = ["command": "music generate", "output": output, "prime_tokens": p.tokens.count,
                                         "prime_seconds": primeEnd, "generated_tokens": generated.count, "music_seconds": musicSeconds,
                                         "new_notes": newNotes, "instrument_tracks": instruments, "encoding": encoding.rawValue,
                                         "prime_cut": settings.primeCut.rawValue, "max_note_seconds": settings.maxNoteSeconds ?? NSNull(),
                                         "max_polyphony": settings.maxPolyphony ?? NSNull(), "key_bias": settings.keyBias.map { Double($0) } ?? NSNull(),
                                         "key_profile_bias": settings.keyProfileBias.map { Double($0) } ?? NSNull(),
                                         "snap_to_prime_grid": settings.snapToPrimeGrid,
                                         "ngram_cache_order": settings.ngramCache.map(\.order) ?? NSNull(),
                                         "compute_seconds": dt,
                                         "tokens_per_second": Double(generated.count) / max(dt, 1e-9), "seed": sampling.seed]
            if let wav {
                result["wav"] = wav
                result["wav_seconds"] = wavSeconds
                result["wav_holds"] = wavContinuationOnly ? "continuation" : "prime and continuation"
            }
            printJSON(result)
        }
    }

    /// The continuation of `prime`: beam search with --beam, else sampling for --tokens or --seconds.
    func continuation<M: TokenModel>(_ model: M, prime: [Int], processors: [any MusicDecodingProcessor],
                                     progress: (ProgressReport) -> Void) throws -> [Int] {
        if let b = beam, let t = tokens {
            let search = try BeamSearch(beamWidth: b, lengthPenalty: lengthPenalty, maxLength: t, eosToken: PerformanceTokenizer.eos)
            return MusicGeneration.beamContinuation(model, prime: prime, search: search, progress: progress)
        }
        var sampler = try sampling.makeSampler(repetitionPenalty: repetitionPenalty, folder: try modelOption.folder())
        let length: GenerationLength = tokens.map { .tokens($0) } ?? .seconds(seconds ?? 20)
        return MusicGeneration.continuation(model, prime: prime, length: length, sampler: &sampler, processors: processors,
                                            progress: progress).tokens
    }
}
