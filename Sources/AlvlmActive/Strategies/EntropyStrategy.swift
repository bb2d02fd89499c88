import AlvlmEngine

/// Entropy sampling (Wang & Shang, "A new active labeling method for deep learning", IJCNN 2014):
/// the samples whose predicted distribution has the highest entropy.
public struct EntropyStrategy: Strategy {
    public let name = "entropy"
    public let citation = "Wang & Shang, IJCNN 2014"
    public init() {}
    public func scores(_ context: SelectionContext) -> [Double]? {
        context.unlabeled.map { Uncertainty.entropy(context.probabilityRow($0)) }
    }
    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        return topScored(context, scores(context)!, budget: budget)
    }
}
