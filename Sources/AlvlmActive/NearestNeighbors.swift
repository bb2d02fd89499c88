import AlvlmEngine
import Foundation

/// Exact k-nearest neighbours by cosine similarity over unit rows. The similarity matrix is symmetric, so
/// only blocks on and above the diagonal are computed (one GEMM each); every block updates the running
/// top-k lists of both its row block and its column block. Memory stays O(N·k + workers·block²), never O(N²).
public enum NearestNeighbors {
    /// For each row of `z`, the `k` most similar other rows (ids and similarities, best first).
    /// `z`: [n, d] unit rows. Ties go to the smaller row index.
    public static func search(_ z: [Float], rows n: Int, width d: Int, k: Int, block: Int = 512,
                              cancel: CancellationToken? = nil) throws -> (ids: [Int32], similarities: [Float]) {
        guard z.count == n * d else { throw EngineError(.argument, "features of \(z.count) values are not [\(n), \(d)]") }
        return try search(FeatureRows(z, width: d), k: k, block: block, cancel: cancel)
    }

    /// The same, for rows held in any `FeatureStorage` (each pair of blocks read as float32).
    public static func search(_ z: FeatureRows, k: Int, block: Int = 512,
                              cancel: CancellationToken? = nil) throws -> (ids: [Int32], similarities: [Float]) {
        let n = z.rows, d = z.width
        guard k >= 1, k < n else { throw EngineError(.argument, "k = \(k) neighbours: k must be in 1...\(n - 1) for a pool of \(n) samples") }
        var ids = [Int32](repeating: -1, count: n * k)
        var sims = [Float](repeating: -.infinity, count: n * k)
        let blocks = (n + block - 1) / block
        var pairs: [(Int, Int)] = []
        for i in 0..<blocks { for j in i..<blocks { pairs.append((i, j)) } }
        let locks = (0..<blocks).map { _ in NSLock() }
        let workers = min(Engine.cores, pairs.count)
        var cancelled = false
        let flag = NSLock()
        ids.withUnsafeMutableBufferPointer { idp in
        sims.withUnsafeMutableBufferPointer { sp in
            let idBase = idp.baseAddress!, simBase = sp.baseAddress!
            Parallel.workers(workers) { w in
                var g = [Float](repeating: 0, count: block * block), gt = g
                var p = w
                while p < pairs.count {
                    if cancel?.isCancelled == true { flag.lock(); cancelled = true; flag.unlock(); return }
                    let (bi, bj) = pairs[p]
                    let ri = bi * block, rj = bj * block
                    let ni = min(block, n - ri), nj = min(block, n - rj)
                    g.withUnsafeMutableBufferPointer { gb in
                    gt.withUnsafeMutableBufferPointer { tb in
                        let gp = gb.baseAddress!, tp = tb.baseAddress!
                        z.withRows(ri, ni) { a in
                            z.withRows(rj, nj) { b in Products.rows(a, count: ni, b, count: nj, width: d, into: gp, cores: 1) }
                        }
                        locks[bi].lock()
                        for r in 0..<ni {
                            merge(gp + r * nj, count: nj, firstColumn: rj, exclude: ri + r, k: k,
                                  ids: idBase + (ri + r) * k, values: simBase + (ri + r) * k)
                        }
                        locks[bi].unlock()
                        if bi != bj {
                            for r in 0..<ni { for c in 0..<nj { tp[c * ni + r] = gp[r * nj + c] } }
                            locks[bj].lock()
                            for c in 0..<nj {
                                merge(tp + c * ni, count: ni, firstColumn: ri, exclude: rj + c, k: k,
                                      ids: idBase + (rj + c) * k, values: simBase + (rj + c) * k)
                            }
                            locks[bj].unlock()
                        }
                    }}
                    p += workers
                }
            }
        }}
        if cancelled { throw EngineError(.cancelled, "nearest-neighbour search cancelled") }
        return (ids, sims)
    }

    /// Merges candidates (values[j] for column firstColumn + j, `exclude` skipped) into a row's running top-k, kept
    /// sorted by descending value, ties by ascending column.
    @inline(__always)
    static func merge(_ values: UnsafePointer<Float>, count: Int, firstColumn: Int, exclude: Int, k: Int,
                      ids: UnsafeMutablePointer<Int32>, values out: UnsafeMutablePointer<Float>) {
        merge(values, count: count, column: { Int32(firstColumn + $0) }, exclude: exclude, k: k, ids: ids, values: out)
    }

    /// Merges candidates (values[j] for column `column(j)`, `exclude` skipped) into a running top-k, kept sorted by
    /// descending value, ties by ascending column: the result does not depend on the candidates' order. Empty
    /// slots hold id −1 (and −∞).
    @inline(__always)
    static func merge(_ values: UnsafePointer<Float>, count: Int, column: (Int) -> Int32, exclude: Int, k: Int,
                      ids: UnsafeMutablePointer<Int32>, values out: UnsafeMutablePointer<Float>) {
        var threshold = out[k - 1]
        for j in 0..<count {
            let v = values[j]
            if v < threshold { continue }
            let column = column(j)
            if Int(column) == exclude { continue }
            // Not better than the last kept entry: equal value with a larger column loses.
            if v == threshold && ids[k - 1] >= 0 && column > ids[k - 1] { continue }
            var pos = k - 1
            while pos > 0 && (out[pos - 1] < v || (out[pos - 1] == v && (ids[pos - 1] < 0 || ids[pos - 1] > column))) {
                out[pos] = out[pos - 1]; ids[pos] = ids[pos - 1]
                pos -= 1
            }
            out[pos] = v; ids[pos] = column
            threshold = out[k - 1]
        }
    }
}
