import AlvlmEngine

/// The registry of strategies by name, with their options: what the command line and the language build from.
public enum Strategies {
    public static let names = ["random", "entropy", "margin", "least-confidence", "coreset", "badge", "alfa-mix",
                               "core-gcn", "uncertain-gcn", "cec"]

    /// Builds a strategy; `pcb: true` wraps it in PCB's class balancer.
    public static func make(_ name: String, cec: CECStrategy = CECStrategy(), pcb: Bool = false) throws -> Strategy {
        let base: Strategy
        switch name {
        case "random": base = RandomStrategy()
        case "entropy": base = EntropyStrategy()
        case "margin": base = MarginStrategy()
        case "least-confidence": base = LeastConfidenceStrategy()
        case "coreset": base = CoreSetStrategy()
        case "badge": base = BADGEStrategy()
        case "alfa-mix": base = ALFAMixStrategy()
        case "core-gcn": base = GCNStrategy(variant: .core)
        case "uncertain-gcn": base = GCNStrategy(variant: .uncertain)
        case "cec": base = cec
        default:
            throw EngineError(.argument, "unknown strategy \(name) (known: \(names.joined(separator: ", ")))")
        }
        return pcb ? PCBStrategy(base: base) : base
    }
}
