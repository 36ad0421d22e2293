// Fuzz target: SafeTensorsFile.parse, the weights reader of voices, music models and checkpoints.
import Foundation
import FuzzSupport
import NNCore

/// Seeds: files written by the library's own writer (two tensors with metadata; an empty one), into
/// `SYNTH_FUZZ_SEEDS` when `make fuzz` sets it.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    guard let seeds = seedFolder else { return 0 }
    let a: [Float] = [1, -2, 3.5, 0, 1e-3, 7], b: [Float] = [0.25]
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            try? SafeTensors.write([("layers.0.w", [2, 3], ap), ("b", [1], bp)], metadata: ["format": "synth"],
                                   to: seeds.appendingPathComponent("seed-two-tensors"))
        }
    }
    try? SafeTensors.write([], to: seeds.appendingPathComponent("seed-empty"))
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        let f = try SafeTensorsFile.parse(input(data, size), path: "fuzz.safetensors")
        var total = 0
        for (name, e) in f.entries {
            let floats = f.floats(name)
            precondition(floats.count == e.count && e.bytes.count == 4 * e.count, "tensor \(name)")
            total += floats.count
        }
        precondition(4 * total <= size, "\(total) floats from \(size) bytes")
        // A layout of what the file holds (dimensions > 0 only) checks and loads.
        var layout = ParameterLayout()
        for name in f.entries.keys.sorted() where f.entries[name]!.shape.allSatisfy({ $0 > 0 }) {
            layout.add(name, shape: f.entries[name]!.shape)
        }
        if layout.entries.count == f.entries.count, layout.count > 0 {
            let p = ParameterSet(layout: layout)
            try p.load(f)
        }
    } catch let e as TensorFileError {
        checkOneLine(e, "SafeTensors")
    } catch {
        fatalError("SafeTensors: unexpected error type: \(error)")
    }
    return 0
}
