import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

/// Inputs that would fill memory are refused before they are read, with the limit named.
final class InputLimitTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testOversizedTextInputsAreRefusedBeforeReading() throws {
        let path = dir + "/big.alnb"
        try Data(repeating: UInt8(ascii: "x"), count: 2_000).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try readInputFile(path, what: "notebook", limit: 1_000)) { error in
            let e = error as? EngineError
            XCTAssertEqual(e?.path, path)
            XCTAssertTrue(e?.message.contains("over the 0 MB limit") == true && e?.message.contains("ALVLM_MAX_TEXT_MB") == true, "\(error)")
        }
        XCTAssertEqual(try readInputFile(path, what: "notebook", limit: 2_000).count, 2_000)
        XCTAssertThrowsError(try readInputFile(dir, what: "notebook")) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        // A CSV pool list with a million-character field: that line is reported, not swallowed.
        let csv = dir + "/pool.csv"
        try ("path,label\n" + String(repeating: "a", count: 1_000_000) + ".png,cat\n").write(toFile: csv, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DatasetLoader.csv(csv)) { error in
            XCTAssertTrue("\(error)".contains("line 2 is 1000008 bytes long"), "\(error)")
        }
    }
}
