import AlvlmActive
import AlvlmEngine
import AlvlmKernels
import Foundation

// The texture painters' drawing surface: geometry helpers, the rotated and scaled pattern-space canvas with
// anti-aliased coverage, value noise, and the random draws the painters share.

// MARK: - Geometry helpers

typealias Vec2 = SIMD2<Float>

/// Smoothstepped coverage of a shape from its signed distance `sd` (negative inside), with a
/// transition one pixel (`aa`, in the same units) wide: the anti-aliasing of every edge.
@inline(__always) func coverage(_ sd: Float, _ aa: Float) -> Float {
    let u = min(max(0.5 - sd / aa, 0), 1)
    return u * u * (3 - 2 * u)
}

/// Distance from `v` to the nearest multiple of `period`.
@inline(__always) func periodicDistance(_ v: Float, _ period: Float) -> Float {
    let f = v / period
    return abs(f - (f + 0.5).rounded(.down)) * period
}

/// Distance from `p` to the segment `a`-`b`.
@inline(__always) func segmentDistance(_ p: Vec2, _ a: Vec2, _ b: Vec2) -> Float {
    let ab = b - a, ap = p - a
    let len2 = (ab * ab).sum()
    let h = len2 > 0 ? min(max((ap * ab).sum() / len2, 0), 1) : 0
    let d = ap - ab * h
    return (d * d).sum().squareRoot()
}

@inline(__always) func length(_ v: Vec2) -> Float { (v * v).sum().squareRoot() }

/// The intensity field being painted, and the map between pixels and pattern space.
/// Pattern space has its origin at the image centre, is rotated by `style.rotation`, and is
/// measured in pixels of a 64x64 image at scale 1, so nominal periods do not depend on `size`.
struct Canvas {
    let size: Int
    /// Pattern units per pixel: the anti-aliasing width for per-pixel fields.
    let aa: Float
    private let cosR: Float, sinR: Float, half: Float
    var t: [Float]

    init(size: Int, style: TextureStyle) {
        self.size = size
        // Scales outside 0.25...8 would alias to mush or show less than one period.
        let scale = style.scale.isFinite ? min(max(style.scale, 0.25), 8) : 1
        let rotation = style.rotation.isFinite ? style.rotation : 0
        aa = 64 / (Float(size) * Float(scale))
        cosR = Float(cos(rotation)); sinR = Float(sin(rotation))
        half = Float(size) / 2
        t = [Float](repeating: 0, count: size * size)
    }

    /// Radius, in pattern units, of a disc that covers the whole (rotated) image.
    var radius: Float { half * 1.4143 * aa }

    /// Pattern-space point of pixel coordinates (pixel centres are at +0.5).
    @inline(__always) func toPattern(_ px: Float, _ py: Float) -> Vec2 {
        let dx = px - half, dy = py - half
        return Vec2(cosR * dx + sinR * dy, -sinR * dx + cosR * dy) * aa
    }

    /// Pixel coordinates of a pattern-space point.
    @inline(__always) func toPixel(_ p: Vec2) -> Vec2 {
        Vec2(cosR * p.x - sinR * p.y, sinR * p.x + cosR * p.y) / aa + half
    }

    /// Sets every pixel to `f` of its pattern-space position.
    mutating func fill(_ f: (Vec2) -> Float) {
        fillIndexed { _, _, p in f(p) }
    }

    /// Sets every pixel to `f(column, row, pattern-space position)`.
    mutating func fillIndexed(_ f: (Int, Int, Vec2) -> Float) {
        let step = Vec2(cosR, -sinR) * aa
        for py in 0..<size {
            var p = toPattern(0.5, Float(py) + 0.5)
            let row = py * size
            for px in 0..<size {
                t[row + px] = f(px, py, p)
                p += step
            }
        }
    }

    /// Blends `value` into the pixels within `reach` pixels of the pixel-space point `centre`,
    /// weighted by `cover(pixel centre)`: by maximum (`over == false`) or painted over.
    mutating func stamp(centre: Vec2, reach: Float, value: Float, over: Bool, _ cover: (Vec2) -> Float) {
        let x0 = max(0, Int((centre.x - reach).rounded(.down))), x1 = min(size - 1, Int((centre.x + reach).rounded(.up)))
        let y0 = max(0, Int((centre.y - reach).rounded(.down))), y1 = min(size - 1, Int((centre.y + reach).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let c = cover(Vec2(Float(x) + 0.5, Float(y) + 0.5))
                guard c > 0 else { continue }
                let i = y * size + x
                t[i] = over ? t[i] + (value - t[i]) * c : max(t[i], value * c)
            }
        }
    }

    /// A round-capped stroke between pattern-space points, `halfWidth` in pattern units.
    mutating func stroke(_ a: Vec2, _ b: Vec2, halfWidth: Float, value: Float, over: Bool = false) {
        let pa = toPixel(a), pb = toPixel(b), hw = halfWidth / aa
        let mid = (pa + pb) / 2, reach = length(pb - pa) / 2 + hw + 1
        stamp(centre: mid, reach: reach, value: value, over: over) { coverage(segmentDistance($0, pa, pb) - hw, 1) }
    }
}

/// Deterministic hash-based value noise (no tables, no global state).
struct ValueNoise {
    let seed: UInt32

    /// A well-mixed 32-bit hash of a lattice point and a salt.
    @inline(__always) func hash(_ x: Int, _ y: Int, _ salt: UInt32 = 0) -> UInt32 {
        var h = (UInt32(truncatingIfNeeded: x) &* 0x8DA6_B343) ^ (UInt32(truncatingIfNeeded: y) &* 0xD816_3841)
        h ^= (seed ^ (salt &* 0x9E37_79B9)) &* 0xCB1A_B31F
        h ^= h >> 15; h = h &* 0x2C1B_3C6D
        h ^= h >> 12; h = h &* 0x297A_2D39
        h ^= h >> 15
        return h
    }

    /// Uniform in [0, 1) for a lattice point and salt.
    @inline(__always) func random(_ x: Int, _ y: Int, _ salt: UInt32 = 0) -> Float {
        Float(hash(x, y, salt) >> 8) * (1 / 16_777_216)
    }

    /// Smooth noise in [0, 1] with unit lattice spacing.
    @inline(__always) func value(_ p: Vec2) -> Float {
        let fx = p.x.rounded(.down), fy = p.y.rounded(.down)
        let ix = Int(fx), iy = Int(fy)
        var u = p.x - fx, v = p.y - fy
        u = u * u * (3 - 2 * u); v = v * v * (3 - 2 * v)
        let a = random(ix, iy), b = random(ix + 1, iy), c = random(ix, iy + 1), d = random(ix + 1, iy + 1)
        return a + (b - a) * u + (c - a + (a - b - c + d) * u) * v
    }

    /// Fractal sum of `octaves` octaves, normalised to [0, 1].
    func fbm(_ p: Vec2, octaves: Int = 4) -> Float {
        var sum: Float = 0, amp: Float = 0.5, norm: Float = 0, q = p
        for _ in 0..<octaves {
            sum += amp * value(q); norm += amp
            amp *= 0.5
            q = Vec2(q.x * 2.03 + 17.1, q.y * 2.03 - 9.7)  // offset so octaves do not line up
        }
        return sum / norm
    }
}

extension SeededRandom {
    /// Uniform Float in [a, b).
    mutating func float(_ a: Float, _ b: Float) -> Float { a + (b - a) * Float(uniform()) }
    /// A uniformly random angle.
    mutating func angle() -> Float { Float(uniform() * 2 * Double.pi) }
    /// +1 or -1.
    mutating func sign() -> Float { next() & 1 == 0 ? 1 : -1 }
}
