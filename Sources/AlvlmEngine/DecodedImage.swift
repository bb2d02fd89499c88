import AlvlmSettings
import CImageCodec
import Foundation

/// An image as Pillow holds it after opening a file: its mode decides how it is resized and converted.
public struct DecodedImage {
    /// Pillow's image modes for the files we read.
    public enum Mode: Equatable {
        case gray           // "L"
        case bilevel        // "1" (values 0 or 255; resized with NEAREST like Pillow)
        case grayAlpha      // "LA"
        case rgb            // "RGB"
        case rgba           // "RGBA"
        case cmyk           // "CMYK" (Pillow's inverted Adobe convention)
        case palette        // "P" (indices; `palette` holds RGB triplets)
        case gray16         // "I;16"

        public var bands: Int {
            switch self {
            case .gray, .bilevel, .palette, .gray16: 1
            case .grayAlpha: 2
            case .rgb: 3
            case .rgba, .cmyk: 4
            }
        }
    }

    public var width: Int
    public var height: Int
    public var mode: Mode
    public var pixels: [UInt8]        // 8-bit modes: height * width * bands
    public var pixels16: [UInt16] = [] // gray16 only
    public var palette: [UInt8] = []   // palette only: 256 * 3 (missing entries black, like Pillow)

    public init(width: Int, height: Int, mode: Mode, pixels: [UInt8]) {
        self.width = width; self.height = height; self.mode = mode; self.pixels = pixels
    }

    /// The image's pixels as 8-bit RGB (Pillow's `convert("RGB")`).
    public func rgb() -> [UInt8] {
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * 3)
        switch mode {
        case .rgb: return pixels
        case .gray, .bilevel:
            for i in 0..<n { let v = pixels[i]; out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
        case .grayAlpha:
            for i in 0..<n { let v = pixels[2 * i]; out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
        case .rgba:
            for i in 0..<n { for c in 0..<3 { out[3 * i + c] = pixels[4 * i + c] } }
        case .cmyk:
            for i in 0..<n {
                let nk = 255 - Int(pixels[4 * i + 3])
                for c in 0..<3 { out[3 * i + c] = clip8(nk - mulDiv255(Int(pixels[4 * i + c]), nk)) }
            }
        case .palette:
            for i in 0..<n { let p = Int(pixels[i]) * 3; for c in 0..<3 { out[3 * i + c] = palette[p + c] } }
        case .gray16:
            for i in 0..<n { let v = UInt8(min(pixels16[i], 255)); out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
        }
        return out
    }
}

// Pillow's integer helpers (ImagingUtils.h).
@inline(__always) func mulDiv255(_ a: Int, _ b: Int) -> Int { let t = a * b + 128; return ((t >> 8) + t) >> 8 }
@inline(__always) func clip8(_ v: Int) -> UInt8 { v <= 0 ? 0 : v < 256 ? UInt8(v) : 255 }

public enum ImageDecoder {
    public static let extensions: Set<String> = ["jpg", "jpeg", "jpe", "png"]

    /// Decodes a JPEG or PNG file into the mode Pillow would open it in.
    public static func decode(path: String) throws -> DecodedImage {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
                throw EngineError(.io, isDir.boolValue ? "is a directory, not an image" : "cannot read file", path: path)
            }
            throw EngineError(.io, "no such file", path: path)
        }
        do { return try decode(data) } catch let e as EngineError { throw EngineError(e.kind, e.message, path: path) }
    }

    /// `maxPixels`: the most pixels an image may have (Settings: ALVLM_MAX_IMAGE_PIXELS); a larger one is refused from
    /// its header, before its pixels are allocated.
    public static func decode(_ data: Data, maxPixels: Int = Settings.process.maxImagePixels) throws -> DecodedImage {
        guard !data.isEmpty else { throw EngineError(.image, "empty file (0 bytes)") }
        let bytes = [UInt8](data.prefix(8))
        let isJPEG = bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
        let isPNG = bytes == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard isJPEG || isPNG else { throw EngineError(.image, "not a JPEG or PNG image") }
        var raw = ac_image()
        let limit = max(1, maxPixels)
        let status = data.withUnsafeBytes { buf in
            isJPEG ? ac_decode_jpeg(buf.baseAddress!.assumingMemoryBound(to: UInt8.self), buf.count, limit, &raw)
                   : ac_decode_png(buf.baseAddress!.assumingMemoryBound(to: UInt8.self), buf.count, limit, &raw)
        }
        guard status == 0 else {
            let message = withUnsafeBytes(of: raw.error) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            throw EngineError(.image, message)
        }
        defer { ac_image_free(&raw) }
        let w = Int(raw.width), h = Int(raw.height), ch = Int(raw.channels)
        // Resizing the short side to 224 would blow a 1 x 65000 image up to gigabytes: refuse such shapes.
        guard max(w, h) <= 1000 * min(w, h) else {
            throw EngineError(.image, "image of \(w)x\(h) pixels has an extreme aspect ratio (more than 1000:1)")
        }
        let samples = w * h * ch
        if raw.bit_depth == 16 {
            let wide = Array(UnsafeBufferPointer(start: UnsafeRawPointer(raw.pixels)!.assumingMemoryBound(to: UInt16.self), count: samples))
            // Pillow keeps 16-bit gray as "I;16"; other 16-bit PNGs are read through their high bytes.
            if raw.color == AC_GRAY {
                var image = DecodedImage(width: w, height: h, mode: .gray16, pixels: [])
                image.pixels16 = wide
                return image
            }
            let high = wide.map { UInt8($0 >> 8) }
            switch raw.color {
            case AC_GRAY_ALPHA: // Pillow opens 16-bit LA as RGBA
                var rgba = [UInt8](repeating: 0, count: w * h * 4)
                for i in 0..<(w * h) { rgba[4 * i] = high[2 * i]; rgba[4 * i + 1] = high[2 * i]; rgba[4 * i + 2] = high[2 * i]; rgba[4 * i + 3] = high[2 * i + 1] }
                return DecodedImage(width: w, height: h, mode: .rgba, pixels: rgba)
            case AC_RGB: return DecodedImage(width: w, height: h, mode: .rgb, pixels: high)
            default: return DecodedImage(width: w, height: h, mode: .rgba, pixels: high)
            }
        }
        var pixels = Array(UnsafeBufferPointer(start: raw.pixels, count: samples))
        switch raw.color {
        case AC_GRAY:
            return DecodedImage(width: w, height: h, mode: raw.source_bit_depth == 1 ? .bilevel : .gray, pixels: pixels)
        case AC_GRAY_ALPHA: return DecodedImage(width: w, height: h, mode: .grayAlpha, pixels: pixels)
        case AC_RGB: return DecodedImage(width: w, height: h, mode: .rgb, pixels: pixels)
        case AC_RGBA: return DecodedImage(width: w, height: h, mode: .rgba, pixels: pixels)
        case AC_CMYK:
            // Pillow reads every 4-component JPEG as inverted (Adobe) CMYK.
            for i in 0..<pixels.count { pixels[i] = 255 - pixels[i] }
            return DecodedImage(width: w, height: h, mode: .cmyk, pixels: pixels)
        default:
            var image = DecodedImage(width: w, height: h, mode: .palette, pixels: pixels)
            var palette = [UInt8](repeating: 0, count: 256 * 3)
            withUnsafeBytes(of: raw.palette) { p in for i in 0..<(Int(raw.palette_size) * 3) { palette[i] = p[i] } }
            image.palette = palette
            return image
        }
    }
}
