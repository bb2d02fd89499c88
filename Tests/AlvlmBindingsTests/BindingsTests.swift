import AlvlmActive
import AlvlmEngine
import AlvlmLanguage
import AlvlmSettings
import AlvlmTestSupport
import AlvlmWorld
import Foundation
import XCTest
@testable import AlvlmBindings

/// A host with its own settings and, optionally, a person who answers every label request with class 0.
final class TestHost: EngineHost {
    var lines: [String] = []
    let settings: Settings
    var labeller: (([Int], Pool) throws -> [Int: Int])?
    init(settings: Settings) { self.settings = settings }
    func print(_ text: String) { lines.append(text) }
    func progress(_ text: String) {}
    var isCancelled: Bool { false }
}

/// The engine's builtins in-process: what they take from the host, and what a model recommends.
final class BindingsTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func make(person: Bool = false) -> (Interpreter, TestHost) {
        let host = TestHost(settings: Settings(environment: ["ALVLM_CACHE": dir + "/cache"], home: dir))
        if person { host.labeller = { ids, _ in Dictionary(uniqueKeysWithValues: ids.map { ($0, 0) }) } }
        let registry = Registry()
        StandardLibrary.register(into: registry)
        Bindings.register(into: registry)
        return (Interpreter(registry: registry, host: host), host)
    }

    /// Pools and features go where the host's settings say, nowhere else.
    func testFilesGoWhereTheHostsSettingsSay() throws {
        let (interp, _) = make()
        try interp.run("pool = textures(train: 40, val: 0, test_per_class: 1)\nmodel = clip(\"tiny\")\nf = model.zeroshot(pool.test)")
        let pools = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache/pools")
        XCTAssertEqual(pools.count, 1)
        XCTAssertTrue(pools[0].hasPrefix("textures-v\(TextureWorld.version)-seed0-"), "\(pools)")
        let features = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache/features").filter { $0.hasSuffix(".feat") }
        XCTAssertEqual(features.count, 20, "each test image encoded once and cached")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/.cache"), "nothing under the home folder")
    }

    /// The tiny CLIP carries its recommended trainers; settings given to coop(...), vpt(...) and maple(...) go on top.
    func testTrainersGoOnTopOfTheModelsRecommendation() throws {
        let (interp, _) = make()
        try interp.run("tiny = clip(\"tiny\")\nother = clip(\"random:tiny-test\")\nc = coop(epochs: 5)\nm = maple(lr: 0.01)")
        let tiny = try XCTUnwrap(interp.variable("tiny").flatMap { if case .object(let o) = $0 { return o as? ModelObject }; return nil })
        let other = try XCTUnwrap(interp.variable("other").flatMap { if case .object(let o) = $0 { return o as? ModelObject }; return nil })
        XCTAssertEqual(tiny.recommended, TinyCLIP.recommended)
        XCTAssertEqual(other.recommended, .paper)
        func trainer(_ name: String) throws -> TrainerObject {
            try XCTUnwrap(interp.variable(name).flatMap { if case .object(let o) = $0 { return o as? TrainerObject }; return nil })
        }
        let onTiny = try trainer("c").resolved(tiny.recommended, .empty)
        XCTAssertEqual(onTiny, .coop(epochs: 5, learningRate: 0.02, batchSize: 32, weightDecay: 0.005, contextLength: 4, contextInit: "a photo of a", classSpecific: true))
        let onOther = try trainer("c").resolved(other.recommended, .empty)
        XCTAssertEqual(onOther, .coop(epochs: 5, learningRate: 0.002, batchSize: 32, weightDecay: 0.005, contextLength: 4, contextInit: "a photo of a", classSpecific: false))
        guard case .imagePrompts(let maple) = try trainer("m").resolved(tiny.recommended, .empty) else { return XCTFail("maple expected") }
        XCTAssertEqual(maple.learningRate, 0.01)
        XCTAssertEqual(maple.epochs, TinyCLIP.recommended.imagePrompts(.maple).epochs)
    }

    /// oracle: "human" asks the host's person, journals into the host's journal, and says what to do without one.
    func testHumanLabellingGoesThroughTheHost() throws {
        let setup = "pool = textures(train: 40, val: 0, test_per_class: 1)\nmodel = clip(\"tiny\")\n" +
            "e = experiment(pool, model, random(), rounds: 1, budget: 3, trainer: zeroshot_only(), seed: 2)\n"
        let (alone, _) = make()
        XCTAssertThrowsError(try alone.run(setup + "e.step(oracle: \"human\")")) { error in
            XCTAssertTrue((error as? LanguageError)?.message.contains("needs a person at an interactive terminal") == true, "\(error)")
        }
        let (interp, _) = make(person: true)
        try interp.run(setup + "e.step(oracle: \"human\")\nn = e.labels[0]")
        XCTAssertEqual(interp.variable("n")?.description, "3")
        let journal = try String(contentsOfFile: dir + "/cache/labels.journal", encoding: .utf8)
        XCTAssertEqual(journal.split(separator: "\n").count, 3, journal)
    }

    /// explain() returns the strategy's own numbers for the pick it explains, and keeps working on an experiment's batch.
    func testExplainMatchesTheQueryScores() throws {
        let (interp, host) = make()
        try interp.run("pool = textures(train: 120, val: 0, test_per_class: 1)\nmodel = clip(\"tiny\")\nq = cec(k: 5).query(pool, model, budget: 4)\n" +
                       "x = explain(q, 2)\nsame = x.scores.U == q.scores[2]\nid_ok = x.id == q.ids[2]\n" +
                       "run = experiment(pool, model, per_class(cec(k: 5)), rounds: 1, budget: 3, trainer: zeroshot_only())\ny = explain(run.query(), 0)")
        XCTAssertEqual(interp.variable("same")?.description, "true")
        XCTAssertEqual(interp.variable("id_ok")?.description, "true")
        XCTAssertTrue(host.lines.contains { $0.contains("Picked as the sample") }, "\(host.lines)")
        XCTAssertTrue(host.lines.last?.contains("per-class spread the batch") == true, "\(host.lines.last ?? "")")
        XCTAssertThrowsError(try interp.run("explain(q, 4)")) { XCTAssertTrue(($0 as? LanguageError)?.message.contains("position 4") == true, "\($0)") }
    }

    /// features: "float16" selects on the pool's features rounded to half precision; explain reads them too.
    func testQueriesOnHalfPrecisionFeatures() throws {
        let (interp, _) = make()
        try interp.run("pool = textures(train: 120, val: 0, test_per_class: 1)\nmodel = clip(\"tiny\")\n" +
                       "a = cec(k: 5).query(pool, model, budget: 4)\nb = cec(k: 5).query(pool, model, budget: 4, features: \"float16\")\n" +
                       "h = cec(k: 5).scores(pool, model, features: \"float16\")\nu = cec(k: 5).scores(pool, model)\nx = explain(b, 0)")
        for name in ["a", "b", "h", "u", "x"] { XCTAssertNotNil(interp.variable(name), name) }
        XCTAssertThrowsError(try interp.run("cec().query(pool, model, budget: 4, features: \"float8\")")) {
            XCTAssertTrue("\($0)".contains("float16"), "\($0)")
        }
    }
}
