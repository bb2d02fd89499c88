import Foundation

public enum Benchmarks {
    /// The machine's sgemm peak for C[m,n] = A[m,k] * B[n,k]^T (the engine's linear layout): the better of
    /// OpenBLAS's own threading over all cores and the engine's row split, best of `repeats` each.
    public static func sgemmPeakGFLOPS(m: Int, k: Int, n: Int, repeats: Int = 5) -> Double {
        let saved = BLAS.threads
        defer { BLAS.threads = saved }
        BLAS.threads = Engine.cores
        let blasThreaded = sgemmGFLOPS(m: m, k: k, n: n, repeats: repeats, split: false)
        BLAS.threads = 1
        return max(blasThreaded, sgemmGFLOPS(m: m, k: k, n: n, repeats: repeats, split: true))
    }

    static func sgemmGFLOPS(m: Int, k: Int, n: Int, repeats: Int, split: Bool) -> Double {
        var rng = SeededRandom(seed: 7)
        let a = rng.normals(m * k, std: 1), b = rng.normals(n * k, std: 1)
        var c = [Float](repeating: 0, count: m * n)
        var best = Double.infinity
        for _ in 0..<(repeats + 1) {
            let t0 = DispatchTime.now()
            c.withUnsafeMutableBufferPointer { cp in
                if split {
                    BLAS.parallelGemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: cp.baseAddress!, ldc: n)
                } else {
                    BLAS.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: cp.baseAddress!, ldc: n)
                }
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
        }
        return 2 * Double(m) * Double(n) * Double(k) / best / 1e9
    }
}
