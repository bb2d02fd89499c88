import AlvlmEngine
import Foundation

/// BADGE (Ash et al., "Deep batch active learning by diverse, uncertain gradient lower bounds", ICLR 2020):
/// k-means++ seeding on gradient embeddings. For CLIP the last layer is the class text embeddings, so the
/// embedding of x is (onehot(ŷ) − p) ⊗ ẑ in R^{C·D}; distances use the exact factorisation
/// ‖g_i − g_j‖² = ‖r_i‖² + ‖r_j‖² − 2 (ẑ_i·ẑ_j)(r_i·r_j) with r = onehot(ŷ) − p, never forming C·D vectors.
public struct BADGEStrategy: Strategy {
    public let name = "badge"
    public let citation = "Ash et al., ICLR 2020"
    public init() {}

    func residuals(_ context: SelectionContext) -> [Float] {
        var r = [Float](repeating: 0, count: context.unlabeled.count * context.classes)
        for (i, row) in context.unlabeled.enumerated() {
            let p = context.probabilityRow(row)
            let top = Uncertainty.argmax(p)
            for c in 0..<context.classes { r[i * context.classes + c] = Float((c == top ? 1 : 0) - p[p.startIndex + c]) }
        }
        return r
    }

    /// ‖g‖² = ‖r‖² (unit features): the gradient embedding's norm, BADGE's uncertainty.
    public func scores(_ context: SelectionContext) -> [Double]? {
        let r = residuals(context), c = context.classes
        return (0..<context.unlabeled.count).map { i in (0..<c).reduce(0.0) { $0 + Double(r[i * c + $1] * r[i * c + $1]) } }
    }

    /// ‖g_i − g_j‖² by the factorisation.
    static func distance(_ i: Int, _ j: Int, z: [Float], r: [Float], d: Int, c: Int) -> Float {
        var zz: Float = 0, rr: Float = 0, ri: Float = 0, rj: Float = 0
        for k in 0..<d { zz += z[i * d + k] * z[j * d + k] }
        for k in 0..<c { rr += r[i * c + k] * r[j * c + k]; ri += r[i * c + k] * r[i * c + k]; rj += r[j * c + k] * r[j * c + k] }
        return max(0, ri + rj - 2 * zz * rr)
    }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        let n = context.unlabeled.count, c = context.classes, d = context.width
        let z = context.packed(context.unlabeled), r = residuals(context)
        let norms = scores(context)!
        var chosen: [Int] = []
        var isChosen = [Bool](repeating: false, count: n)
        var first = 0
        for i in 1..<n where norms[i] > norms[first] { first = i }
        chosen.append(first); isChosen[first] = true
        var d2 = (0..<n).map { Self.distance($0, first, z: z, r: r, d: d, c: c) }
        var scores = [Double(norms[first])]
        while chosen.count < budget {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "BADGE selection cancelled") }
            let total = (0..<n).reduce(0.0) { $0 + (isChosen[$1] ? 0 : Double(d2[$1])) }
            var pick = -1
            if total > 0 {
                var u = rng.uniform() * total
                for i in 0..<n where !isChosen[i] {
                    u -= Double(d2[i])
                    if u < 0 { pick = i; break }
                }
                if pick < 0 { pick = (0..<n).last { !isChosen[$0] && d2[$0] > 0 } ?? -1 }
            }
            if pick < 0 {   // every remaining embedding coincides with a chosen one: uniform among the rest
                let rest = (0..<n).filter { !isChosen[$0] }
                pick = rest[Int(rng.next() % UInt64(rest.count))]
            }
            chosen.append(pick); isChosen[pick] = true; scores.append(Double(d2[pick]))
            for i in 0..<n where !isChosen[i] { d2[i] = min(d2[i], Self.distance(i, pick, z: z, r: r, d: d, c: c)) }
        }
        return Selection(rows: chosen.map { context.unlabeled[$0] }, scores: scores)
    }
}
