import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

final class TokenizerTests: XCTestCase {
    static let tokenizer: CLIPTokenizer = try! CLIPTokenizer.inDirectory(Fixtures.path("tiny-clip"))!

    /// ENGINE.md's reference vectors (OpenAI's SimpleTokenizer).
    func testReferenceVectors() {
        let cases: [(String, [Int])] = [
            ("hello world", [49406, 3306, 1002, 49407]),
            ("a photo of a dog.", [49406, 320, 1125, 539, 320, 1929, 269, 49407]),
            ("X X X X cat.", [49406, 343, 343, 343, 343, 2368, 269, 49407]),
            ("You should've done this", [49406, 592, 1535, 1200, 1700, 589, 49407]),
            ("hello!!! 2024 café", [49406, 3306, 995, 273, 271, 273, 275, 15304, 49407]),
            ("A  Photo\tof   THE Eiffel-Tower", [49406, 320, 1125, 539, 518, 29720, 268, 4730, 49407]),
            ("&amp; rock &amp;amp; roll", [49406, 261, 2172, 261, 3341, 49407]),
        ]
        for (text, ids) in cases { XCTAssertEqual(Self.tokenizer.encode(text), ids, text) }
    }

    /// Every class name of the CoOp datasets and the hard strings, against open_clip's tokenizer.
    func testMatchesOpenCLIPOnFixtureStrings() throws {
        let entries = try XCTUnwrap(try Fixtures.json("tokens.json") as? [[String: Any]])
        XCTAssertGreaterThan(entries.count, 500)
        var mismatches: [String] = []
        for e in entries {
            let text = e["text"] as! String, ids = (e["ids"] as! [NSNumber]).map(\.intValue)
            let got = Self.tokenizer.encode(text)
            if got != ids { mismatches.append("\(text.debugDescription): expected \(ids), got \(got)") }
        }
        XCTAssertTrue(mismatches.isEmpty, "\(mismatches.count) of \(entries.count) differ:\n" + mismatches.prefix(15).joined(separator: "\n"))
    }

    func testTruncationKeepsEOTLast() {
        let ids = Self.tokenizer.encode(String(repeating: "word ", count: 200))
        XCTAssertEqual(ids.count, 77)
        XCTAssertEqual(ids.first, 49406)
        XCTAssertEqual(ids.last, 49407)
    }

    func testTokenizerJSONFallbackGivesSameIds() throws {
        // Build a tokenizer.json from the fixture's vocab.json/merges.txt and load it alone.
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vocab = try Fixtures.json("tiny-clip/vocab.json")
        let merges = try String(contentsOfFile: Fixtures.path("tiny-clip/merges.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        let json: [String: Any] = ["model": ["type": "BPE", "vocab": vocab, "merges": merges]]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        let t = try XCTUnwrap(try CLIPTokenizer.inDirectory(dir))
        for text in ["a photo of a dog.", "Eiffel-Tower 2024", "naïve café"] {
            XCTAssertEqual(t.encode(text), Self.tokenizer.encode(text))
        }
    }

    func testMalformedMergesIsAnError() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-clip/vocab.json"), toPath: dir + "/vocab.json")
        try "#version: 0.2\ni n\nthree parts here\n".write(toFile: dir + "/merges.txt", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTokenizer.inDirectory(dir)) { error in
            XCTAssertTrue("\(error)".contains("merges.txt"), "\(error)")
        }
    }
}
