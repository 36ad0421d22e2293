// `synth image sample`: draws digits from a PixelCNN, pixel by pixel in raster order, into a PNG grid.
import AREngine
import ArgumentParser
import AtomicIO
import Foundation
import Image
import Plot

struct ImageSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sample digits from a PixelCNN into a PNG grid.",
        discussion: """
            Each image is drawn one pixel at a time in raster order (row by row, left to right) through the shared generation loop, from the model's distribution over the 17 grey levels given the digit and the pixels so far (--temperature, --top-k, --top-p and --min-p shape it; the same --seed gives the same images). A class-conditional model needs --digit, or draws the digits 0...9 in turn with --digit any; an unconditional one takes no --digit. The grid is --count images, --columns wide (default: as square as possible), each pixel drawn as a --scale x --scale square, ink dark on white, written as PNG by cairo, atomically (- for standard output). The timing line on stderr gives images and pixels per second.
            """)

    @OptionGroup var modelOption: ImageModelOption
    @Option(help: ArgumentHelp("Digit to draw (0...9), or any for 0...9 in turn (default: none; a class-conditional model needs one).", valueName: "D|any"))
    var digit: String?
    @Option(parsing: .unconditional, help: "Images to draw (1...1024).")
    var count = 16
    @Option(parsing: .unconditional, help: "Images per row of the grid (0...1024; 0 = as square as possible).")
    var columns = 0
    @Option(parsing: .unconditional, help: "Screen pixels per image pixel (1...64).")
    var scale = 8
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Output PNG file, or - for standard output.", valueName: "OUT.png"))
    var output: String
    @Flag(help: "Also write the pixels as CSV (p0...p63, label) to OUT.png's name with .csv.")
    var csv = false
    @Flag(help: "Rerun the whole image for every pixel instead of using the cache (to measure what the cache saves; the same images, slower).")
    var noCache = false
    @OptionGroup var jsonOption: JSONOption

    func validate() throws {
        guard (1...1024).contains(count) else { throw ValidationError("--count must be in 1...1024, got \(count)") }
        guard (0...1024).contains(columns) else { throw ValidationError("--columns must be in 0...1024 (0 = as square as possible), got \(columns)") }
        guard (1...64).contains(scale) else { throw ValidationError("--scale must be in 1...64, got \(scale)") }
        if let digit, digit != "any", !(Int(digit).map { (0...9).contains($0) } ?? false) {
            throw ValidationError("--digit must be a digit in 0...9 or any, got '\(digit)'")
        }
        guard output == "-" || output.lowercased().hasSuffix(".png") else { throw ValidationError("-o: \(output) is not a .png file name") }
        guard !(csv && output == "-") else { throw ValidationError("--csv needs a file name for -o") }
        try checkOutputPath(output, option: "-o")
    }

    func run() throws {
        let model = try modelOption.load(), c = model.config
        var sampler = try sampling.makeSampler(folder: try modelOption.folder())
        // The class of each image: one digit, 0...9 in turn, or none (unconditional).
        let labels: [Int?]
        switch digit {
        case nil where c.classes > 0:
            throw ValidationError("the model \(modelOption.model) is class-conditional: give --digit 0...\(c.classes - 1) or --digit any")
        case nil: labels = [Int?](repeating: nil, count: count)
        case "any"?:
            guard c.classes > 0 else { throw ValidationError("the model \(modelOption.model) is unconditional: it takes no --digit") }
            labels = (0..<count).map { $0 % c.classes }
        case let d?:
            guard let l = Int(d), l < c.classes else {
                throw ValidationError(c.classes > 0 ? "--digit must be in 0...\(c.classes - 1) for the model \(modelOption.model), got \(d)"
                                                     : "the model \(modelOption.model) is unconditional: it takes no --digit")
            }
            labels = [Int?](repeating: l, count: count)
        }
        for l in Set(labels.compactMap { $0 }) { _ = try model.startToken(label: l) }
        let bar = ProgressLine("sampling", total: count * c.pixels, unit: "pixels", delay: 1)
        let start = Date()
        var images: [[Int]] = []
        for (i, l) in labels.enumerated() {
            images += try model.sample(count: 1, label: l, sampler: &sampler, cached: !noCache) { r in
                bar.update(ProgressReport(done: i * c.pixels + r.done, total: count * c.pixels, unit: r.unit))
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let what = (digit.map { $0 == "any" ? "digits 0-9" : "digit \($0)" } ?? "unconditional") + (noCache ? ", no cache" : "")
        let title = "\(what), seed \(sampling.seed), temperature \(sampler.temperature)"
        let png: Data
        do {
            png = try ImageGridFigure.png(images, height: c.height, width: c.width, maxLevel: c.levels - 1,
                                          columns: columns > 0 ? columns : nil, scale: scale, title: title)
        } catch { throw RuntimeError("\(error)") }
        try AtomicFile.write(png, to: outputURL(output))
        if csv {
            let header = (0..<c.pixels).map { "p\($0)" }.joined(separator: ",") + ",label\n"
            let rows = zip(images, labels).map { img, l in img.map(String.init).joined(separator: ",") + ",\(l.map(String.init) ?? "")\n" }
            try AtomicFile.write(Data((header + rows.joined()).utf8), to: URL(fileURLWithPath: (output as NSString).deletingPathExtension + ".csv"))
        }
        let shown = isStandardOutput(output) ? "- (standard output)" : output
        printErr(String(format: "wrote %@: %d images (%@) in %.2f s, %.1f images/s, %.0f pixels/s", shown, count, what, seconds,
                        Double(count) / max(seconds, 1e-9), Double(count * c.pixels) / max(seconds, 1e-9)))
        if jsonOption.json {
            printJSON(["command": "image sample", "output": output, "count": count, "digit": digit ?? NSNull(), "seed": sampling.seed,
                       "seconds": seconds, "images_per_second": Double(count) / max(seconds, 1e-9), "bytes": png.count])
        }
    }
}
