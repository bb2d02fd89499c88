import AlvlmActive
import AlvlmEngine
import AlvlmKernels
import Foundation

// Procedural painters for twenty texture classes named after the Describable Textures Dataset
// (DTD). Each painter writes an intensity field (0 = background, 1 = foreground) in a rotated,
// scaled "pattern space"; `TextureStyle.finish` then colours, blurs, occludes and adds noise.
// Every random choice comes from the caller's `SeededRandom`, so an image is a function of its seed.

/// The twenty texture classes, in DTD's alphabetical order.
public enum TextureClass: Int, CaseIterable, Sendable {
    case banded, blotchy, bubbly, chequered, cracked, crosshatched, dotted, grid, honeycombed, marbled,
         polkaDotted, scaly, spiralled, sprinkled, stratified, striped, swirly, veined, woven, zigzagged

    /// The class name as DTD spells it ("polka-dotted", ...).
    public var name: String {
        switch self {
        case .banded: return "banded"
        case .blotchy: return "blotchy"
        case .bubbly: return "bubbly"
        case .chequered: return "chequered"
        case .cracked: return "cracked"
        case .crosshatched: return "crosshatched"
        case .dotted: return "dotted"
        case .grid: return "grid"
        case .honeycombed: return "honeycombed"
        case .marbled: return "marbled"
        case .polkaDotted: return "polka-dotted"
        case .scaly: return "scaly"
        case .spiralled: return "spiralled"
        case .sprinkled: return "sprinkled"
        case .stratified: return "stratified"
        case .striped: return "striped"
        case .swirly: return "swirly"
        case .veined: return "veined"
        case .woven: return "woven"
        case .zigzagged: return "zigzagged"
        }
    }
}

public enum TexturePainter {
    /// Renders one `size`x`size` RGB image, interleaved bytes (row-major, R G B per pixel), count = size*size*3.
    public static func render(_ cls: TextureClass, style: TextureStyle, size: Int, rng: inout SeededRandom) -> [UInt8] {
        let size = max(size, 1)
        var canvas = Canvas(size: size, style: style)
        let noise = ValueNoise(seed: UInt32(truncatingIfNeeded: rng.next()))
        let jitter = style.jitter.isFinite ? Float(max(0, min(1, style.jitter))) : 0
        let painter: Painter
        switch cls {
        case .banded: painter = banded
        case .blotchy: painter = blotchy
        case .bubbly: painter = bubbly
        case .chequered: painter = chequered
        case .cracked: painter = cracked
        case .crosshatched: painter = crosshatched
        case .dotted: painter = dotted
        case .grid: painter = grid
        case .honeycombed: painter = honeycombed
        case .marbled: painter = marbled
        case .polkaDotted: painter = polkaDotted
        case .scaly: painter = scaly
        case .spiralled: painter = spiralled
        case .sprinkled: painter = sprinkled
        case .stratified: painter = stratified
        case .striped: painter = striped
        case .swirly: painter = swirly
        case .veined: painter = veined
        case .woven: painter = woven
        case .zigzagged: painter = zigzagged
        }
        painter(&canvas, &rng, noise, jitter)
        return style.finish(canvas.t, size: size, rng: &rng)
    }

    /// A painter fills `canvas.t`, drawing geometry from the generator, with a per-image noise
    /// field and the style's jitter (0...1).
    typealias Painter = (inout Canvas, inout SeededRandom, ValueNoise, Float) -> Void
}
