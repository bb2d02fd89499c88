import Foundation

/// The losses' shared pieces, forward and backward side by side: L2 normalisation of rows and softmax
/// cross-entropy with its fused gradient. CoOp, CLIP's contrastive loss and the linear probe all use these.
///
/// Dimensions: n rows of width d (features) or of c classes (logits).
public enum L2Normalization {
    /// Rows scaled to unit L2 norm, and each row's norm (zero rows stay zero).
    public static func forward(_ x: [Float], width d: Int) -> (unit: [Float], norms: [Float]) {
        var out = x
        var norms = [Float](repeating: 0, count: x.count / max(1, d))
        for r in norms.indices {
            var s: Float = 0
            for i in 0..<d { s += x[r * d + i] * x[r * d + i] }
            norms[r] = s.squareRoot()
            let inv = s > 0 ? 1 / norms[r] : 0
            for i in 0..<d { out[r * d + i] *= inv }
        }
        return (out, norms)
    }

    /// dx = (dx̂ − x̂ (x̂ · dx̂)) / ‖x‖ per row, for x̂ = x / ‖x‖ (zero rows get zero gradient).
    public static func backward(_ dunit: [Float], unit: [Float], norms: [Float], width d: Int) -> [Float] {
        var out = dunit
        for r in norms.indices {
            guard norms[r] > 0 else { for i in 0..<d { out[r * d + i] = 0 }; continue }
            var dot: Float = 0
            for i in 0..<d { dot += unit[r * d + i] * dunit[r * d + i] }
            for i in 0..<d { out[r * d + i] = (dunit[r * d + i] - unit[r * d + i] * dot) / norms[r] }
        }
        return out
    }
}

/// Rows scaled to unit L2 norm (zero rows stay zero).
public func normalizedRows(_ x: [Float], width: Int) -> [Float] { L2Normalization.forward(x, width: width).unit }

/// 1 / ‖row‖ (0 for a zero row), summed in order: what `normalizeRows` multiplies a row by.
@inline(__always)
public func inverseNorm(_ row: UnsafePointer<Float>, width d: Int) -> Float {
    var s: Float = 0
    for i in 0..<d { s += row[i] * row[i] }
    return s > 0 ? 1 / s.squareRoot() : 0
}

/// `normalizedRows` in place, rows split over the cores (the same arithmetic per row, so the same bits): a large
/// matrix is not held twice.
public func normalizeRows(_ x: inout [Float], width d: Int) {
    x.withUnsafeMutableBufferPointer { xb in
        let base = xb.baseAddress!
        Parallel.chunks(xb.count / d, minimumPerChunk: 4096) { _, range in
            for r in range {
                let row = base + r * d, inv = inverseNorm(row, width: d)
                for i in 0..<d { row[i] *= inv }
            }
        }
    }
}

public enum SoftmaxCrossEntropy {
    /// Mean over rows of −Σ_k q_rk log softmax(logits_r)_k and its gradient (softmax − q) / rows, fused and in double
    /// precision. `targets(r)` is row r's target distribution as (class, weight) pairs: one (label, 1) for a label,
    /// several for soft or multi-positive targets.
    public static func evaluate<T: BinaryFloatingPoint>(_ logits: [T], rows n: Int, classes c: Int,
                                                        targets: (Int) -> [(Int, Double)]) -> (loss: Double, gradient: [T]) {
        precondition(logits.count == n * c, "logits are not [\(n), \(c)]")
        var loss = 0.0
        var gradient = [T](repeating: 0, count: n * c)
        var p = [Double](repeating: 0, count: c)
        for r in 0..<n {
            var m = -Double.infinity
            for k in 0..<c { p[k] = Double(logits[r * c + k]); m = max(m, p[k]) }
            var z = 0.0
            for k in 0..<c { p[k] = exp(p[k] - m); z += p[k] }
            let logZ = log(z) + m
            for k in 0..<c { p[k] /= z }
            for (k, q) in targets(r) where q != 0 {
                loss -= q * (Double(logits[r * c + k]) - logZ)
                p[k] -= q
            }
            for k in 0..<c { gradient[r * c + k] = T(p[k] / Double(n)) }
        }
        return (loss / Double(n), gradient)
    }

    /// With one label per row.
    public static func evaluate<T: BinaryFloatingPoint>(_ logits: [T], rows n: Int, classes c: Int, labels: [Int]) -> (loss: Double, gradient: [T]) {
        evaluate(logits, rows: n, classes: c) { [(labels[$0], 1)] }
    }
}
