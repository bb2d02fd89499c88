import AlvlmTestSupport
import XCTest
@testable import AlvlmKernels

/// Each fast kernel against a plain reference implementation of itself.
final class KernelTests: XCTestCase {
    func testGemmMatchesNaiveInAllTransposeModes() {
        var rng = SeededRandom(seed: 1)
        let m = 37, n = 29, k = 53
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = rng.normals(m * k, std: 1), b = rng.normals(k * n, std: 1)
            let lda = ta ? m : k, ldb = tb ? k : n
            var c = [Float](repeating: 0, count: m * n)
            c.withUnsafeMutableBufferPointer {
                BLAS.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: $0.baseAddress!, ldc: n)
            }
            let ref = naiveMatmul(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb)
            XCTAssertLessThan(maxAbsDifference(c, ref), 1e-4, "transA \(ta) transB \(tb)")
        }
    }

    func testLinearAddsBias() {
        var rng = SeededRandom(seed: 2)
        let m = 5, i = 7, o = 3
        let x = rng.normals(m * i, std: 1), w = rng.normals(o * i, std: 1), b = rng.normals(o, std: 1)
        var y = [Float](repeating: .nan, count: m * o)
        y.withUnsafeMutableBufferPointer { Kernels.linear(x, rows: m, inFeatures: i, weight: w, bias: b, outFeatures: o, into: $0.baseAddress!) }
        let ref = naiveMatmul(transA: false, transB: true, m: m, n: o, k: i, a: x, lda: i, b: w, ldb: i)
        for r in 0..<m { for c in 0..<o { XCTAssertEqual(y[r * o + c], ref[r * o + c] + b[c], accuracy: 1e-5) } }
    }

    func testLayerNormMatchesReference() {
        var rng = SeededRandom(seed: 3)
        let rows = 130, c = 48
        let x = rng.normals(rows * c, std: 3, mean: 1), w = rng.normals(c, std: 1), b = rng.normals(c, std: 1)
        var y = [Float](repeating: 0, count: rows * c), mean = [Float](repeating: 0, count: rows), rstd = mean
        Kernels.layerNorm(x, &y, rows: rows, width: c, weight: w, bias: b, eps: 1e-5, mean: &mean, rstd: &rstd)
        let ref = ReferenceKernels.layerNorm(x, rows: rows, width: c, weight: w, bias: b, eps: 1e-5)
        XCTAssertLessThan(maxAbsDifference(y, ref), 2e-5)
    }

    func testActivationsMatchFormulas() {
        let xs: [Float] = [-6, -2.5, -1, -0.1, 0, 0.3, 1, 2, 7]
        for kind in [Activation.quickGELU, .gelu] {
            var y = xs
            y.withUnsafeMutableBufferPointer { Kernels.activate($0.baseAddress!, into: $0.baseAddress!, count: xs.count, kind) }
            for (x, v) in zip(xs, y) {
                XCTAssertEqual(Double(v), ReferenceKernels.activation(Double(x), kind), accuracy: 1e-6, "\(kind) at \(x)")
            }
        }
    }

    func testAttentionMatchesReferenceCausalAndFull() {
        var rng = SeededRandom(seed: 4)
        let batch = 3, t = 11, c = 24, heads = 3
        let qkv = rng.normals(batch * t * 3 * c, std: 1)
        for causal in [false, true] {
            var out = [Float](repeating: 0, count: batch * t * c)
            var scratch = [Float](repeating: 0, count: Engine.cores * t * t)
            var probs = [Float](repeating: 0, count: batch * heads * t * t)
            out.withUnsafeMutableBufferPointer { o in
                Kernels.attention(qkv: qkv, out: o.baseAddress!, batch: batch, tokens: t, width: c, heads: heads,
                                  causal: causal, scratch: &scratch, probs: &probs)
            }
            let ref = ReferenceKernels.attention(qkv, batch: batch, tokens: t, width: c, heads: heads, causal: causal)
            XCTAssertLessThan(maxAbsDifference(out, ref), 1e-5, "causal \(causal)")
            // Saved probabilities are row-stochastic and zero above the diagonal when causal.
            for row in 0..<(batch * heads * t) {
                let p = probs[(row * t)..<(row * t + t)]
                XCTAssertEqual(Double(p.reduce(0, +)), 1, accuracy: 1e-5)
                if causal { XCTAssertTrue(p[(row * t + row % t + 1)...].allSatisfy { $0 == 0 }) }
            }
        }
    }

    func testVectorExpAgainstLibm() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0137 })
            let v = vexp(lanes)
            for i in 0..<8 {
                let exact = exp(Double(lanes[i]))
                worst = max(worst, abs(Double(v[i]) - exact) / exact)
            }
            x += 0.173
        }
        XCTAssertLessThan(worst, 5e-7)
        var row: [Float] = [3, -1, 0.5, 2, 7, -30, 1, 1, 2, 0, 0.25, -2]
        let ref = row.map { exp(Double($0) - 7) }
        let z = ref.reduce(0, +)
        row.withUnsafeMutableBufferPointer { VectorMath.softmaxRow($0.baseAddress!, count: 11, width: 12) }
        for j in 0..<11 { XCTAssertEqual(Double(row[j]), ref[j] / (z - ref[11]), accuracy: 1e-6) }
        XCTAssertEqual(row[11], 0)
    }
}

/// The BLAS kernel against the CPU: a warning exactly when the kernel is narrower than the CPU's vectors.
final class BLASKernelTests: XCTestCase {
    func testWarnsWhenTheKernelIsOlderThanTheCPU() {
        let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f"], avx2: Set<String> = ["sse3", "avx", "avx2", "fma"]
        XCTAssertNil(BLASKernel.warning(kernel: "SkylakeX", cpuFlags: avx512, forced: nil))
        XCTAssertNil(BLASKernel.warning(kernel: "Haswell", cpuFlags: avx2, forced: nil))
        XCTAssertNil(BLASKernel.warning(kernel: "Zen", cpuFlags: avx2, forced: "Zen"))
        XCTAssertNil(BLASKernel.warning(kernel: "SomeFutureCore", cpuFlags: avx512, forced: nil), "an unknown kernel is not judged")
        XCTAssertEqual(BLASKernel.warning(kernel: "Haswell", cpuFlags: avx512, forced: "Haswell"),
                       "OpenBLAS runs its Haswell kernel (AVX2) on a CPU with AVX-512: OPENBLAS_CORETYPE=Haswell forces it; matrix products run at a fraction of the CPU's speed")
        XCTAssertTrue(BLASKernel.warning(kernel: "Prescott", cpuFlags: avx512, forced: nil)?.contains("does not recognise the CPU") ?? false)
        XCTAssertNotNil(BLASKernel.warning(kernel: "Sandybridge", cpuFlags: avx2, forced: nil))
        // This machine: the kernel OpenBLAS reports is a name, and the flags come from /proc/cpuinfo.
        Engine.singleThreadedBLAS
        XCTAssertFalse(BLAS.coreName.isEmpty)
        XCTAssertTrue(BLASKernel.cpuFlags().contains("sse2"))
    }

    /// A fallback kernel is replaced by the widest one the CPU's flags fully allow; a forced or fitting one never.
    func testReplacesOnlyAnUnforcedFallbackKernel() {
        let skx: Set<String> = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        XCTAssertEqual(BLASKernel.replacement(kernel: "Prescott", cpuFlags: skx, forced: nil), "SkylakeX")
        XCTAssertEqual(BLASKernel.replacement(kernel: "Prescott", cpuFlags: skx.union(["avx512_bf16"]), forced: nil), "Cooperlake")
        XCTAssertEqual(BLASKernel.replacement(kernel: "Sandybridge", cpuFlags: ["avx", "avx2", "fma"], forced: nil), "Haswell")
        XCTAssertEqual(BLASKernel.replacement(kernel: "Prescott", cpuFlags: ["avx512f", "avx2", "fma"], forced: nil), "Haswell",
                       "AVX-512 without BW/DQ/VL is not enough for the SkylakeX kernel")
        XCTAssertNil(BLASKernel.replacement(kernel: "Prescott", cpuFlags: skx, forced: "Prescott"), "a forced kernel stays")
        XCTAssertNil(BLASKernel.replacement(kernel: "Haswell", cpuFlags: skx, forced: "Haswell"))
        XCTAssertNil(BLASKernel.replacement(kernel: "SkylakeX", cpuFlags: skx, forced: nil))
        XCTAssertNil(BLASKernel.replacement(kernel: "Zen", cpuFlags: ["avx", "avx2", "fma"], forced: nil))
        XCTAssertNil(BLASKernel.replacement(kernel: "SomeFutureCore", cpuFlags: skx, forced: nil), "an unknown kernel is kept")
        XCTAssertNil(BLASKernel.replacement(kernel: "Prescott", cpuFlags: ["sse2", "sse3"], forced: nil))
        // This process: the kernel in use is never narrower than the CPU unless the user forced it.
        Engine.singleThreadedBLAS
        if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, ProcessInfo.processInfo.environment["ALVLM_KEEP_BLAS_KERNEL"] != "1" {
            XCTAssertNil(BLASKernel.replacement(kernel: BLAS.coreName, cpuFlags: BLASKernel.cpuFlags(), forced: nil), BLAS.coreName)
        }
    }
}
