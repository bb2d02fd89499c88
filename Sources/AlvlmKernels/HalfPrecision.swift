import CBFloat16

/// float16 (IEEE binary16, numpy's `<f2`) to float32, exactly, with an optional scale applied in float32
/// (`CBFloat16/half_convert.c`: F16C instructions where the CPU has them, else portable C).
public enum HalfPrecision {
    public enum Level: Int32, Sendable { case portable = 0, f16c = 1 }
    public static var detected: Level { Level(rawValue: alvlm_half_level()) ?? .portable }
    /// Use at most `level` from now on (tests compare the levels).
    public static func limit(to level: Level) { alvlm_half_force_level(level.rawValue) }

    /// dst[i] = Float(Float16(bitPattern: src[i])) * scale, for i in 0..<count.
    @inline(__always)
    public static func convert(_ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
        alvlm_half_to_float(src, dst, count, scale)
    }
}
