import AlvlmTestSupport
import Foundation
import XCTest
@testable import AlvlmLanguage

/// The language's behaviour as scripts (`Scripts/*.al`): each `# expect: TEXT` comment holds, line by line, what
/// the statements since the previous expectation printed, and `# expect error: line L, column C: MESSAGE` the error
/// they stopped with (the script goes on after it, with the variables it had). Locations count from the top of the
/// file. One interpreter per script, with the standard library and help.
final class ScriptTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts").path

    enum Expectation: Equatable { case output(String), error(String) }

    /// A script's chunks: source lines (padded with blank lines so locations stay file-relative) and what follows them.
    static func chunks(_ text: String) -> [(source: String, firstLine: Int, expected: [Expectation])] {
        var result: [(String, Int, [Expectation])] = []
        var lines: [String] = [], start = 1, expected: [Expectation] = []
        for (i, line) in text.components(separatedBy: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            var expectation: Expectation?
            if trimmed.hasPrefix("# expect error:") { expectation = .error(String(trimmed.dropFirst(15)).trimmingCharacters(in: .whitespaces)) }
            else if trimmed.hasPrefix("# expect:") { expectation = .output(String(trimmed.dropFirst(9)).trimmingCharacters(in: .whitespaces)) }
            if let expectation {
                expected.append(expectation)
                continue
            }
            if !expected.isEmpty {
                result.append((lines.joined(separator: "\n"), start, expected))
                lines = []; expected = []; start = i + 1
            }
            lines.append(line)
        }
        if !expected.isEmpty || lines.contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") }) {
            result.append((lines.joined(separator: "\n"), start, expected))
        }
        return result
    }

    func testScripts() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder).filter { $0.hasSuffix(".al") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 3, "scripts in \(Self.folder)")
        var checked = 0
        for name in names {
            let text = try String(contentsOfFile: (Self.folder as NSString).appendingPathComponent(name), encoding: .utf8)
            let host = RecordingHost(), registry = Registry()
            StandardLibrary.register(into: registry)
            Help.register(into: registry)
            let interp = Interpreter(registry: registry, host: host)
            for chunk in Self.chunks(text) {
                host.lines = []
                let padded = String(repeating: "\n", count: chunk.firstLine - 1) + chunk.source
                var got: [Expectation] = []
                do {
                    try interp.run(padded) { value in if !value.isNone { host.print(value.description) } }
                } catch let e as LanguageError {
                    got.append(.error((e.location.map { "line \($0.line), column \($0.column): " } ?? "") + e.message))
                }
                got = host.lines.flatMap { $0.components(separatedBy: "\n") }.map { .output($0) } + got
                XCTAssertEqual(got, chunk.expected, "\(name), the lines from \(chunk.firstLine)")
                checked += chunk.expected.count
            }
        }
        XCTAssertGreaterThan(checked, 20, "expectations checked")
    }

    /// The chunking itself: expectations close a chunk, and a chunk without one is reported as expecting nothing.
    func testChunksFollowTheExpectations() {
        let c = Self.chunks("a = 1\nprint(a)\n# expect: 1\n\nb\n# expect error: line 5, column 1: unknown name `b`\nc = 2\n")
        XCTAssertEqual(c.map(\.firstLine), [1, 4, 7])
        XCTAssertEqual(c[0].expected, [.output("1")])
        XCTAssertEqual(c[1].expected, [.error("line 5, column 1: unknown name `b`")])
        XCTAssertEqual(c[2].expected, [], "statements after the last expectation must print nothing")
    }
}
