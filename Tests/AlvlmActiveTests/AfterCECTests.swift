import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

/// The strategies after CEC against their numpy references (Scripts/make_strategy_fixtures.py) on the CEC fixture
/// pool, with the random parts (k-means seeding, dropout masks) taken from the fixture.
final class AfterCECTests: XCTestCase {
    var reference: [String: Any] = [:]
    var context: SelectionContext!

    override func setUpWithError() throws {
        reference = try XCTUnwrap(try Fixtures.json("strategies/reference.json") as? [String: Any])
        let f = try NPY.read(Fixtures.path("cec/features.npy")), t = try NPY.read(Fixtures.path("cec/text.npy"))
        let labelled = try XCTUnwrap(reference["labelled"] as? [Int])
        let labels = try XCTUnwrap((reference["balance"] as? [String: Any])?["labelled_labels"] as? [Int])
        let d = f.shape[1], n = f.shape[0]
        let classifier = Classifier(classNames: (0..<t.shape[0]).map { "c\($0)" }, textFeatures: t.floats(), logitScale: log(100))
        let map = Dictionary(uniqueKeysWithValues: zip(labelled, labels).map { ($0, $1) })
        context = try SelectionContext(features: f.floats(), width: d, unlabeled: (0..<n).filter { map[$0] == nil }, labeled: map, classifier: classifier)
    }

    func part(_ name: String) throws -> [String: Any] { try XCTUnwrap(reference[name] as? [String: Any], name) }
    var budget: Int { reference["budget"] as! Int }

    func testTypiClustPicksTheMostTypicalOfTheLargestUncoveredClusters() throws {
        let r = try part("typiclust")
        let picks = TypiClustStrategy().pick(context, assignment: try XCTUnwrap(r["assignment"] as? [Int]), budget: budget).rows
        XCTAssertEqual(picks, r["picks"] as? [Int])
    }

    func testProbCoverCoversGreedilyAndEstimatesDeltaByPurity() throws {
        let fixed = try part("probcover_fixed")
        let graph = try ProbCoverStrategy.graph(context, delta: 0.6, maxEdges: 1_000_000, cancel: nil)
        XCTAssertEqual(ProbCoverStrategy.greedy(graph: graph, labeled: Array(context.labeled.keys), budget: budget).picks, fixed["picks"] as? [Int])
        let estimated = try part("probcover_estimated")
        let delta = ProbCoverStrategy.estimateDelta(context, clusters: try XCTUnwrap(estimated["clusters"] as? [Int]), purity: 0.95)
        XCTAssertEqual(delta, try XCTUnwrap(estimated["delta"] as? Double), accuracy: 1e-5)
        let g2 = try ProbCoverStrategy.graph(context, delta: delta, maxEdges: 1_000_000, cancel: nil)
        XCTAssertEqual(ProbCoverStrategy.greedy(graph: g2, labeled: Array(context.labeled.keys), budget: budget).picks, estimated["picks"] as? [Int])
        // A radius joining every pair is refused before it fills memory.
        XCTAssertThrowsError(try ProbCoverStrategy.graph(context, delta: 3, maxEdges: 10_000, cancel: nil))
    }

    func testDropQueryKeepsTheUnstablePredictionsAndTakesOnePerCluster() throws {
        let r = try part("dropquery")
        let masks = try NPY.read(Fixtures.path("strategies/dropquery_masks.npy"))
        XCTAssertEqual(masks.shape, [3, context.unlabeled.count, context.width])
        let bytes = masks.bytes(), size = context.unlabeled.count * context.width
        let keep = (0..<3).map { m in (0..<size).map { bytes[m * size + $0] != 0 } }
        let mismatches = DropQueryStrategy.mismatches(context, keep: keep)
        XCTAssertEqual(mismatches, r["mismatches"] as? [Int])
        let candidates = context.unlabeled.indices.filter { mismatches[$0] > 1 }.map { context.unlabeled[$0] }
        XCTAssertEqual(candidates, r["candidates"] as? [Int])
        let centres = try XCTUnwrap(r["centres"] as? [Double]).map(Float.init)
        let picks = DropQueryStrategy.nearestMembers(context.packed(candidates), rows: candidates.count, width: context.width,
                                                     assignment: try XCTUnwrap(r["assignment"] as? [Int]), centres: centres, clusters: budget)
        XCTAssertEqual(picks.map { candidates[$0] }, r["picks"] as? [Int])
    }

    func testClassBalancedClusteringAllocatesByLabelledShare() throws {
        let r = try part("cb")
        let x = ClassBalancedClusteringStrategy.features(context)
        let centres = try XCTUnwrap(r["centres"] as? [Double]).map(Float.init)
        let picks = ClassBalancedClusteringStrategy.pick(x, width: 2 * context.width, assignment: try XCTUnwrap(r["assignment"] as? [Int]),
                                                         centres: centres, labeled: Set(context.labeled.keys), unlabeled: context.unlabeled, budget: budget)
        XCTAssertEqual(picks, r["picks"] as? [Int])
    }

    func testBalancingWrappersSpreadTheBaseRankingOverPredictedClasses() throws {
        let r = try part("balance")
        var rng = SeededRandom(seed: 1)
        for (order, key) in [(Balance.perClass, "per_class"), (.tailFirst, "tail_first")] {
            let s = ClassBalancedStrategy(base: EntropyStrategy(), order: order)
            XCTAssertEqual(try s.select(context, budget: budget, rng: &rng, cancel: nil).rows, r[key] as? [Int], key)
        }
        // Every predicted class with candidates appears in a per-class batch as large as the number of classes.
        let batch = try ClassBalancedStrategy(base: EntropyStrategy(), order: .perClass).select(context, budget: context.classes, rng: &rng, cancel: nil)
        let predicted = Set(context.unlabeled.map { Uncertainty.argmax(context.probabilityRow($0)) })
        XCTAssertEqual(Set(batch.rows.map { Uncertainty.argmax(context.probabilityRow($0)) }), predicted)
    }

    /// Saved strategy specs from before these settings existed still load, with the defaults.
    func testOldStrategySpecsLoad() throws {
        let old = Data(#"{"name":"cec","pcb":true,"support":10,"neighbours":5,"rho":1,"beta":1,"prior":"union","kernel":"rbf","calibrate":true,"clustering":"weighted","gcnEpochs":200}"#.utf8)
        let spec = try JSONDecoder().decode(StrategySpec.self, from: old)
        XCTAssertEqual(spec.neighbours, 5)
        XCTAssertEqual(spec.wrapper, .pcb)
        XCTAssertEqual(spec.label, "pcb(cec (k=5))")
        XCTAssertEqual(spec.delta, 0)
        XCTAssertEqual(spec.dropoutIterations, 3)
        var tail = StrategySpec(name: "typiclust")
        tail.balance = .tailFirst
        XCTAssertEqual(try JSONDecoder().decode(StrategySpec.self, from: JSONEncoder().encode(tail)), tail)
        XCTAssertEqual(tail.label, "tail-first(typiclust)")
    }

    /// explain() recomputes with the strategy's own code: its numbers are the strategy's for that sample.
    func testExplanationsAreTheStrategysOwnNumbers() throws {
        var spec = StrategySpec(name: "cec")
        spec.neighbours = 5
        let cec = try XCTUnwrap(try spec.make() as? CECStrategy)
        var rng = SeededRandom(seed: 3)
        let selection = try cec.select(context, budget: 6, rng: &rng, cancel: nil)
        let ids = (0..<context.rows).map { 1000 + $0 }
        let scores = try cec.computeScores(context)
        let (nnIds, _) = try NearestNeighbors.search(context.packed(context.unlabeled), rows: context.unlabeled.count, width: context.width, k: 5)
        for position in selection.rows.indices {
            let e = try Explanation(spec: spec, context: context, selection: selection, ids: ids, position: position)
            let row = selection.rows[position], u = try XCTUnwrap(context.unlabeled.firstIndex(of: row))
            XCTAssertEqual(e.id, 1000 + row)
            XCTAssertEqual(e.scores.map(\.name), ["H", "Ĥ", "H_nn", "U"])
            XCTAssertEqual(e.scores.map(\.value), [scores.entropy[u], scores.calibratedEntropy[u], scores.neighbourUncertainty[u], scores.uncertainty[u]])
            XCTAssertEqual(e.scores[3].value, selection.scores[position])
            let below = scores.uncertainty.filter { $0 <= scores.uncertainty[u] }.count
            XCTAssertEqual(e.scores[3].percentile, Double(below) / Double(context.unlabeled.count))
            XCTAssertEqual(e.neighbours.map(\.id), (0..<5).map { 1000 + context.unlabeled[Int(nnIds[u * 5 + $0])] })
            let cluster = try XCTUnwrap(e.cluster)
            XCTAssertEqual(cluster.index, selection.assignment?[u])
            XCTAssertEqual(cluster.size, selection.assignment?.filter { $0 == cluster.index }.count)
            XCTAssertEqual(e.prior, scores.prior)
            XCTAssertTrue(e.sentence.contains("cluster \(cluster.index)"), e.sentence)
        }
        XCTAssertThrowsError(try Explanation(spec: spec, context: context, selection: selection, ids: ids, position: 6))
    }
}

/// The map's projection: the first two principal components, checked against the covariance they come from.
final class ProjectionTests: XCTestCase {
    func testPrincipalComponentsSolveTheCovarianceEigenproblem() throws {
        let f = try NPY.read(Fixtures.path("cec/features.npy"))
        let n = f.shape[0], d = f.shape[1], x = f.floats()
        let p = try Projection(x, rows: n, width: d)
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(x[i * d + j]) / Double(n) } }
        func covTimes(_ v: ArraySlice<Double>) -> [Double] {
            var out = [Double](repeating: 0, count: d)
            for i in 0..<n {
                var dot = 0.0
                for j in 0..<d { dot += (Double(x[i * d + j]) - mean[j]) * v[v.startIndex + j] }
                for j in 0..<d { out[j] += (Double(x[i * d + j]) - mean[j]) * dot / Double(n - 1) }
            }
            return out
        }
        for c in 0..<2 {
            let v = p.components[(c * d)..<((c + 1) * d)]
            let cv = covTimes(v)
            let residual = zip(cv, v).map { ($0 - p.variances[c] * $1) * ($0 - p.variances[c] * $1) }.reduce(0, +).squareRoot()
            XCTAssertLessThan(residual / p.variances[c], 1e-6, "component \(c) is an eigenvector")
            XCTAssertEqual(v.map { $0 * $0 }.reduce(0, +), 1, accuracy: 1e-9)
            XCTAssertGreaterThan(v.max()!, -v.min()!, "sign: the largest entry is positive")
        }
        let dot = (0..<d).map { p.components[$0] * p.components[d + $0] }.reduce(0, +)
        XCTAssertEqual(dot, 0, accuracy: 1e-6)
        XCTAssertGreaterThanOrEqual(p.variances[0], p.variances[1])
        // No direction has more variance than the first component (a few random ones tried).
        var rng = SeededRandom(seed: 4)
        for _ in 0..<20 {
            var v = (0..<d).map { _ in Double(rng.next() % 2001) / 1000 - 1 }
            let norm = v.map { $0 * $0 }.reduce(0, +).squareRoot(); v = v.map { $0 / norm }
            let variance = zip(covTimes(v[...]), v).map { $0 * $1 }.reduce(0, +)
            XCTAssertLessThanOrEqual(variance, p.variances[0] * (1 + 1e-9))
        }
        let again = try Projection(x, rows: n, width: d)
        XCTAssertEqual(again.components, p.components, "deterministic")
    }
}
