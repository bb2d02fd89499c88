import AlvlmTestSupport
import XCTest
@testable import AlvlmActive
@testable import AlvlmEngine

final class DatasetLoaderTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func image(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("images/png_rgb_120x90.png"), toPath: path)
    }

    func writeJSON(_ object: Any, _ path: String) throws {
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    func testCoOpDTDLayout() throws {
        let root = dir + "/data/dtd"
        var split: [String: [[Any]]] = ["train": [], "val": [], "test": []]
        for (i, cls) in ["banded", "dotted", "zigzagged"].enumerated() {
            for k in 0..<3 {
                let rel = "\(cls)/\(cls)_\(k).png"
                try image(root + "/images/" + rel)
                split[k == 0 ? "train" : k == 1 ? "val" : "test"]!.append([rel, i, cls])
            }
        }
        split["train"]!.append(["banded/banded_extra.png", 0, "banded"])
        try image(root + "/images/banded/banded_extra.png")
        try writeJSON(split, root + "/split_zhou_DescribableTextures.json")
        let pool = try DatasetLoader.coop(.dtd, root: dir + "/data")
        XCTAssertEqual(pool.classNames, ["banded", "dotted", "zigzagged"])
        XCTAssertEqual(pool.ids(.train), [0, 1, 2, 3])
        XCTAssertEqual(pool.ids(.test).count, 3)
        XCTAssertEqual(try DatasetLoader.coop(.dtd, root: root).samples, pool.samples, "the dataset folder itself works too")
        XCTAssertEqual(DatasetLoader.CoOpDataset.named("textures"), .dtd)

        // Problems are all reported at once.
        split["train"]!.append(["banded/missing.png", 0, "banded"])
        split["train"]!.append(["dotted/dotted_0.png", 1, "dotted"])
        split["test"]!.append(["zigzagged/zigzagged_2.png", 2, "zig"])
        try writeJSON(split, root + "/split_zhou_DescribableTextures.json")
        XCTAssertThrowsError(try DatasetLoader.coop(.dtd, root: root)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("missing file") && text.contains("duplicate path") && text.contains("named both"), text)
        }
        XCTAssertThrowsError(try DatasetLoader.coop(.eurosat, root: root)) { XCTAssertTrue("\($0)".contains("split_zhou_EuroSAT.json")) }
    }

    func testEuroSATRenamesAndAircraftSplits() throws {
        let root = dir + "/eurosat"
        try image(root + "/2750/AnnualCrop/a.png"); try image(root + "/2750/Forest/b.png")
        try writeJSON(["train": [["AnnualCrop/a.png", 0, "AnnualCrop"], ["Forest/b.png", 1, "Forest"]], "val": [], "test": [["Forest/b.png", 1, "Forest"]]],
                      root + "/split_zhou_EuroSAT.json")
        XCTAssertThrowsError(try DatasetLoader.coop(.eurosat, root: dir), "a path in two splits is a duplicate")
        try writeJSON(["train": [["AnnualCrop/a.png", 0, "AnnualCrop"], ["Forest/b.png", 1, "Forest"]], "val": [], "test": []],
                      root + "/split_zhou_EuroSAT.json")
        XCTAssertEqual(try DatasetLoader.coop(.eurosat, root: dir).classNames, ["Annual Crop Land", "Forest"])

        let air = dir + "/fgvc_aircraft"
        try image(air + "/images/1001.jpg"); try image(air + "/images/1002.jpg"); try image(air + "/images/1003.jpg")
        try "707-320\nA300B4\n".write(toFile: air + "/variants.txt", atomically: true, encoding: .utf8)
        try "1001 707-320\n1002 A300B4\n".write(toFile: air + "/images_variant_train.txt", atomically: true, encoding: .utf8)
        try "".write(toFile: air + "/images_variant_val.txt", atomically: true, encoding: .utf8)
        try "1003 A300B4\n".write(toFile: air + "/images_variant_test.txt", atomically: true, encoding: .utf8)
        let pool = try DatasetLoader.coop(.fgvcAircraft, root: dir)
        XCTAssertEqual(pool.classNames, ["707-320", "A300B4"])
        XCTAssertEqual(pool.samples.map(\.split), [.train, .train, .test])
    }

    func testFolderAndCSV() throws {
        for cls in ["cats", "dogs"] { for k in 0..<10 { try image(dir + "/photos/\(cls)/\(k).png") } }
        try FileManager.default.createDirectory(atPath: dir + "/photos/empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try DatasetLoader.folder(dir + "/photos")) { XCTAssertTrue("\($0)".contains("\"empty\" has no training images"), "\($0)") }
        try FileManager.default.removeItem(atPath: dir + "/photos/empty")
        let all = try DatasetLoader.folder(dir + "/photos")
        XCTAssertEqual(all.ids(.train).count, 20)
        let split = try DatasetLoader.folder(dir + "/photos", fractions: (0.6, 0.2, 0.2), seed: 3)
        XCTAssertEqual(split.ids(.train).count, 12); XCTAssertEqual(split.ids(.test).count, 4)
        XCTAssertEqual(try DatasetLoader.folder(dir + "/photos", fractions: (0.6, 0.2, 0.2), seed: 3).samples, split.samples)

        try "path,label,split\nphotos/cats/0.png,cats,train\nphotos/dogs/1.png,dogs,test\n\"photos/dogs/2.png\",dogs\n"
            .write(toFile: dir + "/list.csv", atomically: true, encoding: .utf8)
        let csv = try DatasetLoader.csv(dir + "/list.csv")
        XCTAssertEqual(csv.classNames, ["cats", "dogs"])
        XCTAssertEqual(csv.samples.map(\.split), [.train, .train, .test])
        try "photos/cats/0.png,cats,holdout\nnope.png,dogs\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DatasetLoader.csv(dir + "/bad.csv")) { XCTAssertTrue("\($0)".contains("unknown split")) }
    }
}

final class OracleTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    let pool = try! Pool(name: "p", classNames: ["cat", "dog", "owl"],
                         samples: (0..<6).map { Sample(id: $0, path: "/img/\($0).jpg", split: .train, label: $0 % 3) })

    func testJournalSurvivesATornLine() throws {
        let j = try LabelJournal(path: dir + "/labels.journal")
        try j.append([(1, 2), (3, 0)], pool: "p", source: "round 1")
        try j.append([(4, 1)], pool: "p", source: "import")
        try j.append([(4, 2)], pool: "other pool", source: "import")
        try j.append([(3, -1)], pool: "p", source: "undo")
        let handle = FileHandle(forWritingAtPath: j.path)!
        handle.seekToEndOfFile(); handle.write(Data("5\t1\tp\tround".utf8)); handle.closeFile()
        XCTAssertEqual(try j.replay(pool: "p").map { [$0.id, $0.label] }, [[1, 2], [4, 1]], "other pools, retractions and a torn line are left out")
    }

    func testCSVAndLabelStudioRoundTrips() throws {
        let queries = [AnnotationExchange.Query(id: 2, score: 0.9, predicted: 1), .init(id: 5, score: 0.5, predicted: 2)]
        try AnnotationExchange.exportCSV(queries, pool: pool, to: dir + "/q.csv")
        XCTAssertEqual(try String(contentsOfFile: dir + "/q.csv", encoding: .utf8), "id,path,score,predicted\n2,/img/2.jpg,0.9,dog\n5,/img/5.jpg,0.5,owl\n")
        try AnnotationExchange.exportLabelStudio(queries, pool: pool, to: dir + "/q.json")
        let tasks = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/q.json"))) as? [[String: Any]])
        XCTAssertEqual((tasks[0]["data"] as? [String: Any])?["id"] as? Int, 2)

        try "id,label\n2,owl\n5,\n9,cat\n1,zebra\n3,1\n".write(toFile: dir + "/a.csv", atomically: true, encoding: .utf8)
        let a = try AnnotationExchange.importAnswers(from: dir + "/a.csv", pool: pool)
        XCTAssertEqual(a.labels.map { [$0.id, $0.label] }, [[2, 2], [3, 1]])
        XCTAssertEqual(a.skipped, [5])
        XCTAssertEqual(a.problems.count, 2)
        XCTAssertTrue(a.problems.joined().contains("unknown id 9") && a.problems.joined().contains("zebra"))

        let full: [[String: Any]] = [
            ["id": 77, "data": ["image": "/img/2.jpg", "id": 2], "annotations": [["result": [["value": ["choices": ["cat"]]]]]]],
            ["id": 78, "data": ["image": "/img/5.jpg", "id": 5], "annotations": [["was_cancelled": true, "result": []]]],
        ]
        try JSONSerialization.data(withJSONObject: full).write(to: URL(fileURLWithPath: dir + "/export.json"))
        let b = try AnnotationExchange.importAnswers(from: dir + "/export.json", pool: pool)
        XCTAssertEqual(b.labels.map { [$0.id, $0.label] }, [[2, 0]]); XCTAssertEqual(b.skipped, [5])
        let min: [[String: Any]] = [["image": "/img/4.jpg", "id": 4, "label": "dog"]]
        try JSONSerialization.data(withJSONObject: min).write(to: URL(fileURLWithPath: dir + "/min.json"))
        XCTAssertEqual(try AnnotationExchange.importAnswers(from: dir + "/min.json", pool: pool).labels.map { [$0.id, $0.label] }, [[4, 1]])
        // JSON_MIN as Label Studio writes it for our tasks: `id` is its task number, `alvlm_id` ours (issue 12 item 5).
        XCTAssertEqual((tasks[1]["data"] as? [String: Any])?["alvlm_id"] as? Int, 5)
        let ours: [[String: Any]] = [["image": "/img/2.jpg", "id": 1, "alvlm_id": 2, "label": "owl"], ["image": "/img/5.jpg", "id": 2, "alvlm_id": 5, "label": "cat"]]
        try JSONSerialization.data(withJSONObject: ours).write(to: URL(fileURLWithPath: dir + "/ours.json"))
        let c = try AnnotationExchange.importAnswers(from: dir + "/ours.json", pool: pool)
        XCTAssertEqual(c.labels.map { [$0.id, $0.label] }, [[2, 2], [5, 0]]); XCTAssertEqual(c.problems, [])
        // Only task numbers 1...N: taken as ids (they may be right) but said.
        let numbers: [[String: Any]] = [["image": "/img/2.jpg", "id": 1, "label": "owl"], ["image": "/img/5.jpg", "id": 2, "label": "cat"]]
        try JSONSerialization.data(withJSONObject: numbers).write(to: URL(fileURLWithPath: dir + "/numbers.json"))
        let d = try AnnotationExchange.importAnswers(from: dir + "/numbers.json", pool: pool)
        XCTAssertEqual(d.problems.count, 1)
        XCTAssertTrue(d.problems[0].contains("look like Label Studio's task numbers"), d.problems[0])
    }

    func testOraclesCheckTheirAnswers() throws {
        XCTAssertEqual(try SimulatedOracle().labels(for: [1, 4], pool: pool), [1: 1, 4: 1])
        XCTAssertThrowsError(try SimulatedOracle().labels(for: [99], pool: pool))
        let sloppy = HumanOracle { _, _ in [3: 7] }
        XCTAssertThrowsError(try sloppy.labels(for: [3], pool: pool))
        XCTAssertEqual(try HumanOracle { ids, _ in [ids[0]: 2] }.labels(for: [3, 4], pool: pool), [3: 2], "skips allowed")
    }
}
