import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

/// Strategies on constructed pools where the right answer is known.
final class StrategyTests: XCTestCase {
    /// Clustered pool: `clusters` centres in `d` dims, text features = the centres (so zero-shot is meaningful).
    func pool(n: Int = 120, d: Int = 8, classes: Int = 4, seed: UInt64 = 1, labeled: [Int: Int] = [:],
              bias: Float = 0, scale: Float = 30) throws -> (SelectionContext, [Int]) {
        var rng = SeededRandom(seed: seed)
        let centres = rng.normals(classes * d, std: 1)
        var x: [Float] = [], truth: [Int] = []
        for i in 0..<n {
            let c = i % classes
            truth.append(c)
            for j in 0..<d { x.append(centres[c * d + j] + Float(rng.normal() * 0.35)) }
        }
        let classifier = Classifier(classNames: (0..<classes).map { "c\($0)" }, textFeatures: centres, logitScale: log(scale))
        var p = try classifier.probabilities(x)
        // A planted bias: class 0's probability multiplied by exp(bias), then renormalised.
        for i in 0..<n {
            p[i * classes] *= exp(bias)
            let z = p[(i * classes)..<((i + 1) * classes)].reduce(0, +)
            for c in 0..<classes { p[i * classes + c] /= z }
        }
        let unlabeled = (0..<n).filter { labeled[$0] == nil }
        return (try SelectionContext(features: x, width: d, unlabeled: unlabeled, labeled: labeled, probabilities: p.map(Double.init),
                                     textFeatures: centres, scale: scale), truth)
    }

    func testUncertaintyRankingsFollowTheirDefinitions() throws {
        let (ctx, _) = try pool()
        var rng = SeededRandom(seed: 1)
        let e = try EntropyStrategy().select(ctx, budget: 5, rng: &rng, cancel: nil)
        let allH = ctx.unlabeled.map { Uncertainty.entropy(ctx.probabilityRow($0)) }
        XCTAssertEqual(e.rows, ctx.unlabeled.indices.sorted { allH[$0] > allH[$1] }.prefix(5).map { ctx.unlabeled[$0] })
        let m = try MarginStrategy().select(ctx, budget: 3, rng: &rng, cancel: nil)
        let margins = m.rows.map { Uncertainty.margin(ctx.probabilityRow($0)) }
        let smallest = ctx.unlabeled.map { Uncertainty.margin(ctx.probabilityRow($0)) }.sorted().prefix(3)
        XCTAssertEqual(margins, Array(smallest))
        let lc = try LeastConfidenceStrategy().select(ctx, budget: 1, rng: &rng, cancel: nil)
        XCTAssertEqual(ctx.probabilityRow(lc.rows[0]).max(), ctx.unlabeled.map { ctx.probabilityRow($0).max()! }.min())
    }

    func testCoreSetPicksTheFarCluster() throws {
        // 40 points near e1 (labelled ones among them), 5 points near −e1: the first pick is from the far group.
        var x: [Float] = []
        var rng = SeededRandom(seed: 2)
        for i in 0..<45 {
            var v = [Float](repeating: 0, count: 4)
            v[0] = i < 40 ? 1 : -1
            for j in 1..<4 { v[j] = Float(rng.normal() * 0.05) }
            x += v
        }
        let labeled = [0: 0, 1: 0, 2: 0]
        let ctx = try SelectionContext(features: x, width: 4, unlabeled: (3..<45).map { $0 }, labeled: labeled,
                                       probabilities: [Double](repeating: 0.5, count: 90), textFeatures: [1, 0, 0, 0, 0, 1, 0, 0], scale: 100)
        let s = try CoreSetStrategy().select(ctx, budget: 2, rng: &rng, cancel: nil)
        XCTAssertGreaterThanOrEqual(s.rows[0], 40)
        XCTAssertLessThan(s.rows[1], 40, "the second pick covers the near group, not the far one again")
        let noLabels = try SelectionContext(features: x, width: 4, unlabeled: Array(0..<45), labeled: [:],
                                            probabilities: [Double](repeating: 0.5, count: 90), textFeatures: [1, 0, 0, 0, 0, 1, 0, 0], scale: 100)
        XCTAssertNotNil(try CoreSetStrategy().select(noLabels, budget: 2, rng: &rng, cancel: nil).note, "random fallback is reported")
    }

    func testBADGEFactorisedDistanceEqualsExplicit() throws {
        let (ctx, _) = try pool(n: 30, d: 6, classes: 3)
        let badge = BADGEStrategy()
        let r = badge.residuals(ctx), z = ctx.packed(ctx.unlabeled)
        for i in 0..<6 { for j in 0..<6 {
            var explicit: Float = 0
            for c in 0..<3 { for k in 0..<6 {
                let v = r[i * 3 + c] * z[i * 6 + k] - r[j * 3 + c] * z[j * 6 + k]
                explicit += v * v
            } }
            XCTAssertEqual(BADGEStrategy.distance(i, j, z: z, r: r, d: 6, c: 3), explicit, accuracy: 1e-5)
        } }
        var rng = SeededRandom(seed: 3)
        let s = try badge.select(ctx, budget: 10, rng: &rng, cancel: nil)
        XCTAssertEqual(Set(s.rows).count, 10)
    }

    func testNearestNeighboursMatchBruteForce() throws {
        var rng = SeededRandom(seed: 4)
        let n = 300, d = 7, k = 5
        let z = normalizedRows(rng.normals(n * d, std: 1), width: d)
        let (ids, sims) = try NearestNeighbors.search(z, rows: n, width: d, k: k, block: 64)
        for i in stride(from: 0, to: n, by: 17) {
            let s = (0..<n).map { j in (0..<d).reduce(Float(0)) { $0 + z[i * d + $1] * z[j * d + $1] } }
            let expected = (0..<n).filter { $0 != i }.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }.prefix(k)
            XCTAssertEqual(ids[(i * k)..<((i + 1) * k)].map(Int.init), Array(expected))
            XCTAssertEqual(Double(sims[i * k]), Double(s[expected.first!]), accuracy: 1e-5)
        }
        XCTAssertThrowsError(try NearestNeighbors.search(z, rows: n, width: d, k: n))
    }

    func testWeightedKMeansNeverIncreasesItsObjective() throws {
        var rng = SeededRandom(seed: 5)
        let n = 400, d = 5
        let x = rng.normals(n * d, std: 1)
        let w = (0..<n).map { _ in rng.uniform() * 3 }
        let fit = try WeightedKMeans(clusters: 7).fit(x, rows: n, width: d, weights: w, rng: &rng)
        for (a, b) in zip(fit.costs, fit.costs.dropFirst()) { XCTAssertLessThanOrEqual(b, a * (1 + 1e-6)) }
        // The reported cost is the weighted objective of the final assignment.
        var cost = 0.0
        for i in 0..<n {
            let c = fit.assignment[i]
            cost += w[i] * (0..<d).reduce(0.0) { $0 + pow(Double(x[i * d + $1] - fit.centres[c * d + $1]), 2) }
        }
        XCTAssertEqual(fit.cost, cost, accuracy: 1e-3 * cost)
    }

    /// The bounds only skip work: the fit equals plain Lloyd iterations (every row against every centre, written
    /// out here) from the same seeding, while late iterations search few rows; the nearest-row picks equal a plain
    /// scan in centre order.
    func testBoundedAssignmentEqualsPlainLloyd() throws {
        var rng = SeededRandom(seed: 8)
        let n = 3000, d = 12, k = 40
        let centres0 = rng.normals(25 * d, std: 2)
        let x = (0..<(n * d)).map { centres0[((($0 / d) % 25) * d) + $0 % d] + Float(rng.normal()) }
        let w = (0..<n).map { _ in 0.2 + rng.uniform() }
        var kmeans = WeightedKMeans(clusters: k)
        kmeans.maxIterations = 60; kmeans.tolerance = 0
        var seeding = SeededRandom(seed: 9), again = seeding
        let fit = try kmeans.fit(x, rows: n, width: d, weights: w, rng: &seeding)
        // Plain Lloyd from the same seeds, for the same number of iterations.
        let rows = try FeatureRows(x, width: d), norms = WeightedKMeans.rowNorms(rows)
        var centres = kmeans.seed(rows, norms: norms, w: w, rng: &again)
        var assignment = [Int](repeating: 0, count: n)
        for it in 0...fit.iterations {
            for i in 0..<n {
                var best = 0, bestValue = Double.infinity
                for c in 0..<k {
                    var s = 0.0
                    for j in 0..<d { let v = Double(x[i * d + j] - centres[c * d + j]); s += v * v }
                    if s < bestValue { bestValue = s; best = c }
                }
                assignment[i] = best
            }
            if it == fit.iterations { break }
            var sums = [Double](repeating: 0, count: k * d), mass = [Double](repeating: 0, count: k)
            for i in 0..<n { mass[assignment[i]] += w[i]; for j in 0..<d { sums[assignment[i] * d + j] += w[i] * Double(x[i * d + j]) } }
            for c in 0..<k where mass[c] > 0 { for j in 0..<d { centres[c * d + j] = Float(sums[c * d + j] / mass[c]) } }
        }
        let agree = zip(assignment, fit.assignment).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(Double(agree) / Double(n), 0.999, "bounded and plain assignments differ beyond float ties")
        XCTAssertEqual(fit.searched.first, n, "the first step searches every row")
        XCTAssertLessThan(fit.searched.last!, n / 10, "once centres settle, the bounds keep most rows: \(fit.searched)")
        // Nearest rows: each centre in order takes the closest row not yet taken.
        let picks = WeightedKMeans.nearestRows(x, rows: n, width: d, centres: fit.centres, count: k)
        var taken = Set<Int>(), expected: [Int] = []
        for c in 0..<k {
            var best = -1, bestValue = Double.infinity
            for i in 0..<n where !taken.contains(i) {
                var s = 0.0
                for j in 0..<d { let v = Double(x[i * d + j] - fit.centres[c * d + j]); s += v * v }
                if s < bestValue { bestValue = s; best = i }
            }
            taken.insert(best); expected.append(best)
        }
        XCTAssertEqual(picks, expected)
        // Many centres on the same few rows: later centres find their candidates taken and search again.
        let crowded = WeightedKMeans.nearestRows(Array(x.prefix(40 * d)), rows: 40, width: d, centres: Array(repeating: fit.centres[0..<d], count: 30).flatMap { $0 }, count: 30)
        XCTAssertEqual(Set(crowded).count, 30)
    }

    func testCalibrationRemovesAPlantedClassBias() throws {
        let (ctx, _) = try pool(n: 200, d: 8, classes: 4, bias: 1.5, scale: 4)
        let cec = CECStrategy()
        let s = try cec.computeScores(ctx)
        // Zero-shot over-predicts class 0; the calibrated prior puts more mass there and divides it out.
        let predicted = ctx.unlabeled.map { Uncertainty.argmax(ctx.probabilityRow($0)) }
        let share0 = Double(predicted.filter { $0 == 0 }.count) / Double(predicted.count)
        XCTAssertGreaterThan(share0, 0.3)
        XCTAssertEqual(s.prior.indices.max { s.prior[$0] < s.prior[$1] }, 0)
        var calibrated = 0
        for (i, row) in ctx.unlabeled.enumerated() {
            _ = i
            let q = ctx.probabilityRow(row).enumerated().map { Double($0.element) / s.prior[$0.offset] }
            if q.indices.max(by: { q[$0] < q[$1] }) == 0 { calibrated += 1 }
        }
        XCTAssertLessThan(Double(calibrated) / Double(predicted.count), share0)
    }

    func testCECSelectionIsDeterministicAndDistinct() throws {
        let (ctx, _) = try pool(n: 150, labeled: [0: 0, 5: 1])
        for clustering in CECStrategy.Clustering.allCases {
            var cec = CECStrategy(); cec.clustering = clustering
            var r1 = SeededRandom(seed: 9), r2 = SeededRandom(seed: 9)
            let a = try cec.select(ctx, budget: 12, rng: &r1, cancel: nil), b = try cec.select(ctx, budget: 12, rng: &r2, cancel: nil)
            XCTAssertEqual(a.rows, b.rows)
            XCTAssertEqual(Set(a.rows).count, 12)
            XCTAssertTrue(a.rows.allSatisfy { $0 != 0 && $0 != 5 }, "labelled rows are never picked")
        }
    }

    func testEveryStrategyHonoursTheBudgetAndRejectsBadOnes() throws {
        let (ctx, _) = try pool(n: 80, labeled: [1: 1, 2: 2, 3: 3, 4: 0])
        for name in Strategies.names {
            for balance in [nil] + Balance.allCases {
                var spec = StrategySpec(name: name)
                spec.balance = balance; spec.gcnEpochs = 20
                let strategy = try spec.make()
                var rng = SeededRandom(seed: 7)
                let s = try strategy.select(ctx, budget: 6, rng: &rng, cancel: nil)
                XCTAssertEqual(s.rows.count, 6, strategy.name)
                XCTAssertEqual(Set(s.rows).count, 6, strategy.name)
                XCTAssertTrue(s.rows.allSatisfy { ctx.labeled[$0] == nil }, strategy.name)
                XCTAssertThrowsError(try strategy.select(ctx, budget: 0, rng: &rng, cancel: nil), strategy.name)
                XCTAssertThrowsError(try strategy.select(ctx, budget: 77, rng: &rng, cancel: nil), strategy.name)
            }
        }
        XCTAssertThrowsError(try StrategySpec(name: "entropyy").make())
    }

    /// The strategy table declares each parameter once: its default is the spec's, values are checked against its
    /// kind (also those read from a saved file), and the names are unique.
    func testTheStrategyTableChecksParameters() throws {
        XCTAssertEqual(Set(Strategies.names).count, Strategies.table.count)
        let cec = try Strategies.entry("cec")
        XCTAssertEqual(cec.parameters.map(\.name), ["k", "N", "rho", "beta", "prior", "kernel", "calibrate", "clustering", "knn", "knn_recall", "seeding", "assignment"])
        XCTAssertEqual(cec.parameter("k")?.defaultValue, .integer(10))
        XCTAssertEqual(cec.parameter("prior")?.defaultValue, .string("union"))
        var spec = StrategySpec(name: "cec")
        try cec.parameter("beta")!.set(.number(0.5), in: &spec)
        try cec.parameter("kernel")!.set(try cec.parameter("kernel")!.parse("cosine"), in: &spec)
        XCTAssertEqual(spec.beta, 0.5)
        XCTAssertEqual(spec.kernel, "cosine")
        for (name, value, message) in [("k", StrategyParameter.Value.integer(0), "k must be at least 1 (got 0)"),
                                       ("rho", .number(-1), "rho must be a number of at least 0 (got -1.0)"),
                                       ("prior", .string("global"), "prior must be one of union, per-class (got global)"),
                                       ("calibrate", .integer(1), "calibrate takes true or false, not 1")] {
            XCTAssertThrowsError(try cec.parameter(name)!.set(value, in: &spec), name) { XCTAssertEqual(($0 as? EngineError)?.message, message) }
        }
        XCTAssertThrowsError(try cec.parameter("N")!.parse("ten"))
        // A spec read from a file with a value the table refuses is an error when it is built, not a silent default.
        var saved = StrategySpec(name: "cec")
        saved.clustering = "spectral"
        XCTAssertThrowsError(try saved.make()) { XCTAssertTrue(($0 as? EngineError)?.message.contains("clustering must be one of") == true, "\($0)") }
        let built = try XCTUnwrap(try spec.make() as? CECStrategy)
        XCTAssertEqual(built.beta, 0.5)
        XCTAssertEqual(built.kernel, .cosine)
    }

    func testPCBBalancesTowardsUnderrepresentedClasses() throws {
        let (ctx, _) = try pool(n: 200, classes: 4, labeled: [0: 0, 4: 0, 8: 0, 1: 1, 5: 1, 9: 1, 2: 2, 6: 2, 10: 2])
        var rng = SeededRandom(seed: 8)
        let s = try PCBStrategy(base: RandomStrategy()).select(ctx, budget: 4, rng: &rng, cancel: nil)
        let predicted = s.rows.map { Uncertainty.argmax(ctx.probabilityRow($0)) }
        XCTAssertGreaterThanOrEqual(predicted.filter { $0 == 3 }.count, 3, "class 3 has no labels and gets the picks first")
    }

    func testGCNGradientMatchesFiniteDifferences() throws {
        var rng = SeededRandom(seed: 10)
        let n = 12, d = 4
        // Positive features, as CLIP's are: column sums of the adjacency stay well away from zero.
        var gcn = GCN(features: normalizedRows(rng.normals(n * d, std: 1).map { abs($0) + 0.5 }, width: d), nodes: n, width: d, hidden: 3, rng: &rng)
        let labeled = (0..<n).map { $0 % 3 == 0 }
        let mask = (0..<(n * 3)).map { _ in rng.uniform() < 0.3 ? Float(0) : Float(1 / 0.7) }
        let (_, dw1, db1, dw2, db2) = gcn.lossAndGradient(isLabeled: labeled, mask: mask, unlabeledWeight: 1.2)
        func loss(_ g: GCN) -> Double { g.lossAndGradient(isLabeled: labeled, mask: mask, unlabeledWeight: 1.2).0 }
        let h: Float = 1e-3
        for i in [0, 3, 7, 11] {
            let saved = gcn.w1[i]
            gcn.w1[i] = saved + h; let a = loss(gcn)
            gcn.w1[i] = saved - h; let b = loss(gcn)
            gcn.w1[i] = saved
            XCTAssertEqual(Double(dw1[i]), (a - b) / Double(2 * h), accuracy: 2e-3)
        }
        for i in 0..<3 {
            var saved = gcn.w2[i]
            gcn.w2[i] = saved + h; var a = loss(gcn); gcn.w2[i] = saved - h; var b = loss(gcn); gcn.w2[i] = saved
            XCTAssertEqual(Double(dw2[i]), (a - b) / Double(2 * h), accuracy: 2e-3)
            saved = gcn.b1[i]
            gcn.b1[i] = saved + h; a = loss(gcn); gcn.b1[i] = saved - h; b = loss(gcn); gcn.b1[i] = saved
            XCTAssertEqual(Double(db1[i]), (a - b) / Double(2 * h), accuracy: 2e-3)
        }
        let saved = gcn.b2
        gcn.b2 = saved + h; let a = loss(gcn); gcn.b2 = saved - h; let b = loss(gcn); gcn.b2 = saved
        XCTAssertEqual(Double(db2), (a - b) / Double(2 * h), accuracy: 2e-3)
    }
}
