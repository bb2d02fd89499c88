import AlvlmEngine

/// Random sampling: uniform without replacement from the unlabelled pool (the baseline of every AL paper).
public struct RandomStrategy: Strategy {
    public let name = "random"
    public let citation = "uniform sampling without replacement"
    public init() {}
    public func scores(_ context: SelectionContext) -> [Double]? { nil }
    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        let rows = randomRows(context, budget: budget, rng: &rng)
        return Selection(rows: rows, scores: rows.map { _ in .nan })
    }
}
