import AlvlmEngine
import Foundation

/// Sample-weighted k-means (the clustering core of CEC and of CLUE, Prabhu et al., ICCV 2021):
/// objective Σ w_i ‖x_i − μ_c(i)‖², seeded by greedy weighted k-means++ (as scikit-learn: candidates drawn
/// ∝ w·D², 2 + ⌊ln K⌋ local trials) or k-means|| (`Seeding`, in KMeansSeeding.swift), then Lloyd iterations with
/// weighted means until the centres move less than `tolerance` (relative to the data's mean per-feature variance,
/// as scikit-learn) or `maxIterations`.
///
/// With `Assignment.local`, steps after the first compare each row only with the centres near its own
/// (KMeansLocalAssignment.swift), and the fit also stops when a step lowers the cost by at most `tolerance` of it.
///
/// Lloyd's exact assignment step skips the search over all centres for a row whose bounds prove its centre
/// unchanged (Hamerly, SDM 2010): its distance to its own centre is at most half the distance from that centre to
/// the next one, or at most a lower bound on its distance to every other centre (the second-nearest distance of
/// its last full search, less the most any other centre has moved since). Only the other rows are searched, in
/// blocks, so no rows × centres matrix is ever held whole; late iterations, where few rows change, cost little.
public struct WeightedKMeans {
    public var clusters: Int
    public var maxIterations = 300
    public var tolerance = 1e-4
    public var seeding = Seeding.greedy
    public var assignment = Assignment.exact

    public struct Result {
        public var centres: [Float]      // [K, d]
        public var assignment: [Int]     // cluster of each row
        public var distances: [Float]    // each row's squared distance to its centre
        public var cost: Double          // Σ w_i ‖x_i − μ_c(i)‖²
        public var iterations: Int
        public var costs: [Double]       // after each iteration (non-increasing)
        /// Rows searched over every centre in each exact assignment step (the others kept their centre by the
        /// bounds); 0 for a local step.
        public var searched: [Int] = []
        public var seedingSeconds = 0.0
        public var report: Report { Report(seeding: seeding, assignment: assignmentMethod, iterations: iterations, cost: cost) }
        var seeding = Seeding.greedy
        var assignmentMethod = Assignment.exact
    }

    /// What a fit did, for benchmarks and explanations.
    public struct Report: Sendable {
        public var seeding: Seeding
        public var assignment: Assignment
        public var iterations: Int
        public var cost: Double
    }

    public init(clusters: Int) { self.clusters = clusters }

    public func fit(_ x: [Float], rows n: Int, width d: Int, weights: [Double]? = nil, rng: inout SeededRandom,
                    cancel: CancellationToken? = nil) throws -> Result {
        guard d > 0, x.count == n * d else { throw EngineError(.argument, "\(x.count) values are not [\(n), \(d)]") }
        return try fit(FeatureRows(x, width: d), weights: weights, rng: &rng, cancel: cancel)
    }

    /// The same, for rows held in any `FeatureStorage` (read a block or a gathered list of rows at a time).
    public func fit(_ x: FeatureRows, weights: [Double]? = nil, rng: inout SeededRandom, cancel: CancellationToken? = nil) throws -> Result {
        let k = clusters, n = x.rows, d = x.width
        guard k >= 1, k <= n else { throw EngineError(.argument, "cannot make \(k) clusters of \(n) samples") }
        let w = weights ?? [Double](repeating: 1, count: n)
        guard w.count == n, w.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw EngineError(.argument, "weights must be finite and non-negative, one per sample") }
        let totalWeight = w.reduce(0, +)
        let weightsUsed = totalWeight > 0 ? w : [Double](repeating: 1, count: n)
        let norms = Self.rowNorms(x)
        let seedingStart = DispatchTime.now()
        cancel?.report("k-means: seeding \(k) centres among \(n) rows (\(seeding.rawValue))")
        var centres = seeding == .greedy ? seed(x, norms: norms, w: weightsUsed, rng: &rng)
                                         : try parallelSeed(x, norms: norms, w: weightsUsed, rng: &rng, cancel: cancel)
        // Tolerance relative to the mean per-feature variance of the data (unweighted, like scikit-learn).
        // One pass in row order (a column at a time would stride across the whole matrix once per feature); each
        // feature's sums still run over the rows in order.
        var m = [Double](repeating: 0, count: d), m2 = [Double](repeating: 0, count: d)
        for r0 in stride(from: 0, to: n, by: Self.rowBlock) {
            let count = min(Self.rowBlock, n - r0)
            x.withRows(r0, count) { block in
                for t in 0..<count {
                    let row = block + t * d
                    for j in 0..<d { let v = Double(row[j]); m[j] += v; m2[j] += v * v }
                }
            }
        }
        var variance = 0.0
        for j in 0..<d { let mean = m[j] / Double(n); variance += m2[j] / Double(n) - mean * mean }
        let tol = tolerance * variance / Double(d)
        let seedingSeconds = Double(DispatchTime.now().uptimeNanoseconds - seedingStart.uptimeNanoseconds) / 1e9
        var costs: [Double] = []
        var iterations = 0
        var bounds = Bounds(rows: n)
        var moved = [Float](repeating: 0, count: k), searched: [Int] = []
        // One assignment step: exact (with the bounds), or local after the first.
        func step(_ first: Bool) -> ([Int], [Float]) {
            if assignment == .local && !first {
                defer { searched.append(0) }
                return assignLocal(x, norms: norms, centres: centres, k: k, current: bounds.assignment)
            }
            let result = assign(x, norms: norms, centres: centres, k: k, bounds: &bounds, moved: moved)
            searched.append(bounds.searched)
            return result
        }
        for it in 0..<maxIterations {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "k-means cancelled") }
            iterations = it + 1
            let (a, d2) = step(it == 0)
            bounds.assignment = a
            costs.append(zip(d2, weightsUsed).reduce(0) { $0 + Double($1.0) * $1.1 })
            cancel?.report("k-means: iteration \(it + 1) (\(assignment == .local && it > 0 ? "local" : "exact") step), weighted cost \(String(format: "%.6g", costs[it]))")
            // Local steps also stop once a step lowers the cost by at most `tolerance` of it (their late steps move
            // few rows between neighbouring clusters and barely change the cost).
            if assignment == .local, it >= 2, costs[it - 1] - costs[it] <= tolerance * costs[it - 1] { break }
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
                        for r0 in stride(from: range.lowerBound, to: range.upperBound, by: Self.rowBlock) {
                            let count = min(Self.rowBlock, range.upperBound - r0)
                            x.withRows(r0, count) { block in
                                for i in r0..<(r0 + count) {
                                    let wi = weightsUsed[i]
                                    guard wi > 0 else { continue }
                                    let c = a[i], w = Float(wi)
                                    mass[c] += wi
                                    let dst = sb.baseAddress! + c * d, src = block + (i - r0) * d
                                    for j in 0..<d { dst[j] += w * src[j] }
                                }
                            }
                        }
                    }
                    (ppBase + part).pointee = sums
                    (mpBase + part).pointee = mass
                }
            }}
            var shift = 0.0
            for c in 0..<k {
                moved[c] = 0
                let m = partialMass.reduce(0.0) { $0 + $1[c] }
                guard m > 0 else { continue }
                var step = 0.0
                for j in 0..<d {
                    let v = Float(Double(partial.reduce(Float(0)) { $0 + $1[c * d + j] }) / m)
                    step += Double((v - centres[c * d + j]) * (v - centres[c * d + j]))
                    centres[c * d + j] = v
                }
                shift += step
                moved[c] = Float(step.squareRoot())
            }
            if shift <= tol { break }
        }
        let (a, d2) = step(false)
        let cost = zip(d2, weightsUsed).reduce(0) { $0 + Double($1.0) * $1.1 }
        costs.append(cost)
        return Result(centres: centres, assignment: a, distances: d2, cost: cost, iterations: iterations, costs: costs, searched: searched,
                      seedingSeconds: seedingSeconds, seeding: seeding, assignmentMethod: assignment)
    }

    /// Rows a kernel reads at a time where it walks the rows in order.
    static let rowBlock = 256

    /// ‖x‖² of every row.
    static func rowNorms(_ x: FeatureRows) -> [Float] {
        let d = x.width
        var norms = [Float](repeating: 0, count: x.rows)
        norms.withUnsafeMutableBufferPointer { np in
            let out = np.baseAddress!
            x.forEachBlock(block: rowBlock) { r0, count, block in
                for t in 0..<count { var s: Float = 0; for j in 0..<d { s += block[t * d + j] * block[t * d + j] }; out[r0 + t] = s }
            }
        }
        return norms
    }

    /// Squared distances of every row to `m` centres, [n, m], by ‖x‖² + ‖c‖² − 2 x·c, a block of rows at a time.
    static func squaredDistances(_ x: FeatureRows, norms: [Float], centres: [Float], m: Int) -> [Float] {
        let n = x.rows, d = x.width
        var g = [Float](repeating: 0, count: n * m)
        var cn = [Float](repeating: 0, count: m)
        for c in 0..<m { var s: Float = 0; for j in 0..<d { s += centres[c * d + j] * centres[c * d + j] }; cn[c] = s }
        let block = max(rowBlock, (1 << 20) / max(1, m * d))
        g.withUnsafeMutableBufferPointer { gp in
        centres.withUnsafeBufferPointer { cp in
            let out = gp.baseAddress!
            x.forEachBlock(block: block) { r0, count, rows in
                Products.rows(rows, count: count, cp.baseAddress!, count: m, width: d, scale: -2, into: out + r0 * m, cores: 1)
                for i in r0..<(r0 + count) { for c in 0..<m { out[i * m + c] = max(0, out[i * m + c] + norms[i] + cn[c]) } }
            }
        }}
        return g
    }

    /// What the assignment step knows about each row between iterations: its centre, and a lower bound on its
    /// distance to every other centre (−∞: search it fully).
    struct Bounds {
        var assignment: [Int]
        var lower: [Float]
        /// Rows the last step searched fully.
        var searched = 0
        init(rows n: Int) { assignment = [Int](repeating: 0, count: n); lower = [Float](repeating: -.infinity, count: n) }
    }

    /// Nearest centre of every row (argmin_c ‖c‖² − 2 x·c, ties to the smaller index) and its squared distance, with
    /// the bounds of the last step: `moved` is how far each centre moved since `bounds` were last updated.
    func assign(_ x: FeatureRows, norms: [Float], centres: [Float], k: Int, bounds: inout Bounds, moved: [Float]) -> ([Int], [Float]) {
        let n = x.rows, d = x.width
        let cn = (0..<k).map { c in (0..<d).reduce(Float(0)) { $0 + centres[c * d + $1] * centres[c * d + $1] } }
        // Half the distance from each centre to its nearest other centre, and the largest moves.
        let half = Self.halfGaps(centres, k: k, d: d, norms: cn)
        var top = (value: Float(0), centre: -1), second = Float(0)
        for (c, m) in moved.enumerated() {
            if m > top.value { second = top.value; top = (m, c) } else if m > second { second = m }
        }
        var d2 = [Float](repeating: 0, count: n)
        var searched = [Bool](repeating: false, count: n)
        let a0 = bounds.assignment
        bounds.assignment.withUnsafeMutableBufferPointer { ap in
        bounds.lower.withUnsafeMutableBufferPointer { lp in
        d2.withUnsafeMutableBufferPointer { dp in
        searched.withUnsafeMutableBufferPointer { sp in
        centres.withUnsafeBufferPointer { cp in
            let aBase = ap.baseAddress!, lBase = lp.baseAddress!, dBase = dp.baseAddress!, sBase = sp.baseAddress!
            parallelRows(n) { range in
                for r0 in stride(from: range.lowerBound, to: range.upperBound, by: Self.rowBlock) {
                    let count = min(Self.rowBlock, range.upperBound - r0)
                    // A block whose bounds are all reset (the first step) is searched whole without being read here.
                    if (r0..<(r0 + count)).allSatisfy({ lBase[$0] == -.infinity }) {
                        for i in r0..<(r0 + count) { sBase[i] = true }
                        continue
                    }
                    x.withRows(r0, count) { block in
                        for i in r0..<(r0 + count) {
                            let c = a0[i]
                            // The bound drops by the most any other centre moved.
                            let lower = lBase[i] - (c == top.centre ? second : top.value)
                            lBase[i] = lower
                            guard lower > -.infinity else { sBase[i] = true; continue }
                            var dot: Float = 0
                            let xr = block + (i - r0) * d, cr = cp.baseAddress! + c * d
                            for j in 0..<d { dot += xr[j] * cr[j] }
                            let own = max(0, norms[i] + cn[c] - 2 * dot)
                            // A margin for float rounding: near a tie, search.
                            let distance = own.squareRoot() * (1 + 1e-4) + 1e-6
                            if distance < max(half[c], lower) { dBase[i] = own; aBase[i] = c } else { sBase[i] = true }
                        }
                    }
                }
            }
        }}}}}
        let rows = (0..<n).filter { searched[$0] }
        bounds.searched = rows.count
        search(x, rows: rows, norms: norms, centres: centres, centreNorms: cn, k: k, bounds: &bounds, d2: &d2)
        return (bounds.assignment, d2)
    }

    /// Searches `rows` over every centre, in blocks of rows: nearest centre, its squared distance, and the lower bound
    /// (the second-nearest distance).
    func search(_ x: FeatureRows, rows: [Int], norms: [Float], centres: [Float], centreNorms cn: [Float], k: Int,
                bounds: inout Bounds, d2: inout [Float]) {
        guard !rows.isEmpty else { return }
        let d = x.width
        let block = max(1, min(4096, (1 << 22) / max(1, k)))
        let blocks = (rows.count + block - 1) / block
        bounds.assignment.withUnsafeMutableBufferPointer { ap in
        bounds.lower.withUnsafeMutableBufferPointer { lp in
        d2.withUnsafeMutableBufferPointer { dp in
        centres.withUnsafeBufferPointer { cp in
            let aBase = ap.baseAddress!, lBase = lp.baseAddress!, dBase = dp.baseAddress!
            Parallel.chunks(blocks) { _, range in
                var packed = [Float](repeating: 0, count: block * d), g = [Float](repeating: 0, count: block * k)
                for b in range {
                    let r0 = b * block, rn = min(block, rows.count - r0)
                    packed.withUnsafeMutableBufferPointer { pp in
                        x.gather(rows[r0..<(r0 + rn)], into: pp.baseAddress!)
                        g.withUnsafeMutableBufferPointer {
                            Products.rows(pp.baseAddress!, count: rn, cp.baseAddress!, count: k, width: d, scale: -2, into: $0.baseAddress!, cores: 1)
                        }
                    }
                    for t in 0..<rn {
                        let i = rows[r0 + t], row = t * k
                        var best = 0, v = g[row] + cn[0], next = Float.infinity
                        for c in 1..<max(1, k) {
                            let u = g[row + c] + cn[c]
                            if u < v { next = v; v = u; best = c } else if u < next { next = u }
                        }
                        aBase[i] = best; dBase[i] = max(0, v + norms[i])
                        lBase[i] = k > 1 ? max(0, next + norms[i]).squareRoot() : .infinity
                    }
                }
            }
        }}}}
    }

    /// Half the distance from each centre to its nearest other centre (blocks of centres; +∞ for a single centre).
    static func halfGaps(_ centres: [Float], k: Int, d: Int, norms cn: [Float]) -> [Float] {
        guard k > 1 else { return [.infinity] }
        var half = [Float](repeating: .infinity, count: k)
        let block = max(1, min(k, (1 << 22) / k))
        half.withUnsafeMutableBufferPointer { hp in
        centres.withUnsafeBufferPointer { cp in
            let hBase = hp.baseAddress!
            Parallel.chunks((k + block - 1) / block) { _, range in
                var g = [Float](repeating: 0, count: block * k)
                for b in range {
                    let c0 = b * block, m = min(block, k - c0)
                    g.withUnsafeMutableBufferPointer {
                        Products.rows(cp.baseAddress! + c0 * d, count: m, cp.baseAddress!, count: k, width: d, scale: -2, into: $0.baseAddress!, cores: 1)
                    }
                    for t in 0..<m {
                        var nearest = Float.infinity
                        for c in 0..<k where c != c0 + t { nearest = min(nearest, g[t * k + c] + cn[c]) }
                        // Shrunk a little for float rounding, so the test never keeps a row it should not.
                        hBase[c0 + t] = 0.5 * max(0, nearest + cn[c0 + t]).squareRoot() * (1 - 1e-4)
                    }
                }
            }
        }}
        return half
    }

    func parallelRows(_ n: Int, _ body: (Range<Int>) -> Void) {
        Parallel.chunks(n, minimumPerChunk: 1024) { _, range in body(range) }
    }

    /// For each centre in order, the nearest row not yet taken (CLUE-style de-duplication; ties to the smaller row).
    /// Each centre's few nearest rows come from one blocked pass (no rows × centres matrix); a centre whose
    /// candidates were all taken by earlier centres is searched again over every row.
    public static func nearestRows(_ x: [Float], rows n: Int, width d: Int, centres: [Float], count k: Int) -> [Int] {
        nearestRows(FeatureRows(floats: x, width: d), centres: centres, count: k)
    }

    /// The same, for rows held in any `FeatureStorage`.
    public static func nearestRows(_ x: FeatureRows, centres: [Float], count k: Int) -> [Int] {
        let n = x.rows, d = x.width
        let norms = rowNorms(x)
        let keep = min(n, 16)
        let cn = (0..<k).map { c in (0..<d).reduce(Float(0)) { $0 + centres[c * d + $1] * centres[c * d + $1] } }
        // Per centre: its `keep` nearest rows by max(0, ‖x‖² + ‖c‖² − 2 x·c), the full search's distance.
        var nearest = [Int32](repeating: -1, count: k * keep), value = [Float](repeating: .infinity, count: k * keep)
        let block = max(1, min(n, (1 << 22) / max(1, k)))
        let blocks = (n + block - 1) / block
        nearest.withUnsafeMutableBufferPointer { np in
        value.withUnsafeMutableBufferPointer { vp in
        centres.withUnsafeBufferPointer { cp in
            let nBase = np.baseAddress!, vBase = vp.baseAddress!
            // Centres split over cores; each worker walks all row blocks for its centres.
            Parallel.chunks(k) { _, mine in
                var g = [Float](repeating: 0, count: block * mine.count)
                for b in 0..<blocks {
                    let r0 = b * block, rn = min(block, n - r0)
                    g.withUnsafeMutableBufferPointer { gp in
                        x.withRows(r0, rn) {
                            Products.rows(cp.baseAddress! + mine.lowerBound * d, count: mine.count, $0, count: rn, width: d,
                                          scale: -2, into: gp.baseAddress!, cores: 1)
                        }
                    }
                    for (t, c) in mine.enumerated() {
                        let ids = nBase + c * keep, vals = vBase + c * keep
                        for r in 0..<rn {
                            let v = max(0, g[t * rn + r] + norms[r0 + r] + cn[c])
                            if v >= vals[keep - 1] { continue }   // later rows lose ties
                            var pos = keep - 1
                            while pos > 0 && vals[pos - 1] > v { vals[pos] = vals[pos - 1]; ids[pos] = ids[pos - 1]; pos -= 1 }
                            vals[pos] = v; ids[pos] = Int32(r0 + r)
                        }
                    }
                }
            }
        }}}
        var taken = [Bool](repeating: false, count: n), out: [Int] = []
        for c in 0..<k {
            var best = (0..<keep).lazy.map { Int(nearest[c * keep + $0]) }.first { $0 >= 0 && !taken[$0] } ?? -1
            if best < 0 {
                // Every candidate was taken: search all rows for this centre.
                let dist = squaredDistances(x, norms: norms, centres: Array(centres[(c * d)..<((c + 1) * d)]), m: 1)
                for i in 0..<n where !taken[i] && (best < 0 || dist[i] < dist[best]) { best = i }
            }
            if best >= 0 { taken[best] = true; out.append(best) }
        }
        return out
    }
}
