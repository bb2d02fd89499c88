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
        let d = c / heads
        var out = [Float](repeating: 0, count: batch * t * c)
        for b in 0..<batch {
            for h in 0..<heads {
                func q(_ i: Int, _ k: Int) -> Double { Double(qkv[(b * t + i) * 3 * c + h * d + k]) }
                func key(_ j: Int, _ k: Int) -> Double { Double(qkv[(b * t + j) * 3 * c + c + h * d + k]) }
                func v(_ j: Int, _ k: Int) -> Double { Double(qkv[(b * t + j) * 3 * c + 2 * c + h * d + k]) }
                for i in 0..<t {
                    let n = causal ? i + 1 : t
                    var scores = (0..<n).map { j in (0..<d).map { q(i, $0) * key(j, $0) }.reduce(0, +) / Double(d).squareRoot() }
                    let m = scores.max()!
                    scores = scores.map { exp($0 - m) }
                    let z = scores.reduce(0, +)
                    for k in 0..<d {
                        out[(b * t + i) * c + h * d + k] = Float((0..<n).map { scores[$0] / z * v($0, k) }.reduce(0, +))
                    }
                }
            }
        }
        return out
    }
}
