import AlvlmEngine
import Foundation

/// ALFA-Mix (Parvaneh et al., "Active learning by feature mixing", CVPR 2022), closed-form α as used for CLIP:
/// an unlabelled feature z is mixed towards each class anchor z* (the mean labelled feature of that class, or of
/// all labelled samples when the class has none) by α = ε‖z* − z‖/‖∇‖ · ∇ / (z* − z), ε = α_cap/√D, with ∇ the
/// gradient of the cross-entropy at the predicted label w.r.t. z. Samples whose prediction flips for some anchor
/// are candidates; α_cap grows by its step until there are more candidates than the budget (or reaches 1).
/// Unweighted k-means (budget clusters) on the candidates picks the member nearest each centre; any shortfall is
/// filled at random. Needs labels: with none it falls back to random.
public struct ALFAMixStrategy: Strategy {
    public var alphaCap = 0.2
    public let name = "alfa-mix"
    public let citation = "Parvaneh et al., CVPR 2022"
    public init() {}

    public func scores(_ context: SelectionContext) -> [Double]? { nil }

    /// For each unlabelled sample: whether some anchor flips its prediction at this α_cap.
    func candidates(_ context: SelectionContext, cap: Double, gradients: [Float], anchors: [[Float]], predicted: [Int]) -> [Bool] {
        let d = context.width, c = context.classes
        let eps = Float(cap / Double(d).squareRoot())
        var out = [Bool](repeating: false, count: context.unlabeled.count)
        for (i, row) in context.unlabeled.enumerated() {
            let z = Array(context.feature(row)), g = gradients[(i * d)..<((i + 1) * d)]
            let gNorm = g.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            guard gNorm > 0 else { continue }
            for anchor in anchors {
                var diffNorm: Float = 0
                for j in 0..<d { diffNorm += (anchor[j] - z[j]) * (anchor[j] - z[j]) }
                diffNorm = diffNorm.squareRoot()
                var mixed = [Float](repeating: 0, count: d)
                for j in 0..<d {
                    let diff = anchor[j] - z[j]
                    let alpha = eps * diffNorm / gNorm * g[g.startIndex + j] / (diff + 1e-8)
                    mixed[j] = (1 - alpha) * z[j] + alpha * anchor[j]
                }
                // The CLIP head's argmax (normalisation does not change it).
                var best = 0, bestValue = -Float.infinity
                for k in 0..<c {
                    var dot: Float = 0
                    for j in 0..<d { dot += mixed[j] * context.textFeatures[k * d + j] }
                    if dot > bestValue { bestValue = dot; best = k }
                }
                if best != predicted[i] { out[i] = true; break }
            }
        }
        return out
    }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        guard !context.labeled.isEmpty else { return randomFallback(context, budget: budget, rng: &rng) }
        let d = context.width, c = context.classes, s = context.scale
        // Anchors: per-class mean of labelled features (all labelled when a class has none).
        var all = [Float](repeating: 0, count: d)
        let z = context.features
        for r in context.labeled.keys { for j in 0..<d { all[j] += z[r * d + j] / Float(context.labeled.count) } }
        let anchors: [[Float]] = (0..<c).map { k in
            let members = context.labeled.filter { $0.value == k }.map(\.key)
            guard !members.isEmpty else { return all }
            var m = [Float](repeating: 0, count: d)
            for r in members { for j in 0..<d { m[j] += z[r * d + j] / Float(members.count) } }
            return m
        }
        // ∇_z CE(s·ẑ·T̂ᵀ, ŷ) for unit z: the tangential part of s·T̂ᵀ(p − onehot(ŷ)).
        var predicted: [Int] = [], gradients: [Float] = []
        for row in context.unlabeled {
            let p = context.probabilityRow(row)
            let y = Uncertainty.argmax(p)
            predicted.append(y)
            var g = [Float](repeating: 0, count: d)
            for k in 0..<c {
                let coef = s * Float(p[p.startIndex + k] - (k == y ? 1 : 0))
                for j in 0..<d { g[j] += coef * context.textFeatures[k * d + j] }
            }
            let z = context.feature(row)
            let along = zip(g, z).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            for j in 0..<d { g[j] -= along * z[z.startIndex + j] }
            gradients += g
        }
        var isCandidate = [Bool](repeating: false, count: context.unlabeled.count)
        var cap = 0.0
        while cap < 1 {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "ALFA-Mix selection cancelled") }
            cap += alphaCap
            let found = candidates(context, cap: cap, gradients: gradients, anchors: anchors, predicted: predicted)
            for i in 0..<found.count where found[i] { isCandidate[i] = true }
            if isCandidate.filter({ $0 }).count > budget { break }
        }
        let members = (0..<context.unlabeled.count).filter { isCandidate[$0] }
        var picks: [Int] = []
        if !members.isEmpty {
            let k = min(budget, members.count)
            let x = context.packed(members.map { context.unlabeled[$0] })
            let fit = try WeightedKMeans(clusters: k).fit(x, rows: members.count, width: d, rng: &rng, cancel: cancel)
            let dist = WeightedKMeans.squaredDistances(FeatureRows(floats: x, width: d), norms: [Float](repeating: 1, count: members.count),
                                                       centres: fit.centres, m: k)
            for cluster in 0..<k {
                var best = -1
                for i in 0..<members.count where fit.assignment[i] == cluster && (best < 0 || dist[i * k + cluster] < dist[best * k + cluster]) { best = i }
                if best >= 0 { picks.append(context.unlabeled[members[best]]) }
            }
        }
        var note: String? = nil
        if picks.count < budget {
            let taken = Set(picks)
            var rest = context.unlabeled.filter { !taken.contains($0) }
            for i in 0..<(budget - picks.count) { rest.swapAt(i, i + Int(rng.next() % UInt64(rest.count - i))) }
            note = "\(budget - picks.count) of \(budget) filled at random (too few candidates)"
            picks += rest.prefix(budget - picks.count)
        }
        return Selection(rows: picks, scores: picks.map { _ in .nan }, note: note)
    }
}
