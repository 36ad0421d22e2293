// Thin, shape-explicit wrappers over OpenBLAS sgemm for row-major matrices.
import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Row-major matrix products through OpenBLAS `cblas_sgemm`.
public enum BLAS {
    /// Sets OpenBLAS's thread count. Small products are ~10x slower threaded on this machine, so the
    /// model code calls this with 1 and parallelises across utterances instead.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The practical peak of this machine: GFLOP/s of a square `size` x `size` x `size` sgemm (2 size^3 FLOP per
    /// call) on the current OpenBLAS thread count, best of `repeats` calls after one warm-up. The yardstick that
    /// `synth bench` quotes every model's throughput against, measured in the same run.
    public static func sgemmPeak(size: Int = 1024, repeats: Int = 5) -> Double {
        let n = size
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n), b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        gemm(m: n, n: n, k: n, a: a, b: b, beta: 0, c: c)
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            gemm(m: n, n: n, k: n, a: a, b: b, beta: 0, c: c)
            clock_gettime(CLOCK_MONOTONIC, &t1)
            best = min(best, Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9)
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }

    /// C[m, n] = alpha * op(A) op(B) + beta * C, with op(A) [m, k], op(B) [k, n], all row-major.
    /// `lda`, `ldb`, `ldc` default to the natural row strides.
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if beta == 0 { for r in 0..<m { (c + r * (ldc ?? n)).update(repeating: 0, count: n) } }
            return
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(lda ?? (transA ? m : k)),
            b, Int32(ldb ?? (transB ? k : n)),
            beta, c, Int32(ldc ?? n))
    }
}
