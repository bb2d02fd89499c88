import AlvlmTestSupport
import Foundation
import XCTest

/// What the language can touch: names from a pool file or an answers file reach gnuplot and file names only quoted
/// or replaced by ids, so quotes, backquotes, `$(...)`, newlines, `..` and absolute paths run nothing and write
/// nowhere else.
final class HostileNamesTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testHostileClassNamesAndAnswersRunNothing() throws {
        let images = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("images")).filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted()
        let classes = ["it's", "`touch \(dir)/pwned-backquote`", "$(touch \(dir)/pwned-dollar)", "../../escape"]
        // A file name with a quote and a backquote too.
        let odd = dir + "/it's `odd`.jpg"
        try FileManager.default.copyItem(atPath: Fixtures.path("images/" + images[0]), toPath: odd)
        var csv = "path,label,split\n"
        for (i, name) in images.prefix(8).enumerated() {
            let quoted = "\"" + classes[i % classes.count].replacingOccurrences(of: "\"", with: "\"\"") + "\""
            csv += "\(Fixtures.path("images/" + name)),\(quoted),\(i < 4 ? "train" : "test")\n"
        }
        csv += "\"\(odd)\",\"it's\",train\n"
        try csv.write(toFile: dir + "/pool.csv", atomically: true, encoding: .utf8)
        // Answers naming ids that do not exist, a path for an id, and a label that is a path.
        try "id,label\n../../etc/passwd,it's\n/etc/shadow,it's\n0,../../escape\n1,/etc/passwd\n".write(toFile: dir + "/answers.csv", atomically: true, encoding: .utf8)
        let script = """
            pool = csv("\(dir)/pool.csv")
            m = clip("random:tiny-test")
            plot(m.zeroshot(pool.test), kind: "per-class", to: "\(dir)/bars.png")
            q = random().query(pool, m, budget: 2)
            export(q, "\(dir)/out/batch.csv")
            a = import("\(dir)/answers.csv", pool)
            print(len(a))
            """
        let r = try runAlvlm(["-c", script], environment: ["ALVLM_CACHE": dir + "/cache"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let made = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertFalse(made.contains { $0.hasPrefix("pwned") }, "a class name ran a command: \(made)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: (dir as NSString).deletingLastPathComponent + "/escape"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gnuplot") {
            XCTAssertGreaterThan((try FileManager.default.attributesOfItem(atPath: dir + "/bars.png")[.size] as? NSNumber)?.intValue ?? 0, 1000)
        }
        // The export names its copies by id only, inside its own folder.
        let copies = try FileManager.default.contentsOfDirectory(atPath: dir + "/out/batch-images")
        XCTAssertEqual(copies.count, 2)
        XCTAssertTrue(copies.allSatisfy { $0.split(separator: ".").first.map { Int($0) != nil } ?? false }, "\(copies)")
        // Unknown ids and labels are reported, not used.
        XCTAssertTrue(r.stdout.contains("warning: "), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("1\n") || r.stdout.hasSuffix("0\n"), r.stdout)
    }
}
