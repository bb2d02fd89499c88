import AlvlmActive
import AlvlmTestSupport
import Foundation
import XCTest

/// The binary killed with SIGKILL at seeded random moments of an experiment that saves its state and journals its
/// answers: after every kill the saved state is whole and a prefix of an uninterrupted run's, no journaled answer
/// is lost, and resuming to the end gives exactly the uninterrupted run's result.
final class CrashTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    static let rounds = 8
    let setup = "pool = textures(train: 150, val: 0, test_per_class: 1)\nm = clip(\"tiny\")\n"
    var start: String { setup + "run = experiment(pool, m, cec(k: 5), rounds: \(Self.rounds), budget: 5, trainer: linear_probe(), seed: 3, save: args[0])\n" +
        "for i in 0..\(Self.rounds) { run.step(journal: args[1]) }\n" }
    var resume: String { setup + "run = load(args[0], pool, m)\nfor i in 0..(\(Self.rounds) - len(run.accuracy)) { run.step(journal: args[1]) }\n" }

    /// Starts the binary on a script; the caller waits or kills it.
    func launch(_ script: String, _ arguments: [String]) throws -> Process {
        let file = dir + "/script-\(UUID().uuidString.prefix(6)).al"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("alvlm")
        process.arguments = [file, "--"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["ALVLM_CACHE": dir + "/cache"]) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func withoutTimings(_ s: ExperimentState) -> ExperimentState {
        var s = s
        for i in s.rounds.indices { s.rounds[i].seconds = [:] }
        return s
    }

    /// The journal's complete lines as (id, label); a torn last line (no newline) is allowed and left out.
    func journal(_ path: String) throws -> Set<String> {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var text = String(decoding: data, as: UTF8.self)
        if !text.isEmpty, !text.hasSuffix("\n") { text = String(text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)]) }
        var out = Set<String>()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            XCTAssertEqual(fields.count, 4, "a whole journal line: \(line)")
            XCTAssertNotNil(Int(fields[0])); XCTAssertNotNil(Int(fields[1]))
            out.insert("\(fields[0]) \(fields[1])")
        }
        return out
    }

    func testKilledRunsResumeToTheUninterruptedResult() throws {
        // The uninterrupted run, timed: kills land anywhere within it.
        let started = Date()
        let reference = try launch(start, [dir + "/ref.json", dir + "/ref.journal"])
        reference.waitUntilExit()
        XCTAssertEqual(reference.terminationStatus, 0)
        let duration = Date().timeIntervalSince(started)
        let expected = withoutTimings(try Experiment.loadState(from: dir + "/ref.json"))
        XCTAssertEqual(expected.rounds.count, Self.rounds)
        let expectedAnswers = try journal(dir + "/ref.journal")

        var rng = SplitMix(seed: 17)
        var kills = 0, attempts = 0, journaled = Set<String>()
        let state = dir + "/run.json", labels = dir + "/run.journal"
        while kills < 20 && attempts < 80 {
            attempts += 1
            let resuming = FileManager.default.fileExists(atPath: state)
            let process = try launch(resuming ? resume : start, [state, labels])
            let delay = Double(rng.next() % 1000) / 1000 * duration
            Thread.sleep(forTimeInterval: delay)
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
            }
            process.waitUntilExit()
            if process.terminationReason == .exit {
                XCTAssertEqual(process.terminationStatus, 0, "an unkilled run finishes cleanly")
            }
            // The saved state is whole, and what it holds is the uninterrupted run's beginning.
            if FileManager.default.fileExists(atPath: state) {
                let saved = withoutTimings(try Experiment.loadState(from: state))
                XCTAssertEqual(saved.rounds, Array(expected.rounds.prefix(saved.rounds.count)), "kill \(kills): the saved rounds")
                if saved.rounds.count == Self.rounds {   // finished: start over, so that every kill lands in a run
                    XCTAssertEqual(saved, expected)
                    try FileManager.default.removeItem(atPath: state)
                    try? FileManager.default.removeItem(atPath: labels)
                    journaled = []
                    continue
                }
            }
            // Nothing journaled is ever lost.
            let now = try journal(labels)
            XCTAssertTrue(now.isSuperset(of: journaled), "kill \(kills): journaled answers lost: \(journaled.subtracting(now))")
            XCTAssertTrue(now.isSubset(of: expectedAnswers), "kill \(kills): answers the uninterrupted run never gave")
            journaled = now
        }
        XCTAssertGreaterThanOrEqual(kills, 20)
        // Resuming to the end gives exactly the uninterrupted run, its journal holding every answer.
        let last = try launch(FileManager.default.fileExists(atPath: state) ? resume : start, [state, labels])
        last.waitUntilExit()
        XCTAssertEqual(last.terminationStatus, 0)
        XCTAssertEqual(withoutTimings(try Experiment.loadState(from: state)), expected)
        XCTAssertEqual(try journal(labels), expectedAnswers)
    }

    /// Two runs at once on one cache and one label journal (the pool generated, its features cached and the answers
    /// journaled by both at the same time): each gives its solo result, and the journal holds both runs' answers in
    /// whole lines.
    func testTwoRunsShareTheCacheAndTheJournal() throws {
        let journalPath = dir + "/shared.journal"
        let first = try launch(start, [dir + "/a.json", journalPath])
        let second = try launch(start.replacingOccurrences(of: "seed: 3", with: "seed: 4"), [dir + "/b.json", journalPath])
        first.waitUntilExit(); second.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertEqual(second.terminationStatus, 0)
        let together = try journal(journalPath)
        // The same runs alone, one after the other, each with a journal of its own.
        let solo = dir + "/solo"
        try FileManager.default.createDirectory(atPath: solo, withIntermediateDirectories: true)
        let a = try launch(start, [solo + "/a.json", solo + "/a.journal"]); a.waitUntilExit()
        let b = try launch(start.replacingOccurrences(of: "seed: 3", with: "seed: 4"), [solo + "/b.json", solo + "/b.journal"]); b.waitUntilExit()
        // The same picks, labels and accuracies. Scores may differ slightly: a run that finds part of the pool already
        // cached by the other encodes the rest in other batches, batch composition moves the features' last bits, and
        // the probe's L-BFGS fit carries that to about 3e-5 of a score (measured on an AVX-512 machine). 1e-3 of a
        // score still catches other features, another model or another round's scores.
        for name in ["a", "b"] {
            let shared = try Experiment.loadState(from: dir + "/\(name).json"), alone = try Experiment.loadState(from: solo + "/\(name).json")
            XCTAssertEqual(shared.labeled, alone.labeled, name)
            XCTAssertEqual(shared.rounds.map(\.queried), alone.rounds.map(\.queried), name)
            for (x, y) in zip(shared.rounds, alone.rounds) {
                XCTAssertEqual(x.accuracy, y.accuracy, accuracy: 1e-9, name)
                for (u, v) in zip(x.scores, y.scores) { XCTAssertEqual(u ?? 0, v ?? 0, accuracy: 1e-3 * max(1, abs(v ?? 0)), name) }
            }
        }
        XCTAssertEqual(together, try journal(solo + "/a.journal").union(try journal(solo + "/b.journal")))
        let lines = try String(contentsOfFile: journalPath, encoding: .utf8)
        XCTAssertTrue(lines.hasSuffix("\n"), "no torn line")
    }
}
