// Fuzz target: NPY.parse, the .npy reader behind `synth vocode X.npy` and `synth render`.
import Audio
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        let a = try NPY.parse(input(data, size), path: "fuzz.npy")
        // What every caller relies on: 1 or 2 dimensions whose product is the number of values.
        precondition(a.shape.count == 1 || a.shape.count == 2, "rank \(a.shape.count)")
        precondition(a.shape.reduce(1, *) == a.data.count, "shape \(a.shape) for \(a.data.count) values")
        // `vocode` renders frames x hop_length samples (hop_length <= 65536).
        _ = a.shape[0].multipliedReportingOverflow(by: 65536)
    } catch let e as NPYError {
        checkOneLine(e, "NPY")
    } catch {
        fatalError("NPY: unexpected error type: \(error)")
    }
    return 0
}
