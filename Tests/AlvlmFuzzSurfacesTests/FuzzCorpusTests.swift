import AlvlmActive
import AlvlmFuzzSurfaces
import AlvlmTestSupport
import Foundation
import XCTest

/// The fuzzers' committed inputs through the same surfaces the fuzzers drive, in the ordinary test build (bounds
/// checks on): every seed and every reproducer a fuzzer found must be refused or accepted, never crash. Seeds named
/// `valid-*` are real files of their format and must be accepted, so that a surface that refuses everything (and
/// would leave the fuzzer nothing to explore) fails here; every reproducer (Tests/Fuzz/Regressions) must finish, and those named `refused-*` be refused.
final class FuzzCorpusTests: XCTestCase {
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    func inputs(_ kind: String, _ surface: FuzzSurface) throws -> [(name: String, data: Data)] {
        let dir = Self.fuzzRoot.appendingPathComponent(kind).appendingPathComponent(surface.rawValue)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return try names.sorted().map { ($0, try Data(contentsOf: dir.appendingPathComponent($0))) }
    }

    func testEverySurfaceHasValidSeedsThatItAccepts() throws {
        for surface in FuzzSurface.allCases {
            let seeds = try inputs("Corpus", surface)
            XCTAssertTrue(seeds.contains { $0.name.hasPrefix("valid-") }, "\(surface.rawValue): no valid-* seed in Tests/Fuzz/Corpus")
            for seed in seeds {
                if seed.name.hasPrefix("valid-") {
                    XCTAssertNoThrow(try surface.run(seed.data), "\(surface.rawValue)/\(seed.name)")
                } else {
                    _ = try? surface.run(seed.data)
                }
            }
        }
    }

    /// Reproducers named `refused-*` must be refused; the others (inputs that crashed, leaked or hung before a fix)
    /// must simply finish.
    func testEveryReproducerFinishesAndTheRefusedOnesAreRefused() throws {
        var count = 0
        for surface in FuzzSurface.allCases {
            for input in try inputs("Regressions", surface) {
                count += 1
                if input.name.hasPrefix("refused-") {
                    XCTAssertThrowsError(try surface.run(input.data), "\(surface.rawValue)/\(input.name) was accepted")
                } else {
                    _ = try? surface.run(input.data)
                }
            }
        }
        XCTAssertGreaterThan(count, 0, "no reproducers found under \(Self.fuzzRoot.path)/Regressions")
    }
}
