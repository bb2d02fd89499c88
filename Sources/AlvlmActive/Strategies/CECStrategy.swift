import AlvlmEngine
import Foundation

/// CEC, Calibrated Entropy-weighted Clustering (Safaei & Patel, "Active Learning for Vision-Language Models",
/// WACV 2025). Equations as reconstructed in ../shared/reference/METHOD.md §2-3 (after PATRON, Yu et al. ACL 2023):
///   H = entropy of p;  S_j = top-N unlabelled samples by p(j);  prior P (union: mean p over ∪S_j, or per-class);
///   p̂ = (p / P) renormalised;  Ĥ = entropy of p̂;
///   H_nn(x) = (1/k) Σ_{k nearest unlabelled neighbours} κ(x, x_i) Ĥ(x_i),  κ = exp(−ρ‖z − z_i‖²) by default;
///   U = Ĥ + β H_nn;  then sample-weighted k-means (weights U, K = budget) and the sample nearest each centre.
public struct CECStrategy: Strategy {
    public enum Prior: String, CaseIterable, Sendable { case union, perClass = "per-class" }
    public enum Kernel: String, CaseIterable, Sendable { case rbf, cosine, uniform }
    /// Clustering ablations of the paper (§6.2): weighted (CEC), unweighted k-means + nearest ("K-Means"),
    /// unweighted k-means + the most uncertain (highest U) member of each cluster ("Greedy Clustering").
    public enum Clustering: String, CaseIterable, Sendable { case weighted, unweightedNearest = "unweighted-nearest", unweightedMostUncertain = "unweighted-most-uncertain" }
    /// How the k nearest neighbours are found: exactly, through an inverted-file index (`InvertedFileNeighbors`),
    /// or exactly below `approximateFrom` unlabelled samples and through the index from there on.
    public enum NeighbourSearch: String, CaseIterable, Sendable { case auto, exact, ivf }
    public static let approximateFrom = 50_000
    /// How k-means is seeded: greedy k-means++, k-means|| (`WeightedKMeans.Seeding`), or auto (k-means|| from
    /// `approximateFrom` unlabelled samples).
    public enum KMeansSeeding: String, CaseIterable, Sendable { case auto, greedy, parallel }
    /// How Lloyd's steps find each sample's centre: exactly, locally among the centres near its own
    /// (`WeightedKMeans.Assignment`), or auto (local from `approximateFrom` unlabelled samples).
    public enum KMeansAssignment: String, CaseIterable, Sendable { case auto, exact, local }

    public var support = 10          // N
    public var neighbours = 10       // k
    public var rho = 1.0
    public var beta = 1.0
    public var prior = Prior.union
    public var kernel = Kernel.rbf
    public var calibrate = true
    public var clustering = Clustering.weighted
    public var maxIterations = 300
    public var tolerance = 1e-4
    public var search = NeighbourSearch.auto
    /// With the index: the fraction of true neighbours to find on sampled queries.
    public var searchRecall = 0.99
    public var seeding = KMeansSeeding.auto
    public var assignment = KMeansAssignment.auto

    public let name = "cec"
    public let citation = "Safaei & Patel, WACV 2025"
    public init() {}

    /// Per unlabelled sample (in `context.unlabeled` order): H, Ĥ, H_nn and U.
    public struct Scores {
        public var entropy: [Double]
        public var calibratedEntropy: [Double]
        public var neighbourUncertainty: [Double]
        public var uncertainty: [Double]
        public var prior: [Double]
        /// What the approximate search reached (nil: the search was exact).
        public var neighbourSearch: InvertedFileNeighbors.Report?
    }

    func validate(_ context: SelectionContext) throws {
        guard support >= 1 else { throw EngineError(.argument, "N (support size) must be at least 1") }
        guard neighbours >= 1, neighbours < context.unlabeled.count else {
            throw EngineError(.argument, "k = \(neighbours) neighbours needs more than k unlabelled samples (there are \(context.unlabeled.count))")
        }
        guard rho.isFinite, rho >= 0, beta.isFinite, beta >= 0 else { throw EngineError(.argument, "rho and beta must be finite and non-negative") }
    }

    public func computeScores(_ context: SelectionContext, cancel: CancellationToken? = nil) throws -> Scores {
        try computeScores(context, packed: nil, cancel: cancel)
    }

    /// The scores, with the unlabelled rows already taken (`context.featureRows.subset(context.unlabeled)`) when the
    /// caller needs them too.
    func computeScores(_ context: SelectionContext, packed: FeatureRows?, cancel: CancellationToken? = nil) throws -> Scores {
        try validate(context)
        let u = context.unlabeled, n = u.count, c = context.classes
        // p(i, j): the probability of class j for the i-th unlabelled sample, read in place (not copied: at a million
        // samples and 100 classes the matrix is 800 MB).
        let probabilities = context.probabilities
        func p(_ i: Int, _ j: Int) -> Double { probabilities[u[i] * c + j] }
        let h = (0..<n).map { Uncertainty.entropy(context.probabilityRow(u[$0])) }
        // Contextualised prior from the per-class top-N supports.
        var classPrior = [Double](repeating: 1.0 / Double(c), count: c)
        if calibrate {
            let supports = (0..<c).map { j in Self.topN(count: n, support) { p($0, j) } }
            switch self.prior {
            case .union:
                let members = Set(supports.joined()).sorted()
                for j in 0..<c {
                    var sum = 0.0
                    for m in members { sum += p(m, j) }
                    classPrior[j] = sum / Double(members.count)
                }
            case .perClass:
                for j in 0..<c {
                    var sum = 0.0
                    for m in supports[j] { sum += p(m, j) }
                    classPrior[j] = sum / Double(supports[j].count)
                }
            }
        }
        var hHat = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var q = (0..<c).map { j in classPrior[j] > 0 ? p(i, j) / classPrior[j] : 0 }
            let z = q.reduce(0, +)
            if z > 0 { q = q.map { $0 / z } }
            hHat[i] = Uncertainty.entropy(q)
        }
        // Neighbour uncertainty over the k nearest unlabelled samples.
        let approximate = search == .ivf || (search == .auto && n >= Self.approximateFrom)
        let z = packed ?? context.featureRows.subset(u), ids: [Int32], sims: [Float], report: InvertedFileNeighbors.Report?
        if approximate {
            (ids, sims, report) = try InvertedFileNeighbors.search(z, k: neighbours, recall: searchRecall, cancel: cancel)
        } else {
            (ids, sims) = try NearestNeighbors.search(z, k: neighbours, cancel: cancel)
            report = nil
        }
        var hNN = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = 0.0
            for t in 0..<neighbours {
                let sim = Double(sims[i * neighbours + t]), nb = Int(ids[i * neighbours + t])
                let kappa: Double
                switch kernel {
                case .rbf: kappa = exp(-rho * max(0, 2 - 2 * sim))
                case .cosine: kappa = max(0, sim)   // opposite neighbours add nothing (U stays a valid k-means weight)
                case .uniform: kappa = 1
                }
                s += kappa * hHat[nb]
            }
            hNN[i] = s / Double(neighbours)
        }
        let total = (0..<n).map { hHat[$0] + beta * hNN[$0] }
        return Scores(entropy: h, calibratedEntropy: hHat, neighbourUncertainty: hNN, uncertainty: total, prior: classPrior,
                      neighbourSearch: report)
    }

    /// Indices of the `k` largest values (value(i) for i in 0..<count), largest first, ties to the smaller index.
    static func topN(count: Int, _ k: Int, _ value: (Int) -> Double) -> [Int] {
        var best: [(Double, Int)] = []
        for i in 0..<count {
            let v = value(i)
            if best.count == k, !(v > best[k - 1].0) { continue }
            var pos = best.count
            while pos > 0, best[pos - 1].0 < v { pos -= 1 }
            best.insert((v, i), at: pos)
            if best.count > k { best.removeLast() }
        }
        return best.map(\.1)
    }

    public func scores(_ context: SelectionContext) throws -> [Double]? { try computeScores(context).uncertainty }

    public func select(_ context: SelectionContext, budget: Int, rng: inout SeededRandom, cancel: CancellationToken?) throws -> Selection {
        try checkBudget(budget, context)
        var clock = DispatchTime.now()
        func lap() -> Double { let now = DispatchTime.now(); defer { clock = now }; return Double(now.uptimeNanoseconds - clock.uptimeNanoseconds) / 1e9 }
        let z = context.featureRows.subset(context.unlabeled), n = context.unlabeled.count
        cancel?.report("cec: scores of \(n) unlabelled samples")
        let s = try computeScores(context, packed: z, cancel: cancel)
        let scoring = lap()
        let kmeans = self.kmeans(clusters: budget, rows: n)
        let weighted = clustering == .weighted
        let fit = try kmeans.fit(z, weights: weighted ? s.uncertainty : nil, rng: &rng, cancel: cancel)
        let clusteringSeconds = lap()
        cancel?.report("cec: the sample nearest each of \(budget) centres")
        var picks: [Int]
        switch clustering {
        case .weighted, .unweightedNearest:
            picks = kmeans.assignment == .local
                ? WeightedKMeans.nearestMembers(z, centres: fit.centres, count: budget, assignment: fit.assignment, distances: fit.distances)
                : WeightedKMeans.nearestRows(z, centres: fit.centres, count: budget)
        case .unweightedMostUncertain:
            var best = [Int](repeating: -1, count: budget)
            for i in 0..<n {
                let c = fit.assignment[i]
                if best[c] < 0 || s.uncertainty[i] > s.uncertainty[best[c]] { best[c] = i }
            }
            picks = best.filter { $0 >= 0 }
            // Empty clusters: the most uncertain samples not yet taken.
            let taken = Set(picks)
            for i in (0..<n).sorted(by: { s.uncertainty[$0] > s.uncertainty[$1] }) where picks.count < budget && !taken.contains(i) { picks.append(i) }
        }
        var selection = Selection(rows: picks.map { context.unlabeled[$0] }, scores: picks.map { s.uncertainty[$0] })
        selection.neighbourSearch = s.neighbourSearch
        selection.assignment = fit.assignment
        selection.centres = fit.centres
        selection.clustering = fit.report
        selection.phases = [("scores", scoring), ("seeding", fit.seedingSeconds), ("lloyd", clusteringSeconds - fit.seedingSeconds), ("query", lap())]
        return selection
    }

    /// The weighted k-means for `clusters` clusters of `rows` unlabelled samples, with the seeding and assignment
    /// the settings choose for that many rows.
    public func kmeans(clusters: Int, rows: Int) -> WeightedKMeans {
        var kmeans = WeightedKMeans(clusters: clusters)
        kmeans.maxIterations = maxIterations; kmeans.tolerance = tolerance
        let large = rows >= Self.approximateFrom
        kmeans.seeding = switch seeding {
        case .greedy: .greedy
        case .parallel: .parallel
        case .auto: large ? .parallel : .greedy
        }
        kmeans.assignment = switch assignment {
        case .exact: .exact
        case .local: .local
        case .auto: large ? .local : .exact
        }
        return kmeans
    }

    /// The selection's uncertainty-weighted k-means cost, for comparisons with other implementations.
    public func clusteringCost(_ context: SelectionContext, budget: Int, rng: inout SeededRandom) throws -> Double {
        let z = context.featureRows.subset(context.unlabeled)
        let s = try computeScores(context, packed: z)
        return try kmeans(clusters: budget, rows: context.unlabeled.count).fit(z, weights: s.uncertainty, rng: &rng).cost
    }
}
