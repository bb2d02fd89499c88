import AlvlmKernels
import XCTest

/// The float16 → float32 conversion (`CBFloat16/half_convert.c`) against Swift's own Float16, at every level this CPU
/// has: every one of the 65,536 bit patterns, plain and scaled.
final class HalfPrecisionTests: XCTestCase {
    override func tearDown() { HalfPrecision.limit(to: .f16c) }

    func testEveryHalfConvertsAsSwiftFloat16DoesAtEveryLevel() {
        let bits = (0...UInt16.max).map { $0 }
        let levels: [HalfPrecision.Level] = HalfPrecision.detected == .f16c ? [.portable, .f16c] : [.portable]
        for level in levels {
            HalfPrecision.limit(to: level)
            for scale: Float in [1, 0.0371, -3.5, 1e-30] {
                var out = [Float](repeating: 0, count: bits.count)
                // An odd offset and count, so the vector loop's tail is used.
                bits.withUnsafeBufferPointer { src in
                    out.withUnsafeMutableBufferPointer { dst in
                        HalfPrecision.convert(src.baseAddress! + 3, into: dst.baseAddress! + 3, count: bits.count - 3, scale: scale)
                        HalfPrecision.convert(src.baseAddress!, into: dst.baseAddress!, count: 3, scale: scale)
                    }
                }
                var wrong = 0, first = -1
                for (i, b) in bits.enumerated() {
                    let expected = Float(Float16(bitPattern: b)) * scale
                    let same = expected.isNaN ? out[i].isNaN : expected.bitPattern == out[i].bitPattern
                    if !same { wrong += 1; if first < 0 { first = i } }
                }
                XCTAssertEqual(wrong, 0, "level \(level), scale \(scale): first wrong pattern \(first)")
            }
        }
    }
}
