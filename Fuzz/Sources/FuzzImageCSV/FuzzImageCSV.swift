// Fuzz target: the image CSV reader (`ImageSet.read`, what `synth image train|eval` read) and the training data built
// from what it returns: token sequences for a PixelCNN of the file's size, shifted training batches, validation batches.
import AREngine
import Foundation
import FuzzSupport
import Image
import NNCore

/// A tiny class-conditional PixelCNN of the digits' size (8x8, 17 levels, 10 classes), made once.
let digitsModel = PixelCNNModel(config: PixelCNNConfig(height: 8, width: 8, levels: 17, classes: 10, channels: 2, layers: 1, kernel: 3))

/// Reads `file` as images of `height` x `width` with `levels` grey levels and `classes` labels and checks what it
/// returns: every pixel and label in range, one label per image; errors are one line.
func readChecked(_ file: URL, height: Int, width: Int, levels: Int, classes: Int) -> ImageSet? {
    do {
        let set = try ImageSet.read(file, height: height, width: width, levels: levels, classes: classes)
        precondition(set.count > 0 && set.labels.count == set.count, "images and labels")
        precondition(set.pixels.allSatisfy { $0.count == height * width && $0.allSatisfy { (0..<levels).contains($0) } }, "pixels")
        precondition(set.labels.allSatisfy { (0..<classes).contains($0) }, "labels")
        let prior = set.classPrior(classes: classes)
        precondition(prior.count == classes && abs(prior.reduce(0, +) - 1) < 1e-9, "class prior")
        return set
    } catch {
        checkOneLine(error, "ImageSet")
        return nil
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let file = folder(["images.csv": input(data, size)]).appendingPathComponent("images.csv")
    // The digits' geometry, as `synth image` reads it, then into the trainer's data as `synth image train` builds it.
    if let set = readChecked(file, height: 8, width: 8, levels: 17, classes: 10) {
        do {
            let data = try ImageTrainingData(model: digitsModel, train: set, valid: set, batchSize: 4, shift: true)
            var rng = Xoshiro256(seed: 1)
            for _ in 0..<2 {
                let batch = data.trainingBatch(rng: &rng)
                precondition(batch.tokens.allSatisfy { $0.count == 65 }, "training batch rows")
            }
            precondition(data.validationBatches().reduce(0) { $0 + $1.tokens.count } == set.count, "validation batches")
        } catch {
            fatalError("ImageTrainingData refused what ImageSet.read accepted: \(error)")
        }
    }
    // A small geometry too (p0...p3 and label), so that short headers reach the rows.
    _ = readChecked(file, height: 2, width: 2, levels: 3, classes: 2)
    return 0
}
