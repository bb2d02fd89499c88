import AlvlmEngine
import Foundation

/// CB, the selection half of CB+SQ (Kim et al., "Active prompt learning with vision-language model priors",
/// TMLR 2025; github ml-postech/active-prompt-learning): each sample is described by its image feature joined to the
/// class texts weighted by its predicted probabilities ([z, p·T], unit length); k-means (k-means++ seeding) splits
/// labelled and unlabelled samples into |L| + B clusters (B without labels); the budget goes one label at a time to
/// the cluster with the smallest share of labelled members (ties: the larger cluster, then the first); each cluster
/// gives its unlabelled members nearest its centre (cosine), as many as it was given.
public struct ClassBalancedClusteringStrategy: Strategy {
    public let name = "cb"
    public let citation = "Kim et al., TMLR 2025"
    public var iterations = 300
    public init() {}

    public func scores(_ context: SelectionContext) throws -> [Double]? { nil }

    /// [z, p·T] per row, unit length.
    static func features(_ context: SelectionContext) -> [Float] {
        let d = context.width, c = context.classes
        var out = [Float](repeating: 0, count: context.rows * 2 * d)
        let z = context.features
        for r in 0..<context.rows {
            for j in 0..<d { out[r * 2 * d + j] = z[r * d + j] }
            let p = context.probabilityRow(r)
            for k in 0..<c {
                let w = Float(p[p.startIndex + k])
                for j in 0..<d { out[r * 2 * d + d + j] += w * context.textFeatures[k * d + j] }
            }
        }
        return normalizedRows(out, width: 2 * d)
    }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        let x = Self.features(context)
        var kmeans = WeightedKMeans(clusters: min(context.rows, context.labeled.count + budget))
        kmeans.maxIterations = iterations
        let fit = try kmeans.fit(x, rows: context.rows, width: 2 * context.width, rng: &rng, cancel: cancel)
        let picks = Self.pick(x, width: 2 * context.width, assignment: fit.assignment, centres: fit.centres,
                              labeled: Set(context.labeled.keys), unlabeled: context.unlabeled, budget: budget)
        var selection = Selection(rows: picks, scores: picks.map { _ in .nan })
        if picks.count < budget {
            let rest = randomRows(from: context.unlabeled.filter { !Set(picks).contains($0) }, budget: budget - picks.count, rng: &rng)
            selection = Selection(rows: picks + rest, scores: (picks + rest).map { _ in .nan }, note: "\(rest.count) at random: the clusters ran out")
        }
        return selection
    }

    /// The allocation and the picks for a clustering (features [rows, width], centres [k, width]).
    static func pick(_ x: [Float], width d: Int, assignment: [Int], centres: [Float], labeled: Set<Int>, unlabeled: [Int], budget: Int) -> [Int] {
        let k = centres.count / d
        var size = [Int](repeating: 0, count: k), have = [Int](repeating: 0, count: k)
        for (r, c) in assignment.enumerated() { size[c] += 1; if labeled.contains(r) { have[c] += 1 } }
        var given = [Int](repeating: 0, count: k)
        let present = (0..<k).filter { size[$0] > 0 }
        for _ in 0..<budget {
            guard let c = present.min(by: { a, b in
                let ra = Double(have[a]) / Double(size[a]), rb = Double(have[b]) / Double(size[b])
                if ra != rb { return ra < rb }
                if size[a] != size[b] { return size[a] > size[b] }
                return a < b
            }) else { break }
            given[c] += 1; have[c] += 1
        }
        let open = Set(unlabeled)
        var picks: [Int] = []
        for c in 0..<k where given[c] > 0 {
            let centre = Array(centres[(c * d)..<((c + 1) * d)])
            let norm = max(1e-30, centre.map { Double($0) * Double($0) }.reduce(0, +).squareRoot())
            func cosineDistance(_ r: Int) -> Double {
                var dot = 0.0, nr = 0.0
                for j in 0..<d { dot += Double(x[r * d + j]) * Double(centre[j]); nr += Double(x[r * d + j]) * Double(x[r * d + j]) }
                return 1 - dot / (norm * max(1e-30, nr.squareRoot()))
            }
            let members = assignment.indices.filter { assignment[$0] == c && open.contains($0) }.map { ($0, cosineDistance($0)) }
                .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
            picks += members.prefix(given[c]).map(\.0)
        }
        return picks
    }
}
