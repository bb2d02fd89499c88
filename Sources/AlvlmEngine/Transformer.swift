/// The pre-LN residual transformer shared by CLIP's two towers:
///   x += out_proj(attention(ln_1(x)));  x += fc2(act(fc1(ln_2(x))))
/// Weights use nn.Linear layout [out, in]; Q, K and V are fused into one [3C, C] matrix.

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

    /// Multiply-adds x2 of the transformer layers for one sequence of `t` tokens.
    func flops(tokens t: Int) -> Double {
        let c = Double(width), m = Double(mlp), tt = Double(t)
        return Double(layers) * (2 * tt * c * (3 * c + c + 2 * m) + 4 * tt * tt * c)
    }
}

public struct BlockWeights {
    public var ln1w: [Float], ln1b: [Float]
    public var qkvw: [Float], qkvb: [Float]     // [3C, C], [3C]
    public var projw: [Float], projb: [Float]   // [C, C], [C]
    public var ln2w: [Float], ln2b: [Float]
    public var fc1w: [Float], fc1b: [Float]     // [M, C], [M]
    public var fc2w: [Float], fc2b: [Float]     // [C, M], [C]

    /// Expected shapes, in the order of the stored properties, for validation and random init.
    static func shapes(_ s: TowerShape) -> [(String, [Int])] {
        let c = s.width, m = s.mlp
        return [("ln1w", [c]), ("ln1b", [c]), ("qkvw", [3 * c, c]), ("qkvb", [3 * c]),
                ("projw", [c, c]), ("projb", [c]), ("ln2w", [c]), ("ln2b", [c]),
                ("fc1w", [m, c]), ("fc1b", [m]), ("fc2w", [c, m]), ("fc2b", [c])]
    }
}

/// Scratch buffers for a forward pass over `rows` tokens; sized once, grown on demand.
final class Workspace {
    private(set) var rows = 0
    var ln: [Float] = []       // [rows, C]
    var qkv: [Float] = []      // [rows, 3C]
    var atty: [Float] = []     // [rows, C]
    var hidden: [Float] = []   // [rows, M]
    var scores: [Float] = []   // [cores, T, T]

    func reserve(rows: Int, tokens: Int, shape s: TowerShape) {
        let need = rows * max(s.mlp, 3 * s.width)
        if ln.count < rows * s.width { ln = .init(repeating: 0, count: rows * s.width) }
        if atty.count < rows * s.width { atty = .init(repeating: 0, count: rows * s.width) }
        if qkv.count < rows * 3 * s.width { qkv = .init(repeating: 0, count: rows * 3 * s.width) }
        if hidden.count < need { hidden = .init(repeating: 0, count: need) }
        let sc = Engine.cores * tokens * tokens
        if scores.count < sc { scores = .init(repeating: 0, count: sc) }
        self.rows = max(self.rows, rows)
    }
}

enum Transformer {
    /// Runs all blocks in place on x: [batch * tokens, C].
    static func forward(
        _ x: UnsafeMutablePointer<Float>, batch: Int, tokens: Int,
        blocks: [BlockWeights], shape s: TowerShape, causal: Bool, workspace ws: Workspace
    ) {
        let rows = batch * tokens, c = s.width
        ws.reserve(rows: rows, tokens: tokens, shape: s)
        for w in blocks {
            ws.ln.withUnsafeMutableBufferPointer { ln in
            ws.qkv.withUnsafeMutableBufferPointer { qkv in
            ws.atty.withUnsafeMutableBufferPointer { atty in
            ws.hidden.withUnsafeMutableBufferPointer { hidden in
            ws.scores.withUnsafeMutableBufferPointer { scores in
                // Attention half.
                Kernels.layerNorm(x, ln.baseAddress!, rows: rows, width: c, weight: w.ln1w, bias: w.ln1b, eps: s.eps)
                BLAS.linear(ln.baseAddress!, rows: rows, inFeatures: c, weight: w.qkvw, bias: w.qkvb,
                            outFeatures: 3 * c, into: qkv.baseAddress!)
                Kernels.attention(qkv: qkv.baseAddress!, out: atty.baseAddress!, batch: batch, tokens: tokens,
                                  width: c, heads: s.heads, causal: causal, scratch: scores.baseAddress!)
                // x += atty * Wo^T + bo
                addBiasRows(x, w.projb, rows: rows, width: c)
                BLAS.parallelGemm(transB: true, m: rows, n: c, k: c, a: atty.baseAddress!, lda: c,
                          b: w.projw, ldb: c, beta: 1, c: x, ldc: c)
                // MLP half.
                Kernels.layerNorm(x, ln.baseAddress!, rows: rows, width: c, weight: w.ln2w, bias: w.ln2b, eps: s.eps)
                BLAS.linear(ln.baseAddress!, rows: rows, inFeatures: c, weight: w.fc1w, bias: w.fc1b,
                            outFeatures: s.mlp, into: hidden.baseAddress!)
                Kernels.activate(hidden.baseAddress!, count: rows * s.mlp, s.activation)
                addBiasRows(x, w.fc2b, rows: rows, width: c)
                BLAS.parallelGemm(transB: true, m: rows, n: c, k: s.mlp, a: hidden.baseAddress!, lda: s.mlp,
                          b: w.fc2w, ldb: s.mlp, beta: 1, c: x, ldc: c)
            }}}}}
        }
    }

    @inline(__always)
    static func addBiasRows(_ x: UnsafeMutablePointer<Float>, _ bias: [Float], rows: Int, width c: Int) {
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows {
                let xr = x + r * c
                for i in 0..<c { xr[i] += b[i] }
            }
        }
    }
}
