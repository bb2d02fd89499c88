import AlvlmTestSupport
import XCTest
import AlvlmEngine
import AlvlmWorld

/// The `alvlm` command line as users and scripts call it.
final class CommandLineTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// The binary with this test's own cache and history (what a test passes goes on top): no test sees another's
    /// files or the user's.
    func alvlm(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let own = ["ALVLM_CACHE": dir + "/cache", "ALVLM_HISTORY": dir + "/history"].merging(environment) { _, given in given }
        let r = try runAlvlm(arguments, stdin: stdin, environment: own)
        return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
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
        // --float16: the same embeddings, each rounded to a half, in a `<f2` file half the payload's size; streamed a
        // batch (here one image) at a time, the rows in order.
        let half = dir + "/h.npy"
        let h = try alvlm(["encode-images", "--model", model, "--float16", "--batch", "1", "--out", half, images])
        XCTAssertEqual(h.status, 0, h.stderr)
        let halves = try NPY.read(half)
        XCTAssertEqual(halves.dtype, .float16); XCTAssertEqual(halves.shape, [2, 16]); XCTAssertEqual(halves.data.count, 2 * 16 * 2)
        XCTAssertEqual(halves.floats(), features.floats().map { Float(Float16($0)) })

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

        // A folder: every image decoded (on every core) and streamed in sorted-path order, a broken one skipped.
        let images = dir + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        let names = ["jpeg_baseline_320x240.jpg", "jpeg_gray_300x199.jpg", "png_rgb_120x90.png"]
        for name in names { try FileManager.default.copyItem(atPath: Fixtures.path("images/" + name), toPath: images + "/" + name) }
        try Data("junk".utf8).write(to: URL(fileURLWithPath: images + "/broken.jpg"))
        let folder = dir + "/folder.npy"
        let f = try alvlm(["preprocess", "--out", folder, images])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(f.stderr.contains("broken.jpg") && f.stderr.contains("skipped 1"), f.stderr)
        let rows = try NPY.read(folder), block = 3 * 224 * 224
        XCTAssertEqual(rows.shape, [3, 3, 224, 224])
        for (i, name) in names.enumerated() {
            XCTAssertEqual(Array(rows.floats()[(i * block)..<((i + 1) * block)]), Preprocessor().pixels(try ImageDecoder.decode(path: images + "/" + name)), name)
        }
        // An explicit broken file fails the run: the earlier output stays as it was, no temporary file is left.
        let before = try Data(contentsOf: URL(fileURLWithPath: folder))
        let e = try alvlm(["preprocess", "--out", folder, images + "/png_rgb_120x90.png", images + "/broken.jpg"])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.stderr.contains("broken.jpg"), e.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder)), before)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.contains(".tmp-") })

        let b = try alvlm(["bench", "preprocess", "--repeats", "1", images])
        XCTAssertEqual(b.status, 0, b.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["images"] as? Int, 3)
        XCTAssertGreaterThan(json["images_per_second"] as? Double ?? 0, 0)
    }

    /// A folder of several blocks (32 images each on one core) with unreadable files in different blocks: every
    /// decodable image lands in its row in sorted order, whatever block it was decoded in and written from.
    func testPreprocessStreamsManyBlocksInOrder() throws {
        let images = dir + "/many"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        let sources = ["jpeg_baseline_320x240.jpg", "jpeg_gray_300x199.jpg", "png_rgb_120x90.png", "png_palette_120x160.png"]
        var expected: [[Float]] = []
        for i in 0..<100 {
            let name = String(format: "%03d", i)
            if [5, 31, 32, 70].contains(i) {   // the last of block 0, the first of block 1, one in block 2
                try Data("junk".utf8).write(to: URL(fileURLWithPath: images + "/\(name).jpg"))
                continue
            }
            let source = Fixtures.path("images/" + sources[i % sources.count])
            let path = images + "/\(name)." + (source as NSString).pathExtension
            try FileManager.default.copyItem(atPath: source, toPath: path)
            if i < sources.count { expected.append(Preprocessor().pixels(try ImageDecoder.decode(path: path))) }
        }
        let out = dir + "/many.npy"
        let r = try alvlm(["preprocess", "--out", out, images], environment: ["ALVLM_CORES": "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("skipped 4"), r.stderr)
        let rows = try NPY.read(out), block = 3 * 224 * 224, floats = rows.floats()
        XCTAssertEqual(rows.shape, [96, 3, 224, 224])
        var row = 0
        for i in 0..<100 where ![5, 31, 32, 70].contains(i) {
            XCTAssertTrue(Array(floats[(row * block)..<((row + 1) * block)]) == expected[i % sources.count], "row \(row) (file \(i))")
            row += 1
        }
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

    func testCoOpAndZeroShotCommands() throws {
        let features = Fixtures.path("coop/features.npy"), labels = Fixtures.path("coop/labels.txt")
        let names = Fixtures.path("coop/classnames.txt")
        let ctx = dir + "/ctx.npy", text = dir + "/text.npy"
        let r = try alvlm(["coop", "--model", model, "--features", features, "--labels", labels, "--classnames", names,
                           "--epochs", "3", "--lr", "0.0001", "--no-shuffle", "--batch", "12", "--out", ctx, "--text-out", text])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 3)
        XCTAssertTrue(r.stdout.hasPrefix("epoch 1 loss 2.4866"), r.stdout)
        XCTAssertEqual(try NPY.read(ctx).shape, [4, 16])
        XCTAssertEqual(try NPY.read(text).shape, [5, 16])

        let z = try alvlm(["zeroshot", "--model", model, "--features", features, "--classnames", names])
        XCTAssertEqual(z.status, 0, z.stderr)
        let predicted = z.stdout.split(separator: "\n").map { Int($0.split(separator: "\t")[0])! }
        let expected = try String(contentsOfFile: Fixtures.path("coop/zeroshot/predictions.txt"), encoding: .utf8).split(separator: "\n").map { Int($0)! }
        XCTAssertEqual(predicted, expected)
        let a = try alvlm(["zeroshot", "--model", model, "--features", features, "--classnames", names, "--labels", labels])
        XCTAssertTrue(a.stdout.hasPrefix("accuracy 0.2500"), a.stdout)
    }

    func testCoOpBadInputFailsBeforeWork() throws {
        let features = Fixtures.path("coop/features.npy"), names = Fixtures.path("coop/classnames.txt")
        func write(_ name: String, _ text: String) throws -> String {
            let p = dir + "/" + name
            try text.write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        let out = dir + "/ctx.npy"
        let cases: [([String], String)] = [
            (["--labels", try write("l1.txt", "0\n7\n"), "--classnames", names], "label 7"),
            (["--labels", try write("l2.txt", "0\n1\n"), "--classnames", names], "2 labels for 12"),
            (["--labels", try write("l3.txt", "zero\n"), "--classnames", names], "not an integer"),
            (["--labels", Fixtures.path("coop/labels.txt"), "--classnames", try write("empty.txt", "")], "no class names"),
            (["--labels", Fixtures.path("coop/labels.txt"), "--classnames", names, "--epochs", "0"], "epochs"),
            (["--labels", Fixtures.path("coop/labels.txt"), "--classnames", names, "--batch", "0"], "batch"),
        ]
        for (extra, message) in cases {
            let r = try alvlm(["coop", "--model", model, "--features", features, "--out", out] + extra)
            XCTAssertEqual(r.status, 1, message)
            XCTAssertTrue(r.stderr.contains(message), "expected \(message): \(r.stderr)")
            XCTAssertTrue(r.stdout.isEmpty, "no training output before the error")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        // NaN features and a width that does not match the model.
        var bad = try NPY.read(features).floats()
        bad[5] = .nan
        try NPY.write(bad, shape: [12, 16], to: dir + "/nan.npy")
        try NPY.write([Float](repeating: 0, count: 24), shape: [2, 12], to: dir + "/wide.npy")
        for (file, message) in [("nan.npy", "NaN"), ("wide.npy", "(N, 16)")] {
            let r = try alvlm(["coop", "--model", model, "--features", dir + "/" + file, "--labels", Fixtures.path("coop/labels.txt"),
                               "--classnames", names, "--out", out])
            XCTAssertEqual(r.status, 1)
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
        }
    }

    func testSelectCommand() throws {
        var rng = SeededRandom(seed: 3)
        try NPY.write(rng.normals(60 * 8, std: 1), shape: [60, 8], to: dir + "/f.npy")
        try NPY.write(rng.normals(3 * 8, std: 1), shape: [3, 8], to: dir + "/t.npy")
        try "0\n5\n9\n".write(toFile: dir + "/ids.txt", atomically: true, encoding: .utf8)
        try "0\n1\n2\n".write(toFile: dir + "/labels.txt", atomically: true, encoding: .utf8)
        let base = ["select", "--features", dir + "/f.npy", "--text", dir + "/t.npy"]
        let r = try alvlm(base + ["--strategy", "cec", "--budget", "4", "--labeled", dir + "/ids.txt", "--k", "5", "--scores-out", dir + "/s.npy"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let picked = r.stdout.split(separator: "\n").map { Int($0)! }
        XCTAssertEqual(picked.count, 4)
        XCTAssertTrue(picked.allSatisfy { ![0, 5, 9].contains($0) })
        let scores = try NPY.read(dir + "/s.npy")
        XCTAssertEqual(scores.shape, [60, 3])
        XCTAssertTrue(scores.floats()[0].isNaN && scores.floats()[3].isFinite)
        XCTAssertEqual(try alvlm(base + ["--strategy", "cec", "--budget", "4", "--labeled", dir + "/ids.txt", "--k", "5"]).stdout, r.stdout, "seeded")

        // A float16 features file selects as its floats do.
        let f = try NPY.read(dir + "/f.npy").floats()
        try writeAtomically(NPY.encode(float16: f, shape: [60, 8]), to: dir + "/f16.npy")
        try NPY.write(f.map { Float(Float16($0)) }, shape: [60, 8], to: dir + "/f16as32.npy")
        let cec = ["--text", dir + "/t.npy", "--strategy", "cec", "--budget", "4", "--labeled", dir + "/ids.txt", "--k", "5"]
        let h = try alvlm(["select", "--features", dir + "/f16.npy"] + cec)
        XCTAssertEqual(h.status, 0, h.stderr)
        XCTAssertEqual(h.stdout, try alvlm(["select", "--features", dir + "/f16as32.npy"] + cec).stdout)
        // Held as float16 or mapped, the half file selects the same ids; a float32 file held as float16 selects as
        // its rounding does, and mapped as itself.
        for storage in ["float16", "mapped"] {
            let held = try alvlm(["select", "--features", dir + "/f16.npy", "--storage", storage] + cec)
            XCTAssertEqual(held.status, 0, held.stderr)
            XCTAssertEqual(held.stdout, h.stdout, storage)
        }
        XCTAssertEqual(try alvlm(["select", "--features", dir + "/f.npy", "--storage", "float16"] + cec).stdout, h.stdout)
        XCTAssertEqual(try alvlm(["select", "--features", dir + "/f.npy", "--storage", "mapped"] + cec).stdout,
                       try alvlm(["select", "--features", dir + "/f.npy"] + cec).stdout)
        let wrong = try alvlm(["select", "--features", dir + "/f.npy", "--storage", "float8"] + cec)
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("float8"), wrong.stderr)
        let randomMapped = try alvlm(["bench", "select", "--strategy", "cec", "--pool", "300", "--dim", "16", "--classes", "5", "--budget", "10",
                                      "--storage", "mapped"])
        XCTAssertEqual(randomMapped.status, 1)
        XCTAssertTrue(randomMapped.stderr.contains("--features"), randomMapped.stderr)
        // bench select --float16 reports what the rounding changes.
        let b = try alvlm(["bench", "select", "--strategy", "cec", "--pool", "300", "--dim", "16", "--classes", "5", "--budget", "10", "--float16"])
        XCTAssertEqual(b.status, 0, b.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
        let half = try XCTUnwrap(json["float16"] as? [String: Any])
        XCTAssertTrue((0...1).contains(half["selected_overlap"] as? Double ?? -1), "\(half)")
        XCTAssertNotNil((half["score_difference"] as? [String: Any])?["max_abs"] as? Double, "\(half)")
        XCTAssertEqual((json["features"] as? [String: Any])?["storage"] as? String, "float16", "\(json)")
        XCTAssertEqual((json["features"] as? [String: Any])?["held_mb"] as? Double, 300 * 16 * 2 / 1e6)

        let p = try alvlm(base + ["--strategy", "entropy", "--pcb", "--budget", "3", "--labeled", dir + "/ids.txt", "--labels", dir + "/labels.txt"])
        XCTAssertEqual(p.status, 0, p.stderr)
        // Bad input: a clear error naming the argument.
        try "1\n1\n".write(toFile: dir + "/dup.txt", atomically: true, encoding: .utf8)
        try NPY.write(rng.normals(3 * 5, std: 1), shape: [3, 5], to: dir + "/t5.npy")
        var nan = rng.normals(60 * 8, std: 1); nan[17] = .nan
        try NPY.write(nan, shape: [60, 8], to: dir + "/nan.npy")
        let bad: [([String], String)] = [
            (base + ["--strategy", "cec", "--budget", "61"], "--budget 61"),
            (base + ["--strategy", "cec", "--budget", "0"], "--budget 0"),
            (base + ["--strategy", "cec", "--budget", "2", "--k", "60"], "--k 60"),
            (base + ["--strategy", "random", "--budget", "2", "--labeled", dir + "/dup.txt"], "listed twice"),
            (["select", "--features", dir + "/f.npy", "--text", dir + "/t5.npy", "--strategy", "cec", "--budget", "2"], "--text"),
            (["select", "--features", dir + "/nan.npy", "--text", dir + "/t.npy", "--strategy", "cec", "--budget", "2"], "row 2"),
            (base + ["--strategy", "cecc", "--budget", "2"], "unknown strategy"),
            (base + ["--strategy", "cec", "--budget", "2", "--kernel", "gauss"], "kernel"),
        ]
        for (args, message) in bad {
            let e = try alvlm(args)
            XCTAssertEqual(e.status, 1, message)
            XCTAssertTrue(e.stderr.contains(message), "expected \(message): \(e.stderr)")
            XCTAssertTrue(e.stdout.isEmpty)
        }
    }

    /// The texture world and the tiny CLIP from the language; the training pool is evaluated only with the
    /// simulated oracle named explicitly.
    func testTextureWorldInTheLanguage() throws {
        let script = """
            pool = textures(train: 40, val: 0, test_per_class: 1)
            model = clip("tiny")
            z = model.zeroshot(pool.train, oracle: "simulated")
            print(len(z.actual) + " " + (z.skew >= 1) + " " + pool.size)
            model.zeroshot(pool.train)
            """
        let r = try alvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(r.status, 1, "the last line must fail")
        XCTAssertEqual(r.stdout, "20 true 60\n", r.stderr)
        XCTAssertTrue(r.stderr.contains("pass oracle: \"simulated\""), r.stderr)
    }

    /// The language without a terminal: scripts on standard input, files and -c, with located errors.
    func testScriptsAndTranscript() throws {
        let transcript = try alvlm([], stdin: "x = 2 + 3\nx * 2\ns = cec(k: 5)\ns\nfn twice(v) { return v * 2 }\nfor i in 1..3 {\n  print(twice(i))\n}\n")
        XCTAssertEqual(transcript.status, 0, transcript.stderr)
        XCTAssertEqual(transcript.stdout, "10\nstrategy cec (N 10, k 5, rho 1, beta 1, prior union, kernel rbf, calibration on, clustering weighted, neighbours auto (index at recall 0.99), seeding auto, assignment auto) - Safaei & Patel, WACV 2025\n2\n4\n")
        let failing = try alvlm(["-c", "a = 1\nb = cec(kk: 3)\nprint(\"not reached\")"])
        XCTAssertEqual(failing.status, 1)
        XCTAssertEqual(failing.stderr, """
            error: unknown argument `kk` for `cec`, did you mean `k`?
             --> -c, line 2, column 9
              |
            2 | b = cec(kk: 3)
              |         ^^

            """)
        XCTAssertEqual(failing.stdout, "")
        try "print(len([1, 2, 3]))\nhelp(\"coop\")\n".write(toFile: dir + "/s.al", atomically: true, encoding: .utf8)
        let file = try alvlm([dir + "/s.al"])
        XCTAssertEqual(file.status, 0, file.stderr)
        XCTAssertTrue(file.stdout.hasPrefix("3\ncoop(epochs: 200"), file.stdout)
        // Arguments after -- reach the script as `args` (issue 12 item 21).
        try "print(len(args))\nprint(args)\n".write(toFile: dir + "/args.al", atomically: true, encoding: .utf8)
        let withArgs = try alvlm([dir + "/args.al", "--", "a", "b c", "--seed"])
        XCTAssertEqual(withArgs.stdout, "3\n[\"a\", \"b c\", \"--seed\"]\n", withArgs.stderr)
        XCTAssertEqual(try alvlm(["-c", "print(args)", "--", "x"]).stdout, "[\"x\"]\n")
        XCTAssertEqual(try alvlm(["-c", "print(len(args))"]).stdout, "0\n")
        let missing = try alvlm([dir + "/nope.al"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nope.al"))
        // Binary garbage is an error message, not a crash.
        let garbage = try alvlm(["-c", "\u{1}\u{2}(((]]]\"x"])
        XCTAssertEqual(garbage.status, 1)
        XCTAssertTrue(garbage.stderr.hasPrefix("error: "), garbage.stderr)
    }

    /// Plots reach gnuplot and become files (the programs sent are checked in-process by PlotRoutingTests).
    func testPlotsThroughGnuplot() throws {
        let png = dir + "/curve.png"
        let r = try alvlm(["-c", "plot([0.3, 0.5, 0.6], to: \"\(png)\")\nhist([1, 2, 2, 3], bins: 3, range: [0, 4])"])
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gnuplot") {
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertGreaterThan((try FileManager.default.attributesOfItem(atPath: png)[.size] as? NSNumber)?.intValue ?? 0, 1000)
            XCTAssertTrue(r.stdout.contains("histogram"), r.stdout)
        } else {
            XCTAssertEqual(r.status, 1)
            XCTAssertTrue(r.stderr.contains("gnuplot is not installed"))
        }
        // Huge and non-finite values, and titles that would run a shell inside double quotes, are harmless.
        let odd = try alvlm(["-c", "hist([1e300, -1e300, 5], bins: 4)\nhist([1e10], range: [0, 1])"], environment: ["GNUPLOT": "/nonexistent"])
        XCTAssertEqual(odd.status, 0, odd.stderr)
        let bad = try alvlm(["-c", "plot([1, 2], to: \"\(dir)/x.gif\")"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains(".png or .svg"), bad.stderr)
    }

    /// Without gnuplot (not on PATH), plots are text with a one-line notice; a gnuplot that fails mid-plot is a
    /// clear error and no crash; `alvlm --version` names the gnuplot and the BLAS kernel.
    func testPlotsWithoutGnuplotAndWithAFailingOne() throws {
        let none = try alvlm(["-c", "hist([0.05, 0.05, 0.15, 0.25, 0.25, 0.25], bins: 3, range: [0, 0.3])\nscatter([1, 2], [3, 4], groups: [\"a\", \"b\"])"],
                             environment: ["PATH": dir + "/empty"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertTrue(none.stdout.hasPrefix("histogram\n[       0,      0.1) | " + String(repeating: "#", count: 33) + " 2\n[     0.1,      0.2) | "
                                            + String(repeating: "#", count: 16) + " 1\n[     0.2,      0.3] | " + String(repeating: "#", count: 50) + " 3\n"), none.stdout)
        XCTAssertEqual(none.stdout.components(separatedBy: "(gnuplot is not installed: apt-get install gnuplot-nox for real plots)").count, 3, none.stdout)
        XCTAssertTrue(none.stdout.contains("  a: 1 point, x in [1, 1], y in [3, 3]"), none.stdout)
        let fake = dir + "/gnuplot-fails"
        try "#!/bin/sh\nhead -c 10 >/dev/null\necho 'gnuplot: cannot draw' >&2\nexit 2\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let failing = try alvlm(["-c", "scatter(0..100000, 0..100000)"], environment: ["GNUPLOT": fake])
        XCTAssertEqual(failing.status, 1, failing.stderr)
        XCTAssertTrue(failing.stderr.contains("gnuplot failed (exit status 2): gnuplot: cannot draw"), failing.stderr)
        let version = try alvlm(["--version"])
        XCTAssertEqual(version.status, 0, version.stderr)
        XCTAssertTrue(version.stdout.hasPrefix("alvlm "), version.stdout)
        XCTAssertTrue(version.stdout.contains("\nBLAS: OpenBLAS ") && version.stdout.contains("(kernel "), version.stdout)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gnuplot") {
            XCTAssertTrue(version.stdout.contains("\ngnuplot: gnuplot "), version.stdout)
        }
    }

    /// load_npy reads float32/float64 (N,), (N, 1) and a chosen column of (N, D); save_npy writes float64 that
    /// reads back exactly; wrong shapes, types and columns are errors that say what to do.
    func testLoadAndSaveNpy() throws {
        try NPY.write([1.5, -2, 3, 4, 5, 6], shape: [3, 2], to: dir + "/m.npy")
        try NPY.write([0.25, 0.5], shape: [2, 1], to: dir + "/c.npy")
        try writeAtomically(NPY.encode([1.0, 2.0] as [Double], shape: [1, 1, 2]), to: dir + "/cube.npy")
        let r = try alvlm(["-c", """
            print(load_npy("\(dir)/m.npy", column: 1))
            print(load_npy("\(dir)/c.npy"))
            save_npy([0.1, 1e-300, -3], "\(dir)/out.npy")
            print(load_npy("\(dir)/out.npy"))
            """])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("[-2, 4, 6]\n[0.25, 0.5]\nwrote \(dir)/out.npy: 3 values (float64)\n"), r.stdout)
        let saved = try NPY.read(dir + "/out.npy")
        XCTAssertEqual(saved.dtype, .float64); XCTAssertEqual(saved.shape, [3]); XCTAssertEqual(saved.doubles(), [0.1, 1e-300, -3])
        for (code, message) in [("load_npy(\"\(dir)/m.npy\")", "choose a column with column: 0...1"),
                                ("load_npy(\"\(dir)/m.npy\", column: 2)", "column 2 is outside 0...1"),
                                ("load_npy(\"\(dir)/cube.npy\")", "has shape [1, 1, 2]"),
                                ("load_npy(\"\(dir)/none.npy\")", "none.npy"),
                                ("save_npy([1, \"a\"], \"\(dir)/x.npy\")", "a list of numbers is needed, found string")] {
            let e = try alvlm(["-c", code])
            XCTAssertEqual(e.status, 1, code)
            XCTAssertTrue(e.stderr.contains(message), "\(code): \(e.stderr)")
        }
    }

    /// A 1,000,000-value histogram from load_npy draws in the terminal (what gnuplot receives is its bins:
    /// HistogramTests.testAMillionValuesReachGnuplotAsTheirBins).
    func testAMillionValueHistogramDraws() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gnuplot") else { throw XCTSkip("gnuplot is not installed") }
        let n = 1_000_000
        let values = (0..<n).map { Float(sin(Double($0) * 0.001)) }
        try NPY.write(values, shape: [n], to: dir + "/scores.npy")
        let r = try alvlm(["-c", "hist(load_npy(\"\(dir)/scores.npy\"), bins: 50)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("count"), r.stdout)
    }

    /// Comparison lookups by a name the comparison does not have are errors that list its names (both `_` and `-`
    /// spellings find a strategy); an accuracy target above 1 without `%` is an error suggesting the percentage;
    /// negative seeds show as written (issue 12, items 3 and 9).
    func testComparisonLookupsAndNegativeSeeds() throws {
        let setup = """
            pool = textures(train: 40, val: 0, test_per_class: 1, seed: -1)
            model = clip("tiny")
            cmp = compare([random(), least_confidence()], pool, model, rounds: 2, budget: 2, trainer: linear_probe(), seeds: 1, seed: -5)
            """
        let env = ["ALVLM_CACHE": dir + "/cache"]
        let ok = try alvlm(["-c", setup + "\nprint(cmp.auc(\"least_confidence\") == cmp.auc(\"least-confidence\"))\nprint(len(cmp.mean(\"Random\")))\n"
                                 + "print(cmp.labels_to_reach(0.01, \"random\") > 0)\nexperiment(pool, model, random(), rounds: 1, budget: 2, trainer: linear_probe(), seed: -3)"],
                           environment: env)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.hasPrefix("true\n2\ntrue\nexperiment: random on "), ok.stdout)
        XCTAssertTrue(ok.stdout.contains(", seed -3\n"), ok.stdout)
        let folders = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache/pools")
        XCTAssertTrue(folders.contains { $0.contains("-seed-1-") }, "\(folders)")
        for (code, message) in [("cmp.auc(\"CEC\")", "no strategy \"CEC\" in this comparison, which has \"random\", \"least-confidence\""),
                                ("cmp.mean(\"randon\")", "did you mean \"random\"?"),
                                ("cmp.labels_to_reach(70, \"random\")", "write 70% for a percentage")] {
            let r = try alvlm(["-c", setup + "\n" + code], environment: env)
            XCTAssertEqual(r.status, 1, code)
            XCTAssertTrue(r.stderr.contains(message), "\(code): \(r.stderr)")
        }
    }

    /// `coop(...)` arguments override only themselves on top of the model's recommended trainer, and the experiment
    /// says which settings it runs with (issue 12, item 4).
    func testCoOpArgumentsOverrideOnlyThemselves() throws {
        let setup = "pool = textures(train: 40, val: 0, test_per_class: 1)\n"
        let script = setup + """
            tiny = clip("tiny")
            other = clip("\(model)")
            experiment(pool, tiny, random(), rounds: 1, budget: 2, trainer: coop(epochs: 5))
            experiment(pool, other, random(), rounds: 1, budget: 2, trainer: coop(epochs: 5))
            experiment(pool, tiny, random(), rounds: 1, budget: 2, trainer: coop(n_ctx: 8, csc: false))
            experiment(pool, tiny, random(), rounds: 1, budget: 2)
            """
        let r = try alvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let trainers = r.stdout.split(separator: "\n").filter { $0.hasPrefix("  trainer ") }.map(String.init)
        XCTAssertEqual(trainers, [
            "  trainer coop: 5 epochs, lr 0.02, batch 32, weight decay 0.005, 4 context vectors per class from \"a photo of a\"",
            "  trainer coop: 5 epochs, lr 0.002, batch 32, weight decay 0.005, 4 context vectors from \"a photo of a\"",
            "  trainer coop: 20 epochs, lr 0.02, batch 32, weight decay 0.005, 8 context vectors from random",
            "  trainer coop: 20 epochs, lr 0.02, batch 32, weight decay 0.005, 4 context vectors per class from \"a photo of a\"",
        ], r.stdout)
        let bad = try alvlm(["-c", setup + "coop(n_ctx: 3, init: \"a photo of a\")"], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("n_ctx 3 does not match the 4 words"), bad.stderr)
    }

    /// `vpt(...)` and `maple(...)` as `coop(...)`: given settings on top of the model's recommended ones, `recipe:`
    /// replacing them; bad settings are refused where they are written.
    func testPromptTrainerArgumentsOverrideOnlyThemselves() throws {
        let setup = "pool = textures(train: 40, val: 0, test_per_class: 1)\n"
        let script = setup + """
            tiny = clip("tiny")
            other = clip("\(model)")
            experiment(pool, tiny, random(), rounds: 1, budget: 2, trainer: maple())
            experiment(pool, other, random(), rounds: 1, budget: 2, trainer: maple(epochs: 3))
            experiment(pool, tiny, random(), rounds: 1, budget: 2, trainer: maple(recipe: "coop", batch: 16))
            experiment(pool, tiny, random(), rounds: 1, budget: 2, trainer: vpt(n_ctx: 2, depth: 3, views: 4))
            """
        let r = try alvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let trainers = r.stdout.split(separator: "\n").filter { $0.hasPrefix("  trainer ") }.map(String.init)
        let maple = "  trainer maple: 2 text tokens from \"a photo of a\" coupled to the image tower, layers 0..8, "
        XCTAssertEqual(trainers, [
            maple + "20 epochs, lr 0.005, batch 8, weight decay 0.0005",
            maple + "3 epochs, lr 0.0035, batch 4, weight decay 0.0005",
            maple + "200 epochs, lr 0.002, batch 16, weight decay 0.005",
            "  trainer vpt: 2 visual tokens at layers 0..2, 5 epochs, lr 0.0025, batch 4, weight decay 0.0005, 4 augmented views",
        ], r.stdout)
        for (code, message) in [("vpt(depth: 0)", "depth must be at least 1"), ("maple(lr: 0)", "lr must be positive"),
                                ("vpt(recipe: \"fast\")", "must be one of \"official\"|\"coop\""), ("vpt(views: 0)", "views must be at least 1")] {
            let bad = try alvlm(["-c", code])
            XCTAssertEqual(bad.status, 1, code)
            XCTAssertTrue(bad.stderr.contains(message), "\(code): \(bad.stderr)")
        }
    }

    /// `help`, `help NAME`, `NAME?`, `help obj.member` and `vars` give the same text with -c, a script, piped input
    /// and a notebook; `help` lists builtins by group; `help experiment` lists what it returns (issue 12 item 10).
    func testHelpIsTheSameInEveryMode() throws {
        let code = "s = cec()\nhelp\nhelp cec\ncec?\nhelp s.scores\ns.scores?\nhelp strategies\nhelp experiment\nvars\n"
        let viaC = try alvlm(["-c", code])
        XCTAssertEqual(viaC.status, 0, viaC.stderr)
        for group in ["pools (datasets):", "strategies (what to label next):", "trainers (how the model adapts each round):", "plots and pictures:"] {
            XCTAssertTrue(viaC.stdout.contains(group + "\n"), group)
        }
        XCTAssertFalse(viaC.stdout.contains("<builtin"), viaC.stdout)
        XCTAssertEqual(viaC.stdout.components(separatedBy: "cec(k: 10, N: 10").count - 1, 2, "help cec and cec?")
        XCTAssertEqual(viaC.stdout.components(separatedBy: "strategy.scores(pool, model").count - 1, 2, "help s.scores and s.scores?")
        XCTAssertTrue(viaC.stdout.contains("returns an experiment; experiment: an active-learning run\n"), viaC.stdout)
        XCTAssertTrue(viaC.stdout.hasSuffix("  s: strategy\n"), viaC.stdout)
        try code.write(toFile: dir + "/help.al", atomically: true, encoding: .utf8)
        let viaScript = try alvlm([dir + "/help.al"])
        let piped = try alvlm([], stdin: code)
        try ("# %%\n" + code).write(toFile: dir + "/help.alnb", atomically: true, encoding: .utf8)
        let viaNotebook = try alvlm(["run", dir + "/help.alnb", "-o", dir + "/help.md"])
        XCTAssertEqual(viaScript.stdout, viaC.stdout)
        XCTAssertEqual(piped.stdout, viaC.stdout)
        XCTAssertEqual(viaNotebook.status, 0, viaNotebook.stderr)
        XCTAssertTrue(try String(contentsOfFile: dir + "/help.md", encoding: .utf8).contains("returns an experiment; experiment: an active-learning run"))
        let unknown = try alvlm(["-c", "help run"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("no help for `run`; did you mean `run_notebook`?"), unknown.stderr)
    }

    /// `table(cmp)` shows its table wherever it is called (a loop, a function), as plot and hist do; plain values
    /// still echo at top level only (issue 12 item 12).
    func testTablesShowInsideLoopsAndFunctions() throws {
        let script = """
            pool = textures(train: 40, val: 0, test_per_class: 1)
            model = clip("tiny")
            fn run(b) {
              c = compare([random()], pool, model, rounds: 1, budget: b, trainer: linear_probe(), seeds: 1)
              table(c)
              42
              return c
            }
            for b in [2, 3] { c = run(b) }
            table(c)
            """
        let r = try alvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.components(separatedBy: "strategy").count - 1, 3, r.stdout)
        XCTAssertFalse(r.stdout.contains("42"), r.stdout)
    }

    /// Results can be looked into: per-class accuracy by class name and the fallback note in round records (and the
    /// printout), a query's predictions, a split's labels and paths, paired differences, strategies with names of
    /// their own (issue 12 item 19).
    func testLookingInsideResults() throws {
        let script = """
            pool = textures(train: 40, val: 0, test_per_class: 1)
            model = clip("tiny")
            e = experiment(pool, model, coreset(name: "k-center"), rounds: 2, budget: 2, trainer: linear_probe())
            e.finish()
            r = e.rounds[0]
            print(r.note)
            print(len(r.per_class) == len(pool.classes))
            print(e.rounds[1].note)
            q = random().query(pool, model, budget: 3)
            print(len(q.predicted) == 3)
            print(len(pool.test.labels) == pool.test.size)
            print(sort(pool.test.labels) == sort(pool.classes))
            print(len(pool.test.paths))
            cmp = compare([cec(beta: 0, name: "cec β=0"), random(name: "uniform")], pool, model, rounds: 2, budget: 2, trainer: linear_probe(), seeds: 2)
            print(cmp.strategies)
            d = cmp.paired("cec β=0", baseline: "uniform")
            print(abs(d.mean[1] - (cmp.mean("cec β=0")[1] - cmp.mean("uniform")[1])) < 1e-12)
            print(d.seeds)
            """
        let r = try alvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("  round 1:    2 labels, accuracy"), r.stdout)
        XCTAssertTrue(r.stdout.contains("classes covered (no labelled samples yet: random)\n  round 2:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("experiment: k-center on textures"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("no labelled samples yet: random\ntrue\nnil\ntrue\ntrue\ntrue\n20\n[\"cec β=0\", \"uniform\"]\ntrue\n2\n"), r.stdout)
        let train = try alvlm(["-c", "pool = textures(train: 40, val: 0, test_per_class: 1)\npool.train.labels"], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(train.status, 1)
        XCTAssertTrue(train.stderr.contains("the training pool's labels come only from an oracle"), train.stderr)
    }

    /// What a labeller sees never holds the answer: the texture world's paths name no class, a query's printout has
    /// no paths, exports copy (or link) images under their ids by default; `show(q)` always writes a captioned PNG
    /// and draws half-block thumbnails in plain terminals (issue 12 items 13 and 14).
    func testLabellersNeverSeeTheAnswer() throws {
        let script = """
            pool = textures(train: 40, val: 0, test_per_class: 1)
            model = clip("tiny")
            q = entropy().query(pool, model, budget: 3)
            q
            print(pool.train.paths + pool.test.paths)
            print(q.paths)
            export(q, "\(dir)/out/batch.csv")
            export(q, "\(dir)/out/linked.csv", images: "link")
            export(q, "\(dir)/out/plain.json", images: "path")
            show(q)
            """
        let r = try alvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache", "ALVLM_IMAGES": "blocks", "COLUMNS": "50"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.components(separatedBy: "\n")
        let printout = lines.prefix { !$0.hasPrefix("[") }.joined(separator: "\n")
        XCTAssertTrue(printout.hasPrefix("query by entropy: 3 samples\n  id "), printout)
        XCTAssertFalse(printout.contains(".png"), printout)
        let allPaths = try XCTUnwrap(lines.first { $0.hasPrefix("[") })
        for name in TextureWorld.classNames { XCTAssertFalse(allPaths.contains(name), "\(name) in \(allPaths)") }
        let original = try XCTUnwrap(lines.first { $0.hasPrefix("[") && $0 != allPaths }).trimmingCharacters(in: CharacterSet(charactersIn: "[]")).components(separatedBy: ", ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        let csv = try String(contentsOfFile: dir + "/out/batch.csv", encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(csv.count, 3)
        for (row, source) in zip(csv, original) {
            XCTAssertEqual(row[1], "batch-images/\(row[0]).png", "a relative path under a neutral name")
            XCTAssertEqual(FileManager.default.contents(atPath: dir + "/out/" + row[1]), FileManager.default.contents(atPath: source), "a copy of the pool's image")
            let link = dir + "/out/linked-images/\(row[0]).png"
            XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), source)
        }
        let tasks = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/plain.json"))) as? [[String: Any]])
        XCTAssertEqual(tasks.compactMap { ($0["data"] as? [String: Any])?["image"] as? String }, original, "images: \"path\" keeps the pool's paths")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/plain-images"))
        // show(q) without to: half-block thumbnails (two of 20 columns fit in 50) with captions, and a PNG whose path is printed.
        XCTAssertTrue(r.stdout.contains("▀\u{1B}[0m  \u{1B}[38;2;"), "thumbnails side by side")
        XCTAssertTrue(r.stdout.contains("\n1. id \(csv[0][0])" + String(repeating: " ", count: 20 - "1. id \(csv[0][0])".count) + "  2. id \(csv[1][0])\n"), r.stdout)
        let wrote = try XCTUnwrap(lines.first { $0.hasPrefix("wrote ") && $0.hasSuffix(".png: 3 images in reading order") })
        let png = String(wrote.dropFirst(6).prefix { $0 != ":" })
        let sheet = try ImageDecoder.decode(path: png)
        XCTAssertEqual(sheet.width, 3 * 112 + 4 * 4)
        XCTAssertEqual(sheet.height, 112 + 3 * BitmapFont.lineHeight + 2 + 2 * 4, "a caption band of three lines")
        try? FileManager.default.removeItem(atPath: png)
    }

    /// Plots a teacher reads: learning curves over the zero-shot level (known to the comparison), an axis that does
    /// not blow a small change up to full height, overlaid histograms, bars across the terminal with every class
    /// named (issue 12 item 15).
    func testPlotsShowZeroShotOverlaysAndEveryClass() throws {
        let script = """
            pool = textures(train: 40, val: 0, test_per_class: 1)
            model = clip("tiny")
            cmp = compare([random()], pool, model, rounds: 2, budget: 2, trainer: linear_probe(), seeds: 1)
            print(cmp.zeroshot == model.zeroshot(pool.test).accuracy)
            print(cmp.partial)
            plot(cmp)
            s = cec()
            hist([s.scores(pool, model, kind: "entropy"), s.scores(pool, model, kind: "calibrated")], labels: ["H", "calibrated H"], bins: 5)
            plot(model.zeroshot(pool.test), kind: "predicted")
            """
        let r = try alvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache", "COLUMNS": "100"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("true\nfalse\n"), r.stdout)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gnuplot") {
            XCTAssertTrue(r.stdout.contains("zero-shot "), r.stdout)
            XCTAssertTrue(r.stdout.contains("H vs calibrated H") && r.stdout.contains("calibrated H #"), r.stdout)
            for name in TextureWorld.classNames { XCTAssertTrue(r.stdout.contains(" \(name) |"), "\(name) labels its own row") }
            XCTAssertTrue(r.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 }, "fits the window")
        }
        let bad = try alvlm(["-c", "hist([[1, 2], [3]], labels: [\"one\"])"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("give one name (a string) per distribution: 2"), bad.stderr)
    }

    /// Builtins that need a person say so in runs without one, instead of "unknown name" (issue 12 item 11).
    func testLabellingWithoutAPersonSaysWhatToDo() throws {
        let setup = "pool = textures(train: 40, val: 0, test_per_class: 1)\nmodel = clip(\"tiny\")\nq = random().query(pool, model, budget: 2)\n"
        let env = ["ALVLM_CACHE": dir + "/cache"]
        let label = try alvlm(["-c", setup + "label(q)"], environment: env)
        XCTAssertEqual(label.status, 1)
        XCTAssertTrue(label.stderr.contains("label() needs a person at an interactive terminal") && label.stderr.contains("use export/import"), label.stderr)
        let human = try alvlm(["-c", setup + "run = experiment(pool, model, random(), rounds: 1, budget: 2, trainer: linear_probe())\nrun.step(oracle: \"human\")"], environment: env)
        XCTAssertEqual(human.status, 1)
        XCTAssertTrue(human.stderr.contains("oracle: \"human\" needs a person at an interactive terminal"), human.stderr)
        let help = try alvlm(["-c", "help(\"label\")"])
        XCTAssertTrue(help.stdout.contains("label(query, journal: nil)"), help.stdout)
    }

    /// The interactive REPL in a real pseudo-terminal (tmux): completion, Ctrl-C cancelling a long loop with the
    /// state intact, Ctrl-C clearing the line, and the history file written on Ctrl-D.
    func testInteractiveSessionInAPseudoTerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            throw XCTSkip("tmux is not installed (Scripts/deps.sh installs it)")
        }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("alvlm").path
        let session = "alvlm-test-\(getpid())"
        // Through system(3) and a file: Foundation's Process does not reap the tmux client that daemonises a server.
        func tmux(_ args: [String]) throws -> String {
            let capture = dir + "/tmux.out"
            let quoted = args.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
            _ = system("/usr/bin/tmux \(quoted) > '\(capture)' 2>/dev/null < /dev/null")
            return (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
        }
        func keys(_ k: String...) throws { _ = try tmux(["-L", session, "send-keys", "-t", session] + k); usleep(400_000) }
        func screen() throws -> String { try tmux(["-L", session, "capture-pane", "-t", session, "-p", "-S", "-400"]) }
        let history = dir + "/not-yet/history"   // a missing folder is created
        _ = try tmux(["-L", session, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "env LANG=C LC_ALL= ALVLM_HISTORY=\(history) ALVLM_CACHE=\(dir)/cache \(binary)"])
        defer { _ = try? tmux(["-L", session, "kill-server"]) }
        usleep(800_000)
        try keys("strategy_one = cec(k: 3)", "Enter")
        try keys("strategy_o", "Tab")
        try keys(".", "Tab", "Tab")
        let completed = try screen()
        XCTAssertTrue(completed.split(separator: "\n").contains { $0.contains("query") && $0.contains("scores") && !$0.contains(">") }, completed)
        XCTAssertTrue(completed.contains("alvlm> strategy_one."), "the variable name was completed")
        try keys("C-u")
        try keys("for i in 0..100000000 { x = i }", "Enter")
        usleep(1_000_000)
        try keys("C-c")
        usleep(500_000)
        try keys("x > 0", "Enter")
        try keys("half typed", "C-c")
        try keys("40 + 2", "Enter")
        // Non-ASCII input reaches the language whole (the editor reads by a UTF-8 locale), whatever LANG says.
        try keys("größe = 3", "Enter")
        try keys("print(\"café\")", "Enter")
        try keys("größe + 0.5", "Enter")
        let text = try screen()
        XCTAssertTrue(text.contains("\ncafé\n") && text.contains("\n3.5\n"), text)
        XCTAssertTrue(text.contains("error: interrupted"), text)
        XCTAssertTrue(text.contains("true\n"), text)
        XCTAssertTrue(text.contains("42"), text)
        try keys("fn ask(q) { return label(q) }", "Enter")
        try keys("fn twice(a) {", "Enter")
        try keys("return 2 * a }", "Enter")
        try keys("save_notebook(\"\(dir)/session.alnb\")", "Enter")
        let saved_cells = try String(contentsOfFile: dir + "/session.alnb", encoding: .utf8)
        // A cell that needs a person at the terminal is kept as a comment saying so (issue 12 item 11).
        XCTAssertTrue(saved_cells.contains("# %%\n# this cell needs a person at an interactive terminal") && saved_cells.contains("\n# fn ask(q) { return label(q) }\n"), saved_cells)
        XCTAssertTrue(saved_cells.hasPrefix("# %%\nstrategy_one = cec(k: 3)\n") && saved_cells.contains("# %%\n40 + 2\n"), saved_cells)
        XCTAssertFalse(saved_cells.contains("half typed"))
        // Labelling in the terminal: ids and a half-block picture, never a path; an empty answer asks again; a prefix
        // is echoed as the class it resolved to; a skip is acknowledged (issue 12 items 13 and 14).
        try keys("C-l")
        try keys("pool = textures(train: 40, val: 0, test_per_class: 1)", "Enter")
        try keys("q = random().query(pool, clip(\"tiny\"), budget: 2)", "Enter")
        usleep(1_500_000)
        try keys("answers = label(q, journal: \"\(dir)/labels.journal\")", "Enter")
        usleep(800_000)
        try keys("Enter")
        try keys("zz", "Enter")
        try keys("band", "Enter")
        try keys("s", "Enter")
        try keys("len(answers)", "Enter")
        let labelling = try screen()
        XCTAssertTrue(labelling.contains("[1/2] id ") && labelling.contains("[2/2] id "), labelling)
        XCTAssertTrue(labelling.contains("▀"), "a half-block picture: \(labelling)")
        XCTAssertFalse(labelling.contains(".png"), labelling)
        XCTAssertEqual(labelling.components(separatedBy: "label (name, number, s skip, u undo)>").count - 1, 4, "asked again after the empty answer and the unknown one: \(labelling)")
        XCTAssertEqual(labelling.components(separatedBy: "[1/2] id ").count - 1, 1, "the image is shown once while the question is asked again")
        XCTAssertTrue(labelling.contains("not a class: zz"), labelling)
        XCTAssertTrue(labelling.range(of: #"  id \d+: banded\n"#, options: .regularExpression) != nil, labelling)
        XCTAssertTrue(labelling.range(of: #"  skipped id \d+\n"#, options: .regularExpression) != nil, labelling)
        XCTAssertTrue(labelling.hasSuffix("alvlm> len(answers)\n1\nalvlm>") || labelling.contains("alvlm> len(answers)\n1\n"), labelling)
        try keys("C-d")
        usleep(500_000)
        let saved = try String(contentsOfFile: history, encoding: .utf8)
        XCTAssertTrue(saved.hasPrefix("_HiStOrY_V2_"), saved)
        XCTAssertTrue(saved.contains("40\\040+\\0402"), saved)
        // The two-line input is one history entry (one line of the file), not two.
        let entries = saved.split(separator: "\n")
        XCTAssertTrue(entries.contains { $0.contains("twice(a)") && $0.contains("return") }, saved)
        XCTAssertFalse(entries.contains { $0.hasPrefix("return") }, saved)
    }

    /// The engine through the language: a folder pool, the fixture model, scores, a query, an experiment, a comparison.
    func testLanguageDrivesTheEngine() throws {
        let names = ["jpeg_baseline_320x240.jpg", "jpeg_progressive_exif6_229x256.jpg", "jpeg_baseline_224x224.jpg", "jpeg_gray_300x199.jpg",
                     "jpeg_cmyk_160x120.jpg", "png_rgb_120x90.png", "png_rgba_160x120.png", "png_gray_224x231.png", "png_palette_120x160.png",
                     "png_gray16_150x100.png", "png_rgb16_96x128.png"]
        for (i, name) in names.enumerated() {
            let cls = ["banded", "dotted", "striped"][i % 3]
            for copy in 0..<3 {
                let target = dir + "/photos/\(cls)/\(copy)_\(name)"
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: Fixtures.path("images/" + name), toPath: target)
            }
        }
        let script = """
            pool = folder("\(dir)/photos", split: [0.7, 0.0, 0.3], seed: 1)
            model = clip("\(model)")
            e = model.zeroshot(pool.test)
            print(e.accuracy >= 0 and e.accuracy <= 1)
            s = cec(k: 3, N: 2)
            sc = s.scores(pool, model)
            print(len(sc.values) == pool.train.size)
            q = s.query(pool, model, budget: 3)
            print(len(q.ids))
            export(q, "\(dir)/batch.csv")
            export(q, "\(dir)/new/sub/tasks.json")
            show(q, to: "\(dir)/sheet.png")
            print(import("\(dir)/answers.csv", pool))
            run = experiment(pool, model, entropy(), rounds: 2, budget: 2, trainer: coop(epochs: 2, lr: 0.0001, batch: 4), seed: -3)
            r = run.step()
            print(run.labels)
            r = run.finish()
            save(run, "\(dir)/run.json")
            again = load("\(dir)/run.json", pool, model)
            print(again.accuracy == run.accuracy)
            cmp = compare([random(), cec(k: 3, N: 2), cec(k: 2, N: 2)], pool, model, rounds: 2, budget: 2, seeds: 2, trainer: linear_probe())
            print(cmp.strategies)
            model.zeroshot(pool.train)
            """
        try "id,label\n0,dotted\n1,\n999,banded\n".write(toFile: dir + "/answers.csv", atomically: true, encoding: .utf8)
        let r = try alvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(r.status, 1, "the last line must fail: training labels come only from an oracle")
        XCTAssertTrue(r.stdout.contains("wrote \(dir)/sheet.png: 3 images"), r.stdout)
        // export and save say what they wrote, and which folder they had to create (issue 12 item 22).
        XCTAssertTrue(r.stdout.contains("\nwrote \(dir)/batch.csv: 3 queries (CSV)\ncopied 3 images into \(dir)/batch-images (named by id)\ncreated \(dir)/new/sub\n"
                                        + "wrote \(dir)/new/sub/tasks.json: 3 queries (Label Studio tasks)\ncopied 3 images into \(dir)/new/sub/tasks-images (named by id)\n"), r.stdout)
        let sheet = try ImageDecoder.decode(path: dir + "/sheet.png")
        XCTAssertEqual(sheet.width, 3 * 112 + 4 * 4)
        XCTAssertTrue(r.stdout.hasPrefix("true\ntrue\n3\nwrote "), r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("warning: line 4: unknown id 999\nskipped: 1\n[{id: 0, label: \"dotted\"}, {id: 1, label: nil}]\n[2]\nwrote \(dir)/run.json: the experiment after 2 of 2 rounds\ntrue\n[\"random\", \"cec (N=2, k=3)\", \"cec (N=2, k=2)\"]\n"), r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("the training pool's labels come only from an oracle"), r.stderr)
        XCTAssertTrue(try String(contentsOfFile: dir + "/batch.csv", encoding: .utf8).hasPrefix("id,path,score,predicted\n"))
        let cached = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache/features").filter { $0.hasSuffix(".feat") }
        XCTAssertEqual(cached.count, 33, "every image encoded once, cached on disk")
    }
}
