import Foundation

/// CoOp's training augmentation (Dassl's transforms): the image read as RGB, then torchvision's
/// RandomResizedCrop(S, scale 0.08-1, ratio 3/4-4/3, bicubic) and a horizontal flip with probability 1/2.
/// The random draws follow torchvision's algorithm but come from the engine's seeded generator.
public struct Augmentation: Sendable {
    public var size: Int
    public var scale: ClosedRange<Double> = 0.08...1
    public var ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)
    public var flip = true

    public init(size: Int) { self.size = size }

    /// torchvision's `RandomResizedCrop.get_params`: (top, left, height, width) of the crop.
    public func cropBox(width: Int, height: Int, rng: inout SeededRandom) -> (top: Int, left: Int, height: Int, width: Int) {
        let area = Double(width * height)
        let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
        for _ in 0..<10 {
            let target = area * (scale.lowerBound + rng.uniform() * (scale.upperBound - scale.lowerBound))
            let aspect = exp(logRatio.lowerBound + rng.uniform() * (logRatio.upperBound - logRatio.lowerBound))
            let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0, w <= width, h > 0, h <= height {
                let top = Int(rng.next() % UInt64(height - h + 1)), left = Int(rng.next() % UInt64(width - w + 1))
                return (top, left, h, w)
            }
        }
        // Fallback: a central crop within the ratio range.
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound { h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven)) }
        else if inRatio > ratio.upperBound { w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven)) }
        return ((height - h) / 2, (width - w) / 2, h, w)
    }

    /// One augmented view as 8-bit RGB, S * S * 3.
    public func view(_ image: DecodedImage, rng: inout SeededRandom) -> [UInt8] {
        let rgb = DecodedImage(width: image.width, height: image.height, mode: .rgb, pixels: image.rgb())
        let box = cropBox(width: rgb.width, height: rgb.height, rng: &rng)
        var out = rgb.cropped(left: box.left, top: box.top, width: box.width, height: box.height)
            .resized(width: size, height: size).pixels
        if flip, rng.uniform() < 0.5 {
            for y in 0..<size {
                for x in 0..<(size / 2) {
                    for c in 0..<3 { out.swapAt((y * size + x) * 3 + c, (y * size + size - 1 - x) * 3 + c) }
                }
            }
        }
        return out
    }
}
