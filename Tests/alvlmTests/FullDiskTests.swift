import AlvlmTestSupport
import Foundation
import XCTest

/// Writing into a full filesystem and a read-only one (small tmpfs mounts; mounting needs root, which CI has):
/// every write the user can ask for — an .npy, a saved experiment, the label journal, a report — fails with an
/// error naming the path, leaves the file that was there byte for byte, leaves no temporary file behind, and the
/// session goes on (the notebook's later cells run). A feature cache that cannot be written costs a warning, not the
/// features.
final class FullDiskTests: XCTestCase {
    var dir = ""
    var mounts: [String] = []

    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }

    override func tearDownWithError() throws {
        for m in mounts.reversed() { _ = try? command("/bin/umount", ["-l", m]) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    @discardableResult
    func command(_ path: String, _ arguments: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// A tmpfs of `kilobytes` at a new folder, or a skip where this user may not mount.
    func mountTmpfs(_ name: String, kilobytes: Int) throws -> String {
        let path = dir + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/bin/mount"),
              try command("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path]) == 0 else {
            throw XCTSkip("mounting a small tmpfs needs root (CI runs the suite as root)")
        }
        mounts.append(path)
        return path
    }

    /// Fills a filesystem to the last byte.
    func fill(_ folder: String) {
        let fd = open(folder + "/filler", O_WRONLY | O_CREAT, 0o644)
        defer { close(fd) }
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        var byte: UInt8 = 0
        while write(fd, &byte, 1) > 0 {}
    }

    func contents(_ folder: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name != "filler" {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isDir), !isDir.boolValue {
                out[name] = FileManager.default.contents(atPath: folder + "/" + name)
            }
        }
        return out
    }

    let setup = "pool = textures(train: 150, val: 0, test_per_class: 1)\nm = clip(\"tiny\")\n" +
        "run = experiment(pool, m, cec(k: 5), rounds: 3, budget: 5, trainer: linear_probe(), seed: 3)\n"

    /// Writes the files a full or read-only disk must then keep: an .npy, a saved experiment, a journal ten bytes short
    /// of a whole number of pages (so that an append starts and then needs a page the disk does not have), a report.
    func writePreviousFiles(into folder: String, environment: [String: String]) throws {
        let first = "# %%\n" + setup + "run.step(journal: \"\(folder)/labels.journal\")\n" +
            "save(run, \"\(folder)/exp.json\")\nsave_npy([9, 9], \"\(folder)/x.npy\")\n"
        try first.write(toFile: dir + "/first.alnb", atomically: true, encoding: .utf8)
        let r = try runAlvlm(["run", dir + "/first.alnb", "-o", folder + "/report.md"], environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        let journal = try XCTUnwrap(FileManager.default.contents(atPath: folder + "/labels.journal"))
        XCTAssertGreaterThan(journal.count, 0)
        // Ten bytes short of a whole page: an append writes those ten bytes, then finds the disk full, and must take
        // them back.
        var padding = 4096 - (journal.count + 2) % 4096 - 10
        if padding < 0 { padding += 4096 }
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: folder + "/labels.journal"))
        handle.seekToEndOfFile()
        handle.write(Data(("#" + String(repeating: " ", count: padding) + "\n").utf8))
        try handle.close()
    }

    /// The cells that write into `folder`, each expected to fail with the path and `reason`, and a last one that
    /// shows the session went on.
    func writingNotebook(_ folder: String, reason: String) -> String {
        "# %%\n" + setup + "print(run.accuracy)\n# expect: warning: the feature cache cannot be written\n\n" +
            "# %%\nsave_npy([1, 2, 3], \"\(folder)/x.npy\")\n# expect error: \(folder)/x.npy: cannot write file\n\n" +
            "# %%\nsave(run, \"\(folder)/exp.json\")\n# expect error: \(folder)/exp.json: cannot write file\n\n" +
            // The first round's answers are in the journal already (the same experiment journaled them): reused.
            "# %%\nrun.step(journal: \"\(folder)/labels.journal\")\n\n" +
            "# %%\nrun.step(journal: \"\(folder)/labels.journal\")\n# expect error: \(folder)/labels.journal: cannot\n\n" +
            "# %%\nprint(\"rounds \" + str(len(run.accuracy)))\n# expect: rounds 1\n"
    }

    func check(_ folder: String, reason: String, environment: [String: String], before: [String: Data]) throws {
        try writingNotebook(folder, reason: reason).write(toFile: dir + "/second.alnb", atomically: true, encoding: .utf8)
        let r = try runAlvlm(["run", dir + "/second.alnb", "--check", "-o", dir + "/second.md"], environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = (try? String(contentsOfFile: dir + "/second.md", encoding: .utf8)) ?? ""
        XCTAssertTrue(report.contains(reason), "the errors give the system's reason \"\(reason)\":\n\(report)")
        // The report itself into the same place: refused, naming the path, the old report kept.
        let again = try runAlvlm(["run", dir + "/second.alnb", "-o", folder + "/report.md"], environment: environment)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("\(folder)/report.md"), again.stderr)
        XCTAssertEqual(try contents(folder), before, "every earlier file is kept byte for byte and no temporary file is left")
    }

    /// The feature cache moves onto the mount (an empty folder there, linked from the cache): the next run computes
    /// the features again and writes them there.
    func moveFeatureCache(_ cache: String, onto folder: String) throws {
        try FileManager.default.removeItem(atPath: cache + "/features")
        try FileManager.default.createDirectory(atPath: folder + "/features", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: cache + "/features", withDestinationPath: folder + "/features")
    }

    func testAFullDiskRefusesEveryWriteAndKeepsEveryEarlierFile() throws {
        let small = try mountTmpfs("small", kilobytes: 1024)
        let cache = dir + "/cache"
        let environment = ["ALVLM_CACHE": cache]
        try writePreviousFiles(into: small, environment: environment)
        try moveFeatureCache(cache, onto: small)
        let before = try contents(small)
        fill(small)
        try check(small, reason: "No space left on device", environment: environment, before: before)
    }

    func testAReadOnlyFolderRefusesEveryWriteAndMissingParentsAreNamed() throws {
        let place = try mountTmpfs("readonly", kilobytes: 1024)
        let cache = dir + "/cache"
        let environment = ["ALVLM_CACHE": cache]
        try writePreviousFiles(into: place, environment: environment)
        try moveFeatureCache(cache, onto: place)
        let before = try contents(place)
        XCTAssertEqual(try command("/bin/mount", ["-o", "remount,ro", place]), 0)
        try check(place, reason: "Read-only file system", environment: environment, before: before)
        // A missing parent folder that cannot be made: the error names the path.
        let nested = "# %%\n" + setup + "save(run, \"\(place)/new/folder/exp.json\")\n# expect error: \(place)/new/folder\n\n" +
            "# %%\nprint(\"still here\")\n# expect: still here\n"
        try nested.write(toFile: dir + "/third.alnb", atomically: true, encoding: .utf8)
        let r = try runAlvlm(["run", dir + "/third.alnb", "--check", "-o", dir + "/third.md"], environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr + ((try? String(contentsOfFile: dir + "/third.md", encoding: .utf8)) ?? ""))
    }
}
