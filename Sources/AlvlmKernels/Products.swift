/// Matrix products outside the transformer, forward and backward side by side: the pairwise products of two sets of
/// rows (cosine logits, Gram blocks, squared distances) and plain products for graph propagation.
///
/// Dimensions: A [m, d] and B [n, d] are sets of rows of width d; S [m, n] their products; X [m, k] · Y [k, n].
/// Row-major throughout; results are written (not accumulated) unless a `beta` says otherwise.
public enum Products {
    /// S = scale · A Bᵀ into `s`, split across `cores` when large (1 inside a caller's own parallel workers).
    public static func rows(_ a: UnsafePointer<Float>, count m: Int, _ b: UnsafePointer<Float>, count n: Int, width d: Int,
                            scale: Float = 1, into s: UnsafeMutablePointer<Float>, cores: Int = Engine.cores) {
        BLAS.parallelGemm(transB: true, m: m, n: n, k: d, alpha: scale, a: a, lda: d, b: b, ldb: d, c: s, ldc: n, cores: cores)
    }

    /// S = scale · A Bᵀ [m, n], for rows held in arrays.
    public static func rows(_ a: [Float], _ b: [Float], width d: Int, scale: Float = 1) -> [Float] {
        let m = a.count / d, n = b.count / d
        precondition(a.count == m * d && b.count == n * d, "rows are not of width \(d)")
        var s = [Float](repeating: 0, count: m * n)
        s.withUnsafeMutableBufferPointer { rows(a, count: m, b, count: n, width: d, scale: scale, into: $0.baseAddress!) }
        return s
    }

    /// Backward of S = scale · A Bᵀ for dS [m, n]: dA = scale · dS B [m, d] and dB = scale · dSᵀ A [n, d], each
    /// only when asked for.
    public static func rowsBackward(_ ds: [Float], _ a: [Float], _ b: [Float], width d: Int, scale: Float = 1,
                                    inputs wanted: (a: Bool, b: Bool) = (true, true)) -> (da: [Float]?, db: [Float]?) {
        let m = a.count / d, n = b.count / d
        precondition(ds.count == m * n, "the products' gradient is not [\(m), \(n)]")
        var da: [Float]?, db: [Float]?
        if wanted.a {
            var g = [Float](repeating: 0, count: m * d)
            g.withUnsafeMutableBufferPointer { BLAS.parallelGemm(m: m, n: d, k: n, alpha: scale, a: ds, lda: n, b: b, ldb: d, c: $0.baseAddress!, ldc: d) }
            da = g
        }
        if wanted.b {
            var g = [Float](repeating: 0, count: n * d)
            g.withUnsafeMutableBufferPointer { BLAS.parallelGemm(transA: true, m: n, n: d, k: m, alpha: scale, a: ds, lda: n, b: a, ldb: d, c: $0.baseAddress!, ldc: d) }
            db = g
        }
        return (da, db)
    }

    /// S = scale · A Bᵀ [m, n] in double precision (the strategies' probabilities, as numpy computes them).
    public static func rows(_ a: [Double], _ b: [Double], width d: Int, scale: Double = 1) -> [Double] {
        let m = a.count / d, n = b.count / d
        precondition(a.count == m * d && b.count == n * d, "rows are not of width \(d)")
        var s = [Double](repeating: 0, count: m * n)
        s.withUnsafeMutableBufferPointer { BLAS.dgemm(transB: true, m: m, n: n, k: d, alpha: scale, a: a, lda: d, b: b, ldb: d, c: $0.baseAddress!, ldc: n) }
        return s
    }

    /// X Y [m, n] for X [m, k] and Y [k, n]; with `transposeX`, Xᵀ Y for X [k, m].
    public static func matmul(_ x: [Float], _ y: [Float], m: Int, k: Int, n: Int, transposeX: Bool = false) -> [Float] {
        precondition(x.count == m * k && y.count == k * n, "the factors are not [\(m), \(k)] and [\(k), \(n)]")
        var out = [Float](repeating: 0, count: m * n)
        out.withUnsafeMutableBufferPointer {
            BLAS.parallelGemm(transA: transposeX, m: m, n: n, k: k, a: x, lda: transposeX ? m : k, b: y, ldb: n, c: $0.baseAddress!, ldc: n)
        }
        return out
    }
}
