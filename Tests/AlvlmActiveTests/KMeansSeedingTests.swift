import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

/// k-means|| seeding against scikit-learn's greedy k-means++: the weighted cost after Lloyd stays within 2% on a
/// 50,000-row clustered pool, seeds come only from rows that weigh something, too few candidates fall back to the
/// greedy seeding, and a cancelled fit stops.
final class KMeansSeedingTests: XCTestCase {
    func fit(_ x: [Float], rows n: Int, width d: Int, weights w: [Double], clusters k: Int, _ seeding: WeightedKMeans.Seeding,
             seed: UInt64 = 1) throws -> WeightedKMeans.Result {
        var kmeans = WeightedKMeans(clusters: k)
        kmeans.seeding = seeding
        var rng = SeededRandom(seed: seed)
        return try kmeans.fit(x, rows: n, width: d, weights: w, rng: &rng)
    }

    func testParallelSeedingCostsWithinTwoPercentOfGreedyOnFiftyThousandRows() throws {
        // As many tight, well-apart clusters as centres, of very unequal sizes (class c drawn as 500·u²): a seeding
        // that misses the small ones leaves Lloyd stuck with merged clusters (uniformly drawn seeds cost about 3x).
        let n = 50_000, d = 64, k = 500
        var rng = SeededRandom(seed: 12)
        let centres = rng.normals(k * d, std: 1)
        var x = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            let u = rng.uniform(), c = min(k - 1, Int(Double(k) * u * u))
            for j in 0..<d { x[i * d + j] = centres[c * d + j] + Float(rng.normal() * 0.05) }
        }
        let w = (0..<n).map { _ in 0.05 + 2 * rng.uniform() * rng.uniform() }
        let greedy = try fit(x, rows: n, width: d, weights: w, clusters: k, .greedy)
        let parallel = try fit(x, rows: n, width: d, weights: w, clusters: k, .parallel)
        XCTAssertEqual(parallel.report.seeding, .parallel)
        XCTAssertLessThanOrEqual(parallel.cost, 1.02 * greedy.cost, "k-means|| \(parallel.cost), greedy \(greedy.cost), seeded \(parallel.costs[0]) and \(greedy.costs[0])")
        // The seeding itself, before Lloyd, is no worse than 2x greedy's (Bahmani et al. prove a constant factor).
        XCTAssertLessThan(parallel.costs[0], 2 * greedy.costs[0])
    }

    func testSeedsComeFromWeightedRowsAndTooFewCandidatesFallBack() throws {
        var rng = SeededRandom(seed: 4)
        let n = 2000, d = 8, k = 30
        let x = rng.normals(n * d, std: 1)
        // Only even rows weigh something: every seed (every centre before Lloyd) is one of them.
        let w = (0..<n).map { $0 % 2 == 0 ? 0.5 + rng.uniform() : 0 }
        var kmeans = WeightedKMeans(clusters: k)
        var seeding = SeededRandom(seed: 5)
        let centres = try kmeans.parallelSeed(FeatureRows(x, width: d), norms: WeightedKMeans.rowNorms(FeatureRows(x, width: d)), w: w, rng: &seeding, cancel: nil)
        XCTAssertEqual(centres.count, k * d)
        for c in 0..<k {
            let row = Array(centres[(c * d)..<((c + 1) * d)])
            let source = (0..<n).first { i in (0..<d).allSatisfy { x[i * d + $0] == row[$0] } }
            XCTAssertNotNil(source, "centre \(c) is a row")
            XCTAssertEqual((source ?? 1) % 2, 0, "centre \(c) comes from a row that weighs something")
        }
        // Weight on 10 rows, 15 clusters: the rounds cannot find 15 candidates; the greedy seeding takes over.
        let few = (0..<n).map { $0 < 10 ? 1.0 : 0 }
        kmeans.clusters = 15
        kmeans.seeding = .parallel
        var again = SeededRandom(seed: 6)
        let fallback = try kmeans.fit(x, rows: n, width: d, weights: few, rng: &again)
        XCTAssertEqual(fallback.centres.count, 15 * d)
        XCTAssertTrue(fallback.centres.allSatisfy(\.isFinite))
    }

    func testACancelledParallelFitStops() throws {
        var rng = SeededRandom(seed: 2)
        let x = rng.normals(4000 * 4, std: 1)
        var kmeans = WeightedKMeans(clusters: 50)
        kmeans.seeding = .parallel
        let token = CancellationToken()
        token.cancel()
        XCTAssertThrowsError(try kmeans.fit(x, rows: 4000, width: 4, rng: &rng, cancel: token)) { error in
            XCTAssertEqual((error as? EngineError)?.kind, .cancelled)
        }
    }
}
