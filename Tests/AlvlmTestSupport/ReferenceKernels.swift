import AlvlmKernels
import Foundation

/// Plain, double-precision versions of the fast kernels: slow and obviously right, for tests.
public enum ReferenceKernels {
    public static func layerNorm(_ x: [Float], rows: Int, width c: Int, weight: [Float], bias: [Float], eps: Double) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let row = x[(r * c)..<(r * c + c)].map(Double.init)
            let mean = row.reduce(0, +) / Double(c)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c)
            for i in 0..<c { y[r * c + i] = Float((row[i] - mean) / (variance + eps).squareRoot() * Double(weight[i]) + Double(bias[i])) }
        }
        return y
    }

    public static func activation(_ x: Double, _ kind: Activation) -> Double {
        switch kind {
        case .quickGELU: return x / (1 + exp(-1.702 * x))
        case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        }
    }

    /// softmax(Q K^T / sqrt(d) + mask) V per head, from fused [batch*t, 3C] rows.
    public static func attention(_ qkv: [Float], batch: Int, tokens t: Int, width c: Int, heads: Int, causal: Bool) -> [Float] {
        attentionDouble(qkv.map(Double.init), batch: batch, tokens: t, width: c, heads: heads, causal: causal).map(Float.init)
    }
}

extension ReferenceKernels {
    public static func layerNormDouble(_ x: [Double], rows: Int, width c: Int, weight: [Double], bias: [Double], eps: Double) -> [Double] {
        var y = [Double](repeating: 0, count: x.count)
        for r in 0..<rows {
            let row = x[(r * c)..<(r * c + c)]
            let mean = row.reduce(0, +) / Double(c)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c)
            for i in 0..<c { y[r * c + i] = (x[r * c + i] - mean) / (variance + eps).squareRoot() * weight[i] + bias[i] }
        }
        return y
    }

    /// y = x Wᵀ + b with W [out, in].
    public static func linearDouble(_ x: [Double], rows: Int, inFeatures: Int, weight: [Double], bias: [Double]?, outFeatures: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * outFeatures)
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var s = bias?[o] ?? 0
                for i in 0..<inFeatures { s += x[r * inFeatures + i] * weight[o * inFeatures + i] }
                y[r * outFeatures + o] = s
            }
        }
        return y
    }

    public static func attentionDouble(_ qkv: [Double], batch: Int, tokens t: Int, width c: Int, heads: Int, causal: Bool) -> [Double] {
        let d = c / heads
        let scale = 1 / Double(d).squareRoot()
        var out = [Double](repeating: 0, count: batch * t * c)
        for b in 0..<batch {
            for h in 0..<heads {
                let q = { (i: Int, k: Int) -> Double in qkv[(b * t + i) * 3 * c + h * d + k] }
                let key = { (j: Int, k: Int) -> Double in qkv[(b * t + j) * 3 * c + c + h * d + k] }
                let v = { (j: Int, k: Int) -> Double in qkv[(b * t + j) * 3 * c + 2 * c + h * d + k] }
                for i in 0..<t {
                    let n = causal ? i + 1 : t
                    var scores = [Double](repeating: 0, count: n)
                    for j in 0..<n {
                        var dot = 0.0
                        for k in 0..<d { dot += q(i, k) * key(j, k) }
                        scores[j] = dot * scale
                    }
                    let m = scores.max()!
                    var z = 0.0
                    for j in 0..<n { scores[j] = exp(scores[j] - m); z += scores[j] }
                    for k in 0..<d {
                        var acc = 0.0
                        for j in 0..<n { acc += scores[j] / z * v(j, k) }
                        out[(b * t + i) * c + h * d + k] = acc
                    }
                }
            }
        }
        return out
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
