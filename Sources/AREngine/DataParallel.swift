// Data-parallel training (the Trainer over several processes): the collective operations it needs, the start-up
// agreement check and its errors. The MPI implementation lives in the Cluster module; the engine sees only this.
import Foundation

/// The collective operations data-parallel training needs, with MPI's semantics (MPI-4.0 standard, ch. 6): every
/// rank calls each operation, in the same order, with buffers of the same size; results are on every rank.
/// `SingleProcess` is the one-rank case (every operation a no-op); `Cluster.MPICommunicator` runs over Open MPI.
public protocol Communicator: AnyObject {
    /// This process's index, `0..<size`; rank 0 logs, validates and writes checkpoints.
    var rank: Int { get }
    /// Number of processes taking part.
    var size: Int { get }
    /// Element-wise sum over ranks, in place (`MPI_Allreduce`, `MPI_SUM`). - Throws: `DataParallelError.communication`.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Element-wise sum over ranks, in place. - Throws: `DataParallelError.communication`.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Element-wise maximum over ranks, in place. - Throws: `DataParallelError.communication`.
    func allreduceMax(_ buffer: UnsafeMutableBufferPointer<UInt64>) throws
    /// Copies rank `root`'s bytes into every rank's buffer (`MPI_Bcast`); sizes must agree.
    /// - Throws: `DataParallelError.communication`.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
}

/// One process, no communication: what `synth train` is without `mpirun`.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func allreduceMax(_ buffer: UnsafeMutableBufferPointer<UInt64>) throws {}
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
}

/// Errors of multi-process training; each is one line.
public enum DataParallelError: Error, CustomStringConvertible, Equatable {
    /// The ranks were started with different configs, options, data or binaries.
    case mismatch(rank: Int, ranks: Int)
    /// The global batch has fewer rows than there are ranks.
    case batchTooSmall(batch: Int, ranks: Int)
    /// The data cannot draw part of a batch (`TrainingData.batchRows` is 0).
    case notSplittable(ranks: Int)
    /// An MPI call failed (a rank died, the network went down).
    case communication(operation: String, rank: Int, ranks: Int, reason: String)

    public var description: String {
        switch self {
        case let .mismatch(rank, ranks):
            return "rank \(rank) of \(ranks): the ranks were started with different model configs, training flags, data or synth " +
                "binaries (their start-up hashes differ); start every rank with the same binary, flags and files"
        case let .batchTooSmall(batch, ranks):
            return "--batch \(batch) cannot be split over \(ranks) ranks; give a batch of at least \(ranks) (the global batch, split between the ranks)"
        case let .notSplittable(ranks):
            return "this model's training data cannot be split between ranks yet; run it on one process (it was started on \(ranks))"
        case let .communication(operation, rank, ranks, reason):
            return "rank \(rank) of \(ranks): \(operation) failed: \(reason) (did another rank die?)"
        }
    }
}

/// 64-bit FNV-1a (Fowler, Noll, Vo) over bytes: the start-up agreement hash. Not cryptographic: it catches
/// accidents (another binary, another manifest), not an adversary.
public struct Fingerprint: Equatable, Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func combine(_ data: Data) {
        var h = value
        data.withUnsafeBytes { raw in
            for byte in raw { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        }
        // The length too, so that ("ab", "c") and ("a", "bc") differ.
        for shift in stride(from: 0, to: 64, by: 8) { h = (h ^ UInt64((data.count >> shift) & 0xff)) &* 0x0000_0100_0000_01b3 }
        value = h
    }

    public mutating func combine(_ text: String) { combine(Data(text.utf8)) }
}

extension Communicator {
    /// Whether every rank holds the same `value` (one `MPI_MAX` allreduce over `[value, ~value]`).
    public func allAgree(on value: UInt64) throws -> Bool {
        var pair: [UInt64] = [value, ~value]
        try pair.withUnsafeMutableBufferPointer { try allreduceMax($0) }
        return pair[0] == ~pair[1]
    }

    /// Rank `root`'s array of `count` floats copied into `values` on every rank.
    func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) throws {
        try broadcast(UnsafeMutableRawBufferPointer(start: values, count: count * MemoryLayout<Float>.stride), root: root)
    }

    /// Rank `root`'s bytes on every rank (the length first, then the bytes).
    func broadcast(_ data: Data, root: Int = 0) throws -> Data {
        var length = UInt64(data.count)
        try withUnsafeMutableBytes(of: &length) { try broadcast($0, root: root) }
        var bytes = rank == root ? [UInt8](data) : [UInt8](repeating: 0, count: Int(length))
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
        return Data(bytes)
    }
}

/// The rows of a global batch of `batch` rows that `rank` of `ranks` computes: `rank * batch / ranks ..<
/// (rank + 1) * batch / ranks` (contiguous, sizes differing by at most one).
public func batchRows(rank: Int, of ranks: Int, batch: Int) -> Range<Int> {
    (rank * batch / ranks)..<((rank + 1) * batch / ranks)
}
