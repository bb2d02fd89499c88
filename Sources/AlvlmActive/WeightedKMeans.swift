import AlvlmEngine
import Foundation

/// Sample-weighted k-means (the clustering core of CEC and of CLUE, Prabhu et al., ICCV 2021):
/// objective Σ w_i ‖x_i − μ_c(i)‖², greedy weighted k-means++ seeding (as scikit-learn: candidates drawn
/// ∝ w·D², 2 + ⌊ln K⌋ local trials), then Lloyd iterations with weighted means until the centres move less
/// than `tolerance` (relative to the data's mean per-feature variance, as scikit-learn) or `maxIterations`.
public struct WeightedKMeans {
    public var clusters: Int
    public var maxIterations = 300
    public var tolerance = 1e-4

    public struct Result {
        public var centres: [Float]      // [K, d]
        public var assignment: [Int]     // cluster of each row
        public var cost: Double          // Σ w_i ‖x_i − μ_c(i)‖²
        public var iterations: Int
        public var costs: [Double]       // after each iteration (non-increasing)
    }

    public init(clusters: Int) { self.clusters = clusters }

    public func fit(_ x: [Float], rows n: Int, width d: Int, weights: [Double]? = nil, rng: inout SeededRandom,
                    cancel: CancellationToken? = nil) throws -> Result {
        let k = clusters
        guard k >= 1, k <= n else { throw EngineError(.argument, "cannot make \(k) clusters of \(n) samples") }
        let w = weights ?? [Double](repeating: 1, count: n)
        guard w.count == n, w.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw EngineError(.argument, "weights must be finite and non-negative, one per sample") }
        let totalWeight = w.reduce(0, +)
        let weightsUsed = totalWeight > 0 ? w : [Double](repeating: 1, count: n)
        let norms = rowNorms(x, n: n, d: d)
        var centres = seed(x, n: n, d: d, norms: norms, w: weightsUsed, rng: &rng)
        // Tolerance relative to the mean per-feature variance of the data (unweighted, like scikit-learn).
        var variance = 0.0
        for j in 0..<d {
            var m = 0.0, m2 = 0.0
            for i in 0..<n { let v = Double(x[i * d + j]); m += v; m2 += v * v }
            m /= Double(n); variance += m2 / Double(n) - m * m
        }
        let tol = tolerance * variance / Double(d)
        var costs: [Double] = []
        var iterations = 0
        for it in 0..<maxIterations {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "k-means cancelled") }
            iterations = it + 1
            let (a, d2) = assign(x, n: n, d: d, norms: norms, centres: centres, k: k)
            costs.append(zip(d2, weightsUsed).reduce(0) { $0 + Double($1.0) * $1.1 })
            // Weighted means (per-core partial sums); an empty (or weightless) cluster keeps its centre.
            let parts = Engine.cores
            var partial = [[Float]](repeating: [Float](repeating: 0, count: k * d), count: parts)
            var partialMass = [[Double]](repeating: [Double](repeating: 0, count: k), count: parts)
            partial.withUnsafeMutableBufferPointer { pp in
            partialMass.withUnsafeMutableBufferPointer { mp in
                let ppBase = pp.baseAddress!, mpBase = mp.baseAddress!
                Parallel.chunks(n) { part, range in
                    var sums = [Float](repeating: 0, count: k * d), mass = [Double](repeating: 0, count: k)
                    sums.withUnsafeMutableBufferPointer { sb in
                        x.withUnsafeBufferPointer { xb in
                            for i in range {
                                let wi = weightsUsed[i]
                                guard wi > 0 else { continue }
                                let c = a[i], w = Float(wi)
                                mass[c] += wi
                                let dst = sb.baseAddress! + c * d, src = xb.baseAddress! + i * d
                                for j in 0..<d { dst[j] += w * src[j] }
                            }
                        }
                    }
                    (ppBase + part).pointee = sums
                    (mpBase + part).pointee = mass
                }
            }}
            var shift = 0.0
            for c in 0..<k {
                let m = partialMass.reduce(0.0) { $0 + $1[c] }
                guard m > 0 else { continue }
                for j in 0..<d {
                    let v = Float(Double(partial.reduce(Float(0)) { $0 + $1[c * d + j] }) / m)
                    shift += Double((v - centres[c * d + j]) * (v - centres[c * d + j]))
                    centres[c * d + j] = v
                }
            }
            if shift <= tol { break }
        }
        let (a, d2) = assign(x, n: n, d: d, norms: norms, centres: centres, k: k)
        let cost = zip(d2, weightsUsed).reduce(0) { $0 + Double($1.0) * $1.1 }
        costs.append(cost)
        return Result(centres: centres, assignment: a, cost: cost, iterations: iterations, costs: costs)
    }

    func rowNorms(_ x: [Float], n: Int, d: Int) -> [Float] {
        (0..<n).map { i in var s: Float = 0; for j in 0..<d { s += x[i * d + j] * x[i * d + j] }; return s }
    }

    /// Squared distances of every row to `m` centres, [n, m], by ‖x‖² + ‖c‖² − 2 x·c.
    static func squaredDistances(_ x: [Float], n: Int, d: Int, norms: [Float], centres: [Float], m: Int) -> [Float] {
        var g = Products.rows(x, centres, width: d, scale: -2)
        var cn = [Float](repeating: 0, count: m)
        for c in 0..<m { var s: Float = 0; for j in 0..<d { s += centres[c * d + j] * centres[c * d + j] }; cn[c] = s }
        for i in 0..<n { for c in 0..<m { g[i * m + c] = max(0, g[i * m + c] + norms[i] + cn[c]) } }
        return g
    }

    /// Nearest centre of every row and its squared distance: argmin_c (‖c‖² − 2 x·c), rows split over cores.
    func assign(_ x: [Float], n: Int, d: Int, norms: [Float], centres: [Float], k: Int) -> ([Int], [Float]) {
        let g = Products.rows(x, centres, width: d, scale: -2)
        var cn = [Float](repeating: 0, count: k)
        for c in 0..<k { var s: Float = 0; for j in 0..<d { s += centres[c * d + j] * centres[c * d + j] }; cn[c] = s }
        var a = [Int](repeating: 0, count: n), best = [Float](repeating: 0, count: n)
        a.withUnsafeMutableBufferPointer { ap in
        best.withUnsafeMutableBufferPointer { bp in
            let aBase = ap.baseAddress!, bBase = bp.baseAddress!
            g.withUnsafeBufferPointer { gb in
                parallelRows(n) { range in
                    for i in range {
                        let row = gb.baseAddress! + i * k
                        var b = 0, v = row[0] + cn[0]
                        for c in 1..<max(1, k) { let t = row[c] + cn[c]; if t < v { v = t; b = c } }
                        aBase[i] = b; bBase[i] = max(0, v + norms[i])
                    }
                }
            }
        }}
        return (a, best)
    }

    func parallelRows(_ n: Int, _ body: (Range<Int>) -> Void) {
        Parallel.chunks(n, minimumPerChunk: 1024) { _, range in body(range) }
    }

    /// Greedy weighted k-means++.
    func seed(_ x: [Float], n: Int, d: Int, norms: [Float], w: [Double], rng: inout SeededRandom) -> [Float] {
        let k = clusters, trials = 2 + Int(log(Double(k)))
        /// Draws `count` rows with probability ∝ mass (one prefix sum, then binary searches).
        func draw(_ mass: [Double], _ count: Int) -> [Int] {
            var prefix = [Double](repeating: 0, count: n)
            var total = 0.0
            for i in 0..<n { total += mass[i]; prefix[i] = total }
            return (0..<count).map { _ in
                guard total > 0 else { return Int(rng.next() % UInt64(n)) }
                let r = rng.uniform() * total
                var lo = 0, hi = n - 1
                while lo < hi { let mid = (lo + hi) / 2; if prefix[mid] > r { hi = mid } else { lo = mid + 1 } }
                return lo
            }
        }
        var centres: [Float] = []
        let first = draw(w, 1)[0]
        centres += x[(first * d)..<((first + 1) * d)]
        var closest = Self.squaredDistances(x, n: n, d: d, norms: norms, centres: centres, m: 1)
        for _ in 1..<k {
            let candidates = draw((0..<n).map { w[$0] * Double(closest[$0]) }, trials)
            let cand = candidates.flatMap { x[($0 * d)..<(($0 + 1) * d)] }
            let dist = Self.squaredDistances(x, n: n, d: d, norms: norms, centres: cand, m: trials)
            var bestTrial = 0, bestPotential = Double.infinity
            for t in 0..<trials {
                var potential = 0.0
                for i in 0..<n { potential += w[i] * Double(min(closest[i], dist[i * trials + t])) }
                if potential < bestPotential { bestPotential = potential; bestTrial = t }
            }
            centres += cand[(bestTrial * d)..<((bestTrial + 1) * d)]
            for i in 0..<n { closest[i] = min(closest[i], dist[i * trials + bestTrial]) }
        }
        return centres
    }

    /// For each centre in order, the nearest row not yet taken (CLUE-style de-duplication).
    public static func nearestRows(_ x: [Float], rows n: Int, width d: Int, centres: [Float], count k: Int) -> [Int] {
        let norms = (0..<n).map { i in (0..<d).reduce(Float(0)) { $0 + x[i * d + $1] * x[i * d + $1] } }
        let dist = squaredDistances(x, n: n, d: d, norms: norms, centres: centres, m: k)
        var taken = [Bool](repeating: false, count: n), out: [Int] = []
        for c in 0..<k {
            var best = -1
            for i in 0..<n where !taken[i] && (best < 0 || dist[i * k + c] < dist[best * k + c]) { best = i }
            if best >= 0 { taken[best] = true; out.append(best) }
        }
        return out
    }
}
