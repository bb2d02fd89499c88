import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine
import CImageCodec

final class ImageTests: XCTestCase {
    struct Entry { let name: String; let rgb: String; let width: Int; let height: Int }

    func entries() throws -> [Entry] {
        let ref = try XCTUnwrap(try Fixtures.json("images/reference.json") as? [String: Any])
        return (ref["images"] as! [[String: Any]]).map {
            Entry(name: $0["name"] as! String, rgb: $0["rgb"] as! String,
                  width: ($0["width"] as! NSNumber).intValue, height: ($0["height"] as! NSNumber).intValue)
        }
    }

    /// Decoding through libjpeg-turbo/libpng gives Pillow's RGB exactly (within 1 LSB for JPEG).
    func testDecodedRGBMatchesPillow() throws {
        for e in try entries() {
            let image = try ImageDecoder.decode(path: Fixtures.path("images/" + e.name))
            XCTAssertEqual(image.width, e.width, e.name); XCTAssertEqual(image.height, e.height, e.name)
            let expected = try NPY.read(Fixtures.path("images/" + e.rgb)).bytes()
            let got = image.rgb()
            XCTAssertEqual(got.count, expected.count, e.name)
            let worst = zip(got, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, e.name.hasPrefix("png") ? 0 : 1, e.name)
        }
    }

    /// The whole preprocessing (resize, crop, RGB) against torchvision on Pillow: within 1 LSB.
    func testPreprocessingMatchesTorchvision() throws {
        let all = try NPY.read(Fixtures.path("images/pixels_u8.npy"))
        let size = 224 * 224 * 3
        let pre = Preprocessor()
        var report: [String] = []
        for (i, e) in try entries().enumerated() {
            let expected = Array(all.bytes()[(i * size)..<((i + 1) * size)])
            let got = pre.rgb8(try ImageDecoder.decode(path: Fixtures.path("images/" + e.name)))
            let diffs = zip(got, expected).map { abs(Int($0) - Int($1)) }
            let worst = diffs.max() ?? 0
            let mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
            report.append("\(e.name): max \(worst) mean \(mean)")
            XCTAssertLessThanOrEqual(worst, 1, e.name)
            // Normalised units: mean |difference| at most 0.01.
            XCTAssertLessThanOrEqual(mean / 255 / 0.26, 0.01, e.name)
        }
        print(report.joined(separator: "\n"))
    }

    func testTorchvisionSizesAndRounding() {
        XCTAssertTrue(Preprocessor.resizedSize(width: 300, height: 199, to: 224) == (337, 224))
        XCTAssertTrue(Preprocessor.resizedSize(width: 224, height: 500, to: 224) == (224, 500))
        XCTAssertTrue(Preprocessor.resizedSize(width: 120, height: 90, to: 224) == (298, 224))
    }

    func testBadImagesAreErrorsNotCrashes() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/jpeg_baseline_320x240.jpg")))
        let png = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/png_rgb_120x90.png")))
        let cases: [(String, Data, String)] = [
            ("empty.jpg", Data(), "empty"),
            ("text.png", Data("hello, not an image".utf8), "not a JPEG or PNG"),
            ("truncated.jpg", good.prefix(200), "JPEG"),
            ("cut-in-the-data.jpg", good.prefix(8000), "truncated JPEG"),
            ("truncated.png", png.prefix(300), "PNG"),
            ("header-only.png", png.prefix(8), "PNG"),
        ]
        for (name, data, expected) in cases {
            let path = dir + "/" + name
            try data.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try ImageDecoder.decode(path: path), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(name) && text.contains(expected), text)
            }
        }
        XCTAssertThrowsError(try ImageDecoder.decode(path: dir + "/missing.jpg"))
    }

    /// Mutated image bytes give an image of consistent size or an image/format error with a message; never a crash.
    func testFuzzedImageBytesNeverCrash() throws {
        var rng = SeededRandom(seed: 11)
        for name in ["jpeg_baseline_320x240.jpg", "jpeg_progressive_exif6_229x256.jpg", "png_palette_120x160.png", "png_rgba_160x120.png"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/" + name))))
            for _ in 0..<60 {
                var bytes = original
                let edits = 1 + Int(rng.next() % 8)
                for _ in 0..<edits { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
                if rng.next() % 3 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count / 2))) }
                do {
                    let image = try ImageDecoder.decode(Data(bytes))
                    XCTAssertTrue(image.width > 0 && image.height > 0, name)
                    XCTAssertEqual(image.pixels.count + image.pixels16.count, image.width * image.height * image.mode.bands)
                } catch let e as EngineError {
                    XCTAssertTrue([.image, .format].contains(e.kind), "\(name): \(e.kind) \(e.message)")
                    XCTAssertFalse(e.message.isEmpty)
                }
            }
        }
    }

    /// Where two byte arrays first differ (the shorter one's length if one is a prefix of the other; -1 if equal).
    func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
        (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? (a.count == b.count ? -1 : min(a.count, b.count))
    }

    /// The row kernels' resize (any box of the result) equals the scalar one resized whole and cropped, byte for byte,
    /// at every instruction-set level this CPU has: up- and downscaling, one pass or both, 1 to 4 bands, boxes at
    /// the edges and inside, rows longer than the kernel's accumulator block, images taller than a strip of rows.
    func testRowKernelResizeEqualsScalarOnAnyBox() {
        var rng = SeededRandom(seed: 11)
        let shapes: [(w: Int, h: Int, ow: Int, oh: Int)] = [
            (250, 250, 224, 224), (300, 199, 337, 224), (17, 9, 40, 31), (640, 20, 224, 7), (33, 33, 33, 12), (120, 90, 50, 90), (90, 600, 40, 700), (300, 530, 224, 395),
        ]
        let available = ac_resample_use(2)
        defer { _ = ac_resample_use(2) }
        for level in 0...available {
            XCTAssertEqual(ac_resample_use(Int32(level)), Int32(level))
            for (w, h, ow, oh) in shapes {
                for bands in 1...4 {
                    let src = (0..<(w * h * bands)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    let whole = Resample.naiveBicubic8(src, width: w, height: h, bands: bands, toWidth: ow, height: oh)
                    let fast = Resample.bicubic8(src, width: w, height: h, bands: bands, toWidth: ow, height: oh)
                    XCTAssertTrue(fast == whole, "level \(level) \(w)x\(h)->\(ow)x\(oh) bands \(bands): first difference at byte "
                                  + "\(firstDifference(fast, whole))")
                    var scratch = ResampleScratch()
                    for _ in 0..<3 {
                        let cw = Int.random(in: 1...ow, using: &rng), ch = Int.random(in: 1...oh, using: &rng)
                        let left = Int.random(in: 0...(ow - cw), using: &rng), top = Int.random(in: 0...(oh - ch), using: &rng)
                        var got = [UInt8](repeating: 0, count: cw * ch * bands)
                        src.withUnsafeBufferPointer { s in
                            got.withUnsafeMutableBufferPointer { d in
                                Resample.bicubic8(s.baseAddress!, width: w, height: h, bands: bands, toWidth: ow, height: oh,
                                                  box: .init(left: left, top: top, width: cw, height: ch), into: d.baseAddress!, scratch: &scratch)
                            }
                        }
                        var expected: [UInt8] = []
                        for y in top..<(top + ch) { expected += whole[((y * ow + left) * bands)..<((y * ow + left + cw) * bands)] }
                        XCTAssertTrue(got == expected, "level \(level) \(w)x\(h)->\(ow)x\(oh) bands \(bands) box \(left),\(top) \(cw)x\(ch): "
                                      + "first difference at byte \(firstDifference(got, expected))")
                    }
                }
            }
        }
    }

    /// Preprocessing files on several threads gives each image the bytes it gets alone, in the files' order, and an
    /// undecodable file its own error without disturbing the others.
    func testParallelPreprocessingEqualsOneByOne() throws {
        let pre = Preprocessor(), block = 3 * 224 * 224
        var paths = try entries().map { Fixtures.path("images/" + $0.name) }
        paths.insert(Fixtures.path("images/README.md"), at: 3)
        var out = [Float](repeating: -7, count: paths.count * block)
        let errors = out.withUnsafeMutableBufferPointer { pre.pixels(paths: paths, into: $0.baseAddress!, cores: 3) }
        XCTAssertEqual(errors.indices.filter { errors[$0] != nil }, [3])
        XCTAssertTrue(out[(3 * block)..<(4 * block)].allSatisfy { $0 == -7 }, "a failed image's block is left alone")
        for (i, path) in paths.enumerated() where i != 3 {
            XCTAssertEqual(Array(out[(i * block)..<((i + 1) * block)]), pre.pixels(try ImageDecoder.decode(path: path)), path)
        }
    }

    /// Rows streamed into an .npy read back whole, the data 64-byte aligned; a writer dropped unfinished leaves nothing.
    func testRowWriterStreamsAnArrayAndLeavesNothingWhenDropped() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let values = (0..<30).map { Float($0) * 0.5 }
        let writer = try NPYRowWriter(path: dir + "/a.npy", rowShape: [2, 3])
        try values.withUnsafeBufferPointer { v in
            try writer.append(v.baseAddress!, rows: 2)
            try writer.append(v.baseAddress! + 12, rows: 3)
        }
        try writer.finish()
        let a = try NPY.read(dir + "/a.npy")
        XCTAssertEqual(a.shape, [5, 2, 3])
        XCTAssertEqual(a.floats(), values)
        // Read straight into floats: the same; other dtypes are converted; a truncated file is refused.
        let direct = try NPY.readFloats(dir + "/a.npy")
        XCTAssertEqual(direct.shape, [5, 2, 3])
        XCTAssertEqual(direct.values, values)
        try writeAtomically(NPY.encode(values.map(Double.init), shape: [30]), to: dir + "/d.npy")
        XCTAssertEqual(try NPY.readFloats(dir + "/d.npy").values, values)
        let whole = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.npy"))
        try whole.dropLast(4).write(to: URL(fileURLWithPath: dir + "/t.npy"))
        XCTAssertThrowsError(try NPY.readFloats(dir + "/t.npy")) { XCTAssertTrue("\($0)".contains("payload has 116 bytes"), "\($0)") }
        for name in ["d.npy", "t.npy"] { try FileManager.default.removeItem(atPath: dir + "/" + name) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.npy"))
        XCTAssertEqual((bytes.count - values.count * 4) % 64, 0)
        do {
            let dropped = try NPYRowWriter(path: dir + "/b.npy", rowShape: [4])
            try [Float](repeating: 1, count: 8).withUnsafeBufferPointer { try dropped.append($0.baseAddress!, rows: 2) }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.npy"])
        // float16 rows: each value rounded to a half.
        let halves = try NPYRowWriter(path: dir + "/h.npy", rowShape: [3], dtype: .float16)
        try values.withUnsafeBufferPointer { try halves.append($0.baseAddress! + 3, rows: 4) }
        try halves.finish()
        let h = try NPY.read(dir + "/h.npy")
        XCTAssertEqual(h.dtype, .float16); XCTAssertEqual(h.shape, [4, 3])
        XCTAssertEqual(h.floats(), values[3..<15].map { Float(Float16($0)) })
        try FileManager.default.removeItem(atPath: dir + "/h.npy")
        // No rows at all is an empty array of the right shape.
        let empty = try NPYRowWriter(path: dir + "/c.npy", rowShape: [3, 2, 2])
        try empty.finish()
        XCTAssertEqual(try NPY.read(dir + "/c.npy").shape, [0, 3, 2, 2])
    }
}

/// float16 feature files (`<f2`, as numpy and PyTorch users save CLIP embeddings).
final class HalfPrecisionNPYTests: XCTestCase {
    /// Rounding to float16 is IEEE 754's (nearest, ties to even; numpy's astype(float16)): the bit patterns of values
    /// at the format's edges, and every half read back as the float it denotes.
    func testHalvesRoundAndReadAsIEEESays() throws {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3C00), (-2.5, 0xC100), (1.0 / 3, 0x3555), (0.1, 0x2E66),
            (65504, 0x7BFF), (65519, 0x7BFF), (65520, 0x7C00), (-1e6, 0xFC00), (.infinity, 0x7C00),
            (6.103515625e-05, 0x0400),                       // the smallest normal, 2^-14
            (5.9604644775390625e-08, 0x0001),                // the smallest subnormal, 2^-24
            (2.98023223876953125e-08, 0x0000),               // 2^-25: a tie, to even (zero)
            (8.940696716308594e-08, 0x0002),                 // 3 * 2^-25: a tie, to even (2)
            (1.00048828125, 0x3C00), (1.00146484375, 0x3C02), // 1 + 2^-11 and 1 + 3 * 2^-11: ties, to even
        ]
        let data = NPY.encode(float16: cases.map(\.0), shape: [cases.count])
        let array = try NPY.decode(data)
        XCTAssertEqual(array.dtype, .float16)
        let bits = array.data.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
        for (i, c) in cases.enumerated() { XCTAssertEqual(bits[i], c.1, "\(c.0) -> 0x\(String(bits[i], radix: 16))") }
        let back = array.floats()
        XCTAssertEqual(back[3], -2.5); XCTAssertEqual(back[6], 65504); XCTAssertEqual(back[8], .infinity)
        XCTAssertEqual(back[11], 6.103515625e-05); XCTAssertEqual(back[12], 5.9604644775390625e-08)
        XCTAssertEqual(back[4], 0.333251953125)   // 0x3555 exactly
        XCTAssertTrue(try NPY.decode(NPY.encode(float16: [.nan], shape: [1])).floats()[0].isNaN)
    }

    /// A float16 matrix read through readFloats in blocks of any size gives the halves' floats; a truncated file
    /// is refused as for float32.
    func testReadFloatsConvertsHalvesBlockByBlock() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SeededRandom(seed: 5)
        let values = (0..<(37 * 16)).map { _ in Float(rng.normal()) * 3 }
        try NPY.write(float16: values, shape: [37, 16], to: dir + "/h.npy")
        let expected = values.map { Float(Float16($0)) }
        XCTAssertEqual(try NPY.read(dir + "/h.npy").floats(), expected)
        for block in [1, 7, 16, 1000, 1 << 22] {
            let (shape, got) = try NPY.readFloats(dir + "/h.npy", halfBlock: block)
            XCTAssertEqual(shape, [37, 16]); XCTAssertEqual(got, expected, "block \(block)")
        }
        let whole = try Data(contentsOf: URL(fileURLWithPath: dir + "/h.npy"))
        XCTAssertEqual(whole.count - 128, values.count * 2)
        try whole.dropLast(2).write(to: URL(fileURLWithPath: dir + "/t.npy"))
        XCTAssertThrowsError(try NPY.readFloats(dir + "/t.npy", halfBlock: 7)) { XCTAssertTrue("\($0)".contains("payload has"), "\($0)") }
    }
}

/// Captions drawn into thumbnail sheets (issue 12 item 14).
final class CaptionTests: XCTestCase {
    func testGlyphsAreDrawnWhereTheFontSays() {
        var pixels = [UInt8](repeating: 255, count: 20 * 10 * 3)
        BitmapFont.draw("1a", into: &pixels, width: 20, height: 10, x: 1, y: 2)
        for (i, c) in ["1", "a"].enumerated() {
            for gy in 0..<BitmapFont.glyphHeight {
                for gx in 0..<BitmapFont.glyphWidth {
                    let p = ((2 + gy) * 20 + 1 + i * BitmapFont.advance + gx) * 3
                    XCTAssertEqual(pixels[p] == 0, BitmapFont.ink(Character(c), x: gx, y: gy), "\(c) at \(gx),\(gy)")
                }
            }
        }
        func inkCount(_ c: Character) -> Int { (0..<7).map { y in (0..<5).filter { BitmapFont.ink(c, x: $0, y: y) }.count }.reduce(0, +) }
        XCTAssertEqual(pixels.filter { $0 == 0 }.count / 3, inkCount("1") + inkCount("a"), "nothing drawn outside the two glyphs")
        XCTAssertTrue(BitmapFont.ink("A", x: 1, y: 2) == BitmapFont.ink("a", x: 1, y: 2), "capitals are drawn as lowercase")
        XCTAssertTrue((0..<7).contains { y in (0..<5).contains { BitmapFont.ink("é", x: $0, y: y) } }, "unknown characters are drawn (as ?)")
        var edge = [UInt8](repeating: 255, count: 4 * 4 * 3)
        BitmapFont.draw("88", into: &edge, width: 4, height: 4, x: 2, y: -3)   // clipped, no crash
    }

    func testSheetsLeaveABandForCaptionsUnderEachThumbnail() throws {
        let paths = [Fixtures.path("images/png_rgb_120x90.png"), Fixtures.path("images/jpeg_gray_300x199.jpg"), "/nonexistent.png"]
        let plain = ContactSheet.render(paths: paths, thumbnail: 40, columns: 2, gap: 4)
        XCTAssertEqual(plain.width, 2 * 40 + 3 * 4); XCTAssertEqual(plain.height, 2 * 40 + 3 * 4)
        let captioned = ContactSheet.render(paths: paths, thumbnail: 40, columns: 2, gap: 4, captions: [["1. id 7", "dotted"], ["2. id 9", "striped banded"], ["3"]])
        let band = 2 * BitmapFont.lineHeight + 2
        XCTAssertEqual(captioned.height, 2 * (40 + band) + 3 * 4)
        func ink(x: Range<Int>, y: Range<Int>) -> Int {
            y.map { yy in x.filter { xx in captioned.pixels[(yy * captioned.width + xx) * 3] == 0 }.count }.reduce(0, +)
        }
        XCTAssertGreaterThan(ink(x: 4..<44, y: (4 + 40)..<(4 + 40 + band)), 20, "the first caption is drawn under the first thumbnail")
        // The long caption is cut to the thumbnail's width (6 characters of 6 pixels fit in 40): nothing spills into the gap.
        XCTAssertEqual(ink(x: 88..<92, y: (4 + 40)..<(4 + 40 + band)), 0)
    }
}
