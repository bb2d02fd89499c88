import Foundation

public enum Benchmarks {
    /// Best-of-`repeats` sgemm throughput for C[m,n] = A[m,k] * B[n,k]^T (the engine's linear layout).
    public static func sgemmGFLOPS(m: Int, k: Int, n: Int, repeats: Int = 5) -> Double {
        var rng = SeededRandom(seed: 7)
        let a = rng.normals(m * k, std: 1), b = rng.normals(n * k, std: 1)
        var c = [Float](repeating: 0, count: m * n)
        var best = Double.infinity
        for _ in 0..<(repeats + 1) {
            let t0 = DispatchTime.now()
            c.withUnsafeMutableBufferPointer { cp in
                BLAS.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: cp.baseAddress!, ldc: n)
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
        }
        return 2 * Double(m) * Double(n) * Double(k) / best / 1e9
    }
}
