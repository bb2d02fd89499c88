import AlvlmEngine
import Foundation

/// A 2-D picture of a pool: the projection of its features on their first two principal components (PCA), in
/// double precision, deterministic (fixed start vectors; each component's sign set so that its largest entry is
/// positive). The map of the pool a teacher draws on the board.
public struct Projection: Sendable {
    /// [width] the mean the features are centred on, and [2, width] the two components.
    public let mean: [Double]
    public let components: [Double]
    /// The variance along each component, and in all directions (the covariance's trace).
    public let variances: [Double]
    public let totalVariance: Double
    public let width: Int

    /// PCA of `rows` x `width` features by power iteration on the covariance (with deflation).
    public init(_ x: [Float], rows n: Int, width d: Int, iterations: Int = 500) throws {
        guard n >= 2, d >= 2, x.count == n * d else { throw EngineError(.argument, "a map needs at least 2 samples of at least 2 dimensions") }
        width = d
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(x[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var cov = [Double](repeating: 0, count: d * d)
        var centred = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d { centred[j] = Double(x[i * d + j]) - mean[j] }
            for a in 0..<d where centred[a] != 0 { for b in a..<d { cov[a * d + b] += centred[a] * centred[b] } }
        }
        for a in 0..<d { for b in a..<d { cov[a * d + b] /= Double(n - 1); cov[b * d + a] = cov[a * d + b] } }
        totalVariance = max(1e-300, (0..<d).map { cov[$0 * d + $0] }.reduce(0, +))
        var components: [Double] = [], variances: [Double] = []
        var rng = SeededRandom(seed: 0x9CA)
        for _ in 0..<2 {
            var v = (0..<d).map { _ in Double(rng.next() % 1000) / 1000 + 0.5 }
            var lambda = 0.0
            for _ in 0..<iterations {
                var w = [Double](repeating: 0, count: d)
                for a in 0..<d { var s = 0.0; for b in 0..<d { s += cov[a * d + b] * v[b] }; w[a] = s }
                let norm = w.map { $0 * $0 }.reduce(0, +).squareRoot()
                guard norm > 0 else { break }
                lambda = norm
                v = w.map { $0 / norm }
            }
            if let top = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[top] < 0 { v = v.map { -$0 } }
            components += v; variances.append(lambda)
            // Deflate: remove this component's share of the covariance.
            for a in 0..<d { for b in 0..<d { cov[a * d + b] -= lambda * v[a] * v[b] } }
        }
        self.mean = mean; self.components = components; self.variances = variances
    }

    /// Coordinates (x, y) of rows of features in this projection.
    public func project(_ x: [Float], rows n: Int) -> (x: [Double], y: [Double]) {
        var px = [Double](repeating: 0, count: n), py = px
        for i in 0..<n {
            var a = 0.0, b = 0.0
            for j in 0..<width {
                let c = Double(x[i * width + j]) - mean[j]
                a += c * components[j]; b += c * components[width + j]
            }
            px[i] = a; py[i] = b
        }
        return (px, py)
    }
}
