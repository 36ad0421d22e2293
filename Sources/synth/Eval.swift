// `synth eval`: a voice's teacher-forced negative log-likelihood (nats per sample) on a manifest split.
import ArgumentParser
import Foundation
import NNCore
import WaveNet

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a voice on recordings: negative log-likelihood in nats and bits per sample.",
        discussion: """
            Reads the rows of one split of a speech manifest (the format `synth train` reads: path, speaker[, split]), prepares them as training does (mixed to mono, resampled to the voice's rate, silence trimmed, pre-emphasised, mu-law classes, log-mels with the voice's normalisation) and scores every sample of every file, each with its speaker's embedding: the cross-entropy of the voice's 256-way softmax against the true next mu-law class, with teacher forcing.

            Each file is scored whole by the cached generator, so every sample sees its full receptive field; the validation loss that `synth train` logs scores a fixed set of segments instead, whose first samples see a truncated history, so the two differ a little. Lower is better; the figure is comparable between voices with the same mu-law classes and pre-emphasis.

            Prints one line per speaker and the total on stdout (or one JSON object with --json); progress with ETA on stderr. Every manifest speaker must be one of the voice's speakers.
            """)

    @Option(help: ArgumentHelp("Speech manifest: TSV or CSV with a header naming path and speaker, and optionally split.", valueName: "MANIFEST"))
    var data: String

    @Option(help: ArgumentHelp("Split to score: valid or train.", valueName: "SPLIT"))
    var split = "valid"

    @OptionGroup var voiceOption: VoiceOption

    @Option(parsing: .unconditional, help: ArgumentHelp("Score only the first N files of the split (0: all).", valueName: "N"))
    var maxUtterances = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads, one file at a time each; the figures do not depend on it. The default is the number of cores.", valueName: "N"))
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard split == "train" || split == "valid" else { throw ValidationError("--split must be train or valid, got '\(split)'") }
        guard maxUtterances >= 0 else { throw ValidationError("--max-utterances must be >= 0, got \(maxUtterances)") }
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be in 1...256, got \(threads)") }
        try requireFile(data, option: "--data")
    }

    func run() throws {
        BLAS.setThreads(1)
        let v = try voiceOption.load()
        let c = v.config
        let manifest = URL(fileURLWithPath: data)
        let rows = try SpeechManifest.read(manifest)
        let loader = try SpeechLoader(config: c)
        var utts = try loadSplit(rows, split, manifest: manifest, speakers: c.speakers, loader: loader, limit: maxUtterances)
        let lpc = try c.makeMelLPC()
        for i in utts.indices { utts[i].prepare(config: c, lpc: lpc) }
        guard !utts.isEmpty else { throw DatasetError.empty(path: manifest.path, split: split) }
        let total = utts.reduce(0) { $0 + $1.sampleCount }
        let bar = ProgressLine("scoring")
        let start = Date()
        let scores = SpeechLikelihood.score(utts, model: v.model, threads: threads) { bar.update($0) }
        let seconds = Date().timeIntervalSince(start)

        let speakerRows = c.speakers.enumerated().compactMap { (s, name) -> (String, Int, Double, Int)? in
            let mine = utts.indices.filter { utts[$0].speaker == s }
            guard !mine.isEmpty else { return nil }
            return (name, mine.count, mine.reduce(0) { $0 + scores[$1].nats }, mine.reduce(0) { $0 + scores[$1].samples })
        }
        let allNats = scores.reduce(0) { $0 + $1.nats }
        if jsonOption.json {
            func entry(_ files: Int, _ nats: Double, _ samples: Int) -> [String: Any] {
                let mean = nats / Double(max(samples, 1))
                return ["files": files, "samples": samples, "nats_per_sample": mean, "bits_per_sample": mean / log(2.0)]
            }
            printJSON(["command": "eval", "voice": v.name, "layers": c.layers, "parameters": v.model.parameters.count,
                       "manifest": manifest.path, "split": split, "files": utts.count,
                       "audio_seconds": Double(total) / Double(c.features.sampleRate),
                       "speakers": Dictionary(uniqueKeysWithValues: speakerRows.map { ($0.0, entry($0.1, $0.2, $0.3)) }),
                       "all": entry(utts.count, allNats, total), "compute_seconds": seconds, "threads": threads])
        } else {
            print(String(format: "voice %@ (%d layers, %d parameters) on %@, split %@: %d files, %.1f s of audio after trimming",
                         v.name, c.layers, v.model.parameters.count, manifest.lastPathComponent, split, utts.count,
                         Double(total) / Double(c.features.sampleRate)))
            let width = max(8, c.speakers.map(\.count).max() ?? 0)
            func padded(_ s: String) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
            func row(_ name: String, files: Int, nats: Double, samples: Int) -> String {
                let mean = nats / Double(max(samples, 1))
                return padded(name) + String(format: " %6d %10d %12.4f %12.4f", files, samples, mean, mean / log(2.0))
            }
            print(padded("speaker") + "  files    samples  nats/sample  bits/sample")
            for r in speakerRows { print(row(r.0, files: r.1, nats: r.2, samples: r.3)) }
            print(row("all", files: utts.count, nats: allNats, samples: total))
        }
        printErr(String(format: "scored %d samples in %.1f s (%.0f samples/s on %d thread(s))", total, seconds, Double(total) / seconds, threads))
    }
}
