import AlvlmEngine
import AlvlmKernels
import Foundation

/// How a selection holds the pool's features (N rows of width D).
public enum FeatureStorage: String, CaseIterable, Sendable {
    /// float32 in the process's memory (4·N·D bytes), normalised in place.
    case float32
    /// float16 in the process's memory (2·N·D bytes): a `<f2` file as it is, a `<f4` one rounded to the nearest half
    /// (ties to even, as numpy's astype(float16)). Kernels read float32 blocks converted from it.
    case float16
    /// The `.npy` file mapped read-only, float32 or float16 as it holds them: no copy in the process's own memory;
    /// kernels read float32 blocks converted from it.
    case mapped

    public var summary: String {
        switch self {
        case .float32: "float32 in memory (4·N·D bytes)"
        case .float16: "float16 in memory (2·N·D bytes; a float32 file is rounded to float16)"
        case .mapped: "the file mapped read-only (float32 or float16 as it holds them; pages come from the page cache)"
        }
    }
}

/// The pool's feature rows as the selection kernels read them: float32 blocks, handed out in place when the rows are
/// float32 in memory, otherwise converted from float16 or from a mapped file a block at a time. Normalising stores
/// each row's factor instead of rewriting the rows (`normalized()`); the factor is computed and applied exactly as
/// `normalizeRows` does, so a kernel reads the same floats whichever way the rows are held.
public struct FeatureRows: @unchecked Sendable {
    public let rows: Int
    public let width: Int
    let values: Values
    /// Row r is read multiplied by scales[r] (nil: as held).
    let scales: [Float]?

    enum Values {
        case floats([Float])
        case memory(RowMemory)
    }

    /// Rows held somewhere other than a Swift array: owned float16 values, or a mapped file's.
    final class RowMemory: @unchecked Sendable {
        let base: UnsafeRawPointer
        let dtype: NPY.DType
        /// The mapping that holds the values, or nil when they were allocated here (and are freed here).
        let mapping: NPY.Mapping?
        init(mapping: NPY.Mapping) { base = mapping.payload; dtype = mapping.dtype; self.mapping = mapping }
        init(halves count: Int, fill: (UnsafeMutablePointer<UInt16>) -> Void) {
            let p = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, count))
            fill(p)
            base = UnsafeRawPointer(p); dtype = .float16; mapping = nil
        }
        deinit { if mapping == nil { base.deallocate() } }
    }

    /// float32 rows, read as they are (no copy).
    public init(_ values: [Float], width: Int) throws {
        guard width > 0, values.count % width == 0 else { throw EngineError(.argument, "\(values.count) values are not rows of width \(width)") }
        self.init(rows: values.count / width, width: width, values: .floats(values), scales: nil)
    }

    /// float32 rows known to fit the width.
    init(floats values: [Float], width: Int) { self.init(rows: values.count / width, width: width, values: .floats(values), scales: nil) }

    init(rows: Int, width: Int, values: Values, scales: [Float]?) {
        self.rows = rows; self.width = width; self.values = values; self.scales = scales
    }

    /// The rows rounded to float16 and held so (2 bytes a value).
    public static func halves(of values: [Float], width: Int) throws -> FeatureRows {
        let rows = try FeatureRows(values, width: width)
        let memory = RowMemory(halves: values.count) { out in
            values.withUnsafeBufferPointer { vp in
                Parallel.chunks(rows.rows, minimumPerChunk: 4096) { _, range in
                    let part = UnsafeBufferPointer(rebasing: vp[(range.lowerBound * width)..<(range.upperBound * width)])
                    let bits = NPY.halfBits(part)
                    bits.withUnsafeBufferPointer { (out + range.lowerBound * width).update(from: $0.baseAddress!, count: bits.count) }
                }
            }
        }
        return FeatureRows(rows: rows.rows, width: width, values: .memory(memory), scales: nil)
    }

    /// A (N, D) float32 or float16 `.npy` file, held as `storage` says.
    public static func load(_ path: String, storage: FeatureStorage) throws -> FeatureRows {
        if storage == .float32 {
            let (shape, values) = try NPY.readFloats(path)
            guard shape.count == 2 else { throw EngineError(.format, "features must be a 2-D array (N, D), not \(shape)", path: path) }
            return try FeatureRows(values, width: max(1, shape[1]))
        }
        if storage == .mapped {
            let mapping = try NPY.map(path)
            guard mapping.shape.count == 2, mapping.shape[1] > 0 else {
                throw EngineError(.format, "features must be a 2-D array (N, D), not \(mapping.shape)", path: path)
            }
            return FeatureRows(rows: mapping.shape[0], width: mapping.shape[1], values: .memory(RowMemory(mapping: mapping)), scales: nil)
        }
        // Into memory as float16, read a block at a time: a half file copied, a float file rounded.
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EngineError(.io, "cannot read file", path: path) }
        let header = try NPY.header(of: handle, path: path), shape = header.shape
        try? handle.close()
        guard header.dtype == .float32 || header.dtype == .float16 else {
            throw EngineError(.format, "features held as float16 come from a float32 (<f4) or float16 (<f2) file, not \(header.dtype.rawValue)", path: path)
        }
        guard shape.count == 2, shape[1] > 0 else { throw EngineError(.format, "features must be a 2-D array (N, D), not \(shape)", path: path) }
        var failure: Error?
        let memory = RowMemory(halves: shape[0] * shape[1]) { out in
            do {
                try NPY.forEachBlock(path) { dtype, start, raw in
                    if dtype == .float16 {
                        UnsafeMutableRawPointer(out + start).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
                    } else {
                        let bits = NPY.halfBits(raw.bindMemory(to: Float.self))
                        bits.withUnsafeBufferPointer { (out + start).update(from: $0.baseAddress!, count: bits.count) }
                    }
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
        return FeatureRows(rows: shape[0], width: shape[1], values: .memory(memory), scales: nil)
    }

    /// How the rows are held, and the bytes they take in the process (a mapping's pages belong to the page cache).
    public var storage: (kind: FeatureStorage, bytes: Int) {
        switch values {
        case .floats(let v): (.float32, 4 * v.count)
        case .memory(let m): m.mapping == nil ? (.float16, 2 * rows * width) : (.mapped, 0)
        }
    }

    /// Unit rows: float32 arrays normalised in place (pass the rows as their last use), other storage by a factor
    /// per row.
    public consuming func normalized() -> FeatureRows {
        switch values {
        case .floats(var v):
            self = FeatureRows(rows: rows, width: width, values: .floats([]), scales: nil)
            normalizeRows(&v, width: width)
            return FeatureRows(rows: rows, width: width, values: .floats(v), scales: nil)
        case .memory:
            let d = width
            var scales = [Float](repeating: 0, count: rows)
            scales.withUnsafeMutableBufferPointer { sp in
                let s = sp.baseAddress!
                forEachBlock { r0, count, block in
                    for t in 0..<count { s[r0 + t] = inverseNorm(block + t * d, width: d) }
                }
            }
            return FeatureRows(rows: rows, width: width, values: values, scales: scales)
        }
    }

    /// Rows r0..<r0+count as float32, [count, width]: in place for float32 arrays, else converted into a buffer that
    /// lives for the call.
    public func withRows<R>(_ r0: Int, _ count: Int, _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        precondition(r0 >= 0 && count >= 0 && r0 + count <= rows, "rows \(r0)..<\(r0 + count) of \(rows)")
        if case .floats(let v) = values {
            return try v.withUnsafeBufferPointer { try body($0.baseAddress! + r0 * width) }
        }
        return try withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, count * width)) { buffer in
            for t in 0..<count { copyRow(r0 + t, to: buffer.baseAddress! + t * width) }
            return try body(UnsafePointer(buffer.baseAddress!))
        }
    }

    /// Every row in blocks of `block` rows, the blocks spread over the cores: body(first row, count, rows).
    public func forEachBlock(block: Int = 1024, _ body: (Int, Int, UnsafePointer<Float>) -> Void) {
        let blocks = (rows + block - 1) / block
        Parallel.chunks(blocks) { _, range in
            for b in range {
                let r0 = b * block, count = min(block, rows - r0)
                withRows(r0, count) { body(r0, count, $0) }
            }
        }
    }

    /// Row r as float32 into `dst` (width values).
    @inline(__always)
    public func copyRow(_ r: Int, to dst: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows, "row \(r) of \(rows)")
        let scale = scales?[r] ?? 1
        switch values {
        case .floats(let v):
            v.withUnsafeBufferPointer { dst.update(from: $0.baseAddress! + r * width, count: width) }
        case .memory(let m):
            if m.dtype == .float16 {
                HalfPrecision.convert(m.base.assumingMemoryBound(to: UInt16.self) + r * width, into: dst, count: width, scale: scale)
            } else {
                let src = m.base.assumingMemoryBound(to: Float.self) + r * width
                if scales == nil { dst.update(from: src, count: width) } else { for j in 0..<width { dst[j] = src[j] * scale } }
            }
        }
    }

    /// The given rows, packed [rows.count, width], into `dst`.
    public func gather(_ rows: some Collection<Int>, into dst: UnsafeMutablePointer<Float>) {
        for (t, r) in rows.enumerated() { copyRow(r, to: dst + t * width) }
    }

    /// The given rows, packed [rows.count, width].
    public func gathered(_ rows: some Collection<Int>) -> [Float] {
        [Float](unsafeUninitializedCapacity: rows.count * width) { buffer, initialised in
            gather(rows, into: buffer.baseAddress!)
            initialised = rows.count * width
        }
    }

    /// Row r as float32.
    public func row(_ r: Int) -> [Float] { gathered(CollectionOfOne(r)) }

    /// The given rows as rows of their own, held as these are (float16 stays float16); every row in order is these
    /// rows themselves, not a copy.
    public func subset(_ rows: [Int]) -> FeatureRows {
        if rows.count == self.rows, rows.elementsEqual(0..<self.rows) { return self }
        switch values {
        case .floats:
            return FeatureRows(rows: rows.count, width: width, values: .floats(gathered(rows)), scales: nil)
        case .memory(let m):
            let sub = scales.map { s in rows.map { s[$0] } }
            if m.dtype == .float16 {
                let d = width, src = m.base.assumingMemoryBound(to: UInt16.self)
                let memory = RowMemory(halves: rows.count * d) { out in
                    for (t, r) in rows.enumerated() { (out + t * d).update(from: src + r * d, count: d) }
                }
                return FeatureRows(rows: rows.count, width: width, values: .memory(memory), scales: sub)
            }
            // A mapped float32 file: the rows gathered as float32 (with their factors applied).
            return FeatureRows(rows: rows.count, width: width, values: .floats(gathered(rows)), scales: nil)
        }
    }

    /// All rows as one float32 array (for float32 arrays, the array itself).
    public var floats: [Float] {
        if case .floats(let v) = values { return v }
        return [Float](unsafeUninitializedCapacity: rows * width) { buffer, initialised in
            let base = buffer.baseAddress!, d = width
            Parallel.chunks(rows, minimumPerChunk: 4096) { _, range in
                for r in range { copyRow(r, to: base + r * d) }
            }
            initialised = rows * width
        }
    }

    /// The first row holding NaN or infinity.
    public func firstNonFiniteRow() -> Int? {
        var bad = Int.max
        let lock = NSLock()
        forEachBlock { r0, count, block in
            for t in 0..<count where (0..<width).contains(where: { !block[t * width + $0].isFinite }) {
                lock.lock(); bad = min(bad, r0 + t); lock.unlock()
                return
            }
        }
        return bad == Int.max ? nil : bad
    }
}
