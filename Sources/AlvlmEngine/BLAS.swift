import CBLAS
import Dispatch

/// Thin, typed wrappers over the CBLAS calls the engine uses, plus thread control.
/// Matrices are row-major; `W` in nn.Linear layout is [out, in].
public enum BLAS {
    /// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major.
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        Engine.singleThreadedBLAS
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Y[M,out] = X[M,in] * W[out,in]^T (+ bias broadcast over rows).
    public static func linear(
        _ x: UnsafePointer<Float>, rows m: Int, inFeatures: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
        into y: UnsafeMutablePointer<Float>
    ) {
        if let bias {
            for r in 0..<m { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        }
        parallelGemm(transB: true, m: m, n: outFeatures, k: inFeatures,
                     a: x, lda: inFeatures, b: weight, ldb: inFeatures,
                     beta: bias == nil ? 0 : 1, c: y, ldc: outFeatures)
    }

    /// A GEMM split by rows of C across the engine's cores, each part on one BLAS thread.
    /// With `BLAS.threads == 1` this keeps OpenBLAS's own worker threads (which spin between calls) out of
    /// the way of the engine's other parallel loops.
    public static func parallelGemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Parts of at least 64 rows; small products are not worth a thread.
        let parts = m * n * k < 1 << 21 ? 1 : min(Engine.cores, max(1, m / 64))
        if parts == 1 {
            gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = m * p / parts, hi = m * (p + 1) / parts
            // Rows lo..<hi of op(A): rows of A, or columns of A when transposed.
            gemm(transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha,
                 a: transA ? a + lo : a + lo * lda, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c + lo * ldc, ldc: ldc)
        }
    }

    /// Double-precision C = alpha · op(A) · op(B) + beta · C, row-major.
    public static func dgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        Engine.singleThreadedBLAS
        cblas_dgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The OpenBLAS kernel in use (e.g. "Haswell", "SkylakeX"): the CPU's own, or the one OPENBLAS_CORETYPE forced.
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's build description (version, DYNAMIC_ARCH, threading).
    public static var configuration: String { String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces) }

    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}

/// Plain triple-loop matrix product in double precision: the reference the fast kernels are tested against.
public func naiveMatmul(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    a: [Float], lda: Int, b: [Float], ldb: Int
) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(av) * Double(bv)
            }
            c[i * n + j] = Float(s)
        }
    }
    return c
}
