// Hyper-parameters of the gated PixelCNN as stored in a model's config.json (snake_case keys), and the image errors.
import AREngine
import AtomicIO
import Foundation
import NNCore

/// Errors of the image family: a config value out of range, a model asked for a digit it was not trained on.
/// Problems with an image CSV are `TableError`s ("FILE:LINE: reason"). Each description is the one line the CLI prints.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(file: String, reason: String)
    /// An image file with no images in it.
    case empty(path: String)
    /// `--digit` for a model without classes, or a class it does not have.
    case label(reason: String)

    public var description: String { MessageText.oneLine(text) }

    private var text: String {
        switch self {
        case .invalidConfig(let f, let r): return "\(f): invalid model config: \(r)"
        case .empty(let p): return "\(p): no images (a header naming p0...pN and label, then one image per line)"
        case .label(let r): return r
        }
    }
}

/// A gated PixelCNN over small grey-level images (`"model_type": "pixelcnn"`; van den Oord et al. 2016, "Conditional
/// Image Generation with PixelCNN Decoders"), class-conditional (`classes` > 0) or unconditional (`classes` 0).
///
/// Tokens: `0..<levels` are grey levels; `levels + c` starts an image of class `c` (one start token, `levels`, when
/// unconditional). An image is the sequence `[start, pixel 0, ..., pixel P-1]` in raster order.
public struct PixelCNNConfig: Codable, Equatable, Sendable {
    public var modelType: String = "pixelcnn"
    /// Image size in pixels.
    public var height: Int
    public var width: Int
    /// Grey levels per pixel (17 for the 8x8 digits, values 0...16).
    public var levels: Int
    /// Classes of the global conditioning (10 digits); 0 for an unconditional model.
    public var classes: Int
    /// Features per pixel in the vertical and horizontal stacks (C).
    public var channels: Int
    /// Gated layers (the first masked A, the rest B).
    public var layers: Int
    /// Odd width of the masked kernels.
    public var kernel: Int

    enum CodingKeys: String, CodingKey {
        case height, width, levels, classes, channels, layers, kernel
        case modelType = "model_type"
    }

    public init(height: Int = 8, width: Int = 8, levels: Int = 17, classes: Int = 10, channels: Int = 16, layers: Int = 8, kernel: Int = 3) {
        self.height = height
        self.width = width
        self.levels = levels
        self.classes = classes
        self.channels = channels
        self.layers = layers
        self.kernel = kernel
    }

    /// The stack's sizes.
    public var stack: PixelCNNShape {
        PixelCNNShape(height: height, width: width, channels: channels, layers: layers, kernel: kernel)
    }

    /// Pixels per image.
    public var pixels: Int { height * width }
    /// Grey levels and start tokens.
    public var vocabSize: Int { levels + max(classes, 1) }
    /// Floats of the generation cache per image: the stack's activations over one whole image.
    public var stateFloats: Int { pixels * channels * (10 * layers + 16) }

    /// Checks every field against its range and the totals against `ModelLimits`.
    /// - Throws: `ImageError.invalidConfig` naming the field and value.
    public func validate(file: String = "config.json") throws {
        func fail(_ r: String) -> ImageError { .invalidConfig(file: file, reason: r) }
        guard modelType == "pixelcnn" else { throw fail("model_type must be \"pixelcnn\", got \"\(modelType)\"") }
        for (name, v) in [("height", height), ("width", width)] where !(1...256).contains(v) {
            throw fail("\(name) must be in 1...256, got \(v)")
        }
        guard (2...256).contains(levels) else { throw fail("levels must be in 2...256, got \(levels)") }
        guard (0...1024).contains(classes) else { throw fail("classes must be in 0...1024, got \(classes)") }
        guard (1...1024).contains(channels) else { throw fail("channels must be in 1...1024, got \(channels)") }
        guard (1...64).contains(layers) else { throw fail("layers must be in 1...64, got \(layers)") }
        guard kernel >= 3, kernel <= 15, kernel % 2 == 1 else { throw fail("kernel must be odd, in 3...15, got \(kernel)") }
        let parameters = PixelCNNModel.layout(self).count
        guard parameters <= ModelLimits.maxParameters else {
            throw fail("the model would have \(parameters) parameters, more than the limit of \(ModelLimits.maxParameters)")
        }
        guard stateFloats <= ModelLimits.maxStateFloats else {
            throw fail("the generation cache would hold \(stateFloats) floats per image, more than the limit of \(ModelLimits.maxStateFloats)")
        }
    }
}

extension PixelCNNConfig: ModelConfiguration {}
