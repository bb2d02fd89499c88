/// Embedding lookup and its backward, side by side: rows of a table gathered into a sequence's rows, and gradients
/// scattered back. Token plus position embeddings are two gathers into the same rows; a row whose index is
/// negative is left as it is, so several tables (tokens, learned context, class embedding) can fill one input.
///
/// Dimensions: R rows of width C in the output; the table has `tableRows` rows of width C; index [R].
public enum Embedding {
    /// out[r] += table[index[r]] for every r with index[r] ≥ 0.
    public static func gather(_ table: UnsafePointer<Float>, tableRows: Int, index: [Int], width c: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(index.allSatisfy { $0 < tableRows }, "an embedding index is past the table's \(tableRows) rows")
        index.withUnsafeBufferPointer { idx in
            parallelChunks(idx.count, minimumPerChunk: 256) { range in
                for r in range where idx[r] >= 0 {
                    let src = table + idx[r] * c, dst = out + r * c
                    for i in 0..<c { dst[i] += src[i] }
                }
            }
        }
    }

    /// grad[index[r]] += dy[r] for every r with index[r] ≥ 0, in order of r (rows sharing a table row add up).
    public static func scatter(_ dy: UnsafePointer<Float>, index: [Int], width c: Int, into grad: UnsafeMutablePointer<Float>, tableRows: Int) {
        precondition(index.allSatisfy { $0 < tableRows }, "an embedding index is past the table's \(tableRows) rows")
        for (r, row) in index.enumerated() where row >= 0 {
            let src = dy + r * c, dst = grad + row * c
            for i in 0..<c { dst[i] += src[i] }
        }
    }

    /// `gather` into `out` [R, C] from a tensor [tableRows, C].
    public static func gather(_ table: Tensor, index: [Int], width c: Int, into out: inout [Float]) {
        precondition(table.count % max(1, c) == 0 && out.count >= index.count * c, "embedding rows are not of width \(c)")
        if index.allSatisfy({ $0 < 0 }) { return }
        out.withUnsafeMutableBufferPointer { gather(table.pointer, tableRows: table.count / max(1, c), index: index, width: c, into: $0.baseAddress!) }
    }

    /// `scatter` of dy [R, C] into a tensor [tableRows, C] (a gradient).
    public static func scatter(_ dy: [Float], index: [Int], width c: Int, into grad: Tensor) {
        precondition(grad.count % max(1, c) == 0 && dy.count >= index.count * c, "embedding rows are not of width \(c)")
        if index.allSatisfy({ $0 < 0 }) { return }
        dy.withUnsafeBufferPointer { scatter($0.baseAddress!, index: index, width: c, into: grad.pointer, tableRows: grad.count / max(1, c)) }
    }

    /// Array forms: `gather` into `out` [R, C] from `table` [tableRows, C].
    public static func gather(_ table: [Float], index: [Int], width c: Int, into out: inout [Float]) {
        precondition(table.count % max(1, c) == 0 && out.count >= index.count * c, "embedding rows are not of width \(c)")
        if index.allSatisfy({ $0 < 0 }) { return }
        table.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { gather(t.baseAddress!, tableRows: t.count / max(1, c), index: index, width: c, into: $0.baseAddress!) }
        }
    }

    /// `scatter` of dy [R, C] into `grad` [tableRows, C].
    public static func scatter(_ dy: [Float], index: [Int], width c: Int, into grad: inout [Float]) {
        precondition(grad.count % max(1, c) == 0 && dy.count >= index.count * c, "embedding rows are not of width \(c)")
        if index.allSatisfy({ $0 < 0 }) { return }
        dy.withUnsafeBufferPointer { d in
            grad.withUnsafeMutableBufferPointer { scatter(d.baseAddress!, index: index, width: c, into: $0.baseAddress!, tableRows: $0.count / max(1, c)) }
        }
    }
}
