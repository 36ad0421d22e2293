// `synth bench-render` (hidden): batch-rendering throughput, seconds of audio per wall-clock second, for several B.
import AREngine
import ArgumentParser
import Foundation
import NNCore
import WaveNet

struct BenchRender: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-render",
        abstract: "Measure batch-rendering throughput (used by scripts/bench-render.sh).",
        discussion: """
            Renders threads x B utterances of --seconds each (random normalised log-mels, speakers in turn) for each B, with the same BatchRenderer as `synth render` (no file I/O), and prints seconds of audio per wall-clock second. Uses --voice if it resolves, else the reference configuration (2 x 10 dilations, R 64, G 128, S 128) with random weights.
            """,
        shouldDisplay: false)

    @OptionGroup var voiceOption: VoiceOption
    @Option(help: ArgumentHelp("Comma-separated batch sizes.", valueName: "LIST"))
    var batches: String = "1,4,16"
    @Option(parsing: .unconditional, help: ArgumentHelp("Threads (one batch each).", valueName: "N"))
    var threads = 2
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds of audio per utterance.", valueName: "N"))
    var seconds: Double = 1

    func run() throws {
        let v: Voice
        var label: String
        if let loaded = try? voiceOption.load() {
            v = loaded
            label = "voice \(voiceOption.voice) (\(loaded.directory.path))"
        } else {
            var c = WaveNetBenchmark.referenceConfig()
            c.speakers = ["a", "b"]
            let m = WaveNetModel(config: c)
            m.initialize(seed: 1)
            v = Voice(name: "reference", directory: URL(fileURLWithPath: "/"), model: m)
            label = "reference configuration, random weights"
        }
        let c = v.config
        let bs = batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        BLAS.setThreads(1)
        print(String(format: "# %@: %d layers, R %d, G %d, S %d, %.2f MFLOP/sample, %d Hz; %d threads, %.1f s per utterance",
                     label, c.layers, c.residualChannels, c.gateChannels, c.skipChannels, 2 * Double(c.macsPerSample) / 1e6,
                     c.features.sampleRate, threads, seconds))
        print("B\tutterances\taudio_s\twall_s\taudio_s_per_wall_s\treal_time_factor")
        var rng = Xoshiro256(seed: 3)
        for b in bs where b >= 1 {
            let n = b * threads
            let count = Int(seconds * Double(c.features.sampleRate)), frames = count / c.features.hopLength + 1
            let reqs = (0..<n).map { i in
                RenderRequest(id: i, mels: (0..<(frames * c.frameFeatures)).map { _ in rng.nextGaussian() }, frames: frames,
                              sampleCount: count, speaker: i % c.speakers.count, seed: UInt64(i))
            }
            let start = Date()
            _ = BatchRenderer.renderAll(reqs, voice: v, batch: b, threads: threads, sampler: try Sampler())
            let wall = Date().timeIntervalSince(start)
            let audio = Double(n) * Double(count) / Double(c.features.sampleRate)
            print(String(format: "%d\t%d\t%.1f\t%.2f\t%.2f\t%.3f", b, n, audio, wall, audio / wall, wall / audio))
        }
    }
}
