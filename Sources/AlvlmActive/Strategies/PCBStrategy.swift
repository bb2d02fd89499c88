import AlvlmEngine

/// PCB's class balancer (Bang, Ahn & Lee, "Active prompt learning in vision language models", CVPR 2024)
/// over any base strategy: the base strategy proposes a candidate set (γ = 10% of the pool), then, until the
/// budget is met, the class with the fewest labels so far (by oracle labels) gets a random candidate that the
/// model predicts as that class (and its count grows); when there is none, a random candidate is taken and no
/// count changes (as PCB's code does).
public struct PCBStrategy: Strategy {
    public var base: Strategy
    public var candidateFraction = 0.1
    public var name: String { "pcb(\(base.name))" }
    public let citation = "Bang et al., CVPR 2024"
    public init(base: Strategy) { self.base = base }

    public func scores(_ context: SelectionContext) throws -> [Double]? { try base.scores(context) }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        let pool = min(context.unlabeled.count, max(budget, Int(candidateFraction * Double(context.rows))))
        let proposed = try base.select(context, budget: pool, rng: &rng, cancel: cancel)
        var candidates = proposed.rows
        var counts = [Int](repeating: 0, count: context.classes)
        for label in context.labeled.values { counts[label] += 1 }
        let predicted = Dictionary(uniqueKeysWithValues: candidates.map { ($0, Uncertainty.argmax(context.probabilityRow($0))) })
        var picks: [Int] = []
        while picks.count < budget {
            var minClass = 0
            for c in 1..<context.classes where counts[c] < counts[minClass] { minClass = c }
            let matching = candidates.indices.filter { predicted[candidates[$0]] == minClass }
            let index: Int
            if matching.isEmpty {
                index = Int(rng.next() % UInt64(candidates.count))
            } else {
                index = matching[Int(rng.next() % UInt64(matching.count))]
                counts[minClass] += 1
            }
            picks.append(candidates.remove(at: index))
        }
        return Selection(rows: picks, scores: picks.map { _ in .nan }, note: proposed.note)
    }
}
