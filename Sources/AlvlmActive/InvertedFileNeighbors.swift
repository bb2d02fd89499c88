import AlvlmEngine
import Foundation

/// Approximate k nearest neighbours by cosine similarity over unit rows, with an inverted-file index (IVF: Jégou,
/// Douze & Schmid, TPAMI 2011; faiss's IndexIVFFlat): a spherical k-means on a sample gives L coarse centres,
/// every row goes into the list of its nearest centre, and the rows of each list are scored exactly against the
/// rows of the P lists nearest to each of them. P is not a guess: it is the smallest count for which, on sampled
/// queries searched exactly, at least the target fraction of the true neighbours lies in a probed list.
///
/// Queries are searched in groups (the rows of one list) against the union of the group's probed lists, so no row
/// gets fewer candidates than its own P lists hold; ties go to the smaller row index, as in `NearestNeighbors`.
/// Memory: the lists (N ids), the results (N·k), per worker one block of products; never N × N or N × L.
public enum InvertedFileNeighbors {
    /// What the index did, and the recall it reached on sampled queries against exact search.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        public let lists: Int
        public let probes: Int
        public let sampledQueries: Int
        /// Fraction of the sampled queries' true k nearest neighbours found by the search.
        public let recall: Double

        public var description: String {
            "IVF: \(lists) lists, \(probes) probed, recall@k \(String(format: "%.4f", recall)) on \(sampledQueries) sampled queries"
        }
    }

    /// Lists for `n` rows by default: about 4·√n, and at least 16 rows per list on average.
    public static func defaultLists(rows n: Int) -> Int { max(1, min(n / 16, Int((4 * Double(n).squareRoot()).rounded()))) }

    /// For each row of `z` ([n, d] unit rows), approximately its `k` most similar other rows (ids and similarities,
    /// best first), with at least `recall` of the true neighbours found on sampled queries.
    public static func search(_ z: [Float], rows n: Int, width d: Int, k: Int, recall target: Double = 0.99, lists: Int? = nil,
                              seed: UInt64 = 0, cancel: CancellationToken? = nil) throws -> (ids: [Int32], similarities: [Float], report: Report) {
        guard z.count == n * d else { throw EngineError(.argument, "features of \(z.count) values are not [\(n), \(d)]") }
        return try search(FeatureRows(z, width: d), k: k, recall: target, lists: lists, seed: seed, cancel: cancel)
    }

    /// The same, for rows held in any `FeatureStorage` (read a block or a gathered list at a time).
    public static func search(_ z: FeatureRows, k: Int, recall target: Double = 0.99, lists: Int? = nil,
                              seed: UInt64 = 0, cancel: CancellationToken? = nil) throws -> (ids: [Int32], similarities: [Float], report: Report) {
        let n = z.rows, d = z.width
        guard k >= 1, k < n else { throw EngineError(.argument, "k = \(k) neighbours: k must be in 1...\(n - 1) for a pool of \(n) samples") }
        guard target > 0, target <= 1 else { throw EngineError(.argument, "the recall target must be in (0, 1] (got \(target))") }
        let l = min(n, max(1, lists ?? defaultLists(rows: n)))
        var rng = SeededRandom(seed: seed ^ 0x1FF_1DE5)
        func check() throws { if cancel?.isCancelled == true { throw EngineError(.cancelled, "nearest-neighbour search cancelled") } }

        // 1. Coarse centres: spherical k-means on a sample (32 rows per list), 8 iterations.
        cancel?.report("neighbours: \(l) coarse centres from \(min(n, 32 * l)) sampled rows")
        let order = rng.permutation(n)
        let sample = Array(order.prefix(min(n, 32 * l)))
        let centres = try coarseCentres(z, sample: sample, lists: l, check: check)

        // 2. Every row into its nearest centre's list.
        try check()
        cancel?.report("neighbours: filling \(l) lists with \(n) rows")
        let primary = nearestLists(z, centres: centres, lists: l, width: d, top: 1)
        var members = [[Int32]](repeating: [], count: l)
        for (r, c) in primary.enumerated() { members[Int(c)].append(Int32(r)) }

        // 3. Probes from the recall target: on sampled queries, the rank of each true neighbour's list among the
        //    query's nearest centres; P is the smallest count reaching the target.
        let queries = Array(order.suffix(min(n, 500)))
        let exact = try exactNeighbours(z, queries: queries, k: k)
        let queryRows = z.gathered(queries)
        let toCentres = Products.rows(queryRows, centres, width: d)
        var needed: [Int] = []
        for (qi, _) in queries.enumerated() {
            let sims = toCentres[(qi * l)..<((qi + 1) * l)]
            for t in 0..<k {
                let list = Int(primary[Int(exact[qi * k + t])]), s = sims[sims.startIndex + list]
                var rank = 0
                for v in sims where v > s { rank += 1 }
                needed.append(rank + 1)
            }
        }
        needed.sort()
        let probes = min(l, needed[min(needed.count - 1, max(0, Int((target * Double(needed.count)).rounded(.up)) - 1))])
        cancel?.report("neighbours: searching with \(probes) of \(l) lists probed")

        // 4. Search, one group (the rows of one list) at a time, spread over the cores.
        var ids = [Int32](repeating: -1, count: n * k)
        var sims = [Float](repeating: -.infinity, count: n * k)
        let nonEmpty = (0..<l).filter { !members[$0].isEmpty }
        let workers = min(Engine.cores, nonEmpty.count), tenth = max(1, nonEmpty.count / 10)
        var cancelled = false
        let flag = NSLock()
        ids.withUnsafeMutableBufferPointer { idp in
        sims.withUnsafeMutableBufferPointer { sp in
            let idBase = idp.baseAddress!, simBase = sp.baseAddress!
            Parallel.workers(workers) { w in
                var g = w
                while g < nonEmpty.count {
                    if cancel?.isCancelled == true { flag.lock(); cancelled = true; flag.unlock(); return }
                    searchGroup(members[nonEmpty[g]], z: z, width: d, k: k, centres: centres, lists: l, members: members, probes: probes,
                                ids: idBase, similarities: simBase)
                    g += workers
                    // Worker 0 speaks for all, each time it passes another tenth of the lists.
                    if w == 0, g / tenth != (g - workers) / tenth {
                        cancel?.report("neighbours: \(min(g, nonEmpty.count)) of \(nonEmpty.count) lists searched")
                    }
                }
            }
        }}
        if cancelled { throw EngineError(.cancelled, "nearest-neighbour search cancelled") }

        // 5. The recall reached, on the sampled queries.
        var found = 0
        for (qi, q) in queries.enumerated() {
            let truth = Set(exact[(qi * k)..<((qi + 1) * k)])
            for t in 0..<k where truth.contains(ids[q * k + t]) { found += 1 }
        }
        let report = Report(lists: l, probes: probes, sampledQueries: queries.count, recall: Double(found) / Double(queries.count * k))
        return (ids, sims, report)
    }

    /// L coarse centres: spherical k-means of the sampled rows, 8 iterations from the first L of them. The sample is
    /// held (as the rows are: float16 stays float16) only while this runs.
    static func coarseCentres(_ z: FeatureRows, sample: [Int], lists l: Int, check: () throws -> Void) throws -> [Float] {
        let d = z.width
        var centres = z.gathered(sample.prefix(l))
        let sampleRows = z.subset(sample)
        for _ in 0..<8 {
            try check()
            let nearest = nearestLists(sampleRows, centres: centres, lists: l, width: d, top: 1)
            var sums = [Float](repeating: 0, count: l * d), counts = [Int](repeating: 0, count: l)
            for r0 in stride(from: 0, to: sample.count, by: 1024) {
                let count = min(1024, sample.count - r0)
                sampleRows.withRows(r0, count) { block in
                    for i in r0..<(r0 + count) {
                        let c = Int(nearest[i])
                        counts[c] += 1
                        for j in 0..<d { sums[c * d + j] += block[(i - r0) * d + j] }
                    }
                }
            }
            for c in 0..<l where counts[c] > 0 {
                var norm: Float = 0
                for j in 0..<d { norm += sums[c * d + j] * sums[c * d + j] }
                let inv = norm > 0 ? 1 / norm.squareRoot() : 0
                for j in 0..<d { centres[c * d + j] = sums[c * d + j] * inv }
            }
        }
        return centres
    }

    /// Searches the rows of one list against the union of the lists each of them probes (grown until it holds
    /// more than k rows), writing their results.
    static func searchGroup(_ group: [Int32], z: FeatureRows, width d: Int, k: Int, centres: [Float], lists l: Int, members: [[Int32]],
                            probes: Int, ids: UnsafeMutablePointer<Int32>, similarities: UnsafeMutablePointer<Float>) {
        let q = z.gathered(group.lazy.map(Int.init))
        var p = probes, candidates: [Int32] = []
        repeat {
            let probed = nearestLists(FeatureRows(floats: q, width: d), centres: centres, lists: l, width: d, top: p, cores: 1)
            candidates = Set(probed).sorted().flatMap { members[Int($0)] }
            p = min(l, 2 * p)
        } while candidates.count <= k && candidates.count < z.rows
        let candidateRows = z.gathered(candidates.lazy.map(Int.init))
        let qb = 256, cb = 4096
        var block = [Float](repeating: 0, count: qb * cb)
        q.withUnsafeBufferPointer { qp in
        candidateRows.withUnsafeBufferPointer { cp in
        block.withUnsafeMutableBufferPointer { bp in
            for q0 in stride(from: 0, to: group.count, by: qb) {
                let qn = min(qb, group.count - q0)
                for c0 in stride(from: 0, to: candidates.count, by: cb) {
                    let cn = min(cb, candidates.count - c0)
                    Products.rows(qp.baseAddress! + q0 * d, count: qn, cp.baseAddress! + c0 * d, count: cn, width: d,
                                  into: bp.baseAddress!, cores: 1)
                    for r in 0..<qn {
                        let row = Int(group[q0 + r])
                        candidates.withUnsafeBufferPointer { cand in
                            NearestNeighbors.merge(bp.baseAddress! + r * cn, count: cn, column: { cand[c0 + $0] }, exclude: row, k: k,
                                                   ids: ids + row * k, values: similarities + row * k)
                        }
                    }
                }
            }
        }}}
    }

    /// The `top` nearest centres (most similar first) of each of `rows` unit rows, [rows, top], in blocks of rows
    /// so that no rows × lists matrix is held whole.
    static func nearestLists(_ x: FeatureRows, centres: [Float], lists l: Int, width d: Int, top: Int,
                             cores: Int = Engine.cores) -> [Int32] {
        let n = x.rows, p = min(top, l), block = 2048
        var out = [Int32](repeating: 0, count: n * p)
        let blocks = (n + block - 1) / block
        out.withUnsafeMutableBufferPointer { op in
        centres.withUnsafeBufferPointer { cp in
            let outBase = op.baseAddress!
            Parallel.chunks(blocks, cores: cores) { _, range in
                var s = [Float](repeating: 0, count: block * l), best = [Float](repeating: 0, count: p)
                for b in range {
                    let r0 = b * block, rn = min(block, n - r0)
                    s.withUnsafeMutableBufferPointer { sp in
                        x.withRows(r0, rn) { Products.rows($0, count: rn, cp.baseAddress!, count: l, width: d, into: sp.baseAddress!, cores: 1) }
                        best.withUnsafeMutableBufferPointer { bp in
                            for r in 0..<rn {
                                let row = outBase + (r0 + r) * p
                                for t in 0..<p { bp[t] = -.infinity; row[t] = -1 }
                                NearestNeighbors.merge(sp.baseAddress! + r * l, count: l, firstColumn: 0, exclude: -1, k: p, ids: row, values: bp.baseAddress!)
                            }
                        }
                    }
                }
            }
        }}
        return out
    }

    /// Exact k nearest neighbours of some rows among all rows (self excluded), [queries, k].
    static func exactNeighbours(_ z: FeatureRows, queries: [Int], k: Int) throws -> [Int32] {
        let n = z.rows, d = z.width, q = z.gathered(queries)
        var ids = [Int32](repeating: -1, count: queries.count * k), values = [Float](repeating: -.infinity, count: queries.count * k)
        let cb = 8192
        for c0 in stride(from: 0, to: n, by: cb) {
            let cn = min(cb, n - c0)
            let block = z.withRows(c0, cn) { zp in
                q.withUnsafeBufferPointer { qp in
                    var s = [Float](repeating: 0, count: queries.count * cn)
                    s.withUnsafeMutableBufferPointer {
                        Products.rows(qp.baseAddress!, count: queries.count, zp, count: cn, width: d, into: $0.baseAddress!)
                    }
                    return s
                }
            }
            block.withUnsafeBufferPointer { bp in
            ids.withUnsafeMutableBufferPointer { ip in
            values.withUnsafeMutableBufferPointer { vp in
                for (qi, row) in queries.enumerated() {
                    NearestNeighbors.merge(bp.baseAddress! + qi * cn, count: cn, firstColumn: c0, exclude: row, k: k,
                                           ids: ip.baseAddress! + qi * k, values: vp.baseAddress! + qi * k)
                }
            }}}
        }
        return ids
    }
}
