// `synth bench`: real-time factor of generation and training throughput, for the README's `make bench`.
import ArgumentParser
import Foundation
import NNCore
import WaveNet

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure generation real-time factor and training throughput on this machine.",
        discussion: "Measures, with OpenBLAS on --threads threads: cached generation speed (samples/s and real-time factor = compute seconds per audio second; below 1 is faster than real time) and teacher-forced training speed (forward + backward samples/s) for the given voice and for the reference configuration (20 layers with dilations 1..512 twice, kernel 2, residual 64, gate 128, skip 128, 256 classes, 80 mels) with random weights. Generation's arithmetic rate (GFLOP/s) is quoted against the machine's practical peak, an OpenBLAS sgemm of 1024 x 1024 x 1024 measured first in the same run, since absolute speeds move from machine to machine. Prints peak memory (max RSS) at the end.")

    @OptionGroup var voiceOption: VoiceOption

    @Option(parsing: .unconditional, help: "Seconds of audio to generate per measurement.")
    var seconds: Double = 3

    @Option(parsing: .unconditional, help: "Teacher-forced training steps per measurement (batch 8 x 4000 samples).")
    var trainSteps = 3

    @Option(parsing: .unconditional, help: "OpenBLAS threads.")
    var threads = 1

    @Option(help: ArgumentHelp("Also measure this voice (name or folder), in the same run; repeatable. E.g. the previous voice, to compare speeds.", valueName: "NAME|DIR"))
    var compare: [String] = []

    func validate() throws {
        guard seconds > 0, trainSteps > 0, threads > 0 else { throw ValidationError("--seconds, --train-steps and --threads must be > 0") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        var models: [(String, WaveNetModel)] = []
        if let v = try? voiceOption.load() { models.append(("voice '\(voiceOption.voice)'", v.model)) }
        else { printErr("voice '\(voiceOption.voice)' not found; measuring the reference configuration only") }
        for name in compare { models.append(("voice '\(name)'", try loadVoice(name).model)) }
        let ref = WaveNetModel(config: WaveNetBenchmark.referenceConfig())
        ref.initialize(seed: 1)
        models.append(("reference (20 layers, R64 G128 S128)", ref))
        print("threads: \(threads)")
        let peak = BLAS.sgemmPeak()
        print(String(format: "peak: OpenBLAS sgemm 1024x1024x1024, %.1f GFLOP/s", peak))
        print("| model | MFLOP/sample | generation samples/s | real-time factor | x real time | generation GFLOP/s (% of peak) | training samples/s |")
        print("|---|---|---|---|---|---|---|")
        for (name, m) in models {
            let rate = Double(m.config.features.sampleRate)
            let gen = try WaveNetBenchmark.generationSpeed(m, samples: Int(seconds * rate))
            let train = WaveNetBenchmark.trainingSpeed(m, batch: 8, segment: 4000, steps: trainSteps)
            let flops = 2 * Double(m.config.macsPerSample)
            print(String(format: "| %@ | %.2f | %.0f | %.3f | %.2f | %.1f (%.0f %%) | %.0f |", name, flops / 1e6,
                         gen, rate / gen, gen / rate, gen * flops / 1e9, 100 * gen * flops / 1e9 / peak, train))
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "peak memory (max RSS): %.0f MB", Double(usage.ru_maxrss) / 1024))
    }
}
