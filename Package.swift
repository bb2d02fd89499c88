// swift-tools-version:6.0
// alvlm: active learning for vision-language models.
// Layers, one-way: AlvlmKernels (BLAS, the parallel loop, forward/backward kernels) <- AlvlmEngine (CLIP, CoOp)
// <- AlvlmActive (pools, strategies, experiments)
// <- alvlm (command line, I/O only). AlvlmPlot (figures drawn through gnuplot-iostream) stands apart and
// imports none of them. No library target does terminal I/O.
import PackageDescription

let package = Package(
    name: "alvlm",
    products: [
        .executable(name: "alvlm", targets: ["alvlm"]),
        .library(name: "AlvlmEngine", targets: ["AlvlmEngine"]),
        .library(name: "AlvlmActive", targets: ["AlvlmActive"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian packages.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        // libedit behind a small C layer (completion needs a C trampoline).
        .target(name: "CLineEdit", dependencies: ["CEdit"]),
        // setjmp-based error handling of libjpeg/libpng must live in C.
        .target(name: "CImageCodec", dependencies: ["CJPEG", "CPNG"]),
        // The numeric kernels: BLAS wrappers, the one parallel loop, forward/backward pairs (no model knowledge).
        .target(name: "AlvlmKernels", dependencies: ["CBLAS"]),
        // Double-precision reference twins of the kernels, for tests only.
        .target(name: "AlvlmTestSupport", dependencies: ["AlvlmKernels"]),
        .target(
            name: "AlvlmEngine",
            dependencies: ["AlvlmKernels", "CBLAS", "CImageCodec"],
            resources: [.copy("Resources/vocab.json"), .copy("Resources/merges.txt"), .copy("Resources/tiny-clip")]
        ),
        // Active learning: pools, oracles, strategies, experiments (numerics, no terminal I/O).
        .target(name: "AlvlmActive", dependencies: ["AlvlmEngine"]),
        // gnuplot-iostream (Debian's libgnuplot-iostream-dev, header-only on Boost.Iostreams) behind a C interface
        // that never throws: the binary data path to gnuplot. Installed by Scripts/deps.sh.
        .target(
            name: "CGnuplotIO",
            linkerSettings: [.linkedLibrary("boost_iostreams"), .linkedLibrary("boost_filesystem")]
        ),
        // Figures as gnuplot programs (script text + binary tables) and their text stand-ins.
        .target(name: "AlvlmPlot", dependencies: ["CGnuplotIO"]),
        // ZeroMQ (Debian's libzmq3-dev) for the Jupyter kernel's sockets.
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        // The Jupyter messaging protocol (wire format, HMAC signing, sockets, the kernel loop), for any backend.
        .target(name: "AlvlmJupyter", dependencies: ["CZeroMQ"]),
        // The alvlm language: lexer, parser, evaluator, builtin registry (no numerics, no I/O).
        .target(name: "AlvlmLanguage"),
        // The engine exposed to the language (builtins and object members).
        .target(name: "AlvlmBindings", dependencies: ["AlvlmEngine", "AlvlmActive", "AlvlmLanguage"]),
        .executableTarget(
            name: "alvlm",
            dependencies: ["AlvlmEngine", "AlvlmActive", "AlvlmLanguage", "AlvlmBindings", "AlvlmPlot", "AlvlmJupyter", "CLineEdit",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "AlvlmEngineTests",
            dependencies: ["AlvlmKernels", "AlvlmTestSupport", "AlvlmEngine", "AlvlmActive", "AlvlmLanguage", "AlvlmBindings"]
        ),
        .testTarget(name: "AlvlmPlotTests", dependencies: ["AlvlmPlot", "CGnuplotIO"]),
        .testTarget(name: "AlvlmJupyterTests", dependencies: ["AlvlmJupyter"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
