import AlvlmEngine
import Foundation

/// Exact k-nearest neighbours by cosine similarity over unit rows, computed in row blocks
/// (a block's similarities to all rows by one GEMM, then a bounded top-k scan), so memory stays
/// O(N·k + block·N), never O(N²).
public enum NearestNeighbors {
    /// For each query row, the `k` most similar rows of `z` (ids and similarities, best first), self excluded.
    /// `z`: [n, d] unit rows. Ties go to the smaller row index.
    public static func search(_ z: [Float], rows n: Int, width d: Int, k: Int, block: Int = 256,
                              cancel: CancellationToken? = nil) throws -> (ids: [Int32], similarities: [Float]) {
        guard k >= 1, k < n else { throw EngineError(.argument, "k = \(k) neighbours: k must be in 1...\(n - 1) for a pool of \(n) samples") }
        var ids = [Int32](repeating: -1, count: n * k)
        var sims = [Float](repeating: 0, count: n * k)
        let blocks = (n + block - 1) / block
        let workers = min(Engine.cores, blocks)
        var cancelled = false
        let lock = NSLock()
        ids.withUnsafeMutableBufferPointer { idp in
        sims.withUnsafeMutableBufferPointer { sp in
        z.withUnsafeBufferPointer { zp in
            let idBase = idp.baseAddress!, simBase = sp.baseAddress!, zBase = zp.baseAddress!
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var scratch = [Float](repeating: 0, count: block * n)
                var b = w
                while b < blocks {
                    if cancel?.isCancelled == true { lock.lock(); cancelled = true; lock.unlock(); return }
                    let lo = b * block, rows = min(block, n - lo)
                    scratch.withUnsafeMutableBufferPointer { s in
                        BLAS.gemm(transB: true, m: rows, n: n, k: d, a: zBase + lo * d, lda: d, b: zBase, ldb: d, c: s.baseAddress!, ldc: n)
                        for r in 0..<rows {
                            topK(s.baseAddress! + r * n, count: n, exclude: lo + r, k: k,
                                 ids: idBase + (lo + r) * k, values: simBase + (lo + r) * k)
                        }
                    }
                    b += workers
                }
            }
        }}}
        if cancelled { throw EngineError(.cancelled, "nearest-neighbour search cancelled") }
        return (ids, sims)
    }

    /// The k largest of `values` (index `exclude` skipped), sorted descending, ties to the smaller index.
    /// A sorted insertion list with a threshold test: almost every value is rejected by one comparison.
    @inline(__always)
    static func topK(_ values: UnsafePointer<Float>, count: Int, exclude: Int, k: Int,
                     ids: UnsafeMutablePointer<Int32>, values out: UnsafeMutablePointer<Float>) {
        var filled = 0
        var threshold = -Float.infinity
        for j in 0..<count where j != exclude {
            let v = values[j]
            if filled == k && !(v > threshold) { continue }
            // Insert keeping descending order; equal values keep the earlier (smaller) index first.
            var pos = filled == k ? k - 1 : filled
            while pos > 0 && out[pos - 1] < v {
                if pos < k { out[pos] = out[pos - 1]; ids[pos] = ids[pos - 1] }
                pos -= 1
            }
            out[pos] = v; ids[pos] = Int32(j)
            if filled < k { filled += 1 }
            if filled == k { threshold = out[k - 1] }
        }
    }
}
