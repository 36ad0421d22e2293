// Thin, shape-explicit wrappers over OpenBLAS sgemm for row-major matrices.
import COpenBLAS

/// Row-major matrix products through OpenBLAS `cblas_sgemm`.
public enum BLAS {
    /// Sets OpenBLAS's thread count. Small products are ~10x slower threaded on this machine, so the
    /// model code calls this with 1 and parallelises across utterances instead.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

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
