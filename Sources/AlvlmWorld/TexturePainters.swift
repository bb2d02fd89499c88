import AlvlmActive
import AlvlmEngine
import AlvlmKernels
import Foundation

// MARK: - Painters
//
// Nominal sizes below are in pattern units (pixels of a 64x64 image at scale 1). `j` is the
// style's jitter in 0...1; `aa` is one pixel in pattern units.

extension TexturePainter {
    // MARK: Bands and stripes

    /// A few wide straight bands of varying widths and tones.
    static func banded(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let tones: [Float] = [0, 1, 0, 1, 0.5, 0.3, 0.7]
        var edges: [Float] = [], levels: [Float] = [tones[rng.index(tones.count)]]
        var y = -canvas.radius - rng.float(0, 12)
        while y < canvas.radius {
            y += rng.float(8, 22)
            var next: Float
            repeat { next = tones[rng.index(tones.count)] } while abs(next - (levels.last ?? 0)) < 0.35
            edges.append(y); levels.append(next)
        }
        let wave = 1.5 * j, freq = rng.float(0.05, 0.1), phase = rng.angle(), aa = canvas.aa
        canvas.fill { p in
            let yy = p.y + wave * sin(p.x * freq + phase)
            var v = levels[0]
            for k in edges.indices { v += (levels[k + 1] - levels[k]) * coverage(edges[k] - yy, aa) }
            return v
        }
    }

    /// Many regular thin parallel stripes.
    static func striped(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let period = rng.float(5.5, 7.5), hw = period * rng.float(0.17, 0.25)
        let wave = 0.8 * j, freq = rng.float(0.08, 0.14), phase = rng.angle(), offset = rng.float(0, period), aa = canvas.aa
        canvas.fill { p in
            let yy = p.y + offset + wave * sin(p.x * freq + phase)
            return coverage(periodicDistance(yy, period) - hw, aa)
        }
    }

    /// Wavy, irregular layers of many thicknesses and tones, with a little grain.
    static func stratified(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let reach = canvas.radius + 12
        var edges: [Float] = [], levels: [Float] = [rng.float(0, 1)]
        var y = -reach
        while y < reach {
            y += rng.uniform() < 0.6 ? rng.float(1.5, 4) : rng.float(4, 10)
            var next: Float
            repeat { next = rng.float(0, 1) } while abs(next - (levels.last ?? 0)) < 0.22
            edges.append(y); levels.append(next)
        }
        let amp = rng.float(2.5, 5) * (1 + j), freq = 1 / rng.float(14, 24), aa = canvas.aa
        let count = edges.count
        canvas.fill { p in
            let yy = p.y + amp * (2 * noise.fbm(Vec2(p.x * freq, 3.7), octaves: 3) - 1)
                + 1.2 * (noise.value(p * 0.35) - 0.5)
            // Index of the layer containing yy (edges are sorted), then blend its neighbours' edges.
            var lo = 0, hi = count
            while lo < hi { let mid = (lo + hi) / 2; if edges[mid] <= yy { lo = mid + 1 } else { hi = mid } }
            let first = max(0, lo - 2), last = min(count, lo + 2)
            var v = levels[first]
            for k in first..<last { v += (levels[k + 1] - levels[k]) * coverage(edges[k] - yy, aa) }
            return min(max(v + 0.1 * (noise.value(p * 0.8 + 50) - 0.5), 0), 1)
        }
    }

    /// Parallel zigzag lines.
    static func zigzagged(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let wavelength = rng.float(9, 14), amp = wavelength * rng.float(0.25, 0.42)
        let spacing = rng.float(8, 11), hw = spacing * rng.float(0.15, 0.25)
        let slope = 4 * amp / wavelength, cosine = 1 / (1 + slope * slope).squareRoot()
        let offset = rng.float(0, wavelength), aa = canvas.aa, wobble = 0.8 * j
        canvas.fill { p in
            let u = (p.x + offset) / wavelength
            let tri = 4 * abs(u - u.rounded(.down) - 0.5) - 1  // -1...1, sharp corners
            let yy = p.y - amp * tri + wobble * (noise.value(p * 0.2) - 0.5)
            return coverage(periodicDistance(yy, spacing) * cosine - hw, aa)
        }
    }

    // MARK: Lattices

    /// Filled alternating squares.
    static func chequered(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let side = rng.float(9, 13), ox = rng.float(0, 2 * side), oy = rng.float(0, 2 * side)
        let wobble = 0.8 * j, aa = canvas.aa
        /// Signed distance to the nearest square edge along one axis, positive in even squares.
        func square(_ v: Float) -> Float {
            let m = v - (v / (2 * side)).rounded(.down) * 2 * side
            return m < side ? min(m, side - m) : -min(m - side, 2 * side - m)
        }
        canvas.fill { p in
            let w = wobble * (noise.value(p * 0.12) - 0.5)
            let sx = min(max(2 * square(p.x + ox + w) / aa, -1), 1)
            let sy = min(max(2 * square(p.y + oy - w) / aa, -1), 1)
            return 0.5 + 0.5 * sx * sy
        }
    }

    /// Thin lines on a square lattice.
    static func grid(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let period = rng.float(9, 13), hw = rng.float(0.55, 0.9)
        let ox = rng.float(0, period), oy = rng.float(0, period), wobble = 0.8 * j, aa = canvas.aa
        canvas.fill { p in
            let w = wobble * (noise.value(p * 0.15) - 0.5)
            let d = min(periodicDistance(p.x + ox + w, period), periodicDistance(p.y + oy - w, period))
            return coverage(d - hw, aa)
        }
    }

    /// Dense hatching in two crossing directions, drawn as short pen strokes with uneven
    /// spacing, slight tilts, small gaps and uneven pressure.
    static func crosshatched(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let period = rng.float(4.5, 6), hw = rng.float(0.5, 0.7)
        let strokeLength = rng.float(25, 45), gap = rng.float(0.6, 1.2)
        let scatter = period * 0.12 * (0.5 + j), tiltRange = 0.03 * (1 + j)
        let a1 = Float.pi / 4 + rng.float(-0.15, 0.15), a2 = a1 + rng.float(1.25, 1.9)
        let offsets = Vec2(rng.float(0, period), rng.float(0, period)), aa = canvas.aa
        let along1 = Vec2(cos(a1), sin(a1)), along2 = Vec2(cos(a2), sin(a2))
        /// Coverage of one family of strokes running along the unit vector `along`.
        func family(_ p: Vec2, _ along: Vec2, _ offset: Float, _ salt: UInt32) -> Float {
            let across = Vec2(-along.y, along.x)
            let u = (p * across).sum() + offset, v = (p * along).sum()
            let k0 = Int((u / period).rounded())
            var best: Float = 0
            for k in (k0 - 1)...(k0 + 1) {
                let shifted = v + noise.random(k, 0, salt) * strokeLength
                let m = Int((shifted / strokeLength).rounded(.down))
                let local = shifted - (Float(m) + 0.5) * strokeLength  // position along the stroke
                let r1 = noise.random(k, m, salt + 1), r2 = noise.random(k, m, salt + 2)
                let centre = Float(k) * period + scatter * (r1 - 0.5) + tiltRange * (r2 - 0.5) * local
                let ends = coverage(abs(local) - (strokeLength / 2 - gap), aa)
                let pressure = 0.6 + 0.4 * noise.random(k, m, salt + 3)
                best = max(best, coverage(abs(u - centre) - hw, aa) * ends * pressure)
            }
            return best
        }
        canvas.fill { p in max(family(p, along1, offsets.x, 20), family(p, along2, offsets.y, 30)) }
    }

    /// Plain weave: strips that pass alternately over and under each other, shaded round.
    static func woven(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let cell = rng.float(8, 11), half = cell * rng.float(0.36, 0.43)  // strand half-width
        let ox = rng.float(0, cell), oy = rng.float(0, cell), warpTone = rng.float(0.8, 1), aa = canvas.aa
        let wobble = 0.6 * j
        canvas.fill { p in
            let w = wobble * (noise.value(p * 0.15) - 0.5)
            let x = p.x + ox + w, y = p.y + oy - w
            let fi = (x / cell).rounded(.down), fj = (y / cell).rounded(.down)
            let fx = x - (fi + 0.5) * cell, fy = y - (fj + 0.5) * cell  // local, centred in the cell
            let hMask = coverage(abs(fy) - half, aa), vMask = coverage(abs(fx) - half, aa)
            // Rounded cross-section; each strand darkens where it dives under its neighbour.
            let acrossH = max(0, 1 - (fy / half) * (fy / half)), acrossV = max(0, 1 - (fx / half) * (fx / half))
            let diveH = 1 - 0.35 * pow(abs(2 * fx / cell), 4), diveV = 1 - 0.35 * pow(abs(2 * fy / cell), 4)
            let h = (0.45 + 0.55 * acrossH.squareRoot()) * diveH
            let v = (0.45 + 0.55 * acrossV.squareRoot()) * diveV * warpTone
            if (Int(fi) + Int(fj)) & 1 == 0 {
                return h * hMask + (1 - hMask) * 0.55 * v * vMask
            } else {
                return v * vMask + (1 - vMask) * 0.55 * h * hMask
            }
        }
    }

    /// Hexagonal cells with thin walls, slightly shaded toward the walls.
    static func honeycombed(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let width = rng.float(10, 14), hw = rng.float(0.6, 1.0)  // flat-to-flat width, wall half-width
        let offset = Vec2(rng.float(0, 10), rng.float(0, 10)), wobble = 1.5 * j, aa = canvas.aa
        let rowStep: Float = 1.7320508
        canvas.fill { p in
            let w = wobble * Vec2(noise.value(p * 0.1) - 0.5, noise.value(p * 0.1 + 30) - 0.5)
            let q = (p + w) / width + offset
            // Nearest centre of two interleaved rectangular lattices = nearest hexagon centre.
            let ax = (q.x).rounded(.down) + 0.5, ay = (q.y / rowStep).rounded(.down) + 0.5
            let bx = (q.x - 0.5).rounded(.down) + 1, by = ((q.y - 0.5 * rowStep) / rowStep).rounded(.down) + 1
            let la = Vec2(q.x - ax, q.y - ay * rowStep), lb = Vec2(q.x - bx, q.y - by * rowStep)
            let local = (la * la).sum() < (lb * lb).sum() ? la : lb
            let ql = Vec2(abs(local.x), abs(local.y))
            let hexDist = max(ql.x * 0.5 + ql.y * 0.8660254, ql.x)
            let edge = (0.5 - hexDist) * width  // distance to the wall, in pattern units
            let wall = coverage(edge - hw, aa)
            return max(wall, 0.22 * max(0, 1 - edge / (0.3 * width)))
        }
    }

    /// Overlapping rows of round scales, each outlined and shaded toward its rim.
    static func scaly(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let r = rng.float(7, 10), across = 2 * r * rng.float(0.8, 0.95), rowStep = r * rng.float(0.55, 0.7)
        let hw = rng.float(0.85, 1.25), ox = rng.float(0, across), oy = rng.float(0, rowStep), aa = canvas.aa
        let wobble = 1.2 * j
        canvas.fill { p in
            let x = p.x + ox + wobble * (noise.value(p * 0.15) - 0.5), y = p.y + oy
            // Later (lower) rows lie on top: search from the lowest row that can reach this point.
            var row = Int(((y + r) / rowStep).rounded(.down))
            let top = Int(((y - r) / rowStep).rounded(.up))
            while row >= top {
                let shift: Float = row & 1 == 0 ? 0 : across / 2
                let cx = ((x - shift) / across).rounded() * across + shift
                let d = length(Vec2(x - cx, y - Float(row) * rowStep))
                if d < r {
                    let rim = coverage(r - d - hw, aa)
                    return max(rim, 0.1 + 0.35 * (d / r) * (d / r))
                }
                row -= 1
            }
            return 0
        }
    }

    // MARK: Dots and specks

    /// Small dots of varied size at irregular positions.
    static func dotted(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let cell = rng.float(6, 8), spread = 0.55 + 0.35 * j, aa = canvas.aa
        canvas.fill { p in
            let ci = Int((p.x / cell).rounded(.down)), cj = Int((p.y / cell).rounded(.down))
            var v: Float = 0
            for dj in -1...1 {
                for di in -1...1 {
                    let i = ci + di, k = cj + dj
                    guard noise.random(i, k, 1) < 0.85 else { continue }
                    let c = Vec2(Float(i) + 0.5 + spread * (noise.random(i, k, 2) - 0.5),
                                 Float(k) + 0.5 + spread * (noise.random(i, k, 3) - 0.5)) * cell
                    let radius = cell * (0.14 + 0.12 * noise.random(i, k, 4))
                    v = max(v, coverage(length(p - c) - radius, aa))
                }
            }
            return v
        }
    }

    /// Larger, equal dots on a regular (square or staggered) lattice.
    static func polkaDotted(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let period = rng.float(12, 16), radius = period * rng.float(0.22, 0.3)
        let staggered = rng.uniform() < 0.6, rowStep = staggered ? period * 0.8660254 : period
        let ox = rng.float(0, period), oy = rng.float(0, rowStep), aa = canvas.aa, wobble = 0.6 * j
        canvas.fill { p in
            let x = p.x + ox, y = p.y + oy
            let row = Int((y / rowStep).rounded())
            var d = Float.greatestFiniteMagnitude
            for r in (row - 1)...(row + 1) {
                let shift: Float = staggered && r & 1 != 0 ? period / 2 : 0
                let cx = ((x - shift) / period).rounded() * period + shift
                d = min(d, length(Vec2(x - cx, y - Float(r) * rowStep)))
            }
            return coverage(d - radius - wobble * (noise.value(p * 0.3) - 0.5), aa)
        }
    }

    /// Tiny elongated specks at random positions and angles, in varied tones.
    static func sprinkled(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let size = Float(canvas.size), unit = 1 / canvas.aa  // pixels per pattern unit
        let cell = rng.float(4.5, 5.5) * unit, hw = max(0.45, rng.float(0.45, 0.6) * unit)
        let count = Int((size + 4) * (size + 4) / (cell * cell) * 0.9)
        for _ in 0..<count {
            let c = Vec2(rng.float(-2, size + 2), rng.float(-2, size + 2)), a = rng.angle()
            let half = rng.float(1.0, 1.8 + 0.6 * j) * unit, dir = Vec2(cos(a), sin(a)) * half
            let tone = rng.float(0.55, 1)
            let p0 = c - dir, p1 = c + dir
            canvas.stamp(centre: c, reach: half + hw + 1, value: tone, over: true) {
                coverage(segmentDistance($0, p0, p1) - hw, 1)
            }
        }
    }

    /// Circle outlines of varied sizes, overlapping, with a highlight on the larger ones.
    static func bubbly(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let size = Float(canvas.size), unit = 1 / canvas.aa  // pixels per pattern unit
        let area = (size * canvas.aa) * (size * canvas.aa)
        let count = max(6, Int(area / rng.float(80, 110)))
        let hw = max(0.6, rng.float(0.6, 0.85) * unit)
        for _ in 0..<count {
            let radiusUnits = 2.5 + 9 * pow(rng.float(0, 1), 2 - j)
            let r = radiusUnits * unit
            let c = Vec2(rng.float(-r, size + r), rng.float(-r, size + r))
            canvas.stamp(centre: c, reach: r + hw + 1, value: 1, over: false) { q in
                let d = length(q - c)
                return max(coverage(abs(d - r) - hw, 1), 0.12 * coverage(d - r, 1))
            }
            if r > 4 {
                let h = c + Vec2(-0.4, -0.4) * r, hr = 0.16 * r
                canvas.stamp(centre: h, reach: hr + 1, value: 0.85, over: false) { coverage(length($0 - h) - hr, 1) }
            }
        }
    }

    // MARK: Noise-based

    /// Irregular soft blobs: a thresholded smooth noise field.
    static func blotchy(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let freq = 1 / rng.float(10, 15), threshold = rng.float(0.52, 0.58), soft = rng.float(0.025, 0.05)
        let offset = Vec2(rng.float(0, 100), rng.float(0, 100))
        canvas.fill { p in
            let q = p * freq + offset
            let n = noise.fbm(q, octaves: 3 + (j > 0.4 ? 1 : 0))
            let blob = min(max((n - threshold) / (2 * soft) + 0.5, 0), 1)
            let tone = 0.75 + 0.25 * noise.value(q * 0.7 + 23)
            return blob * blob * (3 - 2 * blob) * tone
        }
    }

    /// Marble: soft veins along the crests of a sine of position plus turbulence (summed smooth
    /// noise), with a fainter second set of finer veins and a cloudy ground.
    static func marbled(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let period = rng.float(18, 28), turbulence = rng.float(3.5, 5.5) * (0.8 + 0.5 * j), freq = 1 / rng.float(22, 32)
        let a = rng.float(-0.6, 0.6), dir = Vec2(cos(a), sin(a)) * (2 * Float.pi / period)
        let sharp = rng.float(3, 6), offset = Vec2(rng.float(0, 100), rng.float(0, 100))
        canvas.fill { p in
            let q = p * freq + offset
            let phase = (p * dir).sum() + turbulence * (2 * noise.fbm(q, octaves: 3) - 1)
            let vein = pow(1 - abs(sin(phase)), sharp)
            let fine = pow(1 - abs(sin(2.3 * phase + 3 * noise.value(q * 2))), 2 * sharp)
            let cloud = 0.2 * noise.fbm(q * 1.7 + 31, octaves: 2)
            return max(vein, 0.55 * fine, cloud)
        }
    }

    /// Polygonal cracks: the edges of a jittered Voronoi diagram, wobbled by noise.
    static func cracked(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let cell = rng.float(11, 16), hw = rng.float(0.45, 0.75), wobble = 1 + 1.5 * j, aa = canvas.aa
        func site(_ i: Int, _ k: Int) -> Vec2 {
            Vec2(Float(i) + 0.05 + 0.9 * noise.random(i, k, 7), Float(k) + 0.05 + 0.9 * noise.random(i, k, 8)) * cell
        }
        canvas.fill { p in
            let q = p + wobble * Vec2(noise.value(p * 0.2) - 0.5, noise.value(p * 0.2 + 40) - 0.5)
            let ci = Int((q.x / cell).rounded(.down)), cj = Int((q.y / cell).rounded(.down))
            // Nearest site, then the distance to the nearest bisector with any other site.
            var best = Vec2.zero, bestD = Float.greatestFiniteMagnitude, bi = 0, bk = 0
            for dk in -1...1 {
                for di in -1...1 {
                    let s = site(ci + di, cj + dk), d = ((q - s) * (q - s)).sum()
                    if d < bestD { bestD = d; best = s; bi = ci + di; bk = cj + dk }
                }
            }
            var edge = Float.greatestFiniteMagnitude
            for dk in -1...1 {
                for di in -1...1 {
                    let i = bi + di, k = bk + dk
                    guard i != bi || k != bk else { continue }
                    let s = site(i, k), delta = s - best
                    let len = length(delta)
                    guard len > 1e-4 else { continue }
                    edge = min(edge, ((q - (best + s) / 2) * delta).sum() / -len)
                }
            }
            let crack = coverage(edge - hw * (0.6 + 0.8 * noise.value(q * 0.3 + 9)), aa)
            return max(crack, 0.15 * noise.random(bi, bk, 9))
        }
    }

    // MARK: Curves

    /// One large spiral, or a few small ones.
    static func spiralled(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        struct Spiral { var centre: Vec2, pitch: Float, hw: Float, hand: Float, phase: Float, extent: Float }
        var spirals: [Spiral] = []
        let big = rng.uniform() < 0.65
        let count = big ? 1 : 2 + rng.index(2)
        let extent = canvas.radius
        for _ in 0..<count {
            let pitch = big ? rng.float(7, 10) : rng.float(4.5, 6.5)
            let reach: Float = big ? .greatestFiniteMagnitude : rng.float(12, 20)
            let spreadOut: Float = big ? 8 : extent * 0.55
            spirals.append(Spiral(centre: Vec2(rng.float(-spreadOut, spreadOut), rng.float(-spreadOut, spreadOut)),
                                  pitch: pitch, hw: pitch * rng.float(0.2, 0.3), hand: rng.sign(),
                                  phase: rng.float(0, 1), extent: reach))
        }
        let aa = canvas.aa, wobble = 0.15 * j
        canvas.fill { p in
            var v: Float = 0
            for s in spirals {
                let q = p - s.centre, r = length(q)
                guard r < s.extent + 1 else { continue }
                let turns = r / s.pitch - s.hand * atan2(q.y, q.x) / (2 * Float.pi) + s.phase
                    + wobble * (noise.value(p * 0.2) - 0.5)
                let arm = coverage(periodicDistance(turns, 1) * s.pitch - s.hw, aa)
                v = max(v, arm * coverage(r - s.extent, aa))
            }
            return v
        }
    }

    /// Stripes dragged round by several random vortices: many curved swirling strokes. The warp
    /// is smooth, so it is evaluated every other pixel and interpolated.
    static func swirly(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let extent = canvas.radius
        let count = min(12, max(3, Int(4 * extent * extent / 900)))
        var centres: [Vec2] = [], inverseSpread: [Float] = [], strength: [Float] = []
        for _ in 0..<count {
            centres.append(Vec2(rng.float(-extent, extent), rng.float(-extent, extent)))
            let spread = rng.float(11, 18)
            inverseSpread.append(1 / (spread * spread))
            strength.append(rng.sign() * rng.float(1.3, 2.5) * (0.85 + 0.3 * j))
        }
        func warp(_ p: Vec2) -> Vec2 {
            var q = p
            for k in 0..<count {
                let d = q - centres[k]
                let angle = strength[k] * exp(-(d * d).sum() * inverseSpread[k])
                let c = cos(angle), s = sin(angle)
                q = centres[k] + Vec2(c * d.x - s * d.y, s * d.x + c * d.y)
            }
            return q
        }
        // Warped positions at pixel centres (2i + 0.5, 2k + 0.5).
        let nodes = canvas.size / 2 + 2
        var grid = [Vec2](repeating: .zero, count: nodes * nodes)
        for k in 0..<nodes {
            for i in 0..<nodes { grid[k * nodes + i] = warp(canvas.toPattern(Float(2 * i) + 0.5, Float(2 * k) + 0.5)) }
        }
        let period = rng.float(6, 8), hw = period * rng.float(0.18, 0.26), aa = canvas.aa * 1.3
        canvas.fillIndexed { px, py, _ in
            let i = px / 2, k = py / 2, fx = Float(px & 1) * 0.5, fy = Float(py & 1) * 0.5
            let top = grid[k * nodes + i] + (grid[k * nodes + i + 1] - grid[k * nodes + i]) * fx
            let bottom = grid[(k + 1) * nodes + i] + (grid[(k + 1) * nodes + i + 1] - grid[(k + 1) * nodes + i]) * fx
            let q = top + (bottom - top) * fy
            return coverage(periodicDistance(q.y, period) - hw, aa)
        }
    }

    /// Branching thin veins: a few wandering trunks with tapering side branches.
    static func veined(_ canvas: inout Canvas, _ rng: inout SeededRandom, _ noise: ValueNoise, _ j: Float) {
        let freq = 1 / rng.float(8, 14)
        canvas.fill { p in 0.12 * noise.fbm(p * freq, octaves: 3) }  // faint tissue
        let extent = canvas.radius, step: Float = 2.5
        // Each trunk starts near the middle and grows both ways, so it always crosses the image.
        let trunks = 2 + rng.index(2)
        for _ in 0..<trunks {
            let start = Vec2(rng.float(-0.3, 0.3), rng.float(-0.3, 0.3)) * extent
            let heading = rng.angle(), halfWidth = rng.float(1.0, 1.5)
            for direction in [Float(0), Float.pi] {
                grow(&canvas, &rng, from: start, angle: heading + direction, halfWidth: halfWidth,
                     length: 1.3 * extent, depth: 0, step: step, bend: 0.1 + 0.2 * j)
            }
        }
    }

    /// One vein of `veined`: a bending polyline that tapers and spawns thinner branches.
    private static func grow(_ canvas: inout Canvas, _ rng: inout SeededRandom, from start: Vec2, angle: Float,
                             halfWidth: Float, length: Float, depth: Int, step: Float, bend: Float) {
        let steps = max(1, Int(length / step)), limit = canvas.radius + 4
        var pos = start, heading = angle
        for k in 0..<steps {
            heading += bend * rng.float(-1, 1)
            let next = pos + step * Vec2(cos(heading), sin(heading))
            let taper = 1 - 0.5 * Float(k) / Float(steps)
            canvas.stroke(pos, next, halfWidth: max(0.35, halfWidth * taper), value: 1 - 0.12 * Float(depth))
            if depth < 3, rng.uniform() < 0.22 {
                let side = rng.sign(), remaining = length - Float(k) * step
                grow(&canvas, &rng, from: next, angle: heading + side * rng.float(0.45, 1.0),
                     halfWidth: halfWidth * taper * 0.6, length: remaining * rng.float(0.35, 0.65),
                     depth: depth + 1, step: step, bend: bend * 1.3)
            }
            pos = next
            if abs(pos.x) > limit || abs(pos.y) > limit { break }
        }
    }
}
