import AlvlmEngine

/// Margin sampling (Scheffer, Decomain & Wrobel, "Active hidden Markov models for information extraction",
/// IDA 2001): the smallest gap between the two most probable classes. Score = −(p1 − p2).
public struct MarginStrategy: Strategy {
    public let name = "margin"
    public let citation = "Scheffer et al., IDA 2001"
    public init() {}
    public func scores(_ context: SelectionContext) -> [Double]? {
        context.unlabeled.map { -Uncertainty.margin(context.probabilityRow($0)) }
    }
    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        return topScored(context, scores(context)!, budget: budget)
    }
}
