// The engine's `Communicator` over Open MPI (MPI_COMM_WORLD), for `mpirun -np N synth train` and `srun`.
import AREngine
import CMPI
import Foundation

/// The ranks of `MPI_COMM_WORLD` as an engine `Communicator`, created only when a launcher started this process.
/// MPI errors come back as `DataParallelError.communication` (`MPI_ERRORS_RETURN`), not as an abort inside Open MPI;
/// a rank that dies is reported by the launcher (`mpirun noticed that process rank 1 ... exited on signal 9`), which
/// then ends every rank.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int

    /// Whether an MPI launcher started this process: `mpirun`/`mpiexec` (Open MPI sets `OMPI_COMM_WORLD_SIZE`) or a
    /// PMI/PMIx launcher such as `srun --mpi=pmix` (`PMIX_RANK`, `PMI_RANK`). A process started any other way never
    /// initialises MPI, so a plain `synth train` runs exactly as a build without MPI would.
    public static var isLaunched: Bool {
        let env = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { env[$0] != nil }
    }

    /// The world communicator when launched by MPI (`MPI_Init` then), nil otherwise (`isLaunched`).
    /// - Throws: `DataParallelError.communication` if `MPI_Init` fails.
    public static func launched() throws -> MPICommunicator? {
        guard isLaunched else { return nil }
        return try MPICommunicator()
    }

    init() throws {
        if synth_mpi_initialized() == 0 {
            let rc = synth_mpi_init()
            guard rc == MPI_SUCCESS else {
                throw DataParallelError.communication(operation: "MPI_Init", rank: 0, ranks: 0, reason: Self.text(rc))
            }
        }
        _ = synth_mpi_errors_return()
        rank = Int(synth_mpi_rank())
        size = Int(synth_mpi_size())
    }

    static func text(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        synth_mpi_error_string(code, &buffer, Int32(buffer.count))
        let s = String(cString: buffer)
        return s.isEmpty ? "MPI error \(code)" : s
    }

    func check(_ rc: Int32, _ operation: String) throws {
        guard rc == MPI_SUCCESS else {
            throw DataParallelError.communication(operation: operation, rank: rank, ranks: size, reason: Self.text(rc))
        }
    }

    /// MPI counts are 32-bit: larger buffers go in chunks.
    static let chunk = Int(Int32.max) / 8

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress else { return }
        for start in stride(from: 0, to: buffer.count, by: Self.chunk) {
            try check(synth_mpi_allreduce_sum_float(base + start, Int32(min(Self.chunk, buffer.count - start))), "the gradient allreduce")
        }
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let base = buffer.baseAddress else { return }
        for start in stride(from: 0, to: buffer.count, by: Self.chunk) {
            try check(synth_mpi_allreduce_sum_double(base + start, Int32(min(Self.chunk, buffer.count - start))), "the loss allreduce")
        }
    }

    public func allreduceMax(_ buffer: UnsafeMutableBufferPointer<UInt64>) throws {
        guard let base = buffer.baseAddress else { return }
        for start in stride(from: 0, to: buffer.count, by: Self.chunk) {
            try check(synth_mpi_allreduce_max_uint64(base + start, Int32(min(Self.chunk, buffer.count - start))), "the start-up agreement check")
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let base = buffer.baseAddress else { return }
        for start in stride(from: 0, to: buffer.count, by: Self.chunk) {
            try check(synth_mpi_broadcast_bytes(base + start, Int32(min(Self.chunk, buffer.count - start)), Int32(root)),
                      "the broadcast of rank \(root)'s state")
        }
    }

    /// Waits for every rank (`MPI_Barrier`). - Throws: `DataParallelError.communication`.
    public func barrier() throws { try check(synth_mpi_barrier(), "the barrier") }

    /// Ends MPI (`MPI_Finalize`) after a run every rank finished.
    public func finalize() {
        if synth_mpi_finalized() == 0 { _ = synth_mpi_finalize() }
    }

    /// Ends every rank of the job with exit status `code` (`MPI_Abort`): what a rank that failed alone must do, so
    /// that the others do not wait for it in the next collective forever.
    public func abort(code: Int32) -> Never {
        _ = synth_mpi_abort(code)
        exit(code)
    }
}
