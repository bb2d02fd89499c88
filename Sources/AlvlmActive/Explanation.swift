import AlvlmEngine
import Foundation

/// Why a strategy picked one sample of its batch: its scores and where they stand among the unlabelled pool, its
/// nearest unlabelled neighbours, its cluster (CEC), the class prior that calibrated it (CEC), and one sentence.
/// Every number is recomputed from the same context the selection saw, with the strategy's own code.
public struct Explanation {
    public struct Score { public var name: String; public var value: Double; public var percentile: Double }
    public struct Neighbour { public var id: Int; public var similarity: Double; public var score: Double }
    public struct Cluster {
        public var index: Int, size: Int
        /// The cluster's share of the pool's uncertainty weight (CEC's U).
        public var uncertaintyShare: Double
        /// The sample's distance to the centre, and its place among the cluster's members by that distance (1: nearest).
        public var distance: Double, rank: Int
    }

    public var id: Int
    public var strategy: String
    public var predicted: Int
    public var probability: Double
    public var scores: [Score] = []
    public var neighbours: [Neighbour] = []
    public var cluster: Cluster?
    /// CEC's contextualised class prior.
    public var prior: [Double]?
    public var sentence = ""

    /// The explanation of the batch's `position`-th pick. `ids`: the sample id of every context row.
    public init(spec: StrategySpec, context: SelectionContext, selection: Selection, ids: [Int], position: Int) throws {
        guard selection.rows.indices.contains(position) else {
            throw EngineError(.argument, "the batch has \(selection.rows.count) samples: position \(position) is not one of 0..<\(selection.rows.count)")
        }
        let row = selection.rows[position]
        guard let u = context.unlabeled.firstIndex(of: row) else { throw EngineError(.argument, "the pick is not an unlabelled sample") }
        id = ids[row]
        strategy = spec.label
        let p = context.probabilityRow(row)
        predicted = Uncertainty.argmax(p)
        probability = p[p.startIndex + predicted]
        func percentile(_ values: [Double], _ v: Double) -> Double {
            Double(values.filter { $0 <= v }.count) / Double(max(1, values.count))
        }
        var base = spec
        base.balance = nil; base.pcb = false
        let strategy = try base.make()
        var neighbourScore: [Double]
        if let cec = strategy as? CECStrategy {
            let s = try cec.computeScores(context)
            for (name, values) in [("H", s.entropy), ("Ĥ", s.calibratedEntropy), ("H_nn", s.neighbourUncertainty), ("U", s.uncertainty)] {
                scores.append(Score(name: name, value: values[u], percentile: percentile(values, values[u])))
            }
            prior = s.prior
            neighbourScore = s.calibratedEntropy
            if let assignment = selection.assignment, let centres = selection.centres {
                let c = assignment[u], d = context.width
                let members = assignment.indices.filter { assignment[$0] == c }
                let z = context.features
                func distance(_ i: Int) -> Double {
                    let r = context.unlabeled[i]
                    var sum = 0.0
                    for j in 0..<d { let v = Double(z[r * d + j]) - Double(centres[c * d + j]); sum += v * v }
                    return sum.squareRoot()
                }
                let mine = distance(u)
                let total = s.uncertainty.reduce(0, +)
                cluster = Cluster(index: c, size: members.count,
                                  uncertaintyShare: total > 0 ? members.map { s.uncertainty[$0] }.reduce(0, +) / total : 0,
                                  distance: mine, rank: 1 + members.filter { distance($0) < mine }.count)
            }
        } else if let values = try strategy.scores(context) {
            scores.append(Score(name: "score", value: values[u], percentile: percentile(values, values[u])))
            neighbourScore = values
        } else {
            neighbourScore = context.unlabeled.map { Uncertainty.entropy(context.probabilityRow($0)) }
        }
        let entropy = context.unlabeled.map { Uncertainty.entropy(context.probabilityRow($0)) }
        if !scores.contains(where: { $0.name == "H" }) {
            scores.append(Score(name: "H", value: entropy[u], percentile: percentile(entropy, entropy[u])))
        }
        // Nearest unlabelled neighbours by cosine (ties to the smaller row), the sample itself left out.
        let k = min(spec.name == "cec" ? spec.neighbours : 5, context.unlabeled.count - 1)
        let d = context.width, z = context.features
        var similar: [(Int, Double)] = []
        for (i, r) in context.unlabeled.enumerated() where i != u {
            var dot = 0.0
            for j in 0..<d { dot += Double(z[row * d + j]) * Double(z[r * d + j]) }
            similar.append((i, dot))
        }
        similar.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        neighbours = similar.prefix(k).map { Neighbour(id: ids[context.unlabeled[$0.0]], similarity: $0.1, score: neighbourScore[$0.0]) }
        sentence = Self.sentence(spec: spec, scores: scores, cluster: cluster, note: selection.note)
    }

    static func sentence(spec: StrategySpec, scores: [Score], cluster: Cluster?, note: String?) -> String {
        // Only the score the strategy ranks by explains the pick (entropy is shown for context, not as a reason).
        let top = scores.first { $0.name == "U" } ?? scores.first { $0.name == "score" }
        let standing = top.map { String(format: "its %@ = %.3f is higher than %.0f%% of the unlabelled pool", $0.name, $0.value, 100 * $0.percentile) } ?? ""
        var s: String
        if let c = cluster {
            s = String(format: "Picked as the sample %@ the centre of cluster %d (%d samples holding %.1f%% of the pool's uncertainty weight); ",
                       c.rank == 1 ? "nearest" : "number \(c.rank) nearest", c.index, c.size, 100 * c.uncertaintyShare) + standing + "."
        } else {
            s = "Picked by \(spec.name)" + (standing.isEmpty ? "." : ": " + standing + ".")
        }
        if let wrapper = spec.wrapper { s += " Then \(wrapper.rawValue) spread the batch over the predicted classes." }
        if let note { s += " (\(note))" }
        return s
    }

    /// The explanation as text, class names from the pool.
    public func text(classNames: [String]) -> String {
        var lines = ["sample \(id), picked by \(strategy); predicted \(classNames[predicted]) (\(String(format: "%.0f%%", 100 * probability)))"]
        for s in scores {
            let name = s.name.padding(toLength: 5, withPad: " ", startingAt: 0)
            lines.append("  \(name) " + String(format: "%8.4f  higher than %5.1f%% of the unlabelled pool", s.value, 100 * s.percentile))
        }
        if let c = cluster {
            lines.append(String(format: "  cluster %d: %d samples, %.1f%% of the uncertainty weight; distance to its centre %.4f (%d of %d by distance)",
                                c.index, c.size, 100 * c.uncertaintyShare, c.distance, c.rank, c.size))
        }
        if let prior {
            let order = prior.indices.sorted { prior[$0] > prior[$1] }
            lines.append("  class prior (calibration): " + order.prefix(5).map { String(format: "%@ %.3f", classNames[$0] as NSString, prior[$0]) }.joined(separator: ", ")
                         + (order.count > 5 ? ", ..." : ""))
        }
        lines.append("  nearest unlabelled: " + neighbours.map { String(format: "%d (cos %.3f, %.3f)", $0.id, $0.similarity, $0.score) }.joined(separator: ", "))
        lines.append("  " + sentence)
        return lines.joined(separator: "\n")
    }
}
