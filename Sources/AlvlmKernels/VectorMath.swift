/// exp over SIMD vectors: Cody-Waite range reduction and a degree-6 polynomial, a few ulp; inputs are
/// clamped to [-87.3, 88.4] (the float range of exp). Used by softmax and QuickGELU, where a libm call per element
/// costs as much as a fifth of a ViT forward.
@inline(__always)
public func vexp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let x = pointwiseMax(pointwiseMin(x, SIMD8(repeating: 88.37626)), SIMD8(repeating: -87.33654))
    // n = round(x / ln 2) by the 1.5·2^23 trick: the integer lands in the low mantissa bits.
    let magic = SIMD8<Float>(repeating: 12582912)
    let t = x * 1.44269504088896341 + magic
    let n = t - magic
    var r = x - n * 0.693359375          // ln 2, high part (exact in float)
    r = r - n * (-2.12194440e-4)         // ln 2, low part
    // e^r on [-ln2/2, ln2/2]
    var p = SIMD8<Float>(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * r * r + r + 1
    // 2^n: (n + 127) << 23, with n read from t's mantissa.
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self) &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
}

public enum VectorMath {
    /// y[i] = x[i] / (1 + exp(-1.702 x[i]))
    public static func quickGELU(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let r = v / (1 + vexp(v * -1.702))
            UnsafeMutableRawPointer(y + i).storeBytes(of: r, as: SIMD8<Float>.self)
            i += 8
        }
        while i < range.upperBound { let v = x[i]; y[i] = v / (1 + expf(-1.702 * v)); i += 1 }
    }

    /// dy ← dy · d/dx[x σ(1.702 x)] = dy · (s + 1.702 x s (1 − s)), s = σ(1.702 x), over `range`.
    public static func quickGELUBackward(_ dy: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ range: Range<Int>) {
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let s = 1 / (1 + vexp(v * -1.702))
            let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dy + i).storeBytes(of: g * (s + 1.702 * v * s * (1 - s)), as: SIMD8<Float>.self)
            i += 8
        }
        while i < range.upperBound {
            let v = x[i], s = 1 / (1 + expf(-1.702 * v))
            dy[i] *= s + 1.702 * v * s * (1 - s)
            i += 1
        }
    }

    /// In-place softmax of the first `n` values of a row; the values from `n` to `t` are set to 0.
    public static func softmaxRow(_ row: UnsafeMutablePointer<Float>, count n: Int, width t: Int) {
        var m = -Float.infinity
        for j in 0..<n where row[j] > m { m = row[j] }
        var j = 0
        var sum = SIMD8<Float>(repeating: 0)
        while j + 8 <= n {
            let e = vexp(UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self) - m)
            UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: SIMD8<Float>.self)
            sum += e
            j += 8
        }
        var z = sum.sum()
        while j < n { let e = expf(row[j] - m); row[j] = e; z += e; j += 1 }
        let inv = 1 / z
        for k in 0..<n { row[k] *= inv }
        for k in n..<t { row[k] = 0 }
    }
}

import Foundation
