import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

/// Local assignment steps (each row against the centres nearest its own): the neighbour lists against a brute-force
/// sort, one step against a plain scan when every centre is a neighbour, the cost never rising and staying within 1%
/// of exact Lloyd's from the same seeds, and the query's nearest members.
final class KMeansLocalAssignmentTests: XCTestCase {
    /// n rows around `groups` well-apart centres, with weights.
    func pool(rows n: Int, width d: Int, groups: Int, seed: UInt64) -> (x: [Float], w: [Double]) {
        var rng = SeededRandom(seed: seed)
        let centres = rng.normals(groups * d, std: 1)
        var x = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            let c = Int(rng.next() % UInt64(groups))
            for j in 0..<d { x[i * d + j] = centres[c * d + j] + Float(rng.normal() * 0.4) }
        }
        return (x, (0..<n).map { _ in 0.1 + rng.uniform() })
    }

    func squaredDistance(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    }

    func testNeighbourListsAreTheNearestCentresWithItselfFirst() {
        var rng = SeededRandom(seed: 3)
        let k = 300, d = 16, m = 12
        let centres = rng.normals(k * d, std: 1)
        let cn = (0..<k).map { c in (0..<d).reduce(Float(0)) { $0 + centres[c * d + $1] * centres[c * d + $1] } }
        let near = WeightedKMeans.nearestCentres(centres, k: k, d: d, norms: cn, m: m)
        for c in 0..<k {
            let row = { (i: Int) in centres[(i * d)..<((i + 1) * d)] }
            let truth = (0..<k).filter { $0 != c }.sorted { squaredDistance(row(c), row($0)) < squaredDistance(row(c), row($1)) }
            XCTAssertEqual(Int(near[c * m]), c, "centre \(c) lists itself first")
            // The rest are the m − 1 nearest others (as a set: float rounding may swap near-equal neighbours).
            let listed = Set(near[(c * m + 1)..<((c + 1) * m)].map(Int.init))
            let expected = Set(truth.prefix(m - 1))
            XCTAssertGreaterThanOrEqual(listed.intersection(expected).count, m - 2, "centre \(c): \(listed.sorted()) against \(expected.sorted())")
        }
    }

    func testALocalStepOverEveryCentreIsAPlainScan() throws {
        // With no more centres than a local step compares, every row sees every centre: the plain nearest centre.
        let (x, _) = pool(rows: 2000, width: 10, groups: 20, seed: 5)
        let n = 2000, d = 10, k = WeightedKMeans.localCentres
        var rng = SeededRandom(seed: 6)
        let centres = rng.normals(k * d, std: 1)
        let kmeans = WeightedKMeans(clusters: k)
        let current = (0..<n).map { $0 % k }
        let (a, d2) = try kmeans.assignLocal(FeatureRows(x, width: d), norms: WeightedKMeans.rowNorms(FeatureRows(x, width: d)), centres: centres, k: k, current: current)
        var agree = 0
        for i in 0..<n {
            let distances = (0..<k).map { squaredDistance(x[(i * d)..<((i + 1) * d)], centres[($0 * d)..<(($0 + 1) * d)]) }
            let best = distances.indices.min { distances[$0] < distances[$1] }!
            if a[i] == best { agree += 1 }
            XCTAssertEqual(Double(d2[i]), distances[a[i]], accuracy: 1e-4 * max(1, distances[a[i]]))
        }
        XCTAssertGreaterThanOrEqual(agree, n - 2, "local and plain assignments differ beyond float ties")
    }

    func testLocalLloydNeverRaisesTheCostAndStaysWithinOnePercentOfExact() throws {
        let n = 20_000, d = 24, k = 400
        let (x, w) = pool(rows: n, width: d, groups: 150, seed: 7)
        func fit(_ assignment: WeightedKMeans.Assignment) throws -> WeightedKMeans.Result {
            var kmeans = WeightedKMeans(clusters: k)
            kmeans.assignment = assignment
            var rng = SeededRandom(seed: 8)
            return try kmeans.fit(x, rows: n, width: d, weights: w, rng: &rng)
        }
        let exact = try fit(.exact), local = try fit(.local)
        XCTAssertEqual(local.report.assignment, .local)
        // The same seeds and the same exact first step.
        XCTAssertEqual(local.costs[0], exact.costs[0], accuracy: 1e-9 * exact.costs[0])
        for (before, after) in zip(local.costs, local.costs.dropFirst()) {
            XCTAssertLessThanOrEqual(after, before * (1 + 1e-6), "a local step raised the cost: \(local.costs)")
        }
        XCTAssertLessThanOrEqual(local.cost, 1.01 * exact.cost, "local \(local.cost), exact \(exact.cost)")
        // Its distances are each row's to its own centre.
        for i in stride(from: 0, to: n, by: 97) {
            let c = local.assignment[i]
            XCTAssertEqual(Double(local.distances[i]), squaredDistance(x[(i * d)..<((i + 1) * d)], local.centres[(c * d)..<((c + 1) * d)]),
                           accuracy: 1e-3)
        }
    }

    func testNearestMembersAreDistinctNearestWithinTheirClustersAndFillEmptyOnes() throws {
        var rng = SeededRandom(seed: 9)
        let n = 500, d = 6, k = 10
        let x = rng.normals(n * d, std: 1)
        var centres = rng.normals(k * d, std: 1)
        // Every row in clusters 0...8; cluster 9 is empty, its centre on row 17.
        let assignment = (0..<n).map { $0 % 9 }
        for j in 0..<d { centres[9 * d + j] = x[17 * d + j] }
        let d2 = (0..<n).map { i in Float(squaredDistance(x[(i * d)..<((i + 1) * d)], centres[(assignment[i] * d)..<((assignment[i] + 1) * d)])) }
        let picks = try WeightedKMeans.nearestMembers(FeatureRows(x, width: d), centres: centres, count: k, assignment: assignment, distances: d2)
        XCTAssertEqual(picks.count, k)
        XCTAssertEqual(Set(picks).count, k, "picks are distinct")
        for c in 0..<9 {
            let members = (0..<n).filter { assignment[$0] == c }
            XCTAssertEqual(picks[c], members.min { d2[$0] < d2[$1] })
        }
        // Row 17 is cluster 8's member but not its pick (unless nearest): the empty cluster takes it or the next-nearest row.
        let expected = picks[8] == 17
            ? (0..<n).filter { $0 != 17 }.min { squaredDistance(x[($0 * d)..<(($0 + 1) * d)], x[(17 * d)..<(18 * d)]) < squaredDistance(x[($1 * d)..<(($1 + 1) * d)], x[(17 * d)..<(18 * d)]) }!
            : 17
        XCTAssertEqual(picks[9], expected)
    }

    func testCECWithLocalAssignmentPicksTheBudget() throws {
        let n = 3000, d = 16, classes = 5
        let (x, _) = pool(rows: n, width: d, groups: classes, seed: 11)
        var rng = SeededRandom(seed: 12)
        let text = rng.normals(classes * d, std: 1)
        let context = try SelectionContext(features: x, width: d, unlabeled: Array(0..<n), labeled: [:],
                                           classifier: Classifier(classNames: (0..<classes).map { "c\($0)" }, textFeatures: text, logitScale: log(100)))
        var spec = StrategySpec(name: "cec")
        spec.assignment = "local"
        XCTAssertEqual(spec.label, "cec (assignment=local)")
        let cec = try XCTUnwrap(try spec.make() as? CECStrategy)
        XCTAssertEqual(cec.kmeans(clusters: 10, rows: n).assignment, .local)
        XCTAssertEqual(CECStrategy().kmeans(clusters: 10, rows: n).assignment, .exact, "auto is exact below \(CECStrategy.approximateFrom) rows")
        XCTAssertEqual(CECStrategy().kmeans(clusters: 10, rows: CECStrategy.approximateFrom).assignment, .local)
        var seed = SeededRandom(seed: 13)
        let selection = try cec.select(context, budget: 60, rng: &seed, cancel: nil)
        XCTAssertEqual(selection.rows.count, 60)
        XCTAssertEqual(Set(selection.rows).count, 60)
        XCTAssertEqual(selection.clustering?.assignment, .local)
        // Each pick is its cluster's nearest member.
        let assignment = try XCTUnwrap(selection.assignment), centres = try XCTUnwrap(selection.centres)
        let unit = context.features
        for (p, row) in selection.rows.enumerated().prefix(10) {
            let c = assignment[row]
            let mine = squaredDistance(unit[(row * d)..<((row + 1) * d)], centres[(c * d)..<((c + 1) * d)])
            for other in (0..<n) where assignment[other] == c {
                XCTAssertLessThanOrEqual(mine, squaredDistance(unit[(other * d)..<((other + 1) * d)], centres[(c * d)..<((c + 1) * d)]) + 1e-5, "pick \(p)")
            }
        }
    }
}
