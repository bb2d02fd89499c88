/// The pre-LN residual transformer shared by CLIP's two towers:
///   x += out_proj(attention(ln_1(x)));  x += fc2(act(fc1(ln_2(x))))
/// Weights use nn.Linear layout [out, in]; Q, K and V are fused into one [3C, C] matrix.
/// The forward pass can record what the backward pass (beside it) needs: input gradients always,
/// weight gradients when the record keeps each linear layer's input too (pretraining).

public struct TowerShape: Equatable, Sendable {
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var mlp: Int
    public var eps: Float
    public var activation: Activation

    public init(width: Int, layers: Int, heads: Int, mlp: Int, eps: Float = 1e-5, activation: Activation = .quickGELU) {
        self.width = width; self.layers = layers; self.heads = heads; self.mlp = mlp; self.eps = eps; self.activation = activation
    }

    /// Floating-point operations (2 per multiply-add) of the layers for one sequence of `t` tokens.
    func flops(tokens t: Int) -> Double {
        let c = Double(width), m = Double(mlp), tt = Double(t)
        return Double(layers) * (2 * tt * c * (3 * c + c + 2 * m) + 4 * tt * tt * c)
    }
}

/// One block's tensors (views into its model's storage).
public struct BlockWeights {
    public internal(set) var ln1w: Tensor, ln1b: Tensor
    public internal(set) var qkvw: Tensor, qkvb: Tensor     // [3C, C], [3C]
    public internal(set) var projw: Tensor, projb: Tensor   // [C, C], [C]
    public internal(set) var ln2w: Tensor, ln2b: Tensor
    public internal(set) var fc1w: Tensor, fc1b: Tensor     // [M, C], [M]
    public internal(set) var fc2w: Tensor, fc2b: Tensor     // [C, M], [C]
}

/// One block's linear layers rounded to bfloat16 and packed (inference in bfloat16; `BFloat16`).
struct PackedBlock {
    let qkv, proj, fc1, fc2: BFloat16.PackedWeight

    init(_ w: BlockWeights, shape s: TowerShape) {
        let c = s.width, m = s.mlp
        qkv = .init(w.qkvw, outFeatures: 3 * c, inFeatures: c); proj = .init(w.projw, outFeatures: c, inFeatures: c)
        fc1 = .init(w.fc1w, outFeatures: m, inFeatures: c); fc2 = .init(w.fc2w, outFeatures: c, inFeatures: m)
    }
}

/// Scratch buffers for a pass over `rows` tokens, in one allocation grown on demand and reused.
final class Workspace {
    private var storage = FloatStorage(count: 0)
    /// [rows, C], [rows, 3C], [rows, C], [rows, max(M, 3C)], [cores, T, T] (attention scores per worker).
    private(set) var ln = Tensor.empty, qkv = Tensor.empty, atty = Tensor.empty, hidden = Tensor.empty, scores = Tensor.empty

    func reserve(_ layout: AttentionLayout, shape s: TowerShape) {
        let rows = layout.rows
        let sizes = [rows * s.width, rows * 3 * s.width, rows * s.width, rows * max(s.mlp, 3 * s.width), Engine.cores * layout.scoreBlock]
        let fits = zip([ln, qkv, atty, hidden, scores], sizes).allSatisfy { $0.count >= $1 }
        if fits { return }
        storage = FloatStorage(count: sizes.reduce(0, +))
        var offset = 0
        let views = sizes.map { n -> Tensor in defer { offset += n }; return Tensor(storage, offset: offset, count: n) }
        (ln, qkv, atty, hidden, scores) = (views[0], views[1], views[2], views[3], views[4])
    }
}

/// What the backward pass needs from the forward pass, per layer: the block input and its LN statistics,
/// qkv, attention probabilities, the mid-block residual and its LN statistics, and the MLP pre-activation; with
/// weight gradients also the linear layers' inputs. One allocation, sized once for a layout and reused across steps;
/// each field holds every layer's values, layer after layer.
final class SavedActivations {
    let layout: AttentionLayout, shape: TowerShape
    private let storage: FloatStorage
    let input: Tensor, mean1: Tensor, rstd1: Tensor     // [L, rows, C], [L, rows], [L, rows]
    let qkv: Tensor, probs: Tensor                      // [L, rows, 3C], [L, heads, probabilities per head]
    let mid: Tensor, mean2: Tensor, rstd2: Tensor       // as input, mean1, rstd1
    let preact: Tensor                                  // [L, rows, M]
    /// With weight gradients: the inputs of the qkv, out_proj, fc1 and fc2 layers (empty otherwise).
    let keepsLinearInputs: Bool
    let ln1: Tensor, attended: Tensor, ln2: Tensor, hidden: Tensor   // [L, rows, C] × 3, [L, rows, M]

    convenience init(batch: Int, tokens: Int, shape s: TowerShape, linearInputs: Bool = false) {
        self.init(.sequences(batch: batch, tokens: tokens), shape: s, linearInputs: linearInputs)
    }

    init(_ layout: AttentionLayout, shape s: TowerShape, linearInputs: Bool = false) {
        self.layout = layout; self.shape = s
        let rows = layout.rows, l = s.layers, keep = linearInputs ? 1 : 0
        keepsLinearInputs = linearInputs
        let sizes = [l * rows * s.width, l * rows, l * rows, l * rows * 3 * s.width, l * s.heads * layout.probabilitiesPerHead,
                     l * rows * s.width, l * rows, l * rows, l * rows * s.mlp,
                     keep * l * rows * s.width, keep * l * rows * s.width, keep * l * rows * s.width, keep * l * rows * s.mlp]
        storage = FloatStorage(count: sizes.reduce(0, +))
        var offset = 0
        let v = sizes.map { [storage] n -> Tensor in defer { offset += n }; return Tensor(storage, offset: offset, count: n) }
        input = v[0]; mean1 = v[1]; rstd1 = v[2]; qkv = v[3]; probs = v[4]; mid = v[5]; mean2 = v[6]; rstd2 = v[7]; preact = v[8]
        ln1 = v[9]; attended = v[10]; ln2 = v[11]; hidden = v[12]
    }

    func fits(batch: Int, tokens: Int, shape: TowerShape, linearInputs: Bool = false) -> Bool {
        fits(.sequences(batch: batch, tokens: tokens), shape: shape, linearInputs: linearInputs)
    }

    func fits(_ layout: AttentionLayout, shape: TowerShape, linearInputs: Bool = false) -> Bool {
        self.layout == layout && self.shape == shape && keepsLinearInputs == linearInputs
    }

    /// What a tower's forward pass records into for `record`: the kept activations when they fit, else new ones
    /// (stored back into `saved`); nil for `.none`.
    static func reuse(_ saved: inout SavedActivations?, _ layout: AttentionLayout, shape: TowerShape, for record: TowerRecord) -> SavedActivations? {
        guard record != .none else { return nil }
        let linear = record == .weightGradients
        if !(saved?.fits(layout, shape: shape, linearInputs: linear) ?? false) { saved = SavedActivations(layout, shape: shape, linearInputs: linear) }
        return saved
    }
}

enum Transformer {
    /// Runs all blocks in place on x: [batch * tokens, C]; records activations into `saved` when given.
    static func forward(
        _ x: UnsafeMutablePointer<Float>, batch: Int, tokens: Int,
        blocks: [BlockWeights], shape s: TowerShape, causal: Bool, workspace ws: Workspace,
        saving saved: SavedActivations? = nil
    ) {
        forward(x, layout: .sequences(batch: batch, tokens: tokens), blocks: blocks, shape: s, causal: causal, workspace: ws, saving: saved)
    }

    /// Runs all blocks in place on x: [layout.rows, C]. A shared-prefix layout is always causal.
    /// `outputRows` (inference only): the rows the caller reads after the last block (CLS or EOT rows). The last
    /// block then runs its attention projection and MLP on those rows alone (its keys and values still come from
    /// every row); the other rows of x are left as the last block's input.
    static func forward(
        _ x: UnsafeMutablePointer<Float>, layout: AttentionLayout,
        blocks: [BlockWeights], shape s: TowerShape, causal: Bool, workspace ws: Workspace,
        saving saved: SavedActivations? = nil, prompts: DeepPrompts? = nil, outputRows: [Int]? = nil, packed: [PackedBlock]? = nil
    ) {
        precondition(outputRows == nil || saved == nil, "only rows the caller reads are computed: nothing to record for backward")
        precondition(packed == nil || (saved == nil && packed?.count == blocks.count), "bfloat16 blocks are for inference, one per block")
        let rows = layout.rows, c = s.width, m = s.mlp
        ws.reserve(layout, shape: s)
        if let saved {
            precondition(saved.fits(layout, shape: s, linearInputs: saved.keepsLinearInputs), "saved activations sized for another pass")
        }
        precondition(prompts?.values.keys.allSatisfy { $0 >= 0 && $0 < blocks.count } ?? true, "deep prompts for a layer the tower does not have")
        for (l, w) in blocks.enumerated() {
            prompts?.insert(into: x, layer: l, layout: layout, width: c)
            let ln = ws.ln.pointer, atty = ws.atty.pointer, hidden = ws.hidden.pointer, scores = ws.scores.pointer
            let rec = saved.map { record($0, layer: l) }
            let qkv = rec?.qkv ?? ws.qkv.pointer
            let pre = rec?.preact ?? hidden
            rec?.input.update(from: x, count: rows * c)
            // Attention half.
            Kernels.layerNorm(x, ln, rows: rows, width: c, weight: w.ln1w.pointer, bias: w.ln1b.pointer, eps: s.eps,
                              mean: rec?.mean1, rstd: rec?.rstd1)
            let p = packed?[l]
            linear(ln, rows: rows, inFeatures: c, weight: w.qkvw, p?.qkv, bias: w.qkvb, outFeatures: 3 * c, into: qkv)
            rec?.ln1?.update(from: ln, count: rows * c)
            switch layout {
            case let .sequences(batch, tokens):
                Kernels.attention(qkv: qkv, out: atty, batch: batch, tokens: tokens, width: c, heads: s.heads,
                                  causal: causal, scratch: scores, probs: rec?.probs)
            case let .sharedPrefix(prefix, batch, suffix):
                Kernels.prefixAttention(qkv: qkv, out: atty, prefix: prefix, batch: batch, suffix: suffix, width: c,
                                        heads: s.heads, scratch: scores, probs: rec?.probs)
            }
            rec?.attended?.update(from: atty, count: rows * c)
            if let keep = outputRows, l == blocks.count - 1 {
                lastBlockTail(x, attended: atty, rows: keep, weights: w, packed: p, shape: s)
                return
            }
            linear(atty, rows: rows, inFeatures: c, weight: w.projw, p?.proj, bias: w.projb, outFeatures: c, into: x, accumulate: true)
            rec?.mid.update(from: x, count: rows * c)
            // MLP half.
            Kernels.layerNorm(x, ln, rows: rows, width: c, weight: w.ln2w.pointer, bias: w.ln2b.pointer, eps: s.eps,
                              mean: rec?.mean2, rstd: rec?.rstd2)
            rec?.ln2?.update(from: ln, count: rows * c)
            linear(ln, rows: rows, inFeatures: c, weight: w.fc1w, p?.fc1, bias: w.fc1b, outFeatures: m, into: pre)
            Kernels.activate(pre, into: hidden, count: rows * m, s.activation)
            rec?.hidden?.update(from: hidden, count: rows * m)
            linear(hidden, rows: rows, inFeatures: m, weight: w.fc2w, p?.fc2, bias: w.fc2b, outFeatures: c, into: x, accumulate: true)
        }
    }

    /// Backward of all blocks: on entry `dx` holds dLoss/d(output), on exit dLoss/d(input).
    /// With `gradients` (one per block, same layout as the weights), weight gradients are accumulated into it;
    /// that needs activations saved with `linearInputs`.
    static func backward(
        _ dx: UnsafeMutablePointer<Float>, blocks: [BlockWeights], saved: SavedActivations, workspace ws: Workspace,
        gradients: [BlockWeights]? = nil, prompts: DeepPrompts? = nil
    ) {
        precondition(gradients == nil || saved.keepsLinearInputs, "weight gradients need the linear layers' inputs saved")
        let s = saved.shape, layout = saved.layout
        let rows = layout.rows, c = s.width, m = s.mlp
        ws.reserve(layout, shape: s)
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            let w = blocks[l]
            let dln = ws.ln.pointer, dqkv = ws.qkv.pointer, datty = ws.atty.pointer, dh = ws.hidden.pointer, scores = ws.scores.pointer
            let rec = record(saved, layer: l)
            let g = gradients?[l]
            // MLP half: x_out = mid + fc2(act(fc1(ln2(mid)))); dx holds d x_out and becomes d mid.
            Kernels.linearBackward(dy: dx, x: rec.hidden, weight: w.fc2w.pointer, rows: rows, inFeatures: m, outFeatures: c, dx: dh,
                                   weightGradient: g?.fc2w.pointer, biasGradient: g?.fc2b.pointer)
            Kernels.activateBackward(dh, preactivation: rec.preact, count: rows * m, s.activation)
            Kernels.linearBackward(dy: dh, x: rec.ln2, weight: w.fc1w.pointer, rows: rows, inFeatures: c, outFeatures: m,
                                   dx: dln, weightGradient: g?.fc1w.pointer, biasGradient: g?.fc1b.pointer)
            Kernels.layerNormBackward(dln, rec.mid, mean: rec.mean2, rstd: rec.rstd2, weight: w.ln2w.pointer, into: dx, rows: rows, width: c,
                                      weightGradient: g?.ln2w.pointer, biasGradient: g?.ln2b.pointer)
            // Attention half: mid = x_in + proj(attn(ln1(x_in))); dx becomes d x_in.
            Kernels.linearBackward(dy: dx, x: rec.attended, weight: w.projw.pointer, rows: rows, inFeatures: c, outFeatures: c, dx: datty,
                                   weightGradient: g?.projw.pointer, biasGradient: g?.projb.pointer)
            switch layout {
            case let .sequences(batch, tokens):
                Kernels.attentionBackward(dout: datty, qkv: rec.qkv, probs: rec.probs, dqkv: dqkv,
                                          batch: batch, tokens: tokens, width: c, heads: s.heads, scratch: scores)
            case let .sharedPrefix(prefix, batch, suffix):
                Kernels.prefixAttentionBackward(dout: datty, qkv: rec.qkv, probs: rec.probs, dqkv: dqkv,
                                                prefix: prefix, batch: batch, suffix: suffix, width: c, heads: s.heads,
                                                scratch: scores)
            }
            Kernels.linearBackward(dy: dqkv, x: rec.ln1, weight: w.qkvw.pointer, rows: rows, inFeatures: c, outFeatures: 3 * c,
                                   dx: dln, weightGradient: g?.qkvw.pointer, biasGradient: g?.qkvb.pointer)
            Kernels.layerNormBackward(dln, rec.input, mean: rec.mean1, rstd: rec.rstd1, weight: w.ln1w.pointer, into: dx, rows: rows, width: c,
                                      weightGradient: g?.ln1w.pointer, biasGradient: g?.ln1b.pointer)
            prompts?.takeGradient(from: dx, layer: l, layout: layout, width: c)
        }
    }

    /// Backward of all blocks on an array of rows, with the blocks' weight gradients accumulated into `gradients`
    /// when given (the towers' entry).
    static func backward(_ dx: inout [Float], blocks: [BlockWeights], saved: SavedActivations, workspace ws: Workspace,
                         gradients: [BlockWeights]?, prompts: DeepPrompts?) {
        dx.withUnsafeMutableBufferPointer { d in
            backward(d.baseAddress!, blocks: blocks, saved: saved, workspace: ws, gradients: gradients, prompts: prompts)
        }
    }

    /// Pointers to one layer's slices of the saved activations (the linear inputs only when kept); valid while the
    /// record lives.
    struct LayerRecord {
        let input, mean1, rstd1, qkv, probs, mid, mean2, rstd2, preact: UnsafeMutablePointer<Float>
        let ln1, attended, ln2, hidden: UnsafeMutablePointer<Float>?
    }

    static func record(_ a: SavedActivations, layer l: Int) -> LayerRecord {
        let rows = a.layout.rows, c = a.shape.width, m = a.shape.mlp, tt = a.shape.heads * a.layout.probabilitiesPerHead
        let keep = a.keepsLinearInputs
        return LayerRecord(
            input: a.input.pointer + l * rows * c, mean1: a.mean1.pointer + l * rows, rstd1: a.rstd1.pointer + l * rows,
            qkv: a.qkv.pointer + l * rows * 3 * c, probs: a.probs.pointer + l * tt,
            mid: a.mid.pointer + l * rows * c, mean2: a.mean2.pointer + l * rows, rstd2: a.rstd2.pointer + l * rows,
            preact: a.preact.pointer + l * rows * m,
            ln1: keep ? a.ln1.pointer + l * rows * c : nil, attended: keep ? a.attended.pointer + l * rows * c : nil,
            ln2: keep ? a.ln2.pointer + l * rows * c : nil, hidden: keep ? a.hidden.pointer + l * rows * m : nil)
    }

    /// A forward linear layer in float32, or in bfloat16 when its packed weight is given.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: Tensor, _ packed: BFloat16.PackedWeight?,
                       bias: Tensor, outFeatures: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        if let packed {
            BFloat16.linear(x, rows: rows, weight: packed, bias: bias.pointer, into: y, accumulate: accumulate)
        } else {
            Kernels.linear(x, rows: rows, inFeatures: inFeatures, weight: weight.pointer, bias: bias.pointer, outFeatures: outFeatures,
                           into: y, accumulate: accumulate)
        }
    }

    /// The last block after attention, on `keep` rows only: x[r] += proj(attended[r]), then x[r] += mlp(ln2(x[r])).
    static func lastBlockTail(_ x: UnsafeMutablePointer<Float>, attended: UnsafePointer<Float>, rows keep: [Int],
                              weights w: BlockWeights, packed p: PackedBlock?, shape s: TowerShape) {
        let k = keep.count, c = s.width, m = s.mlp
        var xk = [Float](repeating: 0, count: k * c), ak = xk, lnk = xk
        var pre = [Float](repeating: 0, count: k * m), hidden = pre
        for (j, r) in keep.enumerated() {
            for i in 0..<c { xk[j * c + i] = x[r * c + i]; ak[j * c + i] = attended[r * c + i] }
        }
        xk.withUnsafeMutableBufferPointer { xb in
            let xp = xb.baseAddress!
            linear(ak, rows: k, inFeatures: c, weight: w.projw, p?.proj, bias: w.projb, outFeatures: c, into: xp, accumulate: true)
            Kernels.layerNorm(xp, &lnk, rows: k, width: c, weight: w.ln2w.pointer, bias: w.ln2b.pointer, eps: s.eps)
            pre.withUnsafeMutableBufferPointer { linear(lnk, rows: k, inFeatures: c, weight: w.fc1w, p?.fc1, bias: w.fc1b, outFeatures: m, into: $0.baseAddress!) }
            Kernels.activate(pre, into: &hidden, count: k * m, s.activation)
            linear(hidden, rows: k, inFeatures: m, weight: w.fc2w, p?.fc2, bias: w.fc2b, outFeatures: c, into: xp, accumulate: true)
        }
        for (j, r) in keep.enumerated() { for i in 0..<c { x[r * c + i] = xk[j * c + i] } }
    }
}
