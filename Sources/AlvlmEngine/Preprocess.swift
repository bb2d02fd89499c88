import Foundation

/// OpenAI CLIP's evaluation transform, as torchvision applies it to a Pillow image:
/// Resize(S, BICUBIC) on the shortest side -> CenterCrop(S) -> convert("RGB") -> ToTensor -> Normalize.
public struct Preprocessor: Sendable {
    public var size: Int
    public var mean: [Float]
    public var std: [Float]

    public init(size: Int = 224, mean: [Float] = [0.48145466, 0.4578275, 0.40821073],
                std: [Float] = [0.26862954, 0.26130258, 0.27577711]) {
        self.size = size; self.mean = mean; self.std = std
    }

    public init(config: CLIPConfig) { self.init(size: config.imageSize, mean: config.mean, std: config.std) }

    /// torchvision's output size: the short side becomes S, the long side int(S * long / short).
    public static func resizedSize(width w: Int, height h: Int, to s: Int) -> (Int, Int) {
        if w <= h {
            return w == s ? (w, h) : (s, Int(Double(s * h) / Double(w)))
        } else {
            return h == s ? (w, h) : (Int(Double(s * w) / Double(h)), s)
        }
    }

    /// The resized and centre-cropped image as 8-bit RGB, S * S * 3 (what ToTensor would read).
    public func rgb8(_ image: DecodedImage) -> [UInt8] {
        var scratch = ResampleScratch()
        return rgb8(image, scratch: &scratch)
    }

    /// The same with a worker's reusable buffers; only the crop is resampled.
    public func rgb8(_ image: DecodedImage, scratch: inout ResampleScratch) -> [UInt8] {
        let (w, h) = Self.resizedSize(width: image.width, height: image.height, to: size)
        // torchvision: int(round((H - S) / 2)), Python rounding half to even.
        let top = Int((Double(h - size) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(w - size) / 2).rounded(.toNearestOrEven))
        return image.resizedAndCropped(width: w, height: h, left: left, top: top, width: size, height: size, scratch: &scratch).rgb()
    }

    /// Normalised float pixels, channel-major (3, S, S).
    public func pixels(_ image: DecodedImage) -> [Float] { normalize(rgb8(image)) }

    /// The same, written to out[0 ..< 3S²], with a worker's reusable buffers.
    public func pixels(_ image: DecodedImage, into out: UnsafeMutablePointer<Float>, scratch: inout ResampleScratch) {
        normalize(rgb8(image, scratch: &scratch), into: out)
    }

    /// Decodes and preprocesses `paths` on `cores` threads (each takes the next file not yet taken), writing image i's pixels
    /// to out[i · 3S²]; the result holds each image's error (nil: done), a failed image's block left as it was.
    /// The same bytes as `pixels(_:)` one by one: every image is computed alone.
    public func pixels(paths: [String], into out: UnsafeMutablePointer<Float>, cores: Int = Engine.cores) -> [EngineError?] {
        var errors = [EngineError?](repeating: nil, count: paths.count)
        let block = 3 * size * size
        let lock = NSLock()
        var next = 0
        errors.withUnsafeMutableBufferPointer { eb in
            let e = eb.baseAddress!
            Parallel.workers(min(cores, paths.count)) { _ in
                var scratch = ResampleScratch()
                while true {
                    lock.lock(); let i = next; next += 1; lock.unlock()
                    guard i < paths.count else { return }
                    do {
                        pixels(try ImageDecoder.decode(path: paths[i]), into: out + i * block, scratch: &scratch)
                    } catch let error as EngineError {
                        e[i] = error
                    } catch {
                        e[i] = EngineError(.image, "\(error)", path: paths[i])
                    }
                }
            }
        }
        return errors
    }

    public func normalize(_ rgb: [UInt8]) -> [Float] {
        var out = [Float](repeating: 0, count: 3 * size * size)
        out.withUnsafeMutableBufferPointer { normalize(rgb, into: $0.baseAddress!) }
        return out
    }

    /// ToTensor then Normalize into out [3, S, S]: per byte value (v / 255 − mean) / std in float32, looked up.
    public func normalize(_ rgb: [UInt8], into out: UnsafeMutablePointer<Float>) {
        let n = size * size
        precondition(rgb.count == 3 * n, "not \(size)x\(size) RGB pixels")
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 { for v in 0..<256 { table[c * 256 + v] = (Float(v) / 255 - mean[c]) / std[c] } }
        rgb.withUnsafeBufferPointer { p in
            table.withUnsafeBufferPointer { t in
                for c in 0..<3 {
                    let dst = out + c * n, lut = t.baseAddress! + c * 256
                    for i in 0..<n { dst[i] = lut[Int(p[3 * i + c])] }
                }
            }
        }
    }
}

/// Finding images on disk: explicit files must decode; directories are expanded and bad files skipped.
public enum ImageFiles {
    /// Expands directories (recursively, sorted by path) into image files with known extensions.
    public static func expand(_ paths: [String]) throws -> [(path: String, explicit: Bool)] {
        var out: [(String, Bool)] = []
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: p, isDirectory: &isDir) else { throw EngineError(.io, "no such file or directory", path: p) }
            if isDir.boolValue {
                guard let e = fm.enumerator(atPath: p) else { throw EngineError(.io, "cannot list directory", path: p) }
                var found: [String] = []
                for case let rel as String in e where ImageDecoder.extensions.contains((rel as NSString).pathExtension.lowercased()) {
                    found.append((p as NSString).appendingPathComponent(rel))
                }
                out += found.sorted().map { ($0, false) }
            } else {
                out.append((p, true))
            }
        }
        return out
    }
}
