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

            Prints one line per speaker and the total on stdout; progress with ETA on stderr. Every manifest speaker must be one of the voice's speakers.
            """)

    @Option(help: ArgumentHelp("Speech manifest: TSV or CSV with a header naming path and speaker, and optionally split.", valueName: "MANIFEST"))
    var data: String

    @Option(help: "Split to score: valid or train.")
    var split = "valid"

    @OptionGroup var voiceOption: VoiceOption

    @Option(parsing: .unconditional, help: "Score only the first N files of the split (0: all).")
    var maxUtterances = 0

    @Option(parsing: .unconditional, help: "Threads, one file at a time each. The figures do not depend on it.")
    var threads = 1

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
        for (s, name) in c.speakers.enumerated() {
            let mine = utts.indices.filter { utts[$0].speaker == s }
            guard !mine.isEmpty else { continue }
            print(row(name, files: mine.count, nats: mine.reduce(0) { $0 + scores[$1].nats }, samples: mine.reduce(0) { $0 + scores[$1].samples }))
        }
        print(row("all", files: utts.count, nats: scores.reduce(0) { $0 + $1.nats }, samples: total))
        printErr(String(format: "scored %d samples in %.1f s (%.0f samples/s on %d thread(s))", total, seconds, Double(total) / seconds, threads))
    }
}
