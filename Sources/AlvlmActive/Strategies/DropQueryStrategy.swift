import AlvlmEngine
import Foundation

/// DropQuery (Gupte, Aklilu, Nirschl & Yeung-Levy, "Revisiting active learning in the era of vision foundation
/// models", TMLR 2024; their code, github sanketx/AL-foundation-models): the current classifier predicts each
/// unlabelled row `iterations` (3) more times with dropout (rate `dropout`, 0.75) on its features; the rows whose
/// prediction differs from the plain one in more than half of them are the candidates; k-means (k-means++ seeding,
/// 100 iterations) splits the candidates into as many clusters as the budget, and each cluster gives its member
/// nearest its centre. With fewer candidates than the budget, all are taken and the rest is random (the original
/// code cannot run there), and the selection says so.
public struct DropQueryStrategy: Strategy {
    public let name = "dropquery"
    public let citation = "Gupte et al., TMLR 2024"
    public var iterations = 3
    public var dropout = 0.75
    public init() {}

    /// No per-sample score: the dropout predictions are random draws.
    public func scores(_ context: SelectionContext) throws -> [Double]? { nil }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        let keep = (0..<iterations).map { _ in Self.mask(rows: context.unlabeled.count, width: context.width, rate: dropout, rng: &rng) }
        let mismatches = Self.mismatches(context, keep: keep)
        let candidates = context.unlabeled.indices.filter { mismatches[$0] > iterations / 2 }.map { context.unlabeled[$0] }
        guard candidates.count > budget else {
            let taken = Set(candidates)
            let rest = randomRows(from: context.unlabeled.filter { !taken.contains($0) }, budget: budget - candidates.count, rng: &rng)
            return Selection(rows: candidates + rest, scores: candidates.map { _ in 1 } + rest.map { _ in .nan },
                             note: "\(candidates.count) samples change prediction under dropout, fewer than the budget \(budget): \(rest.count) at random")
        }
        var kmeans = WeightedKMeans(clusters: budget)
        kmeans.maxIterations = 100
        let x = context.packed(candidates)
        let fit = try kmeans.fit(x, rows: candidates.count, width: context.width, rng: &rng, cancel: cancel)
        let picks = Self.nearestMembers(x, rows: candidates.count, width: context.width, assignment: fit.assignment, centres: fit.centres, clusters: budget)
        return Selection(rows: picks.map { candidates[$0] }, scores: picks.map { _ in 1 })
    }

    /// A keep-mask of `rows` x `width` (true: kept), each entry dropped with probability `rate`.
    static func mask(rows: Int, width: Int, rate: Double, rng: inout SeededRandom) -> [Bool] {
        (0..<(rows * width)).map { _ in Double(rng.next() >> 11) / Double(1 << 53) >= rate }
    }

    /// For each unlabelled row, how many dropout predictions differ from the plain one. The classifier is cosine
    /// similarity to the class texts, so the kept features need no rescaling: the arg-max does not change with it.
    static func mismatches(_ context: SelectionContext, keep: [[Bool]]) -> [Int] {
        let d = context.width, c = context.classes, z = context.features
        return context.unlabeled.enumerated().map { u, r in
            let plain = Uncertainty.argmax(context.probabilityRow(r))
            var count = 0
            for mask in keep {
                var best = 0, bestValue = -Double.infinity
                for k in 0..<c {
                    var dot = 0.0
                    for j in 0..<d where mask[u * d + j] { dot += Double(z[r * d + j]) * Double(context.textFeatures[k * d + j]) }
                    if dot > bestValue { bestValue = dot; best = k }
                }
                if best != plain { count += 1 }
            }
            return count
        }
    }

    /// Each cluster's member nearest its own centre (ties to the earlier row); an empty cluster gives the nearest row
    /// not yet taken.
    static func nearestMembers(_ x: [Float], rows n: Int, width d: Int, assignment: [Int], centres: [Float], clusters k: Int) -> [Int] {
        func distance(_ i: Int, _ c: Int) -> Double {
            var s = 0.0
            for j in 0..<d { let v = Double(x[i * d + j]) - Double(centres[c * d + j]); s += v * v }
            return s
        }
        var picks = [Int?](repeating: nil, count: k)
        for i in 0..<n {
            let c = assignment[i]
            if picks[c] == nil || distance(i, c) < distance(picks[c]!, c) { picks[c] = i }
        }
        var taken = Set(picks.compactMap { $0 })
        return (0..<k).map { c in
            if let p = picks[c] { return p }
            let p = (0..<n).filter { !taken.contains($0) }.min { distance($0, c) < distance($1, c) }!
            taken.insert(p)
            return p
        }
    }
}
