import XCTest
import AlvlmEngine

/// The `alvlm` command line as users and scripts call it.
final class CommandLineTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    func alvlm(_ arguments: [String], stdin: String? = nil) throws -> Result {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("alvlm")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            XCTFail("alvlm binary not found beside the test bundle at \(binary.path)")
            return Result(status: -1, stdout: "", stderr: "")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out; process.standardError = err; process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    let model = Fixtures.path("tiny-clip")

    func testTokenizeArgumentsAndStandardInput() throws {
        let r = try alvlm(["tokenize", "--model", model, "hello world", "a photo of a dog."])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "49406 3306 1002 49407\n49406 320 1125 539 320 1929 269 49407\n")
        let s = try alvlm(["tokenize", "--model", model], stdin: "hello world\n\nX X X X cat.\n")
        XCTAssertEqual(s.stdout, "49406 3306 1002 49407\n49406 49407\n49406 343 343 343 343 2368 269 49407\n")
    }

    func testEncodeImagesSkipsBadFilesInDirectoriesButNotExplicitOnes() throws {
        let images = dir + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        for name in ["png_rgb_120x90.png", "jpeg_gray_300x199.jpg"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("images/" + name), toPath: images + "/" + name)
        }
        try Data("junk".utf8).write(to: URL(fileURLWithPath: images + "/broken.jpg"))
        let out = dir + "/f.npy"
        let r = try alvlm(["encode-images", "--model", model, "--out", out, images])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("broken.jpg") && r.stderr.contains("skipped 1"), r.stderr)
        let features = try NPY.read(out)
        XCTAssertEqual(features.shape, [2, 16])
        // Rows in sorted-path order: jpeg_gray..., png_rgb...
        let m = try CLIPModel.load(directory: model)
        let pre = Preprocessor(config: m.config)
        let expected = m.encodeImages(pre.pixels(try ImageDecoder.decode(path: images + "/jpeg_gray_300x199.jpg")), count: 1)
        XCTAssertLessThan(maxAbsDifference(Array(features.floats()[0..<16]), expected), 1e-5)

        let bad = dir + "/bad.npy"
        let e = try alvlm(["encode-images", "--model", model, "--out", bad, images + "/png_rgb_120x90.png", images + "/broken.jpg"])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.stderr.contains("broken.jpg") && e.stderr.contains("not a JPEG or PNG"), e.stderr)
        XCTAssertEqual(e.stderr.split(separator: "\n").count, 1, e.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bad), "no partial output on error")
    }

    func testPreprocessWritesNumpyArray() throws {
        let out = dir + "/p.npy"
        let r = try alvlm(["preprocess", "--out", out, Fixtures.path("images/png_palette_120x160.png")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try NPY.read(out)
        XCTAssertEqual(a.shape, [1, 3, 224, 224])
        XCTAssertEqual(a.dtype, .float32)
    }

    func testEncodeTextsAndErrors() throws {
        let out = dir + "/t.npy"
        let r = try alvlm(["encode-texts", "--model", model, "--out", out, "a photo of a dog.", "hi"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try NPY.read(out).shape, [2, 16])

        let missing = try alvlm(["encode-texts", "--model", dir + "/nowhere", "--out", out, "x"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasPrefix("alvlm: error: ") && missing.stderr.contains("nowhere"), missing.stderr)
    }

    func testBenchEncodePrintsJSON() throws {
        let r = try alvlm(["bench", "encode", "--random", "tiny-test", "--images", "2", "--batch", "2", "--repeats", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThan((json["images_per_second"] as? NSNumber)?.doubleValue ?? 0, 0)
        XCTAssertNotNil(json["sgemm_peak_gflops"])
    }
}
