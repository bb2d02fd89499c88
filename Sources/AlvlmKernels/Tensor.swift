/// Tensors as views into one allocation: a model's parameters, their gradients, an optimiser's moments or a pass's
/// saved activations each live in a single `FloatStorage`, and every tensor is a `Tensor` (offset and count) into it.
/// Kernels get a tensor's `pointer`; zeroing a whole set (gradients between steps) is one `zero()`, no allocation.
///
/// Views have reference semantics: copying a `Tensor` (or a struct of them) shares the values; `FloatStorage.copy()`
/// makes an independent set.

/// One zero-initialised allocation of float32 values.
public final class FloatStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        precondition(count >= 0, "a storage of \(count) values")
        self.count = count
        base = .allocate(capacity: max(1, count))
        base.initialize(repeating: 0, count: max(1, count))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { if let v = $0.baseAddress { base.update(from: v, count: values.count) } }
    }

    deinit { base.deallocate() }

    /// Every value set to zero (no allocation).
    public func zero() { base.update(repeating: 0, count: count) }

    /// An independent storage holding the same values.
    public func copy() -> FloatStorage {
        let c = FloatStorage(count: count)
        c.base.update(from: base, count: count)
        return c
    }

    /// All values, copied out.
    public var values: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Whether every value is finite (no NaN or infinity).
    public var allFinite: Bool { UnsafeBufferPointer(start: base, count: count).allSatisfy(\.isFinite) }

    /// Replaces every value (sizes must match).
    public func assign(_ values: [Float]) {
        precondition(values.count == count, "\(values.count) values for a storage of \(count)")
        values.withUnsafeBufferPointer { if let v = $0.baseAddress { base.update(from: v, count: count) } }
    }
}

/// `count` consecutive values of a storage, from `offset`.
public struct Tensor: @unchecked Sendable {
    public let storage: FloatStorage
    public let offset: Int
    public let count: Int

    public init(_ storage: FloatStorage, offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= storage.count, "a view of \(count) values at \(offset) past a storage of \(storage.count)")
        self.storage = storage; self.offset = offset; self.count = count
    }

    /// A tensor with its own storage holding `values`.
    public init(_ values: [Float]) { self.init(FloatStorage(values), offset: 0, count: values.count) }

    /// Placeholder for a tensor not yet laid out (no values).
    public static let empty = Tensor(FloatStorage(count: 0), offset: 0, count: 0)

    /// Where the values start, for kernels (valid while the storage lives: hold the tensor, not the pointer).
    public var pointer: UnsafeMutablePointer<Float> { storage.base + offset }

    public subscript(i: Int) -> Float {
        get { precondition(i >= 0 && i < count, "index \(i) of a tensor of \(count)"); return storage.base[offset + i] }
        nonmutating set { precondition(i >= 0 && i < count, "index \(i) of a tensor of \(count)"); storage.base[offset + i] = newValue }
    }

    /// Values in `range`, copied out.
    public subscript(range: Range<Int>) -> [Float] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) of a tensor of \(count)")
        return Array(UnsafeBufferPointer(start: pointer + range.lowerBound, count: range.count))
    }

    /// All values, copied out.
    public var values: [Float] { self[0..<count] }

    /// Replaces every value (sizes must match).
    public func assign(_ values: [Float]) {
        precondition(values.count == count, "\(values.count) values for a tensor of \(count)")
        values.withUnsafeBufferPointer { if let v = $0.baseAddress { pointer.update(from: v, count: count) } }
    }

    /// Sets every value to `value`.
    public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }
}
