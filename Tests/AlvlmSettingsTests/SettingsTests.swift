import AlvlmSettings
import XCTest

/// The environment is read in one place, and means one thing.
final class SettingsTests: XCTestCase {
    func testTheCacheFolderHoldsFeaturesPoolsAndTheJournal() {
        let plain = Settings(environment: [:], home: "/home/u", processors: 6)
        XCTAssertEqual(plain.cacheRoot, "/home/u/.cache/alvlm")
        XCTAssertEqual(plain.featuresDirectory, "/home/u/.cache/alvlm/features")
        XCTAssertEqual(plain.poolsDirectory, "/home/u/.cache/alvlm/pools")
        XCTAssertEqual(plain.journal, "/home/u/.cache/alvlm/labels.journal")
        XCTAssertEqual(plain.history, "/home/u/.alvlm_history")
        XCTAssertEqual(plain.cores, 6)
        let xdg = Settings(environment: ["XDG_CACHE_HOME": "/xdg"], home: "/home/u")
        XCTAssertEqual(xdg.featuresDirectory, "/xdg/alvlm/features")
        XCTAssertEqual(xdg.journal, "/xdg/alvlm/labels.journal")
        // ALVLM_CACHE wins over XDG_CACHE_HOME and is the base folder for everything inside.
        let own = Settings(environment: ["ALVLM_CACHE": "~/c", "XDG_CACHE_HOME": "/xdg", "ALVLM_CORES": "3", "ALVLM_JOURNAL": "/j/l.journal"], home: "/home/u")
        XCTAssertEqual(own.cacheRoot, "/home/u/c")
        XCTAssertEqual(own.poolsDirectory, "/home/u/c/pools")
        XCTAssertEqual(own.journal, "/j/l.journal")
        XCTAssertEqual(own.cores, 3)
        // Empty or out-of-range values count as unset.
        let odd = Settings(environment: ["ALVLM_CACHE": "", "ALVLM_CORES": "0", "COLUMNS": "-4"], home: "/h", processors: 2)
        XCTAssertEqual(odd.cacheRoot, "/h/.cache/alvlm")
        XCTAssertEqual(odd.cores, 2)
        XCTAssertNil(odd.columns)
        XCTAssertEqual(Settings(environment: ["TERM": "xterm", "HOME": "/x"], home: "/h").terminal, ["TERM": "xterm"])
    }
}
