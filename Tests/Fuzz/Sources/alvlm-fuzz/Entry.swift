import AlvlmFuzzSurfaces
import Foundation

// libFuzzer's entry points. The surface is read once, before the first input: ALVLM_FUZZ_SURFACE names one of
// FuzzSurface's cases (Scripts/fuzz.sh sets it).

nonisolated(unsafe) var surface: FuzzSurface = .language

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let name = ProcessInfo.processInfo.environment["ALVLM_FUZZ_SURFACE"] ?? ""
    guard let chosen = FuzzSurface(rawValue: name) else {
        FileHandle.standardError.write(Data("ALVLM_FUZZ_SURFACE must be one of: \(FuzzSurface.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(name)\")\n".utf8))
        exit(2)
    }
    surface = chosen
    FuzzSurface.prepare()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    _ = try? surface.run(data)
    return 0
}
