import AlvlmLanguage
import AlvlmSession
import AlvlmSettings
import AlvlmTestSupport
import Foundation
import XCTest

/// Every builtin a session registers says what it does and rejects unknown and mistyped arguments by name.
final class RegistryContractTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testEveryBuiltinRejectsUnknownAndMistypedArguments() throws {
        // A whole session's registry: the language's, the engine's and the session's own builtins.
        let session = Session(settings: Settings(environment: [:], home: dir))
        session.output = { _ in }
        let registry = session.registry, interp = session.interpreter
        XCTAssertGreaterThan(registry.builtins.count, 20)
        for (name, builtin) in registry.builtins {
            XCTAssertFalse(builtin.summary.isEmpty, "\(name) has help text")
            XCTAssertThrowsError(try interp.run("\(name)(zzz_unknown: 1)"), name) { e in
                let message = (e as! LanguageError).message
                XCTAssertTrue(message.contains("unknown argument `zzz_unknown` for `\(name)`"), "\(name): \(message)")
            }
            // Deferred arguments are expressions of any type, evaluated by the builtin (time(expr)).
            for p in builtin.parameters where !builtin.deferredArguments {
                let wrong: String
                switch p.type {
                case .string, .choice: wrong = "[1]"
                case .any: continue
                default: wrong = "\"text\""
                }
                if case .oneOf(let types) = p.type, types.contains(where: { if case .string = $0 { return true }; return false }) { continue }
                XCTAssertThrowsError(try interp.run("\(name)(\(p.name): \(wrong))"), "\(name).\(p.name)") { e in
                    let message = (e as! LanguageError).message
                    XCTAssertTrue(message.contains("argument `\(p.name)` of `\(name)` must be"), "\(name).\(p.name): \(message)")
                }
            }
        }
        for (type, members) in registry.members {
            XCTAssertNotNil(registry.typeSummaries[type])
            for (name, m) in members { XCTAssertFalse(m.summary.isEmpty, "\(type).\(name) has help text") }
        }
    }
}
