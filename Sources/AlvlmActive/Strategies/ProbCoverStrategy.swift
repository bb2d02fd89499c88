import AlvlmEngine
import Foundation

/// ProbCover (Yehuda, Dekel, Hacohen & Weinshall, "Active learning through a covering lens", NeurIPS 2022), as the
/// foundation-model AL code runs it on cached features (Gupte et al., TMLR 2024): the δ-ball graph of the unit
/// features (an edge i → j when ‖z_i − z_j‖ < δ, itself included); the rows within δ of a labelled row are covered;
/// each pick is the row whose ball holds the most uncovered rows (ties to the smaller row), whose ball is then
/// covered. When nothing uncovered is left the rest of the batch is random, as the original code does.
/// δ: given, or (0, the default) the paper's rule: the largest δ whose balls are pure for a fraction `purity` (0.95)
/// of the rows, purity measured against a k-means clustering into as many clusters as classes.
public struct ProbCoverStrategy: Strategy {
    public let name = "probcover"
    public let citation = "Yehuda et al., NeurIPS 2022"
    public var delta = 0.0
    public var purity = 0.95
    /// Edges the graph may hold (δ too large for the pool makes it dense).
    public var maxEdges = 200_000_000
    public init() {}

    public func scores(_ context: SelectionContext) throws -> [Double]? { nil }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        var d = delta
        if d <= 0 {
            var kmeans = WeightedKMeans(clusters: min(context.classes, context.rows))
            kmeans.maxIterations = 100
            let fit = try kmeans.fit(context.features, rows: context.rows, width: context.width, rng: &rng, cancel: cancel)
            d = Self.estimateDelta(context, clusters: fit.assignment, purity: purity)
        }
        let graph = try Self.graph(context, delta: d, maxEdges: maxEdges, cancel: cancel)
        var rows = Self.greedy(graph: graph, labeled: Array(context.labeled.keys), budget: budget).picks
        var note: String?
        if rows.count < budget {
            let taken = Set(rows)
            let rest = randomRows(from: context.unlabeled.filter { !taken.contains($0) }, budget: budget - rows.count, rng: &rng)
            note = "\(rest.count) of \(budget) at random: every sample is within δ = \(String(format: "%.3f", d)) of a labelled or picked one"
            rows += rest
        }
        return Selection(rows: rows, scores: rows.map { _ in d }, note: note)
    }

    /// The largest δ at which a fraction `purity` of the rows have pure balls (no row of another cluster closer than δ).
    static func estimateDelta(_ context: SelectionContext, clusters: [Int], purity: Double) -> Double {
        let n = context.rows
        var nearestOther = [Double](repeating: .infinity, count: n)
        forEachBlock(context) { i, j, distance in
            if clusters[i] != clusters[j] { nearestOther[i] = min(nearestOther[i], distance) }
        }
        let sorted = nearestOther.sorted()
        // purity(δ) = #{i : nearestOther_i ≥ δ} / n; the largest δ with purity ≥ α is the (n − ⌈αn⌉)-th smallest.
        let index = max(0, min(n - 1, n - Int((purity * Double(n)).rounded(.up))))
        let value = sorted[index]
        return value.isFinite ? value : 2
    }

    /// Out-neighbours within δ of every row (the graph is symmetric).
    static func graph(_ context: SelectionContext, delta: Double, maxEdges: Int, cancel: CancellationToken?) throws -> [[Int32]] {
        var adjacency = [[Int32]](repeating: [], count: context.rows)
        var edges = 0, tooMany = false
        forEachBlock(context) { i, j, distance in
            guard !tooMany, distance < delta else { return }
            adjacency[i].append(Int32(j)); edges += 1
            if edges > maxEdges { tooMany = true }
        }
        if tooMany {
            throw EngineError(.argument, "δ = \(String(format: "%.3f", delta)) joins more than \(maxEdges) pairs of this pool's \(context.rows) samples: give a smaller delta")
        }
        if cancel?.isCancelled == true { throw EngineError(.cancelled, "probcover cancelled") }
        return adjacency
    }

    /// The greedy cover: picks in order, and the covered flags after them; fewer picks than the budget when no
    /// uncovered row is left.
    static func greedy(graph: [[Int32]], labeled: [Int], budget: Int) -> (picks: [Int], covered: [Bool]) {
        let n = graph.count
        var covered = [Bool](repeating: false, count: n)
        var degree = graph.map(\.count)
        func cover(_ j: Int) {
            guard !covered[j] else { return }
            covered[j] = true
            for i in graph[j] { degree[Int(i)] -= 1 }   // symmetric: i → j is an edge exactly when j → i is
        }
        for l in labeled { for j in graph[l] { cover(Int(j)) } }
        var picks: [Int] = []
        while picks.count < budget {
            var best = 0
            for i in 1..<n where degree[i] > degree[best] { best = i }
            guard degree[best] > 0 else { break }
            picks.append(best)
            for j in graph[best] { cover(Int(j)) }
        }
        return (picks, covered)
    }

    /// Calls `body(i, j, ‖z_i − z_j‖)` for every ordered pair of rows (i ≠ j and i = j alike), block by block.
    static func forEachBlock(_ context: SelectionContext, block: Int = 1024, _ body: (Int, Int, Double) -> Void) {
        let n = context.rows, d = context.width
        var g = [Float](repeating: 0, count: block * block)
        context.features.withUnsafeBufferPointer { z in
            let base = z.baseAddress!
            for r0 in stride(from: 0, to: n, by: block) {
                let rn = min(block, n - r0)
                for c0 in stride(from: 0, to: n, by: block) {
                    let cn = min(block, n - c0)
                    g.withUnsafeMutableBufferPointer { gp in
                        Products.rows(base + r0 * d, count: rn, base + c0 * d, count: cn, width: d, into: gp.baseAddress!, cores: 1)
                    }
                    for a in 0..<rn {
                        for b in 0..<cn {
                            let i = r0 + a, j = c0 + b
                            // Unit rows: ‖z_i − z_j‖² = 2 − 2 z_i·z_j (exactly 0 on the diagonal).
                            let distance = i == j ? 0 : (max(0, 2 - 2 * Double(g[a * cn + b]))).squareRoot()
                            body(i, j, distance)
                        }
                    }
                }
            }
        }
    }
}
