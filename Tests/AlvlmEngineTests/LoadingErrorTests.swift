import AlvlmTestSupport
import XCTest
@testable import AlvlmEngine

/// Malformed model folders and safetensors files give typed errors naming the file, never crashes.
final class LoadingErrorTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func header(_ json: String, data: Int = 16, declaredLength: UInt64? = nil) -> Data {
        var out = Data()
        let body = Data(json.utf8)
        withUnsafeBytes(of: (declaredLength ?? UInt64(body.count)).littleEndian) { out.append(contentsOf: $0) }
        out.append(body)
        out.append(Data(count: data))
        return out
    }

    func expectError(_ data: Data, containing text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = dir + "/model.safetensors"
        try data.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("model.safetensors") && message.contains(text), message, file: file, line: line)
        }
    }

    func testMalformedSafetensorsHeaders() throws {
        try expectError(Data(), containing: "empty")
        try expectError(Data([1, 2, 3]), containing: "shorter")
        try expectError(header("{}", declaredLength: 1 << 40), containing: "past the end")
        try expectError(header("{not json"), containing: "JSON")
        try expectError(header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#), containing: "overlap")
        try expectError(header(#"{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#), containing: "past the")
        try expectError(header(#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#), containing: "unsupported dtype")
        try expectError(header(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#), containing: "needs 12")
        try expectError(header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#), containing: "data_offsets")
    }

    func testRoundTripAndDtypes() throws {
        let path = dir + "/t.safetensors"
        try SafetensorsFile.write([("x", [2, 3], [1, 2, 3, 4, 5, -6.5]), ("s", [], [4.25])], to: path)
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(try f.floats("x"), [1, 2, 3, 4, 5, -6.5])
        XCTAssertEqual(try f.floats("s"), [4.25])
        XCTAssertThrowsError(try f.floats("missing"))
    }

    /// Random mutations of a real header: a file whose tensors read back with their declared sizes, or an engine
    /// error naming the file; never a crash.
    func testFuzzedHeadersNeverCrash() throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny-clip-f16-gelu/model.safetensors"))))
        let headerLength = Int(original[0]) | Int(original[1]) << 8 | Int(original[2]) << 16
        var rng = SeededRandom(seed: 5)
        let path = dir + "/fuzz.safetensors"
        for _ in 0..<150 {
            var bytes = original
            for _ in 0..<(1 + Int(rng.next() % 6)) {
                let at = Int(rng.next() % UInt64(headerLength + 8))
                bytes[at] = [UInt8(ascii: "9"), UInt8(ascii: "]"), UInt8(ascii: ","), 0xFF, UInt8(truncatingIfNeeded: rng.next())][Int(rng.next() % 5)]
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            func check(_ error: Error) {
                guard let e = error as? EngineError else { return XCTFail("\(error) is not an engine error") }
                XCTAssertEqual(e.path, path, e.message)
                XCTAssertFalse(e.message.isEmpty)
            }
            do {
                let f = try SafetensorsFile(path: path)
                for name in f.entries.keys.sorted().prefix(5) {
                    do {
                        let values = try f.floats(name)
                        XCTAssertEqual(values.count, f.entries[name]?.count, name)
                    } catch {
                        check(error)
                    }
                }
            } catch {
                check(error)
            }
        }
    }

    func copyFolder(_ name: String) throws -> String {
        let target = dir + "/" + name
        try FileManager.default.copyItem(atPath: Fixtures.path(name), toPath: target)
        return target
    }

    func testModelFolderErrors() throws {
        XCTAssertThrowsError(try CLIPModel.load(directory: dir + "/nope")) { XCTAssertTrue("\($0)".contains("not found")) }
        XCTAssertThrowsError(try CLIPModel.load(directory: dir)) { XCTAssertTrue("\($0)".contains("no model.safetensors")) }

        let noConfig = try copyFolder("tiny-clip")
        try FileManager.default.removeItem(atPath: noConfig + "/config.json")
        XCTAssertThrowsError(try CLIPModel.load(directory: noConfig)) { XCTAssertTrue("\($0)".contains("config.json")) }
    }

    func testWrongShapeAgainstConfigNamesTheTensor() throws {
        let folder = try copyFolder("tiny-clip")
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/config.json"))) as? [String: Any])
        var text = config["text_config"] as! [String: Any]
        text["intermediate_size"] = 72
        config["text_config"] = text
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/config.json"))
        XCTAssertThrowsError(try CLIPModel.load(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains("fc1.weight") && "\(error)".contains("shape"), "\(error)")
        }
    }
}
