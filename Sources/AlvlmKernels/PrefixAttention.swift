/// Causal multi-head attention over sequences that share their first tokens, forward and backward side by side.
///
/// Dimensions: P prefix rows (shared), B suffixes of S rows each, C width, H heads of d = C / H.
///   qkv   [P + B*S, 3C]   rows of (Q | K | V): the prefix's P rows, then each suffix's S rows
///   out   [P + B*S, C]
///   probs per head h: prefix [P, P] at h*P*P; suffix b [S, P + S] at H*P*P + (b*H + h) * S*(P + S)
/// Prefix row i attends to prefix rows 0...i; suffix row i of suffix b attends to all P prefix rows and to rows
/// 0...i of its own suffix. This equals `Kernels.attention` (causal) on the B full sequences [prefix; suffix b],
/// whose first P rows are identical, at a fraction of the cost; the tests compare the two.
/// Work is split over heads (each head writes its own d columns of every row), so no two workers write one value.
extension Kernels {
    public static func prefixAttention(
        qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        prefix p: Int, batch: Int, suffix s: Int, width c: Int, heads: Int,
        scratch: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>? = nil
    ) {
        let d = c / heads, w = p + s
        let scale = 1 / Float(d).squareRoot()
        let block = max(p * p, s * w)
        parallelChunksIndexed(heads) { worker, range in
            for h in range {
                // The prefix on its own: ordinary causal attention of one sequence.
                let pp = probs.map { $0 + h * p * p } ?? scratch + worker * block
                let q = qkv + h * d, k = q + c, v = q + 2 * c
                BLAS.gemm(transB: true, m: p, n: p, k: d, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c, c: pp, ldc: p)
                for i in 0..<p { VectorMath.softmaxRow(pp + i * p, count: i + 1, width: p) }
                BLAS.gemm(m: p, n: d, k: p, a: pp, lda: p, b: v, ldb: 3 * c, c: out + h * d, ldc: c)
                // Each suffix: scores against the prefix's keys (columns 0..<P) and its own (P..<P+S).
                for b in 0..<batch {
                    let ps = probs.map { $0 + heads * p * p + (b * heads + h) * s * w } ?? scratch + worker * block
                    let qs = qkv + (p + b * s) * 3 * c + h * d, ks = qs + c, vs = qs + 2 * c
                    BLAS.gemm(transB: true, m: s, n: p, k: d, alpha: scale, a: qs, lda: 3 * c, b: k, ldb: 3 * c, c: ps, ldc: w)
                    BLAS.gemm(transB: true, m: s, n: s, k: d, alpha: scale, a: qs, lda: 3 * c, b: ks, ldb: 3 * c, c: ps + p, ldc: w)
                    for i in 0..<s { VectorMath.softmaxRow(ps + i * w, count: p + i + 1, width: w) }
                    let o = out + (p + b * s) * c + h * d
                    BLAS.gemm(m: s, n: d, k: p, a: ps, lda: w, b: v, ldb: 3 * c, c: o, ldc: c)
                    BLAS.gemm(m: s, n: d, k: s, a: ps + p, lda: w, b: vs, ldb: 3 * c, beta: 1, c: o, ldc: c)
                }
            }
        }
    }

    /// Input gradient of `prefixAttention` from the saved qkv and probabilities (dqkv is written, not accumulated).
    /// Per block, as in `attentionBackward`: dV = Pᵀ dO; dP = dO Vᵀ; dS = P ⊙ (dP − rowsum(dP ⊙ P)); dQ = scale dS K;
    /// dK = scale dSᵀ Q. The prefix's K and V also receive every suffix's share.
    public static func prefixAttentionBackward(
        dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>,
        dqkv: UnsafeMutablePointer<Float>, prefix p: Int, batch: Int, suffix s: Int, width c: Int, heads: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let d = c / heads, w = p + s
        let scale = 1 / Float(d).squareRoot()
        let block = max(p * p, s * w)
        func softmaxBackward(_ pr: UnsafePointer<Float>, _ ds: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
            for i in 0..<rows {
                let prow = pr + i * width, drow = ds + i * width
                var dot: Float = 0
                for j in 0..<width { dot += prow[j] * drow[j] }
                for j in 0..<width { drow[j] = prow[j] * (drow[j] - dot) }
            }
        }
        parallelChunksIndexed(heads) { worker, range in
            let ds = scratch + worker * block
            for h in range {
                let q = qkv + h * d, k = q + c, v = q + 2 * c
                let dq = dqkv + h * d, dk = dq + c, dv = dq + 2 * c
                // The prefix's own attention (written first; the suffixes add to its dK and dV).
                let pp = probs + h * p * p, dO = dout + h * d
                BLAS.gemm(transA: true, m: p, n: d, k: p, a: pp, lda: p, b: dO, ldb: c, c: dv, ldc: 3 * c)
                BLAS.gemm(transB: true, m: p, n: p, k: d, a: dO, lda: c, b: v, ldb: 3 * c, c: ds, ldc: p)
                softmaxBackward(pp, ds, rows: p, width: p)
                BLAS.gemm(m: p, n: d, k: p, alpha: scale, a: ds, lda: p, b: k, ldb: 3 * c, c: dq, ldc: 3 * c)
                BLAS.gemm(transA: true, m: p, n: d, k: p, alpha: scale, a: ds, lda: p, b: q, ldb: 3 * c, c: dk, ldc: 3 * c)
                for b in 0..<batch {
                    let ps = probs + heads * p * p + (b * heads + h) * s * w
                    let row = (p + b * s) * 3 * c + h * d
                    let qs = qkv + row, ks = qs + c, vs = qs + 2 * c
                    let dqs = dqkv + row, dks = dqs + c, dvs = dqs + 2 * c
                    let dOs = dout + (p + b * s) * c + h * d
                    // dV: the suffix's own rows, and the prefix's share.
                    BLAS.gemm(transA: true, m: s, n: d, k: s, a: ps + p, lda: w, b: dOs, ldb: c, c: dvs, ldc: 3 * c)
                    BLAS.gemm(transA: true, m: p, n: d, k: s, a: ps, lda: w, b: dOs, ldb: c, beta: 1, c: dv, ldc: 3 * c)
                    // dP against [V_prefix; V_suffix], then dS in place.
                    BLAS.gemm(transB: true, m: s, n: p, k: d, a: dOs, lda: c, b: v, ldb: 3 * c, c: ds, ldc: w)
                    BLAS.gemm(transB: true, m: s, n: s, k: d, a: dOs, lda: c, b: vs, ldb: 3 * c, c: ds + p, ldc: w)
                    softmaxBackward(ps, ds, rows: s, width: w)
                    // dQ of the suffix from both key blocks; dK of the suffix, and the prefix's share.
                    BLAS.gemm(m: s, n: d, k: p, alpha: scale, a: ds, lda: w, b: k, ldb: 3 * c, c: dqs, ldc: 3 * c)
                    BLAS.gemm(m: s, n: d, k: s, alpha: scale, a: ds + p, lda: w, b: ks, ldb: 3 * c, beta: 1, c: dqs, ldc: 3 * c)
                    BLAS.gemm(transA: true, m: s, n: d, k: s, alpha: scale, a: ds + p, lda: w, b: qs, ldb: 3 * c, c: dks, ldc: 3 * c)
                    BLAS.gemm(transA: true, m: p, n: d, k: s, alpha: scale, a: ds, lda: w, b: qs, ldb: 3 * c, beta: 1, c: dk, ldc: 3 * c)
                }
            }
        }
    }
}
