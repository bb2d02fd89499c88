import AlvlmTestSupport
import XCTest
@testable import AlvlmKernels

/// The bfloat16 linear layer at every level this machine has (AMX, AVX512-BF16, the scalar fallback), on odd
/// shapes, against a double-precision sum over the bfloat16-rounded inputs written out here; and its distance from
/// the float32 layer.
final class BFloat16Tests: XCTestCase {
    override func tearDown() { BFloat16.limit(to: BFloat16.detected) }

    /// float32 → bfloat16 → float32, round to nearest even (what the kernel does to its inputs).
    func rounded(_ v: Float) -> Float {
        var u = v.bitPattern
        u = u &+ 0x7fff &+ ((u >> 16) & 1)
        return Float(bitPattern: u & 0xffff_0000)
    }

    func testEveryLevelMatchesADoubleSumOverRoundedInputs() throws {
        let levels = [BFloat16.Support.none, .avx512, .amx].filter { $0 <= BFloat16.detected }
        var rng = SeededRandom(seed: 3)
        // Rows, inputs and outputs around the kernel's blocks (16 rows, 16 and 32 columns, pairs of 32 inputs).
        let shapes = [(1, 1, 1), (17, 31, 15), (45, 33, 17), (100, 100, 40), (33, 768, 70), (3, 70, 33)]
        for level in levels {
            BFloat16.limit(to: level)
            XCTAssertEqual(BFloat16.support, level)
            for (rows, inputs, outputs) in shapes {
                let x = rng.normals(rows * inputs, std: 1), w = rng.normals(outputs * inputs, std: 0.2), bias = rng.normals(outputs, std: 1)
                let start = rng.normals(rows * outputs, std: 1)
                let packed = w.withUnsafeBufferPointer { BFloat16.PackedWeight($0.baseAddress!, outFeatures: outputs, inFeatures: inputs) }
                for (useBias, accumulate) in [(false, false), (true, false), (true, true)] {
                    var y = start
                    x.withUnsafeBufferPointer { xp in bias.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in
                        BFloat16.linear(xp.baseAddress!, rows: rows, weight: packed, bias: useBias ? bp.baseAddress! : nil,
                                        into: yp.baseAddress!, accumulate: accumulate, cores: 3)
                    }}}
                    for r in 0..<rows { for o in 0..<outputs {
                        var sum = 0.0, magnitude = 0.0
                        for i in 0..<inputs {
                            let term = Double(rounded(x[r * inputs + i])) * Double(rounded(w[o * inputs + i]))
                            sum += term; magnitude += abs(term)
                        }
                        let base = (accumulate ? Double(start[r * outputs + o]) : 0) + (useBias ? Double(bias[o]) : 0)
                        XCTAssertEqual(Double(y[r * outputs + o]), base + sum, accuracy: 1e-5 * (magnitude + abs(base) + 1),
                                       "\(level) \(rows)x\(inputs)x\(outputs) bias \(useBias) accumulate \(accumulate) at [\(r), \(o)]")
                    }}
                }
            }
        }
    }

    /// Rounding the inputs moves each output by a few parts in a thousand of the float32 layer's scale, not more.
    func testCloseToTheFloat32Layer() throws {
        var rng = SeededRandom(seed: 4)
        let rows = 64, inputs = 256, outputs = 96
        let x = rng.normals(rows * inputs, std: 1), w = rng.normals(outputs * inputs, std: 0.1)
        var exact = [Float](repeating: 0, count: rows * outputs)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in exact.withUnsafeMutableBufferPointer {
            Kernels.linear(xp.baseAddress!, rows: rows, inFeatures: inputs, weight: wp.baseAddress!, bias: nil, outFeatures: outputs, into: $0.baseAddress!)
        }}}
        var y = [Float](repeating: 0, count: rows * outputs)
        let packed = w.withUnsafeBufferPointer { BFloat16.PackedWeight($0.baseAddress!, outFeatures: outputs, inFeatures: inputs) }
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { BFloat16.linear(xp.baseAddress!, rows: rows, weight: packed, bias: nil, into: $0.baseAddress!) } }
        let scale = exact.map(abs).max()!
        let worst = zip(y, exact).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-2 * scale)
        XCTAssertGreaterThan(worst, 0, "bfloat16 rounding changes something")
    }
}
