import AlvlmEngine

/// A strategy's named parameter, declared once: its name (the language's argument and the command line's
/// `--param NAME=VALUE`), help, kind, default, and where it lives in `StrategySpec`.
public struct StrategyParameter: Sendable {
    public enum Kind: Sendable, Equatable {
        case integer(minimum: Int)
        case number(minimum: Double)
        case choice([String])
        case flag
    }
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case integer(Int), number(Double), string(String), bool(Bool)
        public var description: String {
            switch self {
            case .integer(let v): "\(v)"
            case .number(let v): v == v.rounded() && abs(v) < 1e15 ? "\(Int(v))" : "\(v)"
            case .string(let s): s
            case .bool(let b): "\(b)"
            }
        }
    }

    public let name: String
    public let help: String
    public let kind: Kind
    let read: @Sendable (StrategySpec) -> Value
    let write: @Sendable (inout StrategySpec, Value) -> Void

    /// The value a fresh spec has (the paper's default).
    public var defaultValue: Value { read(StrategySpec(name: "")) }
    public func value(in spec: StrategySpec) -> Value { read(spec) }

    /// Sets the parameter after checking the value against its kind; the error names the parameter.
    public func set(_ value: Value, in spec: inout StrategySpec) throws {
        switch (kind, value) {
        case let (.integer(minimum), .integer(v)):
            guard v >= minimum else { throw EngineError(.argument, "\(name) must be at least \(minimum) (got \(v))") }
        case let (.number(minimum), .number(v)):
            guard v.isFinite, v >= minimum else { throw EngineError(.argument, "\(name) must be a number of at least \(StrategyParameter.Value.number(minimum)) (got \(v))") }
        case let (.choice(options), .string(v)):
            guard options.contains(v) else { throw EngineError(.argument, "\(name) must be one of \(options.joined(separator: ", ")) (got \(v))") }
        case (.flag, .bool): break
        default: throw EngineError(.argument, "\(name) takes \(kind.noun), not \(value)")
        }
        write(&spec, value)
    }

    /// A value from command-line text, read as this parameter's kind.
    public func parse(_ text: String) throws -> Value {
        switch kind {
        case .integer:
            guard let v = Int(text) else { throw EngineError(.argument, "\(name) takes \(kind.noun), not \(text)") }
            return .integer(v)
        case .number:
            guard let v = Double(text) else { throw EngineError(.argument, "\(name) takes \(kind.noun), not \(text)") }
            return .number(v)
        case .choice: return .string(text)
        case .flag:
            guard let v = Bool(text) else { throw EngineError(.argument, "\(name) takes true or false, not \(text)") }
            return .bool(v)
        }
    }

    static func integer(_ name: String, _ key: WritableKeyPath<StrategySpec, Int> & Sendable, minimum: Int, _ help: String) -> StrategyParameter {
        StrategyParameter(name: name, help: help, kind: .integer(minimum: minimum), read: { .integer($0[keyPath: key]) },
                          write: { if case .integer(let v) = $1 { $0[keyPath: key] = v } })
    }
    static func number(_ name: String, _ key: WritableKeyPath<StrategySpec, Double> & Sendable, minimum: Double, _ help: String) -> StrategyParameter {
        StrategyParameter(name: name, help: help, kind: .number(minimum: minimum), read: { .number($0[keyPath: key]) },
                          write: { if case .number(let v) = $1 { $0[keyPath: key] = v } })
    }
    static func choice(_ name: String, _ key: WritableKeyPath<StrategySpec, String> & Sendable, _ options: [String], _ help: String) -> StrategyParameter {
        StrategyParameter(name: name, help: help, kind: .choice(options), read: { .string($0[keyPath: key]) },
                          write: { if case .string(let v) = $1 { $0[keyPath: key] = v } })
    }
    static func flag(_ name: String, _ key: WritableKeyPath<StrategySpec, Bool> & Sendable, _ help: String) -> StrategyParameter {
        StrategyParameter(name: name, help: help, kind: .flag, read: { .bool($0[keyPath: key]) },
                          write: { if case .bool(let v) = $1 { $0[keyPath: key] = v } })
    }
}

extension StrategyParameter.Kind {
    var noun: String {
        switch self {
        case .integer: "an integer"
        case .number: "a number"
        case .choice(let options): "one of " + options.joined(separator: ", ")
        case .flag: "true or false"
        }
    }
}

/// One row of the strategy table: everything the language, the command line, help and saved experiments know
/// about a strategy. Adding a strategy is its file plus one row here.
public struct StrategyEntry: Sendable {
    /// The name in saved files, comparisons and `--strategy` ("least-confidence").
    public let name: String
    /// One line for help, with the citation.
    public let summary: String
    public let details: String
    public let parameters: [StrategyParameter]
    let build: @Sendable (StrategySpec) -> Strategy

    /// The language's builtin: the name with `_` for `-` (`least_confidence()`).
    public var builtin: String { name.replacingOccurrences(of: "-", with: "_") }

    public func parameter(_ name: String) -> StrategyParameter? { parameters.first { $0.name == name } }

    init(_ name: String, _ summary: String, details: String = "", parameters: [StrategyParameter] = [], build: @escaping @Sendable (StrategySpec) -> Strategy) {
        self.name = name; self.summary = summary; self.details = details; self.parameters = parameters; self.build = build
    }
}

/// The strategies, one row each.
public enum Strategies {
    public static let table: [StrategyEntry] = [
        StrategyEntry("random", "uniform sampling without replacement") { _ in RandomStrategy() },
        StrategyEntry("entropy", "highest predictive entropy (Wang & Shang 2014)") { _ in EntropyStrategy() },
        StrategyEntry("margin", "smallest gap between the two most probable classes") { _ in MarginStrategy() },
        StrategyEntry("least-confidence", "lowest top-class probability") { _ in LeastConfidenceStrategy() },
        StrategyEntry("coreset", "k-center greedy on image features (Sener & Savarese 2018)") { _ in CoreSetStrategy() },
        StrategyEntry("badge", "k-means++ on gradient embeddings (Ash et al. 2020)") { _ in BADGEStrategy() },
        StrategyEntry("alfa-mix", "feature mixing with closed-form alpha (Parvaneh et al. 2022)") { _ in ALFAMixStrategy() },
        StrategyEntry("core-gcn", "k-center on GCN features (Caramalau et al. 2021)") { s in
            var g = GCNStrategy(variant: .core); g.epochs = s.gcnEpochs; return g
        },
        StrategyEntry("uncertain-gcn", "GCN labelled-vs-unlabelled score near 0.1 (Caramalau et al. 2021)") { s in
            var g = GCNStrategy(variant: .uncertain); g.epochs = s.gcnEpochs; return g
        },
        StrategyEntry("typiclust", "the most typical sample of the largest uncovered k-means clusters (Hacohen et al., ICML 2022)",
                      parameters: [
                          .integer("knn", \.typicalNeighbours, minimum: 1, "neighbours whose mean distance defines typicality"),
                          .integer("min_size", \.minimumClusterSize, minimum: 0, "clusters of at most this many samples are passed over"),
                          .integer("max_clusters", \.maximumClusters, minimum: 1, "at most this many k-means clusters (labelled + budget otherwise)"),
                      ]) { s in
            var t = TypiClustStrategy(); t.knn = s.typicalNeighbours; t.minSize = s.minimumClusterSize; t.maxClusters = s.maximumClusters; return t
        },
        StrategyEntry("probcover", "greedy max coverage of δ-balls around the samples (Yehuda et al., NeurIPS 2022)",
                      parameters: [
                          .number("delta", \.delta, minimum: 0, "ball radius on unit features; 0: the largest radius whose balls are pure for `purity` of the samples"),
                          .number("purity", \.purity, minimum: 0, "the purity the radius keeps when it is estimated (the paper's 0.95)"),
                      ]) { s in
            var p = ProbCoverStrategy(); p.delta = s.delta; p.purity = min(1, s.purity); return p
        },
        StrategyEntry("dropquery", "samples whose prediction changes under feature dropout, one per k-means cluster (Gupte et al., TMLR 2024)",
                      parameters: [
                          .integer("iterations", \.dropoutIterations, minimum: 1, "dropout predictions per sample"),
                          .number("dropout", \.dropoutRate, minimum: 0, "the share of feature dimensions dropped (below 1)"),
                      ]) { s in
            var d = DropQueryStrategy(); d.iterations = s.dropoutIterations; d.dropout = min(0.99, s.dropoutRate); return d
        },
        StrategyEntry("cb", "class-balanced clustering of image and class-text features, the selection of CB+SQ (Kim et al., TMLR 2025)") { _ in
            ClassBalancedClusteringStrategy()
        },
        StrategyEntry("cec", "Calibrated Entropy-weighted Clustering (Safaei & Patel, WACV 2025)",
                      details: "U = calibrated entropy + beta * mean kernel-weighted calibrated entropy of the k nearest unlabelled neighbours;\n" +
                          "then k-means weighted by U with one cluster per query, and the sample nearest each centre.",
                      parameters: [
                          .integer("k", \.neighbours, minimum: 1, "nearest unlabelled neighbours"),
                          .integer("N", \.support, minimum: 1, "per-class support size for the prior"),
                          .number("rho", \.rho, minimum: 0, "RBF kernel width"),
                          .number("beta", \.beta, minimum: 0, "weight of the neighbour term"),
                          .choice("prior", \.prior, CECStrategy.Prior.allCases.map(\.rawValue), "the contextualised class prior: over the union of supports, or per class"),
                          .choice("kernel", \.kernel, CECStrategy.Kernel.allCases.map(\.rawValue), "how neighbours are weighted"),
                          .flag("calibrate", \.calibrate, "divide out the contextualised prior (false: the ablation on raw probabilities)"),
                          .choice("clustering", \.clustering, CECStrategy.Clustering.allCases.map(\.rawValue), "weighted k-means, or the unweighted ablations"),
                          .choice("knn", \.knn, CECStrategy.NeighbourSearch.allCases.map(\.rawValue),
                                  "nearest neighbours: exact, an inverted-file index (ivf), or auto (ivf from \(CECStrategy.approximateFrom) unlabelled samples)"),
                          .number("knn_recall", \.knnRecall, minimum: 0.01, "with the index: the fraction of true neighbours to find (measured on 500 sampled queries)"),
                          .choice("seeding", \.seeding, CECStrategy.KMeansSeeding.allCases.map(\.rawValue),
                                  "k-means seeding: greedy k-means++ (as scikit-learn), parallel (k-means|| on a sample), or auto (parallel from \(CECStrategy.approximateFrom) unlabelled samples)"),
                          .choice("assignment", \.assignment, CECStrategy.KMeansAssignment.allCases.map(\.rawValue),
                                  "k-means assignment steps: exact, local (each sample against the \(WeightedKMeans.localCentres) centres nearest its own after one exact step; the query takes each cluster's nearest member), or auto (local from \(CECStrategy.approximateFrom) unlabelled samples)"),
                      ]) { s in
            var cec = CECStrategy()
            cec.support = s.support; cec.neighbours = s.neighbours; cec.rho = s.rho; cec.beta = s.beta; cec.calibrate = s.calibrate
            cec.prior = CECStrategy.Prior(rawValue: s.prior) ?? cec.prior
            cec.kernel = CECStrategy.Kernel(rawValue: s.kernel) ?? cec.kernel
            cec.clustering = CECStrategy.Clustering(rawValue: s.clustering) ?? cec.clustering
            cec.search = CECStrategy.NeighbourSearch(rawValue: s.knn) ?? cec.search
            cec.searchRecall = s.knnRecall
            cec.seeding = CECStrategy.KMeansSeeding(rawValue: s.seeding) ?? cec.seeding
            cec.assignment = CECStrategy.KMeansAssignment(rawValue: s.assignment) ?? cec.assignment
            return cec
        },
    ]

    public static var names: [String] { table.map(\.name) }

    /// The row of a strategy, or an error listing the known names.
    public static func entry(_ name: String) throws -> StrategyEntry {
        guard let e = table.first(where: { $0.name == name }) else {
            throw EngineError(.argument, "unknown strategy \(name) (known: \(names.joined(separator: ", ")))")
        }
        return e
    }
}
