// swift-tools-version:6.0
// The fuzzers: one libFuzzer binary over every input surface of alvlm (AlvlmFuzzSurfaces in the main package).
// Built by Scripts/fuzz.sh with -sanitize=fuzzer,address; the surface is chosen by ALVLM_FUZZ_SURFACE.
import PackageDescription

let package = Package(
    name: "alvlm-fuzz",
    dependencies: [.package(name: "alvlm", path: "../..")],
    targets: [
        // libFuzzer supplies main: the entry file is a library file.
        .executableTarget(name: "alvlm-fuzz", dependencies: [.product(name: "AlvlmFuzzSurfaces", package: "alvlm")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ],
    swiftLanguageModes: [.v5]
)
