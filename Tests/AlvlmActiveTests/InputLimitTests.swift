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

/// Files whose headers claim more than they hold are refused from the header, before allocating.
final class ResourceBombTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A PNG chunk with its CRC (the standard CRC-32, bitwise).
    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in typed {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        crc ^= 0xFFFF_FFFF
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        return be(UInt32(body.count)) + typed + be(crc)
    }

    func testHeadersClaimingTooMuchAreRefused() throws {
        // A 30000 x 30000 PNG: 900 million pixels claimed by a 60-byte file.
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", be(30_000) + be(30_000) + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00]) + chunk("IEND", [])
        XCTAssertThrowsError(try ImageDecoder.decode(Data(png))) { error in
            XCTAssertTrue("\(error)".contains("30000x30000 image is over the limit of 178956970 pixels"), "\(error)")
        }
        // The limit is a setting: a real 320x240 JPEG refused under a lower one, decoded under the default.
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/jpeg_baseline_320x240.jpg")))
        XCTAssertThrowsError(try ImageDecoder.decode(jpeg, maxPixels: 10_000)) { XCTAssertTrue("\($0)".contains("ALVLM_MAX_IMAGE_PIXELS"), "\($0)") }
        XCTAssertEqual(try ImageDecoder.decode(jpeg).width, 320)
        // An .npy claiming a billion floats with 16 bytes of data.
        var npy = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        npy.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        npy.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: 16))
        try npy.write(to: URL(fileURLWithPath: dir + "/bomb.npy"))
        XCTAssertThrowsError(try NPY.read(dir + "/bomb.npy")) { XCTAssertTrue("\($0)".contains("payload has 16 bytes"), "\($0)") }
        XCTAssertThrowsError(try NPY.readFloats(dir + "/bomb.npy")) { XCTAssertTrue("\($0)".contains("payload has 16 bytes"), "\($0)") }
        // A safetensors header claiming a terabyte tensor.
        let json = #"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}"#
        var st = Data()
        var length = UInt64(json.utf8.count).littleEndian
        st.append(Data(bytes: &length, count: 8)); st.append(Data(json.utf8)); st.append(Data(repeating: 0, count: 16))
        try st.write(to: URL(fileURLWithPath: dir + "/bomb.safetensors"))
        XCTAssertThrowsError(try SafetensorsFile(path: dir + "/bomb.safetensors")) { XCTAssertEqual(($0 as? EngineError)?.kind, .format, "\($0)") }
    }
}
