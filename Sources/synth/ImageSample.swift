// `synth image sample`: draws digits from a PixelCNN, pixel by pixel in raster order, into a PNG grid.
import AREngine
import ArgumentParser
import Foundation
import Image

struct ImageSample: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample", abstract: "Sample digits from a PixelCNN into a PNG grid.")
    @OptionGroup var modelOption: ImageModelOption
    func run() throws {}
}
