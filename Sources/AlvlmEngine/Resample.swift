import CImageCodec
import Foundation

/// Pillow's resampling (`src/libImaging/Resample.c`, `Geometry.c`), reproduced bit for bit:
/// separable bicubic (a = -0.5) with support widened by the downscale factor (antialiasing),
/// horizontal pass first; 8-bit images use 22-bit fixed-point weights and a uint8 intermediate,
/// 16-bit images accumulate in double and round half away from zero.
enum Resample {
    static let precisionBits = 22

    static func bicubic(_ x: Double) -> Double {
        let a = -0.5, x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    struct Coefficients {
        var ksize: Int
        var bounds: [(min: Int, count: Int)]
        var weights: [Double]  // outSize * ksize, normalised to sum 1
        var fixed: [Int32]     // the same in 22-bit fixed point
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterscale = max(scale, 1)
        let support = 2 * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        var weights = [Double](repeating: 0, count: outSize * ksize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterscale
            let xmin = max(0, Int(center - support + 0.5))       // C (int) truncates toward zero
            let xmax = min(inSize, Int(center + support + 0.5)) - xmin
            var ww = 0.0
            for x in 0..<max(0, xmax) {
                let w = bicubic((Double(x + xmin) - center + 0.5) * ss)
                weights[xx * ksize + x] = w
                ww += w
            }
            if ww != 0 { for x in 0..<max(0, xmax) { weights[xx * ksize + x] /= ww } }
            bounds.append((xmin, max(0, xmax)))
        }
        let one = Double(1 << precisionBits)
        let fixed = weights.map { w in Int32(w < 0 ? (-0.5 + w * one) : (0.5 + w * one)) }
        return Coefficients(ksize: ksize, bounds: bounds, weights: weights, fixed: fixed)
    }

    /// 8-bit bicubic resize of interleaved `bands`-channel pixels (one thread: callers resize images in parallel).
    static func bicubic8(_ src: [UInt8], width: Int, height: Int, bands: Int, toWidth ow: Int, height oh: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ow * oh * bands), scratch = ResampleScratch()
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                bicubic8(s.baseAddress!, width: width, height: height, bands: bands, toWidth: ow, height: oh,
                         box: Box(left: 0, top: 0, width: ow, height: oh), into: d.baseAddress!, scratch: &scratch)
            }
        }
        return out
    }

    /// Rows of the source the horizontal pass transposes at a time (the row kernel's whole-row loops need rows of a
    /// few hundred bytes; the transposed copies need no more).
    static let stripRows = 256

    /// A rectangle of the resized image.
    struct Box { var left, top, width, height: Int }

    /// Pillow's 8-bit bicubic resize to ow x oh, only `box` of the result computed and written to dst (box.width x
    /// box.height pixels): the same bytes as resizing all and cropping, since every output pixel is computed alone.
    /// Both passes run as whole-row multiply-adds (`ac_resample_row`): the horizontal one on the needed source block
    /// transposed (columns as rows) and transposed back; the vertical one on rows as they are.
    static func bicubic8(_ src: UnsafePointer<UInt8>, width: Int, height: Int, bands: Int, toWidth ow: Int, height oh: Int,
                         box: Box, into dst: UnsafeMutablePointer<UInt8>, scratch: inout ResampleScratch) {
        precondition(box.left >= 0 && box.top >= 0 && box.width > 0 && box.height > 0
                     && box.left + box.width <= ow && box.top + box.height <= oh, "resample box outside the image")
        let bits = Int32(precisionBits), cw = box.width, ch = box.height, outRow = cw * bands
        let vertical = oh != height ? scratch.coefficients(inSize: height, outSize: oh) : nil
        // The source rows [y0, y1) the box's output rows read.
        var y0 = box.top, y1 = box.top + box.height
        if let k = vertical {
            y0 = k.bounds[box.top].min; y1 = y0
            for yy in box.top..<(box.top + ch) { y0 = min(y0, k.bounds[yy].min); y1 = max(y1, k.bounds[yy].min + k.bounds[yy].count) }
        }
        let rows = y1 - y0
        // `mid`: rows [y0, y1) of the horizontally resized image, the box's columns only.
        var midStride = width * bands
        let horizontal = ow != width ? scratch.coefficients(inSize: width, outSize: ow) : nil
        if let k = horizontal {
            var x0 = k.bounds[box.left].min, x1 = x0
            for xx in box.left..<(box.left + cw) { x0 = min(x0, k.bounds[xx].min); x1 = max(x1, k.bounds[xx].min + k.bounds[xx].count) }
            // In strips of rows, so the transposed copies stay small however tall the image.
            let strip = min(rows, Self.stripRows)
            scratch.reserve(transposed: (x1 - x0) * strip * bands, columns: cw * strip * bands, mid: rows * outRow)
            scratch.transposed.withUnsafeMutableBufferPointer { t in
            scratch.columns.withUnsafeMutableBufferPointer { c in
            scratch.mid.withUnsafeMutableBufferPointer { m in
            k.fixed.withUnsafeBufferPointer { f in
                for s0 in stride(from: 0, to: rows, by: strip) {
                    let sr = min(strip, rows - s0), column = sr * bands
                    ac_transpose(src + ((y0 + s0) * width + x0) * bands, width * bands, Int32(sr), Int32(x1 - x0), Int32(bands),
                                 t.baseAddress!, column)
                    for xx in box.left..<(box.left + cw) {
                        let (xmin, n) = k.bounds[xx]
                        ac_resample_row(t.baseAddress! + (xmin - x0) * column, column, f.baseAddress! + xx * k.ksize, Int32(n), bits,
                                        c.baseAddress! + (xx - box.left) * column, column)
                    }
                    ac_transpose(c.baseAddress!, column, Int32(cw), Int32(sr), Int32(bands), m.baseAddress! + s0 * outRow, outRow)
                }
            }}}}
            midStride = outRow
        }
        scratch.mid.withUnsafeBufferPointer { m in
            let mid = horizontal == nil ? src + (y0 * width + box.left) * bands : UnsafePointer(m.baseAddress!)
            guard let k = vertical else {
                for r in 0..<ch { (dst + r * outRow).update(from: mid + (box.top + r - y0) * midStride, count: outRow) }
                return
            }
            k.fixed.withUnsafeBufferPointer { f in
                for yy in box.top..<(box.top + ch) {
                    let (ymin, n) = k.bounds[yy]
                    ac_resample_row(mid + (ymin - y0) * midStride, midStride, f.baseAddress! + yy * k.ksize, Int32(n), bits,
                                    dst + (yy - box.top) * outRow, outRow)
                }
            }
        }
    }

    /// The scalar resize the fast one is checked against (tests): each output pixel's taps summed in turn.
    static func naiveBicubic8(_ src: [UInt8], width: Int, height: Int, bands: Int, toWidth ow: Int, height oh: Int) -> [UInt8] {
        var image = src, w = width
        if ow != width {
            let k = coefficients(inSize: width, outSize: ow)
            var out = [UInt8](repeating: 0, count: ow * height * bands)
            image.withUnsafeBufferPointer { inp in
                out.withUnsafeMutableBufferPointer { o in
                    k.fixed.withUnsafeBufferPointer { f in
                        horizontal8(inp.baseAddress!, width: width, height: height, bands: bands, bounds: k.bounds, ksize: k.ksize,
                                    fixed: f.baseAddress!, toWidth: ow, into: o.baseAddress!)
                    }
                }
            }
            image = out; w = ow
        }
        if oh != height {
            let k = coefficients(inSize: height, outSize: oh)
            let rowLength = w * bands
            var out = [UInt8](repeating: 0, count: rowLength * oh)
            image.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
            k.fixed.withUnsafeBufferPointer { f in
                let half = Int32(1 << (precisionBits - 1)), shift = Int32(precisionBits)
                for yy in 0..<oh {
                    let (ymin, n) = k.bounds[yy]
                    let kf = f.baseAddress! + yy * k.ksize, top = inp.baseAddress! + ymin * rowLength
                    let orow = o.baseAddress! + yy * rowLength
                    for i in 0..<rowLength {
                        var ss = half
                        for y in 0..<n { ss &+= Int32(top[y &* rowLength &+ i]) &* kf[y] }
                        orow[i] = clip8(Int(ss >> shift))
                    }
                }
            }}}
            image = out
        }
        return image
    }

    /// The horizontal pass of `naiveBicubic8`: each output pixel's bands summed over its taps together.
    static func horizontal8(_ inp: UnsafePointer<UInt8>, width: Int, height: Int, bands: Int, bounds: [(min: Int, count: Int)], ksize: Int,
                            fixed f: UnsafePointer<Int32>, toWidth ow: Int, into o: UnsafeMutablePointer<UInt8>) {
        let half = Int32(1 << (precisionBits - 1)), shift = Int32(precisionBits)
        bounds.withUnsafeBufferPointer { bp in
            for y in 0..<height {
                let row = inp + y * width * bands, orow = o + y * ow * bands
                for xx in 0..<ow {
                    let (xmin, n) = bp[xx]
                    let kf = f + xx * ksize, px = row + xmin * bands, dst = orow + xx * bands
                    if bands == 3 {
                        var s0 = half, s1 = half, s2 = half
                        for x in 0..<n {
                            let c = kf[x], p = px + 3 * x
                            s0 &+= Int32(p[0]) &* c; s1 &+= Int32(p[1]) &* c; s2 &+= Int32(p[2]) &* c
                        }
                        dst[0] = clip8(Int(s0 >> shift)); dst[1] = clip8(Int(s1 >> shift)); dst[2] = clip8(Int(s2 >> shift))
                    } else {
                        for b in 0..<bands {
                            var ss = half
                            for x in 0..<n { ss &+= Int32(px[x * bands + b]) &* kf[x] }
                            dst[b] = clip8(Int(ss >> shift))
                        }
                    }
                }
            }
        }
    }

    /// 16-bit (I;16) bicubic resize: double accumulation, round half away from zero, clamp to 0...65535.
    static func bicubic16(_ src: [UInt16], width: Int, height: Int, toWidth ow: Int, height oh: Int) -> [UInt16] {
        func store(_ ss: Double) -> UInt16 {
            let r = Int(ss >= 0 ? ss + 0.5 : ss - 0.5)
            return UInt16(min(max(r, 0), 65535))
        }
        var image = src, w = width
        if ow != width {
            let k = coefficients(inSize: width, outSize: ow)
            var out = [UInt16](repeating: 0, count: ow * height)
            for y in 0..<height {
                for xx in 0..<ow {
                    let (xmin, n) = k.bounds[xx]
                    var ss = 0.0
                    for x in 0..<n { ss += Double(image[y * width + xmin + x]) * k.weights[xx * k.ksize + x] }
                    out[y * ow + xx] = store(ss)
                }
            }
            image = out; w = ow
        }
        if oh != height {
            let k = coefficients(inSize: height, outSize: oh)
            var out = [UInt16](repeating: 0, count: w * oh)
            for yy in 0..<oh {
                let (ymin, n) = k.bounds[yy]
                for x in 0..<w {
                    var ss = 0.0
                    for y in 0..<n { ss += Double(image[(ymin + y) * w + x]) * k.weights[yy * k.ksize + y] }
                    out[yy * w + x] = store(ss)
                }
            }
            image = out
        }
        return image
    }

    /// Pillow's NEAREST scale (`ImagingScaleAffine`): source coordinates accumulated by repeated addition.
    static func nearest<T>(_ src: [T], width: Int, height: Int, bands: Int, toWidth ow: Int, height oh: Int) -> [T] {
        func table(_ inSize: Int, _ outSize: Int) -> [Int] {
            let step = Double(inSize) / Double(outSize)
            var o = step * 0.5
            var t: [Int] = []
            for _ in 0..<outSize { t.append(min(inSize - 1, o < 0 ? -1 : Int(o))); o += step }
            return t
        }
        let xs = table(width, ow), ys = table(height, oh)
        var out: [T] = []
        out.reserveCapacity(ow * oh * bands)
        for y in ys { for x in xs { for b in 0..<bands { out.append(src[(y * width + x) * bands + b]) } } }
        return out
    }
}

/// What one worker reuses from image to image when resampling: the passes' buffers (grown, never shrunk) and the
/// coefficient tables of the last few (input, output) sizes.
public struct ResampleScratch {
    var transposed: [UInt8] = [], columns: [UInt8] = [], mid: [UInt8] = []
    private var tables: [Int: Resample.Coefficients] = [:]

    public init() {}

    mutating func coefficients(inSize: Int, outSize: Int) -> Resample.Coefficients {
        let key = inSize << 32 | outSize
        if let k = tables[key] { return k }
        if tables.count >= 16 { tables.removeAll() }
        let k = Resample.coefficients(inSize: inSize, outSize: outSize)
        tables[key] = k
        return k
    }

    mutating func reserve(transposed t: Int, columns c: Int, mid m: Int) {
        if transposed.count < t { transposed = [UInt8](repeating: 0, count: t) }
        if columns.count < c { columns = [UInt8](repeating: 0, count: c) }
        if mid.count < m { mid = [UInt8](repeating: 0, count: m) }
    }
}

extension DecodedImage {
    /// Pillow's `Image.resize((w, h), BICUBIC)` for this image's mode.
    public func resized(width ow: Int, height oh: Int) -> DecodedImage {
        if ow == width && oh == height { return self }
        var out = self
        out.width = ow; out.height = oh
        switch mode {
        case .palette, .bilevel:
            out.pixels = Resample.nearest(pixels, width: width, height: height, bands: 1, toWidth: ow, height: oh)
        case .gray16:
            out.pixels16 = Resample.bicubic16(pixels16, width: width, height: height, toWidth: ow, height: oh)
        case .rgba, .grayAlpha:
            // Resized premultiplied (RGBa / La), then converted back.
            let b = mode.bands
            var pre = pixels
            for i in 0..<(width * height) {
                let a = Int(pre[i * b + b - 1])
                for c in 0..<(b - 1) { pre[i * b + c] = UInt8(mulDiv255(Int(pre[i * b + c]), a)) }
            }
            var r = Resample.bicubic8(pre, width: width, height: height, bands: b, toWidth: ow, height: oh)
            for i in 0..<(ow * oh) {
                let a = Int(r[i * b + b - 1])
                if a == 0 || a == 255 { continue }
                for c in 0..<(b - 1) { r[i * b + c] = clip8(255 * Int(r[i * b + c]) / a) }
            }
            out.pixels = r
        case .gray, .rgb, .cmyk:
            out.pixels = Resample.bicubic8(pixels, width: width, height: height, bands: mode.bands, toWidth: ow, height: oh)
        }
        return out
    }

    /// `resized(width: ow, height: oh).cropped(left:top:width:height:)`, the same pixels; for the modes resized
    /// bicubically in 8 bits only the box is computed, with `scratch`'s buffers.
    public func resizedAndCropped(width ow: Int, height oh: Int, left: Int, top: Int, width cw: Int, height ch: Int,
                                  scratch: inout ResampleScratch) -> DecodedImage {
        guard mode == .gray || mode == .rgb || mode == .cmyk else {
            return resized(width: ow, height: oh).cropped(left: left, top: top, width: cw, height: ch)
        }
        var out = DecodedImage(width: cw, height: ch, mode: mode, pixels: [UInt8](repeating: 0, count: cw * ch * mode.bands))
        pixels.withUnsafeBufferPointer { s in
            out.pixels.withUnsafeMutableBufferPointer { d in
                Resample.bicubic8(s.baseAddress!, width: width, height: height, bands: mode.bands, toWidth: ow, height: oh,
                                  box: Resample.Box(left: left, top: top, width: cw, height: ch), into: d.baseAddress!, scratch: &scratch)
            }
        }
        return out
    }

    /// Pillow's `crop((left, top, left + w, top + h))` for a box inside the image.
    public func cropped(left: Int, top: Int, width w: Int, height h: Int) -> DecodedImage {
        var out = self
        out.width = w; out.height = h
        let b = mode.bands
        if mode == .gray16 {
            var px: [UInt16] = []
            px.reserveCapacity(w * h)
            for y in 0..<h {
                let start = (top + y) * width + left
                px += pixels16[start..<(start + w)]
            }
            out.pixels16 = px
        } else {
            var px: [UInt8] = []
            px.reserveCapacity(w * h * b)
            for y in 0..<h {
                let start: Int = ((top + y) * width + left) * b
                px += pixels[start..<(start + w * b)]
            }
            out.pixels = px
        }
        return out
    }
}
