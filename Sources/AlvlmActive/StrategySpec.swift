import AlvlmEngine

/// A strategy by name with its options: what experiments save, compare and rebuild.
public struct StrategySpec: Codable, Equatable, Sendable {
    public var name: String
    public var pcb = false
    // CEC's named parameters (METHOD.md §2): defaults are the paper's / the reconstruction's.
    public var support = 10
    public var neighbours = 10
    public var rho = 1.0
    public var beta = 1.0
    public var prior = CECStrategy.Prior.union.rawValue
    public var kernel = CECStrategy.Kernel.rbf.rawValue
    public var calibrate = true
    public var clustering = CECStrategy.Clustering.weighted.rawValue
    public var gcnEpochs = 200
    /// The user's name for it (`cec(beta: 0, name: "cec β=0")`); nil: built from the settings.
    public var displayName: String?

    public init(name: String) { self.name = name }

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
            if !parts.isEmpty { base += " (" + parts.joined(separator: ", ") + ")" }
        }
        return pcb ? "pcb(\(base))" : base
    }

    private func formatShort(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }

    /// The strategy, its parameters checked against the table (a saved file may hold any values), wrapped in PCB's
    /// balancer when asked.
    public func make() throws -> Strategy {
        let entry = try Strategies.entry(name)
        var checked = StrategySpec(name: name)
        for p in entry.parameters { try p.set(p.value(in: self), in: &checked) }
        checked.gcnEpochs = gcnEpochs
        let strategy = entry.build(checked)
        return pcb ? PCBStrategy(base: strategy) : strategy
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
