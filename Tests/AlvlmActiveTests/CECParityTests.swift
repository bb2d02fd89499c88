import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

/// CEC and the baselines against numpy / scikit-learn (Scripts/make_cec_fixtures.py).
final class CECParityTests: XCTestCase {
    func context() throws -> SelectionContext {
        let f = try NPY.read(Fixtures.path("cec/features.npy")), t = try NPY.read(Fixtures.path("cec/text.npy"))
        let labeled = try String(contentsOfFile: Fixtures.path("cec/labeled.txt"), encoding: .utf8).split(separator: "\n").map { Int($0)! }
        let n = f.shape[0], d = f.shape[1], c = t.shape[0]
        let classifier = Classifier(classNames: (0..<c).map { "c\($0)" }, textFeatures: t.floats(), logitScale: log(100))
        // Labels are unknown to the fixture's strategies that do not use them; 0 stands in.
        let map = Dictionary(uniqueKeysWithValues: labeled.map { ($0, 0) })
        return try SelectionContext(features: f.floats(), width: d, unlabeled: (0..<n).filter { map[$0] == nil }, labeled: map, classifier: classifier)
    }

    func testScoresMatchNumpyInEveryConfiguration() throws {
        let ctx = try context()
        let meta = try XCTUnwrap(try Fixtures.json("cec/meta.json") as? [String: Any])
        let configs = try XCTUnwrap(meta["configurations"] as? [String: [String: Any]])
        for (name, c) in configs {
            var cec = CECStrategy()
            cec.prior = (c["prior"] as? String) == "per-class" ? .perClass : .union
            cec.kernel = CECStrategy.Kernel(rawValue: c["kernel"] as! String)!
            cec.beta = (c["beta"] as! NSNumber).doubleValue
            cec.calibrate = c["calibration"] as! Bool
            let s = try cec.computeScores(ctx)
            let ref = try NPY.read(Fixtures.path("cec/" + (c["file"] as! String))).doubles()
            var worst = 0.0
            for (i, row) in ctx.unlabeled.enumerated() {
                let ours = [s.entropy[i], s.calibratedEntropy[i], s.neighbourUncertainty[i], s.uncertainty[i]]
                for col in 0..<4 {
                    let r = ref[row * 4 + col]
                    worst = max(worst, abs(ours[col] - r) / max(abs(r), 1e-3))
                }
            }
            XCTAssertLessThan(worst, 1e-5, "\(name): worst relative difference \(worst)")
            let top = ctx.unlabeled.indices.sorted { s.uncertainty[$0] > s.uncertainty[$1] }.prefix(8).map { ctx.unlabeled[$0] }
            XCTAssertEqual(top, (c["top8_by_U"] as! [NSNumber]).map(\.intValue), name)
        }
        let knn = try NPY.read(Fixtures.path("cec/knn.npy"))
        let ids = knn.doubles().map { Int32($0) }
        let (ours, _) = try NearestNeighbors.search(ctx.packed(ctx.unlabeled), rows: ctx.unlabeled.count, width: ctx.width, k: 10)
        for (i, row) in ctx.unlabeled.enumerated() {
            XCTAssertEqual(ours[(i * 10)..<((i + 1) * 10)].map { ctx.unlabeled[Int($0)] }, ids[(row * 10)..<((row + 1) * 10)].map(Int.init))
        }
    }

    /// The uncertainty-weighted k-means cost, averaged over seeds, within 5% of scikit-learn's.
    func testWeightedClusteringCostMatchesScikitLearn() throws {
        let ctx = try context()
        let ref = try XCTUnwrap(try Fixtures.json("cec/kmeans_default.json") as? [String: Any])
        let sklearn = (ref["inertia_mean"] as! NSNumber).doubleValue
        var costs: [Double] = []
        for seed in 0..<10 {
            var rng = SeededRandom(seed: UInt64(seed))
            costs.append(try CECStrategy().clusteringCost(ctx, budget: 8, rng: &rng))
        }
        let ours = costs.reduce(0, +) / Double(costs.count)
        XCTAssertLessThan(abs(ours - sklearn) / sklearn, 0.05, "ours \(ours), scikit-learn \(sklearn)")
    }

    func testBaselinesMatchNumpy() throws {
        let ctx = try context()
        let b = try XCTUnwrap(try Fixtures.json("cec/baselines.json") as? [String: Any])
        func ids(_ key: String) -> [Int] { (b[key] as! [NSNumber]).map(\.intValue) }
        var rng = SeededRandom(seed: 0)
        XCTAssertEqual(try EntropyStrategy().select(ctx, budget: 8, rng: &rng, cancel: nil).rows, ids("entropy_top8"))
        XCTAssertEqual(try MarginStrategy().select(ctx, budget: 8, rng: &rng, cancel: nil).rows, ids("margin_top8"))
        XCTAssertEqual(try LeastConfidenceStrategy().select(ctx, budget: 8, rng: &rng, cancel: nil).rows, ids("least_confidence_top8"))
        XCTAssertEqual(try CoreSetStrategy().select(ctx, budget: 8, rng: &rng, cancel: nil).rows, ids("coreset_top8"))
        let badge = try XCTUnwrap(b["badge"] as? [String: Any])
        let rows = (badge["rows"] as! [NSNumber]).map(\.intValue), dist = badge["sq_dist"] as! [[NSNumber]]
        let strategy = BADGEStrategy()
        let r = strategy.residuals(ctx), z = ctx.packed(ctx.unlabeled)
        for (a, ra) in rows.enumerated() { for (bIndex, rb) in rows.enumerated() {
            let ia = ctx.unlabeled.firstIndex(of: ra)!, ib = ctx.unlabeled.firstIndex(of: rb)!
            XCTAssertEqual(Double(BADGEStrategy.distance(ia, ib, z: z, r: r, d: ctx.width, c: ctx.classes)), dist[a][bIndex].doubleValue, accuracy: 1e-5)
        } }
    }
}
