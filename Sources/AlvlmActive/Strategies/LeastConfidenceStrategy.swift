import AlvlmEngine

/// Least-confidence sampling (Lewis & Gale, "A sequential algorithm for training text classifiers", SIGIR 1994):
/// the samples whose most probable class is least probable. Score = 1 − max p.
public struct LeastConfidenceStrategy: Strategy {
    public let name = "least-confidence"
    public let citation = "Lewis & Gale, SIGIR 1994"
    public init() {}
    public func scores(_ context: SelectionContext) -> [Double]? {
        context.unlabeled.map { 1 - Double(context.probabilityRow($0).max()!) }
    }
    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        return topScored(context, scores(context)!, budget: budget)
    }
}
