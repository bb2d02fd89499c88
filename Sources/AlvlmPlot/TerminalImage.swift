import Foundation

/// Pictures in a terminal: the kitty graphics protocol, sixel, or truecolor half-block characters (any modern
/// terminal, tmux included). Images are RGB bytes, row by row.
public enum TerminalImage {
    public enum Kind: String, CaseIterable, Sendable {
        case kitty, sixel, blocks, none
    }

    /// What the terminal on standard output can show. `ALVLM_IMAGES` (kitty, sixel, blocks, none) decides when set;
    /// otherwise kitty and sixel terminals are recognised by their environment, any other terminal gets half-blocks,
    /// and output that is not a terminal gets nothing.
    public static func detect(environment: [String: String], isTerminal: Bool = isatty(1) != 0) -> Kind {
        if let forced = environment["ALVLM_IMAGES"].flatMap(Kind.init(rawValue:)) { return forced }
        if environment["ALVLM_PLOT_TERMINAL"] == "kitty" { return .kitty }
        guard isTerminal else { return .none }
        let term = environment["TERM"] ?? "", program = environment["TERM_PROGRAM"] ?? ""
        // Inside tmux or screen, TERM names the multiplexer: the outer terminal's protocols may not pass through.
        if term.hasPrefix("tmux") || term.hasPrefix("screen") { return .blocks }
        if environment["KITTY_WINDOW_ID"] != nil || term.contains("kitty") || program == "ghostty" { return .kitty }
        if ["mlterm", "foot", "foot-extra", "yaft-256color", "contour"].contains(term) || ["WezTerm", "mintty"].contains(program) { return .sixel }
        return .blocks
    }

    /// The terminal's width in columns: the window's size, else `fallback` (the host's COLUMNS), else 80.
    public static func columns(fallback: Int?) -> Int {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return fallback ?? 80
    }

    /// Box-filter resampling to a new size (each output pixel the mean of the input pixels it covers).
    public static func resample(_ rgb: [UInt8], width: Int, height: Int, to newWidth: Int, _ newHeight: Int) -> [UInt8] {
        precondition(rgb.count == width * height * 3 && newWidth > 0 && newHeight > 0, "bad image size")
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        for y in 0..<newHeight {
            let y0 = y * height / newHeight, y1 = max(y0 + 1, (y + 1) * height / newHeight)
            for x in 0..<newWidth {
                let x0 = x * width / newWidth, x1 = max(x0 + 1, (x + 1) * width / newWidth)
                var sum = (0, 0, 0)
                for yy in y0..<y1 {
                    for xx in x0..<x1 {
                        let p = (yy * width + xx) * 3
                        sum.0 += Int(rgb[p]); sum.1 += Int(rgb[p + 1]); sum.2 += Int(rgb[p + 2])
                    }
                }
                let n = (y1 - y0) * (x1 - x0), q = (y * newWidth + x) * 3
                out[q] = UInt8((sum.0 + n / 2) / n); out[q + 1] = UInt8((sum.1 + n / 2) / n); out[q + 2] = UInt8((sum.2 + n / 2) / n)
            }
        }
        return out
    }

    /// Two pixel rows per text row: `▀` with the upper pixel as foreground and the lower as background, in 24-bit
    /// colour. An odd last row gets a white lower half. Every line ends by resetting the colours.
    public static func halfBlocks(_ rgb: [UInt8], width: Int, height: Int) -> [String] {
        precondition(rgb.count == width * height * 3, "bad image size")
        var lines: [String] = []
        for y in stride(from: 0, to: height, by: 2) {
            var line = ""
            for x in 0..<width {
                let top = (y * width + x) * 3
                let bottom = y + 1 < height ? ((y + 1) * width + x) * 3 : -1
                let lower = bottom >= 0 ? (rgb[bottom], rgb[bottom + 1], rgb[bottom + 2]) : (255, 255, 255)
                line += "\u{1B}[38;2;\(rgb[top]);\(rgb[top + 1]);\(rgb[top + 2])m\u{1B}[48;2;\(lower.0);\(lower.1);\(lower.2)m\u{2580}"
            }
            lines.append(line + "\u{1B}[0m")
        }
        return lines
    }

    /// The kitty graphics protocol: a PNG sent base64-encoded in chunks of at most 4096 characters.
    public static func kitty(png: Data) -> String {
        let payload = Array(png.base64EncodedString())
        var start = 0, out = ""
        repeat {
            let end = min(payload.count, start + 4096)
            let more = end < payload.count ? 1 : 0
            out += "\u{1B}_G" + (start == 0 ? "a=T,f=100,q=2,m=\(more)" : "m=\(more)") + ";" + String(payload[start..<end]) + "\u{1B}\\"
            start = end
        } while start < payload.count
        return out
    }

    /// Sixel, with colours quantised to a 6x6x6 cube (216 registers): a DCS header with the raster size, the
    /// registers used, then bands of six rows, one pass per colour, runs of four or more written `!n`.
    public static func sixel(_ rgb: [UInt8], width: Int, height: Int) -> String {
        precondition(rgb.count == width * height * 3, "bad image size")
        func level(_ v: UInt8) -> Int { (Int(v) * 5 + 127) / 255 }
        let index = (0..<(width * height)).map { level(rgb[$0 * 3]) * 36 + level(rgb[$0 * 3 + 1]) * 6 + level(rgb[$0 * 3 + 2]) }
        var out = "\u{1B}P0;1;0q\"1;1;\(width);\(height)"
        for c in Set(index).sorted() {
            out += "#\(c);2;\(c / 36 * 20);\(c / 6 % 6 * 20);\(c % 6 * 20)"
        }
        for band in stride(from: 0, to: height, by: 6) {
            let rows = band..<min(height, band + 6)
            let colours = Set(rows.flatMap { y in (0..<width).map { index[y * width + $0] } }).sorted()
            for (n, c) in colours.enumerated() {
                out += "#\(c)"
                var run: Character = "?", count = 0
                func flush() {
                    guard count > 0 else { return }
                    out += count >= 4 ? "!\(count)\(run)" : String(repeating: run, count: count)
                }
                for x in 0..<width {
                    var bits = 0
                    for y in rows where index[y * width + x] == c { bits |= 1 << (y - band) }
                    let ch = Character(Unicode.Scalar(UInt8(63 + bits)))
                    if ch == run { count += 1 } else { flush(); run = ch; count = 1 }
                }
                flush()
                out += n == colours.count - 1 ? "-" : "$"
            }
        }
        return out + "\u{1B}\\"
    }
}
