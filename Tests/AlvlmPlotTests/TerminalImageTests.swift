import AlvlmPlot
import Foundation
import XCTest

/// Pictures for terminals, checked against naive decoders of each protocol (issue 12 item 14).
final class TerminalImageTests: XCTestCase {
    /// A deterministic test image: a gradient with a square of another colour.
    func image(_ width: Int, _ height: Int) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let p = (y * width + x) * 3
                let inside = x > width / 3 && x < 2 * width / 3 && y > height / 4
                rgb[p] = inside ? 250 : UInt8(x * 255 / max(1, width - 1))
                rgb[p + 1] = inside ? 10 : UInt8(y * 255 / max(1, height - 1))
                rgb[p + 2] = UInt8((x * 7 + y * 13) % 256)
            }
        }
        return rgb
    }

    func testHalfBlocksPairRowsAsForegroundAndBackground() {
        let rgb: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9]   // one column, three rows
        let lines = TerminalImage.halfBlocks(rgb, width: 1, height: 3)
        XCTAssertEqual(lines, ["\u{1B}[38;2;1;2;3m\u{1B}[48;2;4;5;6m▀\u{1B}[0m", "\u{1B}[38;2;7;8;9m\u{1B}[48;2;255;255;255m▀\u{1B}[0m"])
        let wide = TerminalImage.halfBlocks(image(7, 4), width: 7, height: 4)
        XCTAssertEqual(wide.count, 2)
        XCTAssertEqual(wide[0].components(separatedBy: "▀").count - 1, 7)
    }

    func testResamplingAveragesTheCoveredPixels() {
        let (w, h) = (12, 9), rgb = image(w, h)
        let out = TerminalImage.resample(rgb, width: w, height: h, to: 4, 3)
        for y in 0..<3 {
            for x in 0..<4 {
                for c in 0..<3 {
                    var sum = 0
                    for yy in (y * 3)..<(y * 3 + 3) { for xx in (x * 3)..<(x * 3 + 3) { sum += Int(rgb[(yy * w + xx) * 3 + c]) } }
                    XCTAssertEqual(Int(out[(y * 4 + x) * 3 + c]), (sum + 4) / 9, "pixel \(x),\(y) channel \(c)")
                }
            }
        }
        XCTAssertEqual(TerminalImage.resample(rgb, width: w, height: h, to: w, h), rgb, "same size is the identity")
    }

    /// A reader of the sixel subset we write: registers, `#n` colour selection, `$` and `-`, `!n` runs.
    func decodeSixel(_ text: String) throws -> (width: Int, height: Int, registers: [Int: (Int, Int, Int)], pixels: [Int]) {
        var s = Substring(text)
        XCTAssertTrue(s.hasPrefix("\u{1B}P0;1;0q\"1;1;")); s = s.dropFirst("\u{1B}P0;1;0q\"1;1;".count)
        XCTAssertTrue(s.hasSuffix("\u{1B}\\")); s = s.dropLast(2)
        func number() -> Int { let digits = s.prefix { $0.isNumber }; s = s.dropFirst(digits.count); return Int(digits)! }
        let width = number(); s = s.dropFirst(); let height = number()
        var registers: [Int: (Int, Int, Int)] = [:]
        var pixels = [Int](repeating: -1, count: width * height)
        var colour = 0, x = 0, band = 0
        func paint(_ ch: Character) {
            let bits = Int(ch.asciiValue!) - 63
            for b in 0..<6 where bits & (1 << b) != 0 && band + b < height { pixels[(band + b) * width + x] = colour }
            x += 1
        }
        while let c = s.first {
            s = s.dropFirst()
            switch c {
            case "#":
                let n = number()
                if s.hasPrefix(";2;") {
                    s = s.dropFirst(3); let r = number(); s = s.dropFirst(); let g = number(); s = s.dropFirst(); let b = number()
                    registers[n] = (r, g, b)
                } else { colour = n }
            case "$": x = 0
            case "-": x = 0; band += 6
            case "!":
                let count = number(); let ch = s.removeFirst()
                for _ in 0..<count { paint(ch) }
            default: paint(c)
            }
        }
        return (width, height, registers, pixels)
    }

    func testSixelDecodesToTheQuantisedImage() throws {
        for (w, h) in [(7, 13), (1, 1), (20, 6)] {
            let rgb = image(w, h)
            let decoded = try decodeSixel(TerminalImage.sixel(rgb, width: w, height: h))
            XCTAssertEqual(decoded.width, w); XCTAssertEqual(decoded.height, h)
            for i in 0..<(w * h) {
                let register = try XCTUnwrap(decoded.registers[decoded.pixels[i]], "pixel \(i) painted with a defined register")
                for (c, percent) in [register.0, register.1, register.2].enumerated() {
                    XCTAssertLessThanOrEqual(abs(Double(rgb[i * 3 + c]) / 2.55 - Double(percent)), 10.01, "pixel \(i) channel \(c)")
                }
            }
        }
    }

    func testKittyChunksCarryThePNG() throws {
        let png = Data((0..<10_000).map { UInt8($0 % 251) })
        let text = TerminalImage.kitty(png: png)
        let chunks = text.components(separatedBy: "\u{1B}\\").filter { !$0.isEmpty }
        XCTAssertEqual(chunks.count, 4, "10000 bytes are 13336 base64 characters: four chunks of at most 4096")
        XCTAssertTrue(chunks[0].hasPrefix("\u{1B}_Ga=T,f=100,q=2,m=1;"))
        XCTAssertTrue(chunks[3].hasPrefix("\u{1B}_Gm=0;"))
        let payload = chunks.map { String($0.split(separator: ";", maxSplits: 1)[1]) }.joined()
        XCTAssertEqual(Data(base64Encoded: payload), png)
    }

    func testTheTerminalKindComesFromTheEnvironment() {
        XCTAssertEqual(TerminalImage.detect(environment: ["TERM": "xterm-256color"], isTerminal: false), .none)
        XCTAssertEqual(TerminalImage.detect(environment: ["TERM": "xterm-256color"], isTerminal: true), .blocks)
        XCTAssertEqual(TerminalImage.detect(environment: ["TERM": "tmux-256color", "KITTY_WINDOW_ID": "1"], isTerminal: true), .blocks)
        XCTAssertEqual(TerminalImage.detect(environment: ["TERM": "xterm-kitty"], isTerminal: true), .kitty)
        XCTAssertEqual(TerminalImage.detect(environment: ["TERM": "foot"], isTerminal: true), .sixel)
        XCTAssertEqual(TerminalImage.detect(environment: ["TERM_PROGRAM": "WezTerm"], isTerminal: true), .sixel)
        XCTAssertEqual(TerminalImage.detect(environment: ["ALVLM_IMAGES": "sixel"], isTerminal: false), .sixel)
        XCTAssertEqual(TerminalImage.detect(environment: ["ALVLM_IMAGES": "none", "TERM": "xterm-kitty"], isTerminal: true), .none)
    }
}
