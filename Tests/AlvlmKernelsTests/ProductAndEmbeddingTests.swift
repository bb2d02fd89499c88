import AlvlmTestSupport
import XCTest
@testable import AlvlmKernels

/// The pairwise products, the residual form of the linear layer and the embedding gather/scatter against plain loops,
/// and each backward against its forward (the adjoint identity ⟨f(x), y⟩ = ⟨x, f*(y)⟩, in double precision).
final class ProductAndEmbeddingTests: XCTestCase {
    func testRowProductsAndTheirGradientsMatchLoops() {
        var rng = SeededRandom(seed: 21)
        // Large enough (m·n·d > 2^21) that the product is split across cores, with rows that do not divide evenly.
        let m = 301, n = 77, d = 97, scale: Float = 2.5
        let a = rng.normals(m * d, std: 1), b = rng.normals(n * d, std: 1), ds = rng.normals(m * n, std: 1)
        let s = Products.rows(a, b, width: d, scale: scale)
        var worst = 0.0
        for i in 0..<m { for j in 0..<n {
            var v = 0.0
            for k in 0..<d { v += Double(a[i * d + k]) * Double(b[j * d + k]) }
            worst = max(worst, abs(Double(scale) * v - Double(s[i * n + j])))
        } }
        XCTAssertLessThan(worst, 1e-3)
        let (da, db) = Products.rowsBackward(ds, a, b, width: d, scale: scale)
        // dA = scale dS B and dB = scale dSᵀ A, element by element.
        for (i, k) in [(0, 0), (m - 1, d - 1), (150, 40)] {
            var va = 0.0
            for j in 0..<n { va += Double(ds[i * n + j]) * Double(b[j * d + k]) }
            XCTAssertEqual(Double(da![i * d + k]), Double(scale) * va, accuracy: 1e-3)
        }
        for (j, k) in [(0, 0), (n - 1, d - 1), (30, 60)] {
            var vb = 0.0
            for i in 0..<m { vb += Double(ds[i * n + j]) * Double(a[i * d + k]) }
            XCTAssertEqual(Double(db![j * d + k]), Double(scale) * vb, accuracy: 1e-3)
        }
        let only = Products.rowsBackward(ds, a, b, width: d, scale: scale, inputs: (false, true))
        XCTAssertNil(only.da)
        XCTAssertEqual(only.db!, db!)
        // Double precision and the explicit single-core split give the same products.
        let sd = Products.rows(a.map(Double.init), b.map(Double.init), width: d, scale: Double(scale))
        XCTAssertLessThan(zip(sd, s).map { abs($0 - Double($1)) }.max()!, 1e-3)
        var serial = [Float](repeating: 0, count: m * n)
        serial.withUnsafeMutableBufferPointer { out in
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                Products.rows(ap.baseAddress!, count: m, bp.baseAddress!, count: n, width: d, scale: scale, into: out.baseAddress!, cores: 1)
            } }
        }
        XCTAssertLessThan(maxAbsDifference(serial, s), 1e-3)
    }

    func testMatmulPlainAndTransposed() {
        var rng = SeededRandom(seed: 22)
        let m = 13, k = 200, n = 9
        let x = rng.normals(m * k, std: 1), y = rng.normals(k * n, std: 1)
        let plain = Products.matmul(x, y, m: m, k: k, n: n)
        XCTAssertLessThan(maxAbsDifference(plain, naiveMatmul(transA: false, transB: false, m: m, n: n, k: k, a: x, lda: k, b: y, ldb: n)), 1e-3)
        let xt = rng.normals(k * m, std: 1)   // [k, m]
        let transposed = Products.matmul(xt, y, m: m, k: k, n: n, transposeX: true)
        XCTAssertLessThan(maxAbsDifference(transposed, naiveMatmul(transA: true, transB: false, m: m, n: n, k: k, a: xt, lda: m, b: y, ldb: n)), 1e-3)
    }

    func testLinearAccumulatesIntoAResidual() {
        var rng = SeededRandom(seed: 23)
        let rows = 6, i = 11, o = 5
        let x = rng.normals(rows * i, std: 1), w = rng.normals(o * i, std: 1), b = rng.normals(o, std: 1), y0 = rng.normals(rows * o, std: 1)
        let ref = naiveMatmul(transA: false, transB: true, m: rows, n: o, k: i, a: x, lda: i, b: w, ldb: i)
        for bias in [true, false] {
            var y = y0
            y.withUnsafeMutableBufferPointer {
                Kernels.linear(x, rows: rows, inFeatures: i, weight: w, bias: bias ? b : nil, outFeatures: o, into: $0.baseAddress!, accumulate: true)
            }
            for r in 0..<rows { for c in 0..<o {
                XCTAssertEqual(y[r * o + c], y0[r * o + c] + ref[r * o + c] + (bias ? b[c] : 0), accuracy: 1e-4, "bias \(bias)")
            } }
        }
    }

    func testEmbeddingGatherSkipsNegativeRowsAndScatterIsItsAdjoint() {
        var rng = SeededRandom(seed: 24)
        let c = 7, tableRows = 10
        let table = rng.normals(tableRows * c, std: 1)
        let index = [3, -1, 0, 9, 3, -1, 3, 5]   // repeats, skipped rows, first and last table rows
        let start = rng.normals(index.count * c, std: 1)
        var out = start
        Embedding.gather(table, index: index, width: c, into: &out)
        for (r, row) in index.enumerated() {
            for i in 0..<c { XCTAssertEqual(out[r * c + i], start[r * c + i] + (row >= 0 ? table[row * c + i] : 0)) }
        }
        // ⟨gather(T), dy⟩ = ⟨T, scatter(dy)⟩.
        let dy = rng.normals(index.count * c, std: 1)
        var gathered = [Float](repeating: 0, count: index.count * c)
        Embedding.gather(table, index: index, width: c, into: &gathered)
        var scattered = [Float](repeating: 0, count: tableRows * c)
        Embedding.scatter(dy, index: index, width: c, into: &scattered)
        let lhs = zip(gathered, dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(table, scattered).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-4)
        // Table row 3 collects three rows' gradients; row 1 none.
        for i in 0..<c {
            XCTAssertEqual(scattered[3 * c + i], dy[0 * c + i] + dy[4 * c + i] + dy[6 * c + i], accuracy: 1e-6)
            XCTAssertEqual(scattered[1 * c + i], 0)
        }
    }

    func testEngineCoresAreFixedOnceRead() {
        let cores = Engine.cores
        XCTAssertTrue(Engine.configure(cores: cores), "asking again for the same count is fine")
        XCTAssertFalse(Engine.configure(cores: cores == 1 ? 2 : cores - 1), "the count cannot change once work could have used it")
        XCTAssertEqual(Engine.cores, cores)
    }
}
