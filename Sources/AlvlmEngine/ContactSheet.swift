import CImageCodec
import Foundation

/// A grid of thumbnails (each centre-cropped like CLIP sees it), for looking at what a strategy picked.
public enum ContactSheet {
    /// RGB pixels of the sheet and its size; unreadable images become grey tiles. `captions` (lines per image, e.g.
    /// position and id, predicted class, score) are drawn under each thumbnail, cut to its width.
    public static func render(paths: [String], thumbnail: Int = 112, columns: Int = 6, gap: Int = 4,
                              captions: [[String]] = []) -> (pixels: [UInt8], width: Int, height: Int) {
        let cols = max(1, min(columns, paths.count)), rows = max(1, (paths.count + cols - 1) / cols)
        let lines = captions.map(\.count).max() ?? 0
        let band = lines == 0 ? 0 : lines * BitmapFont.lineHeight + 2
        let cell = thumbnail + band
        let width = cols * thumbnail + (cols + 1) * gap, height = rows * cell + (rows + 1) * gap
        var sheet = [UInt8](repeating: 255, count: width * height * 3)
        let pre = Preprocessor(size: thumbnail)
        let fit = BitmapFont.fitting(thumbnail)
        for (i, path) in paths.enumerated() {
            let tile = (try? ImageDecoder.decode(path: path)).map { pre.rgb8($0) } ?? [UInt8](repeating: 160, count: thumbnail * thumbnail * 3)
            let x0 = gap + (i % cols) * (thumbnail + gap), y0 = gap + (i / cols) * (cell + gap)
            for y in 0..<thumbnail {
                let dst = ((y0 + y) * width + x0) * 3
                sheet.replaceSubrange(dst..<(dst + thumbnail * 3), with: tile[(y * thumbnail * 3)..<((y + 1) * thumbnail * 3)])
            }
            guard i < captions.count else { continue }
            for (l, text) in captions[i].enumerated() {
                let shown = text.count > fit ? String(text.prefix(max(0, fit - 1))) + "." : text
                BitmapFont.draw(shown, into: &sheet, width: width, height: height, x: x0, y: y0 + thumbnail + 2 + l * BitmapFont.lineHeight)
            }
        }
        return (sheet, width, height)
    }

    /// Writes RGB pixels as a PNG (atomically: a temporary file, then a rename).
    public static func writePNG(_ pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        precondition(pixels.count == width * height * 3, "pixels do not match the size")
        let temp = path + ".tmp-\(getpid())"
        var error = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { ac_write_png(temp, $0.baseAddress, Int32(width), Int32(height), &error) }
        guard status == 0 else {
            try? FileManager.default.removeItem(atPath: temp)
            throw EngineError(.io, "cannot write PNG: " + String(cString: error), path: path)
        }
        guard rename(temp, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temp)
            throw EngineError(.io, "cannot write file: \(String(cString: strerror(errno)))", path: path)
        }
    }
}
