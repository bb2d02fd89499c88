import CBFloat16

/// Opt-in bfloat16 linear layers (`CBFloat16`): y = bf16(x)·bf16(W)ᵀ (+ bias) (+ y), products summed in float32,
/// on AMX tiles or AVX512-BF16 where the CPU and the OS offer them. Inference only (no backward).
/// Dimensions: rows r, input features i, output features o; weights in nn.Linear layout [o, i].
public enum BFloat16 {
    /// What this machine offers, best first; detected once (the first use asks Linux for AMX tile state).
    public enum Support: Int32, Comparable, Sendable, CustomStringConvertible {
        case none = 0, avx512 = 1, amx = 2
        public static func < (a: Support, b: Support) -> Bool { a.rawValue < b.rawValue }
        public var description: String {
            switch self {
            case .none: "none"
            case .avx512: "avx512-bf16"
            case .amx: "amx-bf16"
            }
        }
    }

    /// The detected support, before any limit.
    public static let detected = Support(rawValue: alvlm_bf16_level()) ?? .none

    /// The support in use (`detected`, or lower after `limit(to:)`).
    public static var support: Support { Support(rawValue: alvlm_bf16_level()) ?? .none }

    /// Uses at most `level` from now on (tests and benchmarks: the AVX512-BF16 or scalar paths on an AMX machine).
    public static func limit(to level: Support) { _ = detected; alvlm_bf16_force_level(level.rawValue) }

    /// A weight [o, i] rounded to bfloat16 and laid out for the kernel (pairs of input features per 16 outputs).
    public struct PackedWeight: Sendable {
        public let outFeatures: Int, inFeatures: Int
        let values: [UInt16]

        public init(_ w: UnsafePointer<Float>, outFeatures o: Int, inFeatures i: Int) {
            precondition(o > 0 && i > 0, "a packed weight needs positive sizes")
            outFeatures = o; inFeatures = i
            values = [UInt16](unsafeUninitializedCapacity: alvlm_bf16_packed_size(Int32(o), Int32(i))) { buffer, count in
                alvlm_bf16_pack(w, Int32(o), Int32(i), buffer.baseAddress!)
                count = buffer.count
            }
        }

        public init(_ w: Tensor, outFeatures o: Int, inFeatures i: Int) {
            precondition(w.count == o * i, "weight is not [\(o), \(i)]")
            self.init(w.pointer, outFeatures: o, inFeatures: i)
        }
    }

    /// y[r] = (accumulate ? y[r] : 0) + bias + bf16(x[r])·bf16(W)ᵀ for `rows` rows, split across `cores`.
    public static func linear(_ x: UnsafePointer<Float>, rows: Int, weight w: PackedWeight, bias: UnsafePointer<Float>?,
                              into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, cores: Int = Engine.cores) {
        guard rows > 0 else { return }
        let i = w.inFeatures, o = w.outFeatures
        w.values.withUnsafeBufferPointer { packed in
            Parallel.chunks(rows, minimumPerChunk: 32, cores: cores) { _, range in
                alvlm_bf16_linear(x + range.lowerBound * i, Int32(range.count), Int32(i), packed.baseAddress!, Int32(o),
                                  bias, y + range.lowerBound * o, accumulate ? 1 : 0)
            }
        }
    }
}
