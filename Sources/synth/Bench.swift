// `synth bench`: real-time factor of generation and training throughput, for the README's `make bench`.
import ArgumentParser
import Foundation
import NNCore
import WaveNet

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure generation real-time factor and training throughput on this machine.",
        discussion: """
            Measures, with OpenBLAS on --threads threads: cached generation speed (samples/s and real-time factor = compute seconds per audio second; below 1 is faster than real time) and teacher-forced training speed (forward + backward samples/s) for the given voice and for the reference configuration (20 layers with dilations 1..512 twice, kernel 2, residual 64, gate 128, skip 128, 256 classes, 80 mels) with random weights. Generation's arithmetic rate (GFLOP/s) is quoted against the machine's practical peak, an OpenBLAS sgemm of 1024 x 1024 x 1024 measured first in the same run, since absolute speeds move from machine to machine. Prints peak memory (max RSS) at the end. Progress with ETA on stderr, the table (or --json) on stdout.

            Without --voice, the default voice is measured when it is installed (else only the reference configuration, with a note); a --voice that cannot be loaded is an error.
            """)

    @Option(help: ArgumentHelp("Voice name (see `synth voices`) or path to a voice folder (default: default, when installed).", valueName: "NAME|DIR"))
    var voice: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds of audio to generate per measurement.", valueName: "S"))
    var seconds: Double = 3

    @Option(parsing: .unconditional, help: ArgumentHelp("Teacher-forced training steps per measurement (batch 8 x 4000 samples).", valueName: "N"))
    var trainSteps = 3

    @Option(parsing: .unconditional, help: ArgumentHelp("OpenBLAS threads.", valueName: "N"))
    var threads = 1

    @Option(help: ArgumentHelp("Also measure this voice (name or folder), in the same run; repeatable. E.g. the previous voice, to compare speeds.", valueName: "NAME|DIR"))
    var compare: [String] = []

    @Flag(inversion: .prefixedNo, help: "Also measure the reference configuration (random weights).")
    var reference = true

    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard seconds > 0, trainSteps > 0, threads > 0 else { throw ValidationError("--seconds, --train-steps and --threads must be > 0") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        var models: [(String, WaveNetModel)] = []
        if let name = voice {
            models.append(("voice '\(name)'", try loadVoice(name).model))
        } else if let v = try? loadVoice("default") {
            models.append(("voice 'default'", v.model))
        } else if reference || !compare.isEmpty {
            printErr("note: the default voice is not installed; measuring \(compare.isEmpty ? "the reference configuration only" : "the others")")
        } else {
            throw ValidationError("--no-reference and no voice to measure: the default voice is not installed; give --voice")
        }
        for name in compare { models.append(("voice '\(name)'", try loadVoice(name).model)) }
        if reference {
            let ref = WaveNetModel(config: WaveNetBenchmark.referenceConfig())
            ref.initialize(seed: 1)
            models.append(("reference (20 layers, R64 G128 S128)", ref))
        }
        let bar = ProgressLine("bench", total: Double(2 * models.count + 1), unit: "measurements", decimals: 1)
        bar.update(0.0, extra: " (sgemm peak)")
        let peak = BLAS.sgemmPeak()
        var rows: [[String: Any]] = []
        if !jsonOption.json {
            print("threads: \(threads)")
            print(String(format: "peak: OpenBLAS sgemm 1024x1024x1024, %.1f GFLOP/s", peak))
            print("| model | MFLOP/sample | generation samples/s | real-time factor | x real time | generation GFLOP/s (% of peak) | training samples/s |")
            print("|---|---|---|---|---|---|---|")
        }
        for (i, (name, m)) in models.enumerated() {
            let rate = Double(m.config.features.sampleRate)
            let first = Double(2 * i + 1)
            bar.update(first, extra: " (generation, \(name))")
            let gen = try WaveNetBenchmark.generationSpeed(m, samples: Int(seconds * rate)) {
                bar.update(first + $0.fraction, extra: " (generation, \(name))")
            }
            let train = WaveNetBenchmark.trainingSpeed(m, batch: 8, segment: 4000, steps: trainSteps) {
                bar.update(first + 1 + $0.fraction, extra: " (training, \(name))")
            }
            let flops = 2 * Double(m.config.macsPerSample)
            if jsonOption.json {
                rows.append(["model": name, "mflop_per_sample": flops / 1e6, "generation_samples_per_second": gen,
                             "real_time_factor": rate / gen, "generation_gflops": gen * flops / 1e9,
                             "percent_of_peak": 100 * gen * flops / 1e9 / peak, "training_samples_per_second": train])
            } else {
                print(String(format: "| %@ | %.2f | %.0f | %.3f | %.2f | %.1f (%.0f %%) | %.0f |", name, flops / 1e6,
                             gen, rate / gen, gen / rate, gen * flops / 1e9, 100 * gen * flops / 1e9 / peak, train))
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let rss = Double(usage.ru_maxrss) / 1024
        if jsonOption.json {
            printJSON(["command": "bench", "threads": threads, "seconds": seconds, "train_steps": trainSteps,
                       "sgemm_peak_gflops": peak, "models": rows, "peak_rss_mb": rss])
        } else {
            print(String(format: "peak memory (max RSS): %.0f MB", rss))
        }
    }
}
