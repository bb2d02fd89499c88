import AlvlmSettings
import Foundation

/// Per-token kernels of the transformer: layer norm, activations, softmax and attention.
/// Every fast kernel here has a plain counterpart in the test-support target's `ReferenceKernels` that tests compare against.
/// Rows are processed in parallel over the machine's cores where the work is large enough.
///
/// Dimensions: rows R (tokens of every sequence, row-major), width C; a linear layer maps `inFeatures` K to
/// `outFeatures` O with W [O, K] (nn.Linear layout) and b [O]; attention runs B sequences of T tokens with H heads
/// of d = C / H, qkv rows [R, 3C] holding Q | K | V, probabilities [B, H, T, T].

public enum Activation: String, Sendable {
    case quickGELU = "quick_gelu"
    case gelu = "gelu"
}

/// The engine's one parallel loop (every module's parallel work goes through it, so the core count is read in one
/// place: `Engine.cores`).
public enum Parallel {
    /// `count` items in contiguous chunks run concurrently, one per worker: at most `cores` workers (the engine's,
    /// unless a caller names another count) and at least `minimumPerChunk` items each. The body gets its worker
    /// index (0..<cores, for per-worker scratch) and range.
    public static func chunks(_ count: Int, minimumPerChunk: Int = 1, cores: Int = Engine.cores, _ body: (Int, Range<Int>) -> Void) {
        let workers = min(cores, max(1, count / max(1, minimumPerChunk)))
        if workers <= 1 { if count > 0 { body(0, 0..<count) }; return }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = count * w / workers, hi = count * (w + 1) / workers
            if lo < hi { body(w, lo..<hi) }
        }
    }

    /// `count` workers run concurrently, each told its index (for work the caller deals out itself).
    public static func workers(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 { if count == 1 { body(0) }; return }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}

@inline(__always)
public func parallelChunks(_ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    Parallel.chunks(count, minimumPerChunk: minimumPerChunk) { _, range in body(range) }
}

@inline(__always)
public func parallelChunksIndexed(_ count: Int, minimumPerChunk: Int = 1, _ body: (Int, Range<Int>) -> Void) {
    Parallel.chunks(count, minimumPerChunk: minimumPerChunk, body)
}

public enum Engine {
    /// Cores used by the engine's parallel loops and row-split GEMMs, fixed for the life of the process at the first
    /// read: what the host asked for with `configure(cores:)` before any work, else the settings' (the machine's, or
    /// ALVLM_CORES read once at start; the test script runs the numeric tests at 1 and 3 cores this way).
    public static let cores: Int = requestedCores ?? Settings.process.cores

    nonisolated(unsafe) private static var requestedCores: Int?

    /// Asks for `n` cores (clamped to 1...256); the host calls this once at start, before any parallel work.
    /// Returns false when the count was already fixed at another value (work has run, or another host chose first).
    @discardableResult
    public static func configure(cores n: Int) -> Bool {
        let n = min(256, max(1, n))
        requestedCores = n
        return cores == n
    }

    /// The engine parallelises GEMMs itself, one BLAS thread per part; every model touches this once. The first
    /// touch also lets OpenBLAS run the CPU's own kernel where it did not recognise the CPU (`BLAS.adoptCPUKernel`).
    public static let singleThreadedBLAS: Void = { BLAS.adoptCPUKernel(); BLAS.threads = 1 }()
}

public enum Kernels {
    /// y = (x - mean) * rstd * w + b per row of width `c`; optionally stores mean and rstd for backward.
    public static func layerNorm(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, width c: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
        mean: UnsafeMutablePointer<Float>? = nil, rstd: UnsafeMutablePointer<Float>? = nil
    ) {
        parallelChunks(rows, minimumPerChunk: 64) { range in
            for r in range {
                let xr = x + r * c, yr = y + r * c
                var s: Float = 0
                for i in 0..<c { s += xr[i] }
                let m = s / Float(c)
                var v: Float = 0
                for i in 0..<c { let d = xr[i] - m; v += d * d }
                let rs = 1 / (v / Float(c) + eps).squareRoot()
                for i in 0..<c { yr[i] = (xr[i] - m) * rs * weight[i] + bias[i] }
                mean?[r] = m
                rstd?[r] = rs
            }
        }
    }

    /// Backward of layer norm y = x̂ ⊙ w + b in one call, accumulated: dx += rstd (g − mean(g) − x̂ mean(g ⊙ x̂)) with
    /// g = w ⊙ dy; with the gradient pointers, also dw += Σ_rows dy ⊙ x̂ and db += Σ_rows dy.
    public static func layerNormBackward(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, rows: Int, width c: Int,
        weightGradient dw: UnsafeMutablePointer<Float>? = nil, biasGradient db: UnsafeMutablePointer<Float>? = nil
    ) {
        if let dw, let db {
            for r in 0..<rows {
                let xr = x + r * c, dyr = dy + r * c, m = mean[r], rs = rstd[r]
                for i in 0..<c {
                    dw[i] += dyr[i] * (xr[i] - m) * rs
                    db[i] += dyr[i]
                }
            }
        }
        parallelChunks(rows, minimumPerChunk: 64) { range in
            for r in range {
                let xr = x + r * c, dyr = dy + r * c, dxr = dx + r * c
                let m = mean[r], rs = rstd[r]
                var gMean: Float = 0, gxMean: Float = 0
                for i in 0..<c {
                    let g = weight[i] * dyr[i]
                    gMean += g
                    gxMean += g * (xr[i] - m) * rs
                }
                gMean /= Float(c); gxMean /= Float(c)
                for i in 0..<c {
                    let g = weight[i] * dyr[i], xhat = (xr[i] - m) * rs
                    dxr[i] += rs * (g - gMean - xhat * gxMean)
                }
            }
        }
    }

    /// y = x Wᵀ + b (W in nn.Linear layout [out, in], b broadcast over rows; nil: none) for x [rows, in], y [rows, out];
    /// with `accumulate`, added to y (a residual connection) instead of written.
    public static func linear(
        _ x: UnsafePointer<Float>, rows m: Int, inFeatures k: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        outFeatures o: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false
    ) {
        if let bias {
            for r in 0..<m {
                let yr = y + r * o
                if accumulate { for i in 0..<o { yr[i] += bias[i] } } else { yr.update(from: bias, count: o) }
            }
        }
        BLAS.parallelGemm(transB: true, m: m, n: o, k: k, a: x, lda: k, b: weight, ldb: k,
                          beta: bias == nil && !accumulate ? 0 : 1, c: y, ldc: o)
    }

    /// Backward of y = x Wᵀ + b (W in nn.Linear layout [out, in]) in one call: dx = dy W (written, or added with
    /// `accumulate`; nil: not needed); with the gradient pointers, dW += dyᵀ x (x needed then) and db += Σ_rows dy.
    public static func linearBackward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>, rows: Int, inFeatures k: Int, outFeatures o: Int,
        dx: UnsafeMutablePointer<Float>?, accumulate: Bool = false,
        weightGradient dw: UnsafeMutablePointer<Float>? = nil, biasGradient db: UnsafeMutablePointer<Float>? = nil
    ) {
        if let dw {
            guard let x else { preconditionFailure("a weight gradient needs the layer's input") }
            BLAS.parallelGemm(transA: true, m: o, n: k, k: rows, a: dy, lda: o, b: x, ldb: k, beta: 1, c: dw, ldc: k)
        }
        if let db {
            for r in 0..<rows {
                let dyr = dy + r * o
                for i in 0..<o { db[i] += dyr[i] }
            }
        }
        if let dx {
            BLAS.parallelGemm(m: rows, n: k, k: o, a: dy, lda: o, b: weight, ldb: k, beta: accumulate ? 1 : 0, c: dx, ldc: k)
        }
    }

    /// y = act(x) over `count` values (y may be x).
    public static func activate(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int, _ kind: Activation) {
        parallelChunks(count, minimumPerChunk: 1 << 15) { range in
            switch kind {
            case .quickGELU:
                VectorMath.quickGELU(x, y, range)
            case .gelu:
                for i in range { let v = x[i]; y[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
            }
        }
    }

    /// dy *= act'(x) in place, from the saved pre-activation x.
    public static func activateBackward(_ dy: UnsafeMutablePointer<Float>, preactivation x: UnsafePointer<Float>, count: Int, _ kind: Activation) {
        parallelChunks(count, minimumPerChunk: 1 << 15) { range in
            switch kind {
            case .quickGELU:
                VectorMath.quickGELUBackward(dy, x, range)
            case .gelu:
                for i in range {
                    let v = x[i]
                    dy[i] *= 0.5 * (1 + erff(v * 0.70710678118654752)) + v * expf(-0.5 * v * v) * 0.39894228040143268
                }
            }
        }
    }

    /// Multi-head self-attention for `batch` sequences of `tokens` tokens.
    /// qkv: [batch*tokens, 3C] rows of (Q | K | V); out: [batch*tokens, C].
    /// probs (optional, for backward): [batch, heads, tokens, tokens].
    public static func attention(
        qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        batch: Int, tokens t: Int, width c: Int, heads: Int, causal: Bool,
        scratch: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>? = nil
    ) {
        let d = c / heads
        let scale = 1 / Float(d).squareRoot()
        let pairs = batch * heads
        parallelChunksIndexed(pairs) { worker, range in
            // Each worker owns a t*t scratch block.
            for pair in range {
                let b = pair / heads, h = pair % heads
                let s = probs.map { $0 + pair * t * t } ?? scratch + worker * t * t
                let q = qkv + b * t * 3 * c + h * d
                let k = q + c, v = q + 2 * c
                BLAS.gemm(transB: true, m: t, n: t, k: d, alpha: scale,
                          a: q, lda: 3 * c, b: k, ldb: 3 * c, c: s, ldc: t)
                for i in 0..<t { VectorMath.softmaxRow(s + i * t, count: causal ? i + 1 : t, width: t) }
                BLAS.gemm(m: t, n: d, k: t, a: s, lda: t, b: v, ldb: 3 * c,
                          c: out + b * t * c + h * d, ldc: c)
            }
        }
    }

    /// Input gradient of attention, from the saved qkv and probabilities:
    /// dV = Pᵀ dO; dP = dO Vᵀ; dS = P ⊙ (dP − rowsum(dP ⊙ P)); dQ = scale dS K; dK = scale dSᵀ Q.
    /// dout: [batch*tokens, C]; dqkv (written): [batch*tokens, 3C]; scratch: [cores, tokens, tokens].
    public static func attentionBackward(
        dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>,
        dqkv: UnsafeMutablePointer<Float>, batch: Int, tokens t: Int, width c: Int, heads: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let d = c / heads
        let scale = 1 / Float(d).squareRoot()
        let pairs = batch * heads
        parallelChunksIndexed(pairs) { worker, range in
            let ds = scratch + worker * t * t
            for pair in range {
                let b = pair / heads, h = pair % heads
                let p = probs + pair * t * t
                let q = qkv + b * t * 3 * c + h * d, k = q + c, v = q + 2 * c
                let dq = dqkv + b * t * 3 * c + h * d, dk = dq + c, dv = dq + 2 * c
                let dO = dout + b * t * c + h * d
                // dV = Pᵀ dO
                BLAS.gemm(transA: true, m: t, n: d, k: t, a: p, lda: t, b: dO, ldb: c, c: dv, ldc: 3 * c)
                // dP = dO Vᵀ, then dS in place.
                BLAS.gemm(transB: true, m: t, n: t, k: d, a: dO, lda: c, b: v, ldb: 3 * c, c: ds, ldc: t)
                for i in 0..<t {
                    let pr = p + i * t, dr = ds + i * t
                    var dot: Float = 0
                    for j in 0..<t { dot += pr[j] * dr[j] }
                    for j in 0..<t { dr[j] = pr[j] * (dr[j] - dot) }
                }
                BLAS.gemm(m: t, n: d, k: t, alpha: scale, a: ds, lda: t, b: k, ldb: 3 * c, c: dq, ldc: 3 * c)
                BLAS.gemm(transA: true, m: t, n: d, k: t, alpha: scale, a: ds, lda: t, b: q, ldb: 3 * c, c: dk, ldc: 3 * c)
            }
        }
    }
}
