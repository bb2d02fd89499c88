import AlvlmEngine
import AlvlmKernels
import Foundation

/// How Lloyd's assignment step finds each row's centre. Dimensions: n rows of width d, K centres, m = the centres
/// a local step compares each row with.
extension WeightedKMeans {
    public enum Assignment: String, CaseIterable, Sendable {
        /// Every row's nearest centre, exactly (Hamerly's bounds skip the rows they prove unchanged): up to n·K
        /// distances per iteration.
        case exact
        /// The first step is exact; after it, each row is compared only with the m centres nearest its own centre
        /// (its own included), so a row moves only to a neighbouring cluster: n·m distances per iteration. The
        /// weighted cost still never rises (a row's own centre is always a candidate), and the query takes each
        /// cluster's nearest member instead of searching every row.
        case local
    }

    /// Centres a local step compares each row with (its own included).
    static let localCentres = 32

    /// For each of `k` centres, the `m` nearest centres (itself first), [k, m], in blocks of centres.
    static func nearestCentres(_ centres: [Float], k: Int, d: Int, norms cn: [Float], m: Int) -> [Int32] {
        var out = [Int32](repeating: -1, count: k * m)
        let block = max(1, min(k, (1 << 22) / k))
        out.withUnsafeMutableBufferPointer { op in
        centres.withUnsafeBufferPointer { cp in
            let oBase = op.baseAddress!
            Parallel.chunks((k + block - 1) / block) { _, range in
                var g = [Float](repeating: 0, count: block * k), best = [Float](repeating: 0, count: m)
                for b in range {
                    let c0 = b * block, rows = min(block, k - c0)
                    g.withUnsafeMutableBufferPointer { gp in
                        Products.rows(cp.baseAddress! + c0 * d, count: rows, cp.baseAddress!, count: k, width: d, scale: -2,
                                      into: gp.baseAddress!, cores: 1)
                        // Larger is nearer: −‖c'‖² + 2 c·c' (= ‖c‖² − ‖c − c'‖²); the centre itself comes first.
                        for t in 0..<rows {
                            let row = gp.baseAddress! + t * k
                            for c in 0..<k { row[c] = -(row[c] + cn[c]) }
                            row[c0 + t] = .infinity
                            best.withUnsafeMutableBufferPointer { bp in
                                for s in 0..<m { bp[s] = -.infinity }
                                NearestNeighbors.merge(row, count: k, firstColumn: 0, exclude: -1, k: m, ids: oBase + (c0 + t) * m,
                                                       values: bp.baseAddress!)
                            }
                        }
                    }
                }
            }
        }}
        return out
    }

    /// A local assignment step (see `Assignment.local`): each row against the centres nearest its current centre,
    /// cluster by cluster, one matrix product per block of a cluster's rows. Ties go to the smaller centre index.
    func assignLocal(_ x: FeatureRows, norms: [Float], centres: [Float], k: Int, current: [Int]) -> ([Int], [Float]) {
        let n = x.rows, d = x.width
        let cn = (0..<k).map { c in (0..<d).reduce(Float(0)) { $0 + centres[c * d + $1] * centres[c * d + $1] } }
        let m = min(k, Self.localCentres)
        let near = Self.nearestCentres(centres, k: k, d: d, norms: cn, m: m)
        let (order, start) = Self.members(current, k: k)
        var assignment = current, d2 = [Float](repeating: 0, count: n)
        let block = 1024
        assignment.withUnsafeMutableBufferPointer { ap in
        d2.withUnsafeMutableBufferPointer { dp in
        centres.withUnsafeBufferPointer { cp in
            let aBase = ap.baseAddress!, dBase = dp.baseAddress!
            // Clusters dealt round-robin to the workers (their sizes vary; neighbouring indices are not alike).
            let workers = min(Engine.cores, k)
            Parallel.workers(workers) { w in
                var rows = [Float](repeating: 0, count: block * d), cand = [Float](repeating: 0, count: m * d)
                var g = [Float](repeating: 0, count: block * m)
                var c = w
                while c < k {
                    defer { c += workers }
                    let first = start[c], count = start[c + 1] - first
                    guard count > 0 else { continue }
                    let ids = near[(c * m)..<((c + 1) * m)]
                    cand.withUnsafeMutableBufferPointer { candp in
                        for (s, id) in ids.enumerated() { (candp.baseAddress! + s * d).update(from: cp.baseAddress! + Int(id) * d, count: d) }
                    }
                    for r0 in stride(from: 0, to: count, by: block) {
                        let rn = min(block, count - r0)
                        rows.withUnsafeMutableBufferPointer { rp in
                            for t in 0..<rn { x.copyRow(Int(order[first + r0 + t]), to: rp.baseAddress! + t * d) }
                            cand.withUnsafeBufferPointer { candp in
                            g.withUnsafeMutableBufferPointer { gp in
                                Products.rows(rp.baseAddress!, count: rn, candp.baseAddress!, count: m, width: d, scale: -2,
                                              into: gp.baseAddress!, cores: 1)
                            }}
                        }
                        for t in 0..<rn {
                            let i = Int(order[first + r0 + t])
                            var best = c, v = Float.infinity
                            for (s, id) in ids.enumerated() {
                                let centre = Int(id), u = g[t * m + s] + cn[centre]
                                if u < v || (u == v && centre < best) { v = u; best = centre }
                            }
                            aBase[i] = best; dBase[i] = max(0, v + norms[i])
                        }
                    }
                }
            }
        }}}
        return (assignment, d2)
    }

    /// Rows grouped by cluster: `order[start[c]..<start[c + 1]]` are cluster c's rows, ascending.
    static func members(_ assignment: [Int], k: Int) -> (order: [Int32], start: [Int]) {
        var start = [Int](repeating: 0, count: k + 1)
        for c in assignment { start[c + 1] += 1 }
        for c in 0..<k { start[c + 1] += start[c] }
        var next = start, order = [Int32](repeating: 0, count: assignment.count)
        for (i, c) in assignment.enumerated() { order[next[c]] = Int32(i); next[c] += 1 }
        return (order, start)
    }

    /// For each centre in order, its cluster's member nearest to it (ties to the smaller row): distinct rows, since
    /// each row is in one cluster. A centre with no member takes the nearest row not yet taken, over every row.
    public static func nearestMembers(_ x: FeatureRows, centres: [Float], count k: Int, assignment: [Int],
                                      distances d2: [Float]) -> [Int] {
        let n = x.rows, d = x.width
        var pick = [Int](repeating: -1, count: k)
        for i in 0..<n {
            let c = assignment[i]
            if pick[c] < 0 || d2[i] < d2[pick[c]] { pick[c] = i }
        }
        if pick.contains(-1) {
            var taken = [Bool](repeating: false, count: n)
            for p in pick where p >= 0 { taken[p] = true }
            let norms = rowNorms(x)
            for c in 0..<k where pick[c] < 0 {
                let dist = squaredDistances(x, norms: norms, centres: Array(centres[(c * d)..<((c + 1) * d)]), m: 1)
                var best = -1
                for i in 0..<n where !taken[i] && (best < 0 || dist[i] < dist[best]) { best = i }
                if best >= 0 { taken[best] = true; pick[c] = best }
            }
        }
        return pick.filter { $0 >= 0 }
    }
}
