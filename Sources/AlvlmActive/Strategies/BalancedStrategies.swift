import AlvlmEngine

/// How a balancing wrapper distributes a base strategy's picks over the classes the model predicts.
public enum Balance: String, Codable, CaseIterable, Sendable {
    /// PCB (Bang et al., CVPR 2024): the class with the fewest labels gets a random candidate predicted as it.
    case pcb
    /// Rank within each predicted class, then take from each class in turn (the within-class ranking of the dual-prompt
    /// method, arXiv 2602.04340).
    case perClass = "per-class"
    /// The least-represented classes in the labelled data first, each with its best-ranked candidate (ALOR's order,
    /// arXiv 2506.01724).
    case tailFirst = "tail-first"

    /// The language's wrapper: `pcb(s)`, `per_class(s)`, `tail_first(s)`.
    public var builtin: String { rawValue.replacingOccurrences(of: "-", with: "_") }

    public func wrap(_ base: Strategy) -> Strategy {
        switch self {
        case .pcb: PCBStrategy(base: base)
        case .perClass, .tailFirst: ClassBalancedStrategy(base: base, order: self)
        }
    }
}

/// The base strategy's ranking of the unlabelled rows, best first: by its per-sample scores when it has them (the
/// whole pool), else the order of its own selection of a candidate set (`candidateFraction` of the pool, at least
/// the budget), as PCB proposes candidates.
func baseRanking(_ base: Strategy, _ context: SelectionContext, budget: Int, candidateFraction: Double,
                 rng: inout SeededRandom, cancel: CancellationToken?) throws -> (rows: [Int], note: String?) {
    if let scores = try base.scores(context) {
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : context.unlabeled[$0] < context.unlabeled[$1] }
        return (order.map { context.unlabeled[$0] }, nil)
    }
    let count = min(context.unlabeled.count, max(budget, Int(candidateFraction * Double(context.rows))))
    let proposed = try base.select(context, budget: count, rng: &rng, cancel: cancel)
    return (proposed.rows, proposed.note)
}

/// `per_class(s)` and `tail_first(s)`: a base strategy's ranking, split by the class the current model predicts for
/// each candidate, then taken class by class.
///   per-class: classes in turn, in the order of their best candidate's rank; each gives its next-ranked candidate.
///   tail-first: each pick goes to the class with the fewest labels so far (labels obtained plus this batch's picks;
///   ties to the class whose next candidate ranks higher) among the classes that still have candidates.
/// Without candidates predicted as a class, that class is passed over; the batch is always filled.
public struct ClassBalancedStrategy: Strategy {
    public var base: Strategy
    public var order: Balance
    public var candidateFraction = 0.1
    public var name: String { "\(order.rawValue)(\(base.name))" }
    public var citation: String { order == .perClass ? "dual-prompt AL, arXiv 2602.04340" : "ALOR, arXiv 2506.01724" }
    public init(base: Strategy, order: Balance) { self.base = base; self.order = order }

    public func scores(_ context: SelectionContext) throws -> [Double]? { try base.scores(context) }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        let (ranked, note) = try baseRanking(base, context, budget: budget, candidateFraction: candidateFraction, rng: &rng, cancel: cancel)
        let predicted = ranked.map { Uncertainty.argmax(context.probabilityRow($0)) }
        let picks = Self.balance(ranked: ranked, predicted: predicted, classes: context.classes, labeled: context.labeled,
                                 budget: budget, order: order)
        return Selection(rows: picks, scores: picks.map { _ in .nan }, note: note)
    }

    /// The balancing itself, on a ranking (best first) and each ranked row's predicted class.
    static func balance(ranked: [Int], predicted: [Int], classes: Int, labeled: [Int: Int], budget: Int, order: Balance) -> [Int] {
        var queues = [[Int]](repeating: [], count: classes)
        for (i, row) in ranked.enumerated() { queues[predicted[i]].append(row) }
        var heads = [Int](repeating: 0, count: classes)
        /// The rank of a class's next candidate (for ordering classes); nil when it has none left.
        var rankOf: [Int: Int] = [:]
        for (i, row) in ranked.enumerated() { rankOf[row] = i }
        func next(_ c: Int) -> Int? { heads[c] < queues[c].count ? rankOf[queues[c][heads[c]]] : nil }
        var picks: [Int] = []
        switch order {
        case .perClass, .pcb:
            var turn = (0..<classes).filter { next($0) != nil }.sorted { next($0)! < next($1)! }
            while picks.count < budget, !turn.isEmpty {
                var still: [Int] = []
                for c in turn where picks.count < budget {
                    picks.append(queues[c][heads[c]]); heads[c] += 1
                    if next(c) != nil { still.append(c) }
                }
                turn = still
            }
        case .tailFirst:
            var counts = [Int](repeating: 0, count: classes)
            for label in labeled.values { counts[label] += 1 }
            while picks.count < budget {
                guard let c = (0..<classes).filter({ next($0) != nil }).min(by: { counts[$0] != counts[$1] ? counts[$0] < counts[$1] : next($0)! < next($1)! }) else { break }
                picks.append(queues[c][heads[c]]); heads[c] += 1
                counts[c] += 1
            }
        }
        return picks
    }
}
