/// CLIP's text tower, the one implementation used by inference (`CLIPModel.encodeTexts`), CoOp (`PromptLearner`,
/// which brings its own input embeddings and needs their gradient) and pretraining (`ContrastivePass`, which needs
/// every weight's gradient):
///   input rows [layout.rows, C] (token + position embeddings, or a prompt's) → causal transformer (deep prompts
///   optional) → each sequence's pooled row (its EOT) → ln_final → projection → features [n, E]
/// Forward and backward sit side by side; what backward needs is recorded by the forward that asks for it.
final class TextTower {
    let shape: TowerShape
    let workspace = Workspace()
    private var saved: SavedActivations?
    private var head = PooledHead()
    private var pooledRows: [Int] = []
    private var recorded = TowerRecord.none

    init(shape: TowerShape) { self.shape = shape }

    /// Token plus position embeddings of id sequences, `tokens` positions each (shorter sequences padded with id 0).
    static func embed(_ ids: [[Int]], tokens t: Int, weights w: TextWeights, width c: Int) -> [Float] {
        var x = [Float](repeating: 0, count: ids.count * t * c)
        Embedding.gather(w.tokens, index: paddedIds(ids, tokens: t), width: c, into: &x)
        Embedding.gather(w.positions, index: positionIndex(ids.count, tokens: t), width: c, into: &x)
        return x
    }

    /// Accumulates the token and position embeddings' gradients from the input rows' gradient of `embed`.
    static func embedBackward(_ dx: [Float], ids: [[Int]], tokens t: Int, width c: Int, into grad: TextWeights) {
        Embedding.scatter(dx, index: paddedIds(ids, tokens: t), width: c, into: grad.tokens)
        Embedding.scatter(dx, index: positionIndex(ids.count, tokens: t), width: c, into: grad.positions)
    }

    /// Each row's token id: the sequences' ids, padded with id 0 to `tokens` positions each.
    private static func paddedIds(_ ids: [[Int]], tokens t: Int) -> [Int] {
        ids.flatMap { seq in (0..<t).map { $0 < seq.count ? seq[$0] : 0 } }
    }

    /// Each row's position for `n` sequences of `tokens` positions.
    private static func positionIndex(_ n: Int, tokens t: Int) -> [Int] { (0..<(n * t)).map { $0 % t } }

    /// Features [pooled.count, E] (not normalised) of input rows `x` laid out as `layout`; `pooled` names each
    /// sequence's pooled row.
    func forward(_ x: consuming [Float], layout: AttentionLayout, pooled: [Int], weights w: TextWeights, record: TowerRecord,
                 prompts: DeepPrompts? = nil) -> [Float] {
        let c = shape.width, e = w.projection.count / c
        precondition(x.count == layout.rows * c, "input rows do not match the layout")
        let keep = SavedActivations.reuse(&saved, layout, shape: shape, for: record)
        x.withUnsafeMutableBufferPointer { xb in
            Transformer.forward(xb.baseAddress!, layout: layout, blocks: w.blocks, shape: shape, causal: true, workspace: workspace,
                                saving: keep, prompts: prompts, outputRows: record == .none ? pooled : nil)
        }
        var rows = [Float](repeating: 0, count: pooled.count * c)
        for (k, r) in pooled.enumerated() { for i in 0..<c { rows[k * c + i] = x[r * c + i] } }
        pooledRows = pooled
        recorded = record
        return head.forward(rows, rows: pooled.count, width: c, embed: e, weights: Self.head(w), eps: shape.eps)
    }

    /// dLoss/d(input rows) [layout.rows, C] for dLoss/d(features) of the last recording forward; with `gradients`
    /// (which needs `.weightGradients`), the head's and the blocks' weight gradients are accumulated into it.
    func backward(_ df: [Float], weights w: TextWeights, gradients: TextWeights? = nil, prompts: DeepPrompts? = nil) -> [Float] {
        guard let saved, recorded != .none else { preconditionFailure("backward needs a forward that recorded") }
        precondition(gradients == nil || recorded == .weightGradients, "weight gradients need a forward recording them")
        let c = shape.width
        let dpooled = head.backward(df, weights: Self.head(w), gradients: gradients.map(Self.head))
        var dx = [Float](repeating: 0, count: saved.layout.rows * c)
        for (k, r) in pooledRows.enumerated() { for i in 0..<c { dx[r * c + i] += dpooled[k * c + i] } }
        Transformer.backward(&dx, blocks: w.blocks, saved: saved, workspace: workspace,
                             gradients: gradients?.blocks, prompts: prompts)
        return dx
    }

    /// The head's tensors: ln_final and the projection.
    static func head(_ w: TextWeights) -> PooledHead.Tensors {
        PooledHead.Tensors(lnWeight: w.finalW, lnBias: w.finalB, projection: w.projection)
    }
}
