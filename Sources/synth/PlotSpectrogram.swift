// `synth plot spectrogram`: stacked spectrograms of one or more recordings, on the same scales, as PNG.
import ArgumentParser
import Audio
import DSP
import Foundation
import Plot

struct PlotSpectrogram: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spectrogram",
        abstract: "Draw the spectrograms of recordings, stacked, on the same scales, as PNG.",
        discussion: """
            Each input (any format libsndfile reads; mixed to mono, at its own sample rate; - for standard input) gets a panel: time in seconds across, frequency in Hz up, power in dB as colour (matplotlib's magma). The panels share every scale: the time axis runs to the end of the longest input, the frequency axis to the highest Nyquist frequency, and one colour bar spans --range dB below the loudest value of all inputs, so a vocoded file can be compared with its original at a glance. Short-time Fourier transform: periodic Hann window of --n-fft samples, centred frames, the hop chosen so that no input has more than about 2,400 frames.

            OUT.png is written atomically (- for standard output).
            """)

    @Argument(help: ArgumentHelp("Audio files to draw, top to bottom.", valueName: "IN"))
    var inputs: [String]

    @Option(name: .shortAndLong, help: ArgumentHelp("Output PNG file, or - for standard output.", valueName: "OUT.png"))
    var output: String

    @Option(parsing: .unconditional, help: ArgumentHelp("FFT size in samples (a power of two from 64 to 16384).", valueName: "N"))
    var nFFT = 1024

    @Option(parsing: .unconditional, help: ArgumentHelp("Colour scale: dB below the loudest value shown (10 to 200).", valueName: "DB"))
    var range: Double = 80

    @Option(parsing: .unconditional, help: ArgumentHelp("Width of the picture in pixels (400 to 4000).", valueName: "PIXELS"))
    var width = 1200

    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one input") }
        guard (64...16384).contains(nFFT), nFFT & (nFFT - 1) == 0 else { throw ValidationError("--n-fft must be a power of two in 64...16384, got \(nFFT)") }
        guard (10...200).contains(range) else { throw ValidationError("--range must be in 10...200 dB, got \(range)") }
        guard (400...4000).contains(width) else { throw ValidationError("--width must be in 400...4000, got \(width)") }
        guard output == "-" || output.lowercased().hasSuffix(".png") else { throw ValidationError("-o: \(output) is not a .png file name") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
        try checkOutputPath(output, option: "-o")
    }

    func run() throws {
        var panels: [SpectrogramPanel] = []
        var summaries: [[String: Any]] = []
        let bar = ProgressLine("analysing", total: inputs.count, unit: "files", delay: 1)
        for (i, input) in inputs.enumerated() {
            let source = try openInput(input)
            var samples: [Float] = [], rate = 0
            do {
                let stream = try MonoAudioStream(url: source.url, sampleRate: nil)
                rate = stream.fileRate
                while let block = try stream.next() { samples += block }
            } catch { throw RuntimeError(describe(error, input: input, spooled: source)) }
            let hop = max(nFFT / 4, Int((Double(samples.count) / 2400).rounded(.up)))
            let spec = try PowerSpectrogram(nFFT: nFFT, hopLength: hop)
            let db = spec.decibels(samples)
            let frames = spec.frameCount(for: samples.count), duration = Double(samples.count) / Double(rate)
            let name = input == "-" ? "standard input" : (input as NSString).lastPathComponent
            panels.append(SpectrogramPanel(title: String(format: "%@  (%d Hz, %.2f s)", name, rate, duration), duration: duration,
                                           maxFrequency: Double(rate) / 2, frames: frames, bins: nFFT / 2 + 1, decibels: db))
            summaries.append(["input": input, "sample_rate": rate, "seconds": duration, "frames": frames, "hop": hop,
                              "peak_db": Double(db.max() ?? 0)])
            bar.update(i + 1)
        }
        let png = try PlotSpectrogram.figure(panels, range: range, width: width)
        try AtomicFile.write(png, to: outputURL(output))
        let shown = isStandardOutput(output) ? "- (standard output)" : output
        printErr("wrote \(shown): \(panels.count) spectrogram(s), \(png.count) bytes")
        if jsonOption.json {
            printJSON(["command": "plot spectrogram", "output": output, "bytes": png.count, "range_db": range, "inputs": summaries])
        }
    }

    static func figure(_ panels: [SpectrogramPanel], range: Double, width: Int) throws -> Data {
        do { return try SpectrogramFigure.png(panels, dynamicRange: range, width: width) } catch { throw RuntimeError("\(error)") }
    }
}
