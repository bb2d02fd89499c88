import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

/// The inverted-file neighbour search against exact search: the recall it reports is the recall it reaches, its
/// answers are true similarities in the right order, one list is exact search, and CEC's scores barely move.
final class InvertedFileNeighborsTests: XCTestCase {
    /// `n` unit rows around `classes` centres (CLIP-like: each row's class explains most of its direction).
    static func clusteredRows(_ n: Int, width d: Int, classes: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        let centres = rng.normals(classes * d, std: 1)
        var x = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            let c = Int(rng.next() % UInt64(classes))
            var norm: Float = 0
            for j in 0..<d { let v = centres[c * d + j] + Float(rng.normal() * 0.6); x[i * d + j] = v; norm += v * v }
            for j in 0..<d { x[i * d + j] /= norm.squareRoot() }
        }
        return x
    }

    /// Exact top-k of one row by plain loops (ties to the smaller index).
    func bruteForce(_ x: [Float], row q: Int, rows n: Int, width d: Int, k: Int) -> [Int] {
        var sims: [(Float, Int)] = []
        for j in 0..<n where j != q {
            var s: Float = 0
            for t in 0..<d { s += x[q * d + t] * x[j * d + t] }
            sims.append((s, j))
        }
        return sims.sorted { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }.prefix(k).map(\.1)
    }

    func testFiftyThousandRowsReachTheRecallTheyReport() throws {
        let n = 50_000, d = 64, k = 10
        let x = Self.clusteredRows(n, width: d, classes: 100, seed: 3)
        let (ids, sims, report) = try InvertedFileNeighbors.search(x, rows: n, width: d, k: k, recall: 0.99)
        XCTAssertGreaterThanOrEqual(report.recall, 0.99, "\(report)")
        XCTAssertLessThan(report.probes, report.lists / 4, "the index should probe a small part of the lists: \(report)")
        // Recall on other queries than the index sampled, against plain loops.
        var rng = SeededRandom(seed: 99)
        var found = 0
        let queries = (0..<200).map { _ in Int(rng.next() % UInt64(n)) }
        for q in queries {
            let truth = Set(bruteForce(x, row: q, rows: n, width: d, k: k))
            found += (0..<k).filter { truth.contains(Int(ids[q * k + $0])) }.count
        }
        XCTAssertGreaterThanOrEqual(Double(found) / Double(queries.count * k), 0.98)
        // Every answer is another row, listed once, with its true similarity, best first.
        for q in stride(from: 0, to: n, by: 997) {
            let row = (0..<k).map { Int(ids[q * k + $0]) }
            XCTAssertEqual(Set(row).count, k)
            for (t, j) in row.enumerated() {
                XCTAssertTrue(j >= 0 && j < n && j != q)
                var s: Float = 0
                for u in 0..<d { s += x[q * d + u] * x[j * d + u] }
                XCTAssertEqual(sims[q * k + t], s, accuracy: 1e-4)
                if t > 0 { XCTAssertLessThanOrEqual(sims[q * k + t], sims[q * k + t - 1]) }
            }
        }
    }

    func testOneListIsExactSearch() throws {
        let n = 1500, d = 16, k = 7
        let x = Self.clusteredRows(n, width: d, classes: 12, seed: 4)
        let (ids, _, report) = try InvertedFileNeighbors.search(x, rows: n, width: d, k: k, lists: 1)
        let exact = try NearestNeighbors.search(x, rows: n, width: d, k: k)
        XCTAssertEqual(report.recall, 1)
        var agree = 0
        for i in 0..<(n * k) where ids[i] == exact.ids[i] { agree += 1 }
        XCTAssertGreaterThan(Double(agree) / Double(n * k), 0.999, "only float ties may order differently")
    }

    func testTinyListsStillGiveKNeighboursAndBadTargetsAreRefused() throws {
        let n = 300, d = 8, k = 20
        let x = Self.clusteredRows(n, width: d, classes: 40, seed: 5)
        let (ids, _, _) = try InvertedFileNeighbors.search(x, rows: n, width: d, k: k, recall: 0.5, lists: 60)
        XCTAssertFalse(ids.contains(-1), "every row gets k neighbours even when its lists hold fewer")
        XCTAssertThrowsError(try InvertedFileNeighbors.search(x, rows: n, width: d, k: k, recall: 1.5))
        XCTAssertThrowsError(try InvertedFileNeighbors.search(x, rows: n, width: d, k: n))
    }

    func testCECScoresBarelyMoveWithTheIndexAndAutoIsExactOnSmallPools() throws {
        let n = 4000, d = 32, classes = 10
        let x = Self.clusteredRows(n, width: d, classes: classes, seed: 6)
        var rng = SeededRandom(seed: 7)
        let text = rng.normals(classes * d, std: 1)
        let classifier = Classifier(classNames: (0..<classes).map { "c\($0)" }, textFeatures: text, logitScale: log(20))
        let context = try SelectionContext(features: x, width: d, unlabeled: Array(0..<n), labeled: [:], classifier: classifier)
        var cec = CECStrategy()
        let auto = try cec.computeScores(context)
        cec.search = .exact
        let exact = try cec.computeScores(context)
        XCTAssertEqual(auto.uncertainty, exact.uncertainty)
        XCTAssertNil(auto.neighbourSearch)
        cec.search = .ivf
        let ivf = try cec.computeScores(context)
        let report = try XCTUnwrap(ivf.neighbourSearch)
        XCTAssertGreaterThanOrEqual(report.recall, 0.99)
        let scale = exact.uncertainty.max()!
        let worst = zip(ivf.uncertainty, exact.uncertainty).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst / scale, 0.05, "\(report)")
        XCTAssertEqual(ivf.calibratedEntropy, exact.calibratedEntropy, "only the neighbour term depends on the search")
        // The choice travels through the strategy table (language and command line) and its label.
        var spec = StrategySpec(name: "cec")
        try Strategies.entry("cec").parameters.first { $0.name == "knn" }!.set(.string("ivf"), in: &spec)
        XCTAssertEqual((try spec.make() as? CECStrategy)?.search, .ivf)
        XCTAssertEqual(spec.label, "cec (knn=ivf)")
        XCTAssertThrowsError(try Strategies.entry("cec").parameters.first { $0.name == "knn" }!.set(.string("hnsw"), in: &spec))
    }
}
