import AlvlmEngine
import AlvlmKernels
import Foundation

/// How weighted k-means chooses its first centres. Dimensions: n rows of width d, K clusters, w the rows' weights,
/// D² a row's squared distance to the nearest centre (or candidate) chosen so far.
extension WeightedKMeans {
    public enum Seeding: String, CaseIterable, Sendable {
        /// scikit-learn's greedy k-means++: K draws ∝ w·D², each trying 2 + ⌊ln K⌋ candidates over every row:
        /// n·K·(2 + ln K) distances, as matrix-vector products (about K passes over the features).
        case greedy
        /// k-means|| (Bahmani et al., VLDB 2012), weighted, on a uniform sample of s = min(n, max(50,000, 16K)) rows:
        /// four rounds each take every sampled row independently with probability min(1, ℓ·w·D²/Σ w·D²), ℓ = K/2,
        /// so each round adds about K/2 candidates at once; then greedy k-means++ of K centres among the candidates,
        /// each weighted by the weight of the sampled rows nearest it. s·(about K/2 per round) distances as matrix
        /// products, then K·(about 2K)·(2 + ln K) for the greedy pass over the candidates; no rows × K matrix.
        case parallel
    }

    /// Rounds and oversampling factor (ℓ / K) of the parallel seeding, and its sample of rows: at least this many,
    /// and at least `sampledPerCluster` per cluster.
    static let parallelRounds = 4, oversampling = 0.5, sampledRows = 50_000, sampledPerCluster = 16

    /// Greedy weighted k-means++ of `k` centres (the fit's clusters by default) among the rows of x.
    func seed(_ x: FeatureRows, norms: [Float], w: [Double], k: Int? = nil, rng: inout SeededRandom) -> [Float] {
        let k = k ?? clusters, trials = 2 + Int(log(Double(k))), n = x.rows, d = x.width
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
        centres += x.row(first)
        var closest = Self.squaredDistances(x, norms: norms, centres: centres, m: 1)
        for _ in 1..<k {
            let candidates = draw((0..<n).map { w[$0] * Double(closest[$0]) }, trials)
            let cand = x.gathered(candidates)
            let dist = Self.squaredDistances(x, norms: norms, centres: cand, m: trials)
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

    /// k-means|| seeding (see `Seeding.parallel`). Falls back to the greedy seeding when the rounds find fewer than K
    /// candidates (a tiny pool, or the weight on fewer than K distinct rows).
    func parallelSeed(_ x: FeatureRows, norms: [Float], w: [Double], rng: inout SeededRandom,
                      cancel: CancellationToken?) throws -> [Float] {
        let n = x.rows, d = x.width
        let k = clusters, sample = max(Self.sampledRows, Self.sampledPerCluster * k)
        if n > sample {
            // The rounds run on a uniform sample (its rows in ascending order), with the sample's own weights.
            let rows = Array(rng.permutation(n).prefix(sample)).sorted()
            let xs = x.subset(rows)
            let ws = rows.map { w[$0] }
            guard ws.contains(where: { $0 > 0 }) else { return seed(x, norms: norms, w: w, rng: &rng) }
            return try parallelSeed(xs, norms: rows.map { norms[$0] }, w: ws, rng: &rng, cancel: cancel)
        }
        let ell = Self.oversampling * Double(k)
        var closest = [Float](repeating: .infinity, count: n), owner = [Int](repeating: 0, count: n)
        let total = w.reduce(0, +)
        var first = Int(rng.next() % UInt64(n))
        if total > 0 {
            let r = rng.uniform() * total
            var sum = 0.0
            for i in 0..<n { sum += w[i]; if sum > r { first = i; break } }
        }
        var chosen = [first], fresh = [first]
        for round in 0...Self.parallelRounds {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "k-means cancelled") }
            Self.nearestCandidates(x, norms: norms, candidates: fresh, firstIndex: chosen.count - fresh.count,
                                   closest: &closest, owner: &owner)
            if round == Self.parallelRounds { break }
            var potential = 0.0
            for i in 0..<n { potential += w[i] * Double(closest[i]) }
            guard potential > 0 else { break }
            fresh = []
            for i in 0..<n {
                let p = ell * w[i] * Double(closest[i]) / potential
                if rng.uniform() < p { fresh.append(i) }
            }
            chosen += fresh
        }
        guard chosen.count >= k else {
            cancel?.report("k-means: \(chosen.count) candidates are fewer than \(k) centres; greedy k-means++ over \(n) rows instead")
            return seed(x, norms: norms, w: w, rng: &rng)
        }
        cancel?.report("k-means: greedy k-means++ of \(k) centres among \(chosen.count) candidates")
        // Each candidate weighs what the rows nearest it weigh (itself included).
        var mass = [Double](repeating: 0, count: chosen.count)
        for i in 0..<n { mass[owner[i]] += w[i] }
        let candidates = FeatureRows(floats: x.gathered(chosen), width: d)
        return seed(candidates, norms: chosen.map { norms[$0] }, w: mass, k: k, rng: &rng)
    }

    /// Updates each row's squared distance to its nearest candidate and that candidate's number (`firstIndex` + its
    /// place in `candidates`) with the rows `candidates`, in blocks of rows (ties keep the earlier candidate).
    static func nearestCandidates(_ x: FeatureRows, norms: [Float], candidates: [Int], firstIndex: Int,
                                  closest: inout [Float], owner: inout [Int]) {
        let m = candidates.count, n = x.rows, d = x.width
        guard m > 0 else { return }
        let packed = x.gathered(candidates)
        let cn = candidates.map { norms[$0] }
        let block = max(1, min(4096, (1 << 22) / m))
        closest.withUnsafeMutableBufferPointer { dp in
        owner.withUnsafeMutableBufferPointer { op in
        packed.withUnsafeBufferPointer { cp in
            let dBase = dp.baseAddress!, oBase = op.baseAddress!
            Parallel.chunks((n + block - 1) / block) { _, range in
                var g = [Float](repeating: 0, count: block * m)
                for b in range {
                    let r0 = b * block, rn = min(block, n - r0)
                    g.withUnsafeMutableBufferPointer { gp in
                        x.withRows(r0, rn) {
                            Products.rows($0, count: rn, cp.baseAddress!, count: m, width: d, scale: -2, into: gp.baseAddress!, cores: 1)
                        }
                    }
                    for t in 0..<rn {
                        let i = r0 + t
                        for c in 0..<m {
                            let v = max(0, g[t * m + c] + norms[i] + cn[c])
                            if v < dBase[i] { dBase[i] = v; oBase[i] = firstIndex + c }
                        }
                    }
                }
            }
        }}}
    }
}
