import AlvlmKernels
import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

/// Feature rows held as float32, as float16 or mapped from a file: every storage hands the kernels the floats that
/// normalising the (rounded) values in a float32 array gives, bit for bit, so CEC selects the same from each.
final class FeatureRowsTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }

    /// Clustered rows of varied lengths (the storage must normalise them).
    static func pool(_ n: Int, width d: Int, seed: UInt64) -> [Float] {
        var x = InvertedFileNeighborsTests.clusteredRows(n, width: d, classes: 20, seed: seed)
        var rng = SeededRandom(seed: seed + 1)
        for i in 0..<n {
            let length = Float(0.2 + 30 * rng.uniform())
            for j in 0..<d { x[i * d + j] *= length }
        }
        return x
    }

    /// The first value whose bits differ (or the shorter length), nil when the arrays are identical.
    func firstDifference(_ a: [Float], _ b: [Float]) -> Int? {
        (0..<min(a.count, b.count)).first { a[$0].bitPattern != b[$0].bitPattern } ?? (a.count == b.count ? nil : min(a.count, b.count))
    }

    func testEveryStorageReadsWhatNormalisingTheFloatsGives() throws {
        let n = 1500, d = 24
        let x = Self.pool(n, width: d, seed: 4)
        try NPY.write(x, shape: [n, d], to: dir + "/f32.npy")
        try NPY.write(float16: x, shape: [n, d], to: dir + "/f16.npy")
        var unit32 = x, unit16 = x.map { Float(Float16($0)) }
        normalizeRows(&unit32, width: d); normalizeRows(&unit16, width: d)
        let cases: [(String, FeatureRows, [Float], FeatureStorage)] = [
            ("float32 file read", try FeatureRows.load(dir + "/f32.npy", storage: .float32), unit32, .float32),
            ("float32 file mapped", try FeatureRows.load(dir + "/f32.npy", storage: .mapped), unit32, .mapped),
            ("float32 file as float16", try FeatureRows.load(dir + "/f32.npy", storage: .float16), unit16, .float16),
            ("float16 file read", try FeatureRows.load(dir + "/f16.npy", storage: .float32), unit16, .float32),
            ("float16 file mapped", try FeatureRows.load(dir + "/f16.npy", storage: .mapped), unit16, .mapped),
            ("float16 file as float16", try FeatureRows.load(dir + "/f16.npy", storage: .float16), unit16, .float16),
            ("floats rounded in memory", try FeatureRows.halves(of: x, width: d), unit16, .float16),
        ]
        for (name, held, expected, kind) in cases {
            XCTAssertEqual(held.storage.kind, kind, name)
            XCTAssertEqual(held.storage.bytes, kind == .float32 ? 4 * n * d : kind == .float16 ? 2 * n * d : 0, name)
            let unit = held.normalized()
            XCTAssertEqual([unit.rows, unit.width], [n, d], name)
            XCTAssertNil(firstDifference(unit.floats, expected), "\(name): all rows")
            let block = unit.withRows(7, 300) { Array(UnsafeBufferPointer(start: $0, count: 300 * d)) }
            XCTAssertNil(firstDifference(block, Array(expected[(7 * d)..<(307 * d)])), "\(name): a block")
            let picked = [5, 0, n - 1, 5]
            XCTAssertNil(firstDifference(unit.gathered(picked), picked.flatMap { expected[($0 * d)..<(($0 + 1) * d)] }), "\(name): gathered")
            let subset = unit.subset([3, 1, 2])
            XCTAssertNil(firstDifference(subset.floats, unit.gathered([3, 1, 2])), "\(name): a subset")
            XCTAssertNotEqual(subset.storage.kind, .mapped, "\(name): a subset is held in memory")
            if kind == .float16 { XCTAssertEqual(subset.storage.kind, .float16, "\(name): a float16 subset stays float16") }
            XCTAssertNil(unit.firstNonFiniteRow(), name)
        }
    }

    func testWhatCannotBeHeldIsRefusedClearly() throws {
        try NPY.write(Array(repeating: 1.0 as Float, count: 40), shape: [40], to: dir + "/flat.npy")
        try writeAtomically(NPY.encode([1.0, 2.0] as [Double], shape: [1, 2]), to: dir + "/f8.npy")
        var short = NPY.encode(Array(repeating: 1.0 as Float, count: 40), shape: [10, 4])
        short.removeLast(9)
        try writeAtomically(short, to: dir + "/short.npy")
        var infinite = Self.pool(10, width: 4, seed: 1)
        infinite[4 * 6 + 1] = .infinity
        try NPY.write(float16: infinite, shape: [10, 4], to: dir + "/inf.npy")
        for storage in FeatureStorage.allCases {
            XCTAssertThrowsError(try FeatureRows.load(dir + "/flat.npy", storage: storage)) { XCTAssertTrue("\($0)".contains("2-D"), "\(storage): \($0)") }
            XCTAssertThrowsError(try FeatureRows.load(dir + "/short.npy", storage: storage)) { XCTAssertTrue("\($0)".contains("payload"), "\(storage): \($0)") }
            XCTAssertThrowsError(try FeatureRows.load(dir + "/missing.npy", storage: storage)) { XCTAssertTrue("\($0)".contains("missing.npy"), "\(storage): \($0)") }
            XCTAssertEqual(try FeatureRows.load(dir + "/inf.npy", storage: storage).firstNonFiniteRow(), 6, "\(storage)")
        }
        XCTAssertThrowsError(try FeatureRows.load(dir + "/f8.npy", storage: .mapped)) { XCTAssertTrue("\($0)".contains("<f8"), "\($0)") }
        XCTAssertThrowsError(try FeatureRows.load(dir + "/f8.npy", storage: .float16)) { XCTAssertTrue("\($0)".contains("<f8"), "\($0)") }
    }

    /// CEC's large-pool path (index, k-means||, local steps) and its exact path choose the same rows with the same
    /// scores from every storage, with some rows labelled (so the unlabelled rows are a subset).
    func testCECSelectsTheSameFromEveryStorage() throws {
        let n = 3000, d = 32, c = 8
        let x = Self.pool(n, width: d, seed: 9)
        try NPY.write(x, shape: [n, d], to: dir + "/f32.npy")
        try NPY.write(float16: x, shape: [n, d], to: dir + "/f16.npy")
        var rng = SeededRandom(seed: 2)
        let classifier = Classifier(classNames: (0..<c).map { "c\($0)" }, textFeatures: rng.normals(c * d, std: 1), logitScale: log(100))
        let labeled = Dictionary(uniqueKeysWithValues: stride(from: 0, to: n, by: 7).map { ($0, $0 % c) })
        let unlabeled = (0..<n).filter { labeled[$0] == nil }
        var large = CECStrategy()
        large.search = .ivf; large.seeding = .parallel; large.assignment = .local
        var exact = CECStrategy()
        exact.search = .exact; exact.seeding = .greedy; exact.assignment = .exact
        func select(_ rows: FeatureRows, _ strategy: CECStrategy) throws -> Selection {
            let context = try SelectionContext(rows: rows, unlabeled: unlabeled, labeled: labeled, classifier: classifier)
            var random = SeededRandom(seed: 11)
            return try strategy.select(context, budget: 40, rng: &random, cancel: nil)
        }
        for strategy in [large, exact] {
            let float32 = try select(try FeatureRows(x, width: d), strategy)
            let mapped = try select(try FeatureRows.load(dir + "/f32.npy", storage: .mapped), strategy)
            XCTAssertTrue(mapped.rows == float32.rows && mapped.scores == float32.scores, "mapped float32 file, \(strategy.search)")
            let rounded = try select(try FeatureRows(x.map { Float(Float16($0)) }, width: d), strategy)
            for (name, rows) in [("float16 in memory", try FeatureRows.halves(of: x, width: d)),
                                 ("float16 file mapped", try FeatureRows.load(dir + "/f16.npy", storage: .mapped))] {
                let half = try select(rows, strategy)
                XCTAssertTrue(half.rows == rounded.rows && half.scores == rounded.scores, "\(name), \(strategy.search): rows and scores")
                XCTAssertEqual(half.clustering?.cost, rounded.clustering?.cost, "\(name), \(strategy.search)")
            }
        }
    }
}
