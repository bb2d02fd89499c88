import AlvlmEngine

/// A strategy by name with its options: what experiments save, compare and rebuild.
public struct StrategySpec: Codable, Equatable, Sendable {
    public var name: String
    /// PCB's balancer around the strategy (files written before `balance` existed say it this way).
    public var pcb = false
    /// A class-balancing wrapper around the strategy (`pcb(s)`, `per_class(s)`, `tail_first(s)`); nil with `pcb`
    /// false: none.
    public var balance: Balance?
    // CEC's named parameters (METHOD.md §2): defaults are the paper's / the reconstruction's.
    public var support = 10
    public var neighbours = 10
    public var rho = 1.0
    public var beta = 1.0
    public var prior = CECStrategy.Prior.union.rawValue
    public var kernel = CECStrategy.Kernel.rbf.rawValue
    public var calibrate = true
    public var clustering = CECStrategy.Clustering.weighted.rawValue
    public var knn = CECStrategy.NeighbourSearch.auto.rawValue
    public var knnRecall = 0.99
    public var seeding = CECStrategy.KMeansSeeding.auto.rawValue
    public var assignment = CECStrategy.KMeansAssignment.auto.rawValue
    public var gcnEpochs = 200
    // TypiClust's, ProbCover's and DropQuery's (their code's defaults; δ = 0: estimated by the purity rule).
    public var typicalNeighbours = 20
    public var minimumClusterSize = 5
    public var maximumClusters = 500
    public var delta = 0.0
    public var purity = 0.95
    public var dropoutIterations = 3
    public var dropoutRate = 0.75
    /// The user's name for it (`cec(beta: 0, name: "cec β=0")`); nil: built from the settings.
    public var displayName: String?

    public init(name: String) { self.name = name }

    /// Every setting but the name may be missing from a file (written before it existed): it takes its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name))
        func read<T: Decodable>(_ key: CodingKeys, _ path: WritableKeyPath<StrategySpec, T>) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { self[keyPath: path] = v }
        }
        try read(.pcb, \.pcb); try read(.support, \.support); try read(.neighbours, \.neighbours); try read(.rho, \.rho)
        try read(.beta, \.beta); try read(.prior, \.prior); try read(.kernel, \.kernel); try read(.calibrate, \.calibrate)
        try read(.clustering, \.clustering); try read(.knn, \.knn); try read(.knnRecall, \.knnRecall); try read(.seeding, \.seeding); try read(.assignment, \.assignment); try read(.gcnEpochs, \.gcnEpochs); try read(.typicalNeighbours, \.typicalNeighbours)
        try read(.minimumClusterSize, \.minimumClusterSize); try read(.maximumClusters, \.maximumClusters); try read(.delta, \.delta)
        try read(.purity, \.purity); try read(.dropoutIterations, \.dropoutIterations); try read(.dropoutRate, \.dropoutRate)
        balance = try c.decodeIfPresent(Balance.self, forKey: .balance)
        displayName = try c.decodeIfPresent(String.self, forKey: .displayName)
    }

    /// The name, with CEC's settings that differ from the defaults (so ablations read apart in tables and plots).
    public var label: String {
        var base = displayName ?? name
        if name == "cec", displayName == nil {
            let d = StrategySpec(name: "cec")
            var parts: [String] = []
            if support != d.support { parts.append("N=\(support)") }
            if neighbours != d.neighbours { parts.append("k=\(neighbours)") }
            if rho != d.rho { parts.append("rho=\(formatShort(rho))") }
            if beta != d.beta { parts.append("beta=\(formatShort(beta))") }
            if prior != d.prior { parts.append(prior) }
            if kernel != d.kernel { parts.append(kernel) }
            if !calibrate { parts.append("uncalibrated") }
            if clustering != d.clustering { parts.append(clustering) }
            if knn != d.knn { parts.append("knn=\(knn)") }
            if knnRecall != d.knnRecall { parts.append("recall=\(formatShort(knnRecall))") }
            if seeding != d.seeding { parts.append("seeding=\(seeding)") }
            if assignment != d.assignment { parts.append("assignment=\(assignment)") }
            if !parts.isEmpty { base += " (" + parts.joined(separator: ", ") + ")" }
        }
        return wrapper.map { "\($0.rawValue)(\(base))" } ?? base
    }

    /// The balancing wrapper, from either spelling.
    public var wrapper: Balance? { balance ?? (pcb ? .pcb : nil) }

    private func formatShort(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }

    /// The strategy, its parameters checked against the table (a saved file may hold any values), wrapped in its
    /// balancer when asked.
    public func make() throws -> Strategy {
        let entry = try Strategies.entry(name)
        var checked = StrategySpec(name: name)
        for p in entry.parameters { try p.set(p.value(in: self), in: &checked) }
        checked.gcnEpochs = gcnEpochs
        let strategy = entry.build(checked)
        return wrapper.map { $0.wrap(strategy) } ?? strategy
    }
}

/// How many samples a round queries.
public enum Budget: Codable, Equatable, Sendable {
    case count(Int)
    /// Percent of the initial unlabelled pool, truncated (as PCB's code does with int()), at least 1.
    case percent(Double)

    public func resolve(poolSize: Int) throws -> Int {
        switch self {
        case .count(let n):
            guard n >= 1 else { throw EngineError(.argument, "budget must be at least 1 (got \(n))") }
            return n
        case .percent(let p):
            guard p > 0, p <= 100 else { throw EngineError(.argument, "budget percent must be in (0, 100] (got \(p))") }
            return max(1, Int(p * Double(poolSize) / 100 + 1e-9))
        }
    }

    public var description: String {
        switch self {
        case .count(let n): "\(n) per round"
        case .percent(let p): "\(p)% of the initial pool per round (truncated, at least 1)"
        }
    }
}

/// How many labels a round buys, as the two families of papers do it; their numbers are not comparable.
public enum BudgetProtocol: String, CaseIterable, Sendable {
    /// CEC (Safaei & Patel, WACV 2025): a percentage of the pool per round (1%), reported at cumulative 1/2/5%.
    case cec
    /// PCB (Bang et al., CVPR 2024) and the work built on its code: one label per class per round, 8 rounds.
    case pcb

    /// The rounds and budget the protocol fixes (nil: the caller's, as CEC's percentage is a setting).
    public func schedule(classes: Int) -> (rounds: Int, budget: Budget)? {
        switch self {
        case .cec: nil
        case .pcb: (8, .count(classes))
        }
    }
}
