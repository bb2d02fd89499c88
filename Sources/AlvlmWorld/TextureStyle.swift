import AlvlmActive
import AlvlmEngine
import AlvlmKernels
import Foundation

// Nuisance factors of the procedural texture benchmark, their two distributions (a clean
// "pretraining" domain and a moderately shifted "target" domain), and the finishing pass that
// turns a painter's intensity field into RGB bytes (colour, blur, occlusion, noise).

/// A colour with the word used for it in captions ("red", "pale blue", ...). Components in 0...1.
public struct RGBColor: Sendable, Equatable {
    public var r: Double, g: Double, b: Double
    public var name: String

    public init(name: String, r: Double, g: Double, b: Double) {
        self.name = name
        self.r = r; self.g = g; self.b = b
    }

    /// Rec. 601 luma, 0...1.
    public var luminance: Double { 0.299 * r + 0.587 * g + 0.114 * b }

    /// Euclidean distance in RGB, 0...sqrt(3).
    public func distance(to other: RGBColor) -> Double {
        let dr = r - other.r, dg = g - other.g, db = b - other.b
        return (dr * dr + dg * dg + db * db).squareRoot()
    }

    /// Moves the colour toward white (`amount` > 0) or black (`amount` < 0), keeping the name.
    func shaded(_ amount: Double) -> RGBColor {
        let target = amount > 0 ? 1.0 : 0.0, a = min(abs(amount), 1)
        return RGBColor(name: name, r: r + (target - r) * a, g: g + (target - g) * a, b: b + (target - b) * a)
    }

    /// The ten clean, saturated colours of the pretraining domain.
    public static let pretrainingPalette: [RGBColor] = [
        RGBColor(name: "red", r: 0.86, g: 0.10, b: 0.10),
        RGBColor(name: "orange", r: 0.98, g: 0.52, b: 0.05),
        RGBColor(name: "yellow", r: 0.97, g: 0.88, b: 0.10),
        RGBColor(name: "green", r: 0.10, g: 0.66, b: 0.20),
        RGBColor(name: "blue", r: 0.10, g: 0.30, b: 0.90),
        RGBColor(name: "purple", r: 0.52, g: 0.15, b: 0.72),
        RGBColor(name: "pink", r: 0.98, g: 0.42, b: 0.70),
        RGBColor(name: "brown", r: 0.50, g: 0.28, b: 0.10),
        RGBColor(name: "black", r: 0.04, g: 0.04, b: 0.04),
        RGBColor(name: "white", r: 0.97, g: 0.97, b: 0.97),
    ]

    /// Neutral backgrounds that go with any pretraining colour.
    static let neutralBackgrounds: [RGBColor] = [
        RGBColor(name: "white", r: 0.97, g: 0.97, b: 0.97),
        RGBColor(name: "black", r: 0.04, g: 0.04, b: 0.04),
        RGBColor(name: "grey", r: 0.50, g: 0.50, b: 0.50),
    ]

    /// Pastel colours of the target domain.
    public static let pastelPalette: [RGBColor] = [
        RGBColor(name: "pale pink", r: 0.96, g: 0.76, b: 0.82),
        RGBColor(name: "light blue", r: 0.68, g: 0.82, b: 0.95),
        RGBColor(name: "mint", r: 0.70, g: 0.92, b: 0.78),
        RGBColor(name: "lavender", r: 0.78, g: 0.72, b: 0.94),
        RGBColor(name: "cream", r: 0.97, g: 0.94, b: 0.80),
        RGBColor(name: "peach", r: 0.98, g: 0.78, b: 0.62),
        RGBColor(name: "pale yellow", r: 0.97, g: 0.94, b: 0.62),
    ]

    /// Dark colours of the target domain.
    public static let darkPalette: [RGBColor] = [
        RGBColor(name: "navy", r: 0.08, g: 0.12, b: 0.38),
        RGBColor(name: "maroon", r: 0.42, g: 0.06, b: 0.12),
        RGBColor(name: "dark green", r: 0.06, g: 0.30, b: 0.14),
        RGBColor(name: "olive", r: 0.38, g: 0.38, b: 0.10),
        RGBColor(name: "charcoal", r: 0.20, g: 0.21, b: 0.23),
        RGBColor(name: "plum", r: 0.36, g: 0.12, b: 0.34),
        RGBColor(name: "dark teal", r: 0.04, g: 0.32, b: 0.34),
    ]

    /// Desaturated (muted) colours of the target domain.
    public static let mutedPalette: [RGBColor] = [
        RGBColor(name: "slate", r: 0.44, g: 0.50, b: 0.56),
        RGBColor(name: "khaki", r: 0.74, g: 0.70, b: 0.52),
        RGBColor(name: "sage", r: 0.60, g: 0.68, b: 0.54),
        RGBColor(name: "dusty rose", r: 0.74, g: 0.54, b: 0.56),
        RGBColor(name: "taupe", r: 0.56, g: 0.50, b: 0.44),
        RGBColor(name: "steel blue", r: 0.40, g: 0.54, b: 0.68),
        RGBColor(name: "mauve", r: 0.62, g: 0.50, b: 0.64),
        RGBColor(name: "rust", r: 0.66, g: 0.34, b: 0.20),
        RGBColor(name: "mustard", r: 0.80, g: 0.66, b: 0.26),
        RGBColor(name: "teal", r: 0.22, g: 0.56, b: 0.56),
    ]
}

/// The nuisance factors of one texture image. Painters read the geometry factors (scale,
/// rotation, jitter); the finishing pass reads the photometric ones.
public struct TextureStyle: Sendable {
    public var foreground: RGBColor, background: RGBColor
    /// Period of the pattern relative to its class's nominal period (1 = nominal; larger = coarser).
    public var scale: Double
    /// Orientation of the pattern in radians.
    public var rotation: Double
    /// Standard deviation of additive per-pixel, per-channel Gaussian noise (0...1 units).
    public var noise: Double
    /// Gaussian blur sigma in pixels at 64x64 (0 = none); scaled with the image size.
    public var blur: Double
    /// Fraction of the image covered by an occluding random-coloured rectangle or blob (0 = none).
    public var occlusion: Double
    /// 0...1: how far the pattern's extremes reach toward the foreground and background colours.
    public var contrast: Double
    /// 0...1: irregularity of the pattern geometry.
    public var jitter: Double

    public init(foreground: RGBColor, background: RGBColor, scale: Double = 1, rotation: Double = 0,
                noise: Double = 0, blur: Double = 0, occlusion: Double = 0, contrast: Double = 1, jitter: Double = 0) {
        self.foreground = foreground; self.background = background
        self.scale = scale; self.rotation = rotation
        self.noise = noise; self.blur = blur; self.occlusion = occlusion
        self.contrast = contrast; self.jitter = jitter
    }
}

/// Where a texture image comes from: the clean domain a model is pretrained on, or the shifted
/// domain it is adapted to.
public enum TextureDomain: String, Sendable {
    case pretraining, target

    /// Draws one image's nuisance factors.
    public func sampleStyle(rng: inout SeededRandom) -> TextureStyle {
        switch self {
        case .pretraining: return Self.pretrainingStyle(&rng)
        case .target: return Self.targetStyle(&rng)
        }
    }

    /// Saturated named colours on a contrasting background, near-axis-aligned, clean.
    private static func pretrainingStyle(_ rng: inout SeededRandom) -> TextureStyle {
        let palette = RGBColor.pretrainingPalette
        var fg = palette[rng.index(palette.count)]
        // Background: a neutral half the time, otherwise another named colour; always clearly distinct.
        let fallback = fg.luminance > 0.5 ? RGBColor.neutralBackgrounds[1] : RGBColor.neutralBackgrounds[0]
        var bg = pickBackground(for: fg, minDistance: 0.6, minLuminanceGap: 0.2, fallback: fallback, &rng) { rng in
            rng.uniform() < 0.5 ? RGBColor.neutralBackgrounds[rng.index(3)] : palette[rng.index(palette.count)]
        }
        if rng.uniform() < 0.5 { swap(&fg, &bg) }
        let quarterTurns = Double(rng.index(2)) * Double.pi / 2
        let occluded = rng.uniform() < 0.08
        return TextureStyle(
            foreground: fg, background: bg,
            scale: rng.logUniform(0.8, 1.25),
            rotation: quarterTurns + rng.uniform(-0.3, 0.3),
            noise: rng.uniform(0, 0.025),
            blur: rng.uniform() < 0.6 ? 0 : rng.uniform(0.2, 0.5),
            occlusion: occluded ? rng.uniform(0.05, 0.12) : 0,
            contrast: rng.uniform(0.88, 1.0),
            jitter: rng.uniform(0, 0.3))
    }

    /// Draws candidate backgrounds until one differs enough from `fg` (at most 32 tries, so a
    /// palette without a match cannot loop forever), else returns `fallback`.
    private static func pickBackground(for fg: RGBColor, minDistance: Double, minLuminanceGap: Double,
                                       fallback: RGBColor, _ rng: inout SeededRandom,
                                       _ candidate: (inout SeededRandom) -> RGBColor) -> RGBColor {
        for _ in 0..<32 {
            let bg = candidate(&rng)
            if bg.distance(to: fg) >= minDistance && abs(bg.luminance - fg.luminance) >= minLuminanceGap { return bg }
        }
        return fallback
    }

    /// Pastel, dark, muted or two-tone palettes; any orientation; wider scales; more noise, blur
    /// and occlusion; lower contrast. Kept moderate: the pattern stays visible to a person.
    private static func targetStyle(_ rng: inout SeededRandom) -> TextureStyle {
        let (fg, bg) = targetColours(&rng)
        let scale = rng.logUniform(0.6, 1.7)
        // Blur is capped relative to the scale so fine patterns are softened, not erased.
        let blur = rng.uniform(0.25, 0.8) * min(1, scale)
        let occluded = rng.uniform() < 0.35
        // Keep the effective colour difference above a floor a person can still see easily.
        let minContrast = min(1, 0.34 / max(fg.distance(to: bg), 0.05))
        return TextureStyle(
            foreground: fg, background: bg,
            scale: scale,
            rotation: rng.uniform(0, Double.pi),
            noise: rng.uniform(0.015, 0.05),
            blur: blur,
            occlusion: occluded ? rng.uniform(0.08, 0.22) : 0,
            contrast: max(minContrast, rng.uniform(0.7, 0.9)),
            jitter: rng.uniform(0.2, 0.6))
    }

    /// One of four palette families of the target domain. Pairs differ by at least 0.35 in RGB
    /// and 0.1 in luminance; a pair that cannot be found falls back to two tones of one colour.
    private static func targetColours(_ rng: inout SeededRandom) -> (RGBColor, RGBColor) {
        let pastel = RGBColor.pastelPalette, dark = RGBColor.darkPalette, muted = RGBColor.mutedPalette
        let family = rng.index(4)
        var fg: RGBColor
        switch family {
        case 0: fg = pastel[rng.index(pastel.count)]
        case 1: fg = dark[rng.index(dark.count)]
        case 2: fg = muted[rng.index(muted.count)]
        default:
            let all = pastel + dark + muted
            fg = all[rng.index(all.count)]
        }
        // Two tones of one colour (lighter or darker), named after the colour.
        let twoTone = fg.shaded(fg.luminance < 0.5 ? rng.uniform(0.45, 0.6) : -rng.uniform(0.45, 0.6))
        var bg: RGBColor
        switch family {
        case 0:  // pastel on pastel, or pastel on a dark colour
            bg = pickBackground(for: fg, minDistance: 0.35, minLuminanceGap: 0.1, fallback: twoTone, &rng) { rng in
                rng.uniform() < 0.6 ? pastel[rng.index(pastel.count)] : dark[rng.index(dark.count)]
            }
        case 1:  // dark on dark, or dark on muted
            bg = pickBackground(for: fg, minDistance: 0.35, minLuminanceGap: 0.1, fallback: twoTone, &rng) { rng in
                rng.uniform() < 0.5 ? dark[rng.index(dark.count)] : muted[rng.index(muted.count)]
            }
        case 2:  // muted on muted
            bg = pickBackground(for: fg, minDistance: 0.35, minLuminanceGap: 0.1, fallback: twoTone, &rng) { rng in
                muted[rng.index(muted.count)]
            }
        default:
            bg = twoTone
        }
        if rng.uniform() < 0.5 { swap(&fg, &bg) }
        return (fg, bg)
    }
}

extension SeededRandom {
    /// Uniform in [a, b).
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// Log-uniform in [a, b) (a, b > 0): equal odds of halving and doubling.
    mutating func logUniform(_ a: Double, _ b: Double) -> Double { exp(uniform(log(a), log(b))) }

    /// Uniform index in 0..<count (count > 0).
    mutating func index(_ count: Int) -> Int { Int(next() % UInt64(max(count, 1))) }

    /// Approximately standard normal: a scaled Irwin-Hall sum of four 16-bit uniforms from one draw.
    /// Cheap enough for per-pixel image noise.
    mutating func fastNormal() -> Float {
        let bits = next()
        let sum = Float(bits & 0xFFFF) + Float((bits >> 16) & 0xFFFF) + Float((bits >> 32) & 0xFFFF) + Float(bits >> 48)
        return (sum * (1 / 65536) - 2) * 1.7320508
    }
}

// MARK: - Finishing: intensity field -> RGB bytes

extension TextureStyle {
    /// Turns a painter's intensity field (`size*size`, 0 = background, 1 = foreground) into
    /// interleaved RGB bytes: blur, colourise with contrast, occlude, add noise, quantise.
    /// Blurring the intensity before colouring equals blurring the colours (colouring is affine).
    func finish(_ field: [Float], size: Int, rng: inout SeededRandom) -> [UInt8] {
        let n = size * size
        // Non-finite factors count as absent, so a bad style cannot trap in the conversions below.
        let sigma = blur.isFinite ? Float(min(max(blur, 0), 8)) * Float(size) / 64 : 0
        let t = sigma > 0.05 ? Self.gaussianBlur(field, size: size, sigma: sigma) : field

        // Colour: c = bg + (fg - bg) * (0.5 + (t - 0.5) * contrast).
        let k = contrast.isFinite ? Float(max(0, min(1, contrast))) : 1
        let bg = SIMD3<Float>(Float(background.r), Float(background.g), Float(background.b))
        let fg = SIMD3<Float>(Float(foreground.r), Float(foreground.g), Float(foreground.b))
        let base = bg + (fg - bg) * (0.5 - 0.5 * k), span = (fg - bg) * k
        var rgb = [SIMD3<Float>](repeating: .zero, count: n)
        for i in 0..<n { rgb[i] = base + span * t[i] }

        if occlusion.isFinite && occlusion > 0 { occlude(&rgb, size: size, rng: &rng) }

        // Additive noise, clamp, quantise.
        let amp = noise.isFinite ? Float(min(max(0, noise), 1)) : 0
        var out = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n {
            var c = rgb[i]
            if amp > 0 { c += amp * SIMD3(rng.fastNormal(), rng.fastNormal(), rng.fastNormal()) }
            out[3 * i] = Self.byte(c.x); out[3 * i + 1] = Self.byte(c.y); out[3 * i + 2] = Self.byte(c.z)
        }
        return out
    }

    /// 0...1 to 0...255, rounded; NaN becomes 0.
    @inline(__always) private static func byte(_ v: Float) -> UInt8 {
        v > 0 ? UInt8(min(v, 1) * 255 + 0.5) : 0
    }

    /// Separable Gaussian blur with clamped edges.
    static func gaussianBlur(_ src: [Float], size: Int, sigma: Float) -> [Float] {
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        for i in kernel.indices { kernel[i] /= total }
        var tmp = [Float](repeating: 0, count: src.count), dst = tmp
        for y in 0..<size {  // horizontal pass
            let row = y * size
            for x in 0..<size {
                var acc: Float = 0
                for j in -radius...radius { acc += kernel[j + radius] * src[row + min(max(x + j, 0), size - 1)] }
                tmp[row + x] = acc
            }
        }
        for y in 0..<size {  // vertical pass
            for x in 0..<size {
                var acc: Float = 0
                for j in -radius...radius { acc += kernel[j + radius] * tmp[min(max(y + j, 0), size - 1) * size + x] }
                dst[y * size + x] = acc
            }
        }
        return dst
    }

    /// Paints one random-coloured rectangle or ellipse covering about `occlusion` of the image,
    /// with a soft one-pixel edge and a gentle shading gradient so it reads as an object.
    private func occlude(_ rgb: inout [SIMD3<Float>], size: Int, rng: inout SeededRandom) {
        let s = Float(size), area = Float(min(occlusion, 0.9)) * s * s
        let aspect = Float(rng.logUniform(0.5, 2.0))
        let isEllipse = rng.uniform() < 0.5
        // Half-extents so that the shape's area is `area`.
        let fit: Float = isEllipse ? Float.pi : 4
        var hw = (area * aspect / fit).squareRoot(), hh = area / (fit * hw)
        hw = min(hw, s * 0.5); hh = min(hh, s * 0.5)
        let cx = Float(rng.uniform(Double(hw), Double(s - hw))), cy = Float(rng.uniform(Double(hh), Double(s - hh)))
        let colour = SIMD3<Float>(Float(rng.uniform(0.1, 0.9)), Float(rng.uniform(0.1, 0.9)), Float(rng.uniform(0.1, 0.9)))
        let gradient = Float(rng.uniform(-0.15, 0.15))
        for y in max(0, Int(cy - hh) - 1)..<min(size, Int(cy + hh) + 2) {
            for x in max(0, Int(cx - hw) - 1)..<min(size, Int(cx + hw) + 2) {
                let dx = (Float(x) + 0.5 - cx), dy = (Float(y) + 0.5 - cy)
                // Signed distance in pixels (negative inside), approximate for the ellipse.
                let d: Float
                if isEllipse {
                    let q = ((dx / hw) * (dx / hw) + (dy / hh) * (dy / hh)).squareRoot()
                    d = (q - 1) * min(hw, hh)
                } else {
                    d = max(abs(dx) - hw, abs(dy) - hh)
                }
                let cover = min(max(0.5 - d, 0), 1)
                guard cover > 0 else { continue }
                let shade = colour * (1 + gradient * dy / hh)
                let i = y * size + x
                rgb[i] += (shade - rgb[i]) * cover
            }
        }
    }
}
