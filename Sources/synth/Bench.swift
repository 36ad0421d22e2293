// `synth bench`: real-time factor of generation and training throughput, for the README's `make bench`.
import ArgumentParser
import Foundation
import NNCore
import WaveNet

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure generation real-time factor and training throughput on this machine.",
        discussion: """
            Measures, with OpenBLAS on --threads threads: cached generation speed (samples/s and real-time factor = compute seconds per audio second; below 1 is faster than real time) and teacher-forced training speed (forward + backward samples/s) for the given voice and for the reference configuration (20 layers with dilations 1..512 twice, kernel 2, residual 64, gate 128, skip 128, 256 classes, 80 mels) with random weights. Prints peak memory (max RSS) at the end. Progress with ETA on stderr, the table (or --json) on stdout.

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
            models.append(("voice '\(name)'", try Voice.load(try VoiceLibrary.resolve(name)).model))
        } else if let v = try? Voice.load(try VoiceLibrary.resolve("default")) {
            models.append(("voice 'default'", v.model))
        } else if reference {
            printErr("note: the default voice is not installed; measuring the reference configuration only")
        } else {
            throw ValidationError("--no-reference and no voice to measure: the default voice is not installed; give --voice")
        }
        if reference {
            let ref = WaveNetModel(config: WaveNetBenchmark.referenceConfig())
            ref.initialize(seed: 1)
            models.append(("reference (20 layers, R64 G128 S128)", ref))
        }
        let bar = ProgressLine("bench", total: Double(2 * models.count), unit: "measurements", decimals: 1)
        var rows: [[String: Any]] = []
        if !jsonOption.json {
            print("threads: \(threads)")
            print("| model | MFLOP/sample | generation samples/s | real-time factor | x real time | training samples/s |")
            print("|---|---|---|---|---|---|")
        }
        for (i, (name, m)) in models.enumerated() {
            let rate = Double(m.config.features.sampleRate)
            bar.update(Double(2 * i), extra: " (generation, \(name))")
            let gen = try WaveNetBenchmark.generationSpeed(m, samples: Int(seconds * rate)) { bar.update(Double(2 * i) + $0, extra: " (generation, \(name))") }
            let train = WaveNetBenchmark.trainingSpeed(m, batch: 8, segment: 4000, steps: trainSteps) {
                bar.update(Double(2 * i + 1) + $0, extra: " (training, \(name))")
            }
            let mflop = 2 * Double(m.config.macsPerSample) / 1e6
            if jsonOption.json {
                rows.append(["model": name, "mflop_per_sample": mflop, "generation_samples_per_second": gen,
                             "real_time_factor": rate / gen, "training_samples_per_second": train])
            } else {
                print(String(format: "| %@ | %.2f | %.0f | %.3f | %.2f | %.0f |", name, mflop, gen, rate / gen, gen / rate, train))
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peak = Double(usage.ru_maxrss) / 1024
        if jsonOption.json {
            printJSON(["command": "bench", "threads": threads, "seconds": seconds, "train_steps": trainSteps, "models": rows,
                       "peak_rss_mb": peak])
        } else {
            print(String(format: "peak memory (max RSS): %.0f MB", peak))
        }
    }
}
