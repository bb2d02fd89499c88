import AlvlmSettings
import CBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Thin, typed wrappers over the CBLAS calls the engine uses, plus thread control.
/// Matrices are row-major; `W` in nn.Linear layout is [out, in].
public enum BLAS {
    /// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major.
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        Engine.singleThreadedBLAS
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// A GEMM split by rows of C across the engine's cores, each part on one BLAS thread.
    /// With `BLAS.threads == 1` this keeps OpenBLAS's own worker threads (which spin between calls) out of
    /// the way of the engine's other parallel loops.
    public static func parallelGemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, cores: Int = Engine.cores
    ) {
        // Parts of at least 64 rows; small products are not worth a thread.
        let parts = m * n * k < 1 << 21 ? 1 : min(cores, max(1, m / 64))
        if parts == 1 {
            gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        Parallel.chunks(m, minimumPerChunk: 64, cores: cores) { _, rows in
            // Rows of op(A): rows of A, or columns of A when transposed.
            gemm(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha,
                 a: transA ? a + rows.lowerBound : a + rows.lowerBound * lda, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
        }
    }

    /// Double-precision C = alpha · op(A) · op(B) + beta · C, row-major.
    public static func dgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Double = 1, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        Engine.singleThreadedBLAS
        cblas_dgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The OpenBLAS kernel in use (e.g. "Haswell", "SkylakeX"): the CPU's own, the one OPENBLAS_CORETYPE forced, or
    /// the one alvlm chose when OpenBLAS did not recognise the CPU (`kernelChoice`).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// What alvlm did about OpenBLAS's kernel at start: nil when it kept OpenBLAS's own choice, else a sentence
    /// ("SkylakeX chosen by alvlm: this OpenBLAS fell back to Prescott on a CPU it does not recognise").
    nonisolated(unsafe) public private(set) static var kernelChoice: String?

    /// Once, before the first matrix product: when OpenBLAS fell back to a kernel narrower than the CPU because it
    /// does not know the CPU (an older OpenBLAS on a newer processor), and OPENBLAS_CORETYPE is not set, rerun
    /// OpenBLAS's own kernel selection naming the kernel the CPU's flags allow (`BLASKernel.replacement`). A
    /// kernel the user forced with OPENBLAS_CORETYPE is never changed; ALVLM_KEEP_BLAS_KERNEL=1 keeps OpenBLAS's
    /// choice too. OpenBLAS reads the kernel name from its environment variable, so the variable is set for the
    /// moment of that call and removed again.
    static func adoptCPUKernel() {
        guard !Settings.process.keepBLASKernel, Settings.process.forcedBLASKernel == nil else { return }
        let before = coreName
        guard let name = BLASKernel.replacement(kernel: before, cpuFlags: BLASKernel.cpuFlags(), forced: nil),
              let quit = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gotoblas_dynamic_quit"),
              let initialise = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gotoblas_dynamic_init") else { return }
        typealias Call = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", name, 1)
        unsafeBitCast(quit, to: Call.self)()
        unsafeBitCast(initialise, to: Call.self)()
        unsetenv("OPENBLAS_CORETYPE")
        if coreName != before {
            kernelChoice = "\(coreName) chosen by alvlm: this OpenBLAS fell back to \(before) on a CPU it does not recognise (ALVLM_KEEP_BLAS_KERNEL=1 keeps it)"
        }
    }

    /// OpenBLAS's build description (version, DYNAMIC_ARCH, threading).
    public static var configuration: String { String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces) }

    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}

/// The OpenBLAS kernel against what the CPU could run: OpenBLAS picks its kernel at start (DYNAMIC_ARCH), or
/// takes the one OPENBLAS_CORETYPE names; an older OpenBLAS falls back to a generic kernel on a CPU it does not
/// know. Either way GEMMs then run at a fraction of the CPU's speed, which benchmarks should say.
public enum BLASKernel {
    /// Vector width the kernel is written for: 0 SSE, 1 AVX, 2 AVX2, 3 AVX-512.
    static func level(ofKernel name: String) -> Int? {
        let n = name.lowercased()
        if ["skylakex", "cooperlake", "sapphirerapids"].contains(n) { return 3 }
        if ["haswell", "zen", "zen2", "zen3", "zen4"].contains(n) { return 2 }
        if ["sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"].contains(n) { return 1 }
        if ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "opteron", "opteron_sse3", "barcelona", "bobcat", "katmai", "coppermine", "northwood", "banias", "athlon"].contains(n) { return 0 }
        return nil
    }

    /// The widest vector level the CPU's flags (from /proc/cpuinfo) allow.
    static func level(ofCPUFlags flags: Set<String>) -> Int {
        if flags.contains("avx512f") { return 3 }
        if flags.contains("avx2") && flags.contains("fma") { return 2 }
        if flags.contains("avx") { return 1 }
        return 0
    }

    static let levelNames = ["SSE", "AVX", "AVX2", "AVX-512"]

    /// Why GEMMs may run slower than this CPU allows, or nil when the kernel fits the CPU (or is unknown).
    public static func warning(kernel: String, cpuFlags: Set<String>, forced: String?) -> String? {
        guard let k = level(ofKernel: kernel) else { return nil }
        let cpu = level(ofCPUFlags: cpuFlags)
        guard k < cpu else { return nil }
        let why = forced.map { "OPENBLAS_CORETYPE=\($0) forces it" } ?? "this OpenBLAS does not recognise the CPU and fell back to it"
        return "OpenBLAS runs its \(kernel) kernel (\(levelNames[k])) on a CPU with \(levelNames[cpu]): \(why); matrix products run at a fraction of the CPU's speed"
    }

    /// The OpenBLAS kernel to run instead of `kernel`, or nil to keep it: only when nothing forced the kernel and
    /// it is narrower than the CPU's flags allow (the widest kernel the flags fully support: Cooperlake with
    /// AVX-512 BF16, SkylakeX with AVX-512 F/CD/BW/DQ/VL, Haswell with AVX2 and FMA, Sandybridge with AVX).
    public static func replacement(kernel: String, cpuFlags f: Set<String>, forced: String?) -> String? {
        guard forced == nil, let k = level(ofKernel: kernel) else { return nil }
        let avx512: Set<String> = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"]
        let choice: (name: String, level: Int)
        if avx512.isSubset(of: f) {
            choice = f.contains("avx512_bf16") ? ("Cooperlake", 3) : ("SkylakeX", 3)
        } else if f.contains("avx2") && f.contains("fma") {
            choice = ("Haswell", 2)
        } else if f.contains("avx") {
            choice = ("Sandybridge", 1)
        } else {
            return nil
        }
        return choice.level > k ? choice.name : nil
    }

    /// The flags line of /proc/cpuinfo (empty where there is none).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
