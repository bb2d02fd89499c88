/// How a transformer pass lays out its rows (sequences, or sequences sharing a prefix) and the tokens deep prompts
/// put in at chosen layers.

/// How the rows of a pass form sequences for attention.
///   sequences: `batch` sequences of `tokens` rows each, one after another.
///   sharedPrefix: causal sequences that all begin with the same `prefix` tokens (CoOp's prompts: SOT and a shared
///     context). Under the causal mask those rows are the same in every sequence, so they are stored and computed
///     once: rows = [prefix] then `batch` suffixes of `suffix` rows; suffix queries attend to the prefix's keys and
///     to their own suffix's (causally).
enum AttentionLayout: Equatable {
    case sequences(batch: Int, tokens: Int)
    case sharedPrefix(prefix: Int, batch: Int, suffix: Int)

    var rows: Int {
        switch self {
        case let .sequences(b, t): b * t
        case let .sharedPrefix(p, b, s): p + b * s
        }
    }

    /// Attention probabilities kept for backward, per head: [b, t, t], or [p, p] then [b, s, p + s].
    var probabilitiesPerHead: Int {
        switch self {
        case let .sequences(b, t): b * t * t
        case let .sharedPrefix(p, b, s): p * p + b * s * (p + s)
        }
    }

    /// The leading positions stored once for all sequences (0 without a shared prefix).
    var sharedPositions: Int {
        if case let .sharedPrefix(p, _, _) = self { return p }
        return 0
    }

    /// The row of sequence `b`'s position `pos` (a shared prefix position is one row for every sequence).
    func row(_ b: Int, _ pos: Int) -> Int {
        switch self {
        case let .sequences(_, t): return b * t + pos
        case let .sharedPrefix(p, _, s): return pos < p ? pos : p + b * s + (pos - p)
        }
    }

    /// The rows holding token position `pos`: one per sequence, or the single shared row of a prefix position.
    func rows(at pos: Int) -> [Int] {
        switch self {
        case let .sequences(b, _): return (0..<b).map { row($0, pos) }
        case let .sharedPrefix(p, b, _): return pos < p ? [pos] : (0..<b).map { row($0, pos) }
        }
    }

    /// The largest score block one attention head needs at a time.
    var scoreBlock: Int {
        switch self {
        case let .sequences(_, t): t * t
        case let .sharedPrefix(p, _, s): max(p * p, s * (p + s))
        }
    }
}

/// Tokens inserted at chosen layers, as deep prompts do (VPT-deep, MaPLe): before layer l runs, the rows at
/// `positions` of every sequence are replaced by `values[l]` ([positions.count, C], the same for every sequence).
/// Backward sums each replaced row's gradient over the sequences into `gradients[l]` and stops it there, since a
/// replaced row does not depend on the layers before.
final class DeepPrompts {
    let positions: [Int]
    var values: [Int: [Float]]
    var gradients: [Int: [Float]] = [:]

    init(positions: [Int], values: [Int: [Float]]) {
        self.positions = positions; self.values = values
    }

    func insert(into x: UnsafeMutablePointer<Float>, layer l: Int, layout: AttentionLayout, width c: Int) {
        guard let v = values[l] else { return }
        precondition(v.count == positions.count * c, "deep prompt values of layer \(l) are not [\(positions.count), \(c)]")
        for (j, pos) in positions.enumerated() {
            for r in layout.rows(at: pos) { (x + r * c).update(from: v, count: c, offset: j * c) }
        }
    }

    func takeGradient(from dx: UnsafeMutablePointer<Float>, layer l: Int, layout: AttentionLayout, width c: Int) {
        guard values[l] != nil else { return }
        var g = gradients[l] ?? [Float](repeating: 0, count: positions.count * c)
        for (j, pos) in positions.enumerated() {
            for r in layout.rows(at: pos) {
                for i in 0..<c { g[j * c + i] += dx[r * c + i]; dx[r * c + i] = 0 }
            }
        }
        gradients[l] = g
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    func update(from array: [Float], count: Int, offset: Int) {
        array.withUnsafeBufferPointer { self.update(from: $0.baseAddress! + offset, count: count) }
    }
}

/// What a tower's forward pass keeps for its backward pass.
enum TowerRecord {
    /// Nothing: inference.
    case none
    /// Enough for the input's gradient (CoOp's context, prompts).
    case inputGradients
    /// Also every weight's gradient (pretraining).
    case weightGradients
}
