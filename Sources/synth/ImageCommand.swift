// `synth image`: the command group for the PixelCNN over small grey-level images (train, sample, eval).
import AREngine
import ArgumentParser
import Foundation
import Image

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Train, sample and evaluate a gated PixelCNN on 8x8 handwritten digits.",
        discussion: """
            Images are CSV rows: a header naming p0...p63 and label, then 64 grey levels in 0...16 in raster order (row by row) and the digit 0...9. The digits used below sit beside a checkout of this repository, in ../shared/data/images. Models are folders holding config.json ("model_type": "pixelcnn") and model.safetensors; the shipped one is voices/digits.

              synth image sample --digit 3 --count 64 -o grid.png
              synth image eval --train ../shared/data/images/digits.train.csv --data ../shared/data/images/digits.valid.csv
              synth image train --train ../shared/data/images/digits.train.csv --valid ../shared/data/images/digits.valid.csv --out runs/digits --shift --lr 3e-3
            """,
        subcommands: [ImageTrain.self, ImageSample.self, ImageEval.self]
    )
}

/// `--model`: the image model a command uses, by name or folder.
struct ImageModelOption: ParsableArguments {
    @Option(help: ArgumentHelp("Image model name (in voices/) or folder.", valueName: "NAME|DIR"))
    var model = "digits"

    /// The PixelCNN named by `--model`, loaded through the registry.
    /// - Throws: `ModelFolderError` for an unknown model or a folder of another kind, and the loading errors.
    func load() throws -> PixelCNNModel {
        try ModelRegistry.synth.load(PixelCNNModel.self, from: try ModelRegistry.synth.resolve(model, as: .imageModel), noun: "PixelCNN image model")
    }

    /// The folder `--model` names. - Throws: `ModelFolderError.unknownModel`.
    func folder() throws -> URL { try ModelRegistry.synth.resolve(model, as: .imageModel) }
}
