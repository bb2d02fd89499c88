import AlvlmEngine
import Foundation

/// TypiClust (Hacohen, Dekel & Weinshall, "Active learning on a budget: opposite strategies suit high and low
/// budgets", ICML 2022), as the foundation-model AL code runs it on cached features (Gupte et al., TMLR 2024,
/// github sanketx/AL-foundation-models): k-means (k-means++ seeding, 100 iterations) of every training row,
/// labelled ones included, into min(|L| + B, `maxClusters`) clusters; clusters ordered by fewest labelled members,
/// then by size (largest first), those of at most `minSize` rows left out; the i-th pick comes from the
/// (i mod K')-th cluster: its unlabelled, unpicked row of highest typicality, the inverse of the mean squared
/// distance to its knn + 1 nearest rows among them (itself included, knn = min(`knn`, n / 2)).
public struct TypiClustStrategy: Strategy {
    public let name = "typiclust"
    public let citation = "Hacohen et al., ICML 2022"
    public var knn = 20
    public var minSize = 5
    public var maxClusters = 500
    public var iterations = 100
    public init() {}

    public func scores(_ context: SelectionContext) throws -> [Double]? { nil }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        var kmeans = WeightedKMeans(clusters: min(context.labeled.count + budget, maxClusters, context.rows))
        kmeans.maxIterations = iterations
        let fit = try kmeans.fit(context.features, rows: context.rows, width: context.width, rng: &rng, cancel: cancel)
        let (rows, scores) = pick(context, assignment: fit.assignment, budget: budget)
        if rows.count < budget {
            let rest = randomRows(from: context.unlabeled.filter { !Set(rows).contains($0) }, budget: budget - rows.count, rng: &rng)
            return Selection(rows: rows + rest, scores: scores + rest.map { _ in .nan },
                             note: "\(budget - rows.count) of \(budget) at random: the clusters of more than \(minSize) rows ran out")
        }
        return Selection(rows: rows, scores: scores)
    }

    /// The picks for a clustering (cluster of every row), with each pick's typicality; fewer than `budget` when
    /// the eligible clusters run out of unlabelled rows.
    func pick(_ context: SelectionContext, assignment: [Int], budget: Int) -> (rows: [Int], typicality: [Double]) {
        let k = (assignment.max() ?? -1) + 1
        var size = [Int](repeating: 0, count: k), labelled = [Int](repeating: 0, count: k)
        for c in assignment { size[c] += 1 }
        for r in context.labeled.keys { labelled[assignment[r]] += 1 }
        func before(_ a: Int, _ b: Int) -> Bool {
            if labelled[a] != labelled[b] { return labelled[a] < labelled[b] }
            if size[a] != size[b] { return size[a] > size[b] }
            return a < b
        }
        let order = (0..<k).filter { size[$0] > minSize }.sorted(by: before)
        var open = [[Int]](repeating: [], count: k)
        for r in context.unlabeled { open[assignment[r]].append(r) }
        var rows: [Int] = [], typicality: [Double] = []
        var exhausted = 0, i = 0
        while rows.count < budget, !order.isEmpty, exhausted < order.count {
            let c = order[i % order.count]
            i += 1
            guard !open[c].isEmpty else { exhausted += 1; continue }
            exhausted = 0
            let (best, t) = Self.mostTypical(open[c], context: context, knn: min(knn, open[c].count / 2))
            rows.append(open[c][best]); typicality.append(t)
            open[c].remove(at: best)
        }
        return (rows, typicality)
    }

    /// The member with the smallest mean squared distance to its knn + 1 nearest members (itself included; ties to
    /// the earlier member), and its typicality 1 / (that mean + 1e-5).
    static func mostTypical(_ members: [Int], context: SelectionContext, knn: Int) -> (Int, Double) {
        let n = members.count
        let x = context.packed(members)
        let d = context.width
        let gram = Products.rows(x, x, width: d)
        var best = 0, bestMean = Double.infinity
        var row = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let gii = Double(gram[i * n + i])
            for j in 0..<n { row[j] = max(0, gii + Double(gram[j * n + j]) - 2 * Double(gram[i * n + j])) }
            row[i] = 0
            row.sort()
            let mean = row.prefix(knn + 1).reduce(0, +) / Double(knn + 1)
            if mean < bestMean { bestMean = mean; best = i }
        }
        return (best, 1 / (bestMean + 1e-5))
    }
}
