// swift-tools-version:6.0
// alvlm: active learning for vision-language models.
// The modules, bottom to top; each imports only modules above it in this file (the README's "Layout" table
// says what each holds):
//   AlvlmSettings  <- AlvlmKernels <- AlvlmEngine <- AlvlmActive <- AlvlmWorld <- AlvlmSweep
//   AlvlmLanguage (alone) ; AlvlmPlot (alone) ; AlvlmJupyter (alone)
//   AlvlmBindings (engine, AL, world, sweep -> language) <- AlvlmSession (+ plots) <- alvlm (commands, libedit, signals)
// No library does terminal I/O except AlvlmSession, the language's host; no library reads the environment except
// AlvlmSettings.
import PackageDescription

let package = Package(
    name: "alvlm",
    products: [
        .executable(name: "alvlm", targets: ["alvlm"]),
        .library(name: "AlvlmEngine", targets: ["AlvlmEngine"]),
        .library(name: "AlvlmActive", targets: ["AlvlmActive"]),
        .library(name: "AlvlmSession", targets: ["AlvlmSession"]),
        // Every input surface as a function of bytes, for the fuzzers' package (Tests/Fuzz).
        .library(name: "AlvlmFuzzSurfaces", targets: ["AlvlmFuzzSurfaces"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - C libraries (Debian packages, installed by Scripts/deps.sh)

        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        // libedit behind a small C layer (completion goes through a C trampoline with a context pointer).
        .target(name: "CLineEdit", dependencies: ["CEdit"]),
        // setjmp-based error handling of libjpeg/libpng must live in C; so do the 8-bit resampling loops, compiled per
        // instruction set (AVX-512, AVX2, baseline) and chosen at run time.
        .target(name: "CImageCodec", dependencies: ["CJPEG", "CPNG"]),
        // gnuplot-iostream (header-only on Boost.Iostreams) behind a C interface that never throws: the binary data
        // path to gnuplot.
        .target(name: "CGnuplotIO", linkerSettings: [.linkedLibrary("boost_iostreams"), .linkedLibrary("boost_filesystem")]),
        // bfloat16 matrix products with AMX or AVX512-BF16 (intrinsics per function, detected at run time): the image
        // tower's opt-in bfloat16 path. Debian's OpenBLAS has no sbgemm.
        .target(name: "CBFloat16"),

        // MARK: - Libraries

        // The environment, read once (`Settings.process`): cache folder, journal, history, cores, plot terminal.
        .target(name: "AlvlmSettings"),
        // The numeric kernels: BLAS wrappers, the one parallel loop, forward/backward pairs, seeded randomness.
        .target(name: "AlvlmKernels", dependencies: ["AlvlmSettings", "CBLAS", "CBFloat16"]),
        // CLIP, its tokenizer and images, CoOp/VPT/MaPLe, classifiers, the feature cache (no datasets, no world).
        .target(name: "AlvlmEngine", dependencies: ["AlvlmSettings", "AlvlmKernels", "CBLAS", "CImageCodec"],
                resources: [.copy("Resources/vocab.json"), .copy("Resources/merges.txt")]),
        // Active learning: pools, dataset loaders, oracles, the strategy table, experiments, comparisons.
        .target(name: "AlvlmActive", dependencies: ["AlvlmEngine"]),
        // The embedded texture world: painters, the BPE learner, the tiny CLIP (architecture, pretraining recipe,
        // shipped weights, recommended trainers, training record) and its pool.
        .target(name: "AlvlmWorld", dependencies: ["AlvlmSettings", "AlvlmKernels", "AlvlmEngine", "AlvlmActive"],
                resources: [.copy("Resources/tiny-clip")]),
        // Comparisons as sweeps: a folder of independent tasks run locally or as Slurm job arrays, merged exactly.
        .target(name: "AlvlmSweep", dependencies: ["AlvlmSettings", "AlvlmEngine", "AlvlmActive", "AlvlmWorld"]),
        // The alvlm language: lexer, parser, evaluator, builtin registry, standard library, help (no numerics, no I/O).
        .target(name: "AlvlmLanguage"),
        // Figures as gnuplot programs (script text + binary tables) and their text stand-ins.
        .target(name: "AlvlmPlot", dependencies: ["CGnuplotIO"]),
        // The Jupyter messaging protocol (wire format, HMAC signing, sockets, the kernel loop), for any backend.
        .target(name: "AlvlmJupyter", dependencies: ["CZeroMQ"]),
        // The engine exposed to the language: builtins, object members, and what they need from a host.
        .target(name: "AlvlmBindings", dependencies: ["AlvlmSettings", "AlvlmEngine", "AlvlmActive", "AlvlmWorld", "AlvlmSweep", "AlvlmLanguage"]),
        // The session and notebooks: the language's host (output, progress, cancellation, labelling, figures), the
        // notebook format, runner and reports, completion, plotting through gnuplot. No libedit, no argument parsing.
        .target(name: "AlvlmSession", dependencies: ["AlvlmSettings", "AlvlmEngine", "AlvlmActive", "AlvlmLanguage", "AlvlmBindings", "AlvlmPlot"]),

        // MARK: - Executable: main, the commands, the libedit loop, signal handling, the Jupyter kernel's backend

        .executableTarget(
            name: "alvlm",
            dependencies: ["AlvlmSettings", "AlvlmKernels", "AlvlmEngine", "AlvlmActive", "AlvlmWorld", "AlvlmSweep", "AlvlmLanguage", "AlvlmBindings",
                           "AlvlmPlot", "AlvlmSession", "AlvlmJupyter", "CLineEdit",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: - Test support and one test bundle per module

        // Fixture paths, the one runner of the binary, a recording host, comparison helpers, double-precision
        // reference kernels.
        .target(name: "AlvlmTestSupport", dependencies: ["AlvlmKernels", "AlvlmLanguage"], path: "Tests/AlvlmTestSupport"),
        // Every file format alvlm reads from others, as a function of bytes: driven by the fuzzers (Tests/Fuzz, a
        // package of its own built with -sanitize=fuzzer,address) and replayed by AlvlmFuzzSurfacesTests.
        .target(name: "AlvlmFuzzSurfaces", dependencies: ["AlvlmEngine", "AlvlmActive", "AlvlmLanguage", "AlvlmSession", "AlvlmSweep"],
                path: "Tests/AlvlmFuzzSurfaces"),
        .testTarget(name: "AlvlmSettingsTests", dependencies: ["AlvlmSettings"]),
        .testTarget(name: "AlvlmKernelsTests", dependencies: ["AlvlmKernels", "AlvlmSettings", "AlvlmTestSupport"]),
        .testTarget(name: "AlvlmEngineTests", dependencies: ["AlvlmKernels", "AlvlmEngine", "AlvlmTestSupport"]),
        .testTarget(name: "AlvlmActiveTests", dependencies: ["AlvlmEngine", "AlvlmActive", "AlvlmTestSupport"]),
        .testTarget(name: "AlvlmWorldTests", dependencies: ["AlvlmEngine", "AlvlmActive", "AlvlmWorld", "AlvlmTestSupport"]),
        // Language behaviour as .al scripts with `# expect:` comments (Scripts/), run by ScriptTests.
        .testTarget(name: "AlvlmLanguageTests", dependencies: ["AlvlmLanguage", "AlvlmTestSupport"], exclude: ["Scripts"]),
        .testTarget(name: "AlvlmPlotTests", dependencies: ["AlvlmPlot", "CGnuplotIO", "AlvlmTestSupport"]),
        .testTarget(name: "AlvlmJupyterTests", dependencies: ["AlvlmJupyter"]),
        .testTarget(name: "AlvlmBindingsTests", dependencies: ["AlvlmSettings", "AlvlmEngine", "AlvlmActive", "AlvlmWorld", "AlvlmLanguage",
                                                              "AlvlmBindings", "AlvlmTestSupport"]),
        .testTarget(name: "AlvlmSessionTests", dependencies: ["AlvlmSettings", "AlvlmEngine", "AlvlmActive", "AlvlmLanguage", "AlvlmBindings",
                                                             "AlvlmPlot", "AlvlmSession", "AlvlmTestSupport"]),
        // The fuzzers' seed corpora and every reproducer they found (Tests/Fuzz), through the same surfaces.
        .testTarget(name: "AlvlmFuzzSurfacesTests", dependencies: ["AlvlmFuzzSurfaces", "AlvlmActive", "AlvlmTestSupport"]),
        // The command line, the shipped notebooks, the REPL under tmux: through the binary.
        .testTarget(name: "alvlmTests", dependencies: ["AlvlmEngine", "AlvlmActive", "AlvlmWorld", "AlvlmTestSupport"]),
    ],
    swiftLanguageModes: [.v5],
    cxxLanguageStandard: .cxx17
)
