// `synth bench`: real-time factor of generation and training throughput, for the README's `make bench`.
import ArgumentParser
import Foundation
import NNCore
import WaveNet

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure generation real-time factor and training throughput on this machine.",
        discussion: "Measures, with OpenBLAS on --threads threads: cached generation speed (samples/s and real-time factor = compute seconds per audio second; below 1 is faster than real time) and teacher-forced training speed (forward + backward samples/s) for the given voice and for the reference configuration (20 layers with dilations 1..512 twice, kernel 2, residual 64, gate 128, skip 128, 256 classes, 80 mels) with random weights. Prints peak memory (max RSS) at the end.")

    @OptionGroup var voiceOptions: VoiceOptions

    @Option(parsing: .unconditional, help: "Seconds of audio to generate per measurement.")
    var seconds: Double = 3

    @Option(parsing: .unconditional, help: "Teacher-forced training steps per measurement (batch 8 x 4000 samples).")
    var trainSteps = 3

    @Option(parsing: .unconditional, help: "OpenBLAS threads.")
    var threads = 1

    func validate() throws {
        guard seconds > 0, trainSteps > 0, threads > 0 else { throw ValidationError("--seconds, --train-steps and --threads must be > 0") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        var models: [(String, WaveNetModel)] = []
        if let v = try? voiceOptions.load().0 { models.append(("voice '\(voiceOptions.voice)'", v.model)) }
        else { printErr("voice '\(voiceOptions.voice)' not found; measuring the reference configuration only") }
        let ref = WaveNetModel(config: WaveNetBenchmark.referenceConfig())
        ref.initialize(seed: 1)
        models.append(("reference (20 layers, R64 G128 S128)", ref))
        print("threads: \(threads)")
        print("| model | MFLOP/sample | generation samples/s | real-time factor | x real time | training samples/s |")
        print("|---|---|---|---|---|---|")
        for (name, m) in models {
            let rate = Double(m.config.features.sampleRate)
            let gen = try WaveNetBenchmark.generationSpeed(m, samples: Int(seconds * rate))
            let train = WaveNetBenchmark.trainingSpeed(m, batch: 8, segment: 4000, steps: trainSteps)
            print(String(format: "| %@ | %.2f | %.0f | %.3f | %.2f | %.0f |", name, 2 * Double(m.config.macsPerSample) / 1e6,
                         gen, rate / gen, gen / rate, train))
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "peak memory (max RSS): %.0f MB", Double(usage.ru_maxrss) / 1024))
    }
}
