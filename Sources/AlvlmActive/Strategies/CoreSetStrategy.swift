import AlvlmEngine
import Foundation

/// CoreSet (Sener & Savarese, "Active learning for convolutional neural networks: a core-set approach",
/// ICLR 2018), k-center greedy: repeatedly pick the unlabelled sample farthest (Euclidean, on unit features)
/// from every labelled or already picked sample. Needs labels: with none it falls back to random.
public struct CoreSetStrategy: Strategy {
    public let name = "coreset"
    public let citation = "Sener & Savarese, ICLR 2018"
    public init() {}

    /// Squared distance of every unlabelled row to its nearest labelled row (on unit vectors, 2 − 2 cos).
    public func scores(_ context: SelectionContext) throws -> [Double]? {
        guard !context.labeled.isEmpty else { return nil }
        return minimumDistances(context, centres: context.labeled.keys.sorted()).map(Double.init)
    }

    func minimumDistances(_ context: SelectionContext, centres: [Int]) -> [Float] {
        let u = context.packed(context.unlabeled), c = context.packed(centres), d = context.width
        var best = [Float](repeating: .infinity, count: context.unlabeled.count)
        let block = 512
        var start = 0
        while start < centres.count {
            let m = min(block, centres.count - start)
            var g = [Float](repeating: 0, count: context.unlabeled.count * m)
            g.withUnsafeMutableBufferPointer { gp in
                c.withUnsafeBufferPointer { cp in
                    Products.rows(u, count: context.unlabeled.count, cp.baseAddress! + start * d, count: m, width: d, into: gp.baseAddress!)
                }
            }
            for i in 0..<context.unlabeled.count {
                for j in 0..<m { best[i] = min(best[i], max(0, 2 - 2 * g[i * m + j])) }
            }
            start += m
        }
        return best
    }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        guard !context.labeled.isEmpty else { return randomFallback(context, budget: budget, rng: &rng) }
        var distance = minimumDistances(context, centres: context.labeled.keys.sorted())
        let u = context.packed(context.unlabeled), d = context.width
        var rows: [Int] = [], scores: [Double] = []
        for _ in 0..<budget {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "CoreSet selection cancelled") }
            var best = 0
            for i in 1..<distance.count where distance[i] > distance[best] { best = i }
            rows.append(context.unlabeled[best]); scores.append(Double(distance[best]))
            // The new centre: update every distance with one matrix-vector product.
            let centre = Array(u[(best * d)..<((best + 1) * d)])
            for i in 0..<distance.count {
                var dot: Float = 0
                for j in 0..<d { dot += u[i * d + j] * centre[j] }
                distance[i] = min(distance[i], max(0, 2 - 2 * dot))
            }
            distance[best] = -1
        }
        return Selection(rows: rows, scores: scores)
    }
}
