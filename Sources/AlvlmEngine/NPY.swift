import AlvlmKernels
import Foundation

/// numpy `.npy` files, format version 1.0, little-endian, C order.
public enum NPY {
    public enum DType: String {
        case float32 = "<f4", float16 = "<f2", uint8 = "|u1", float64 = "<f8", int64 = "<i8", int32 = "<i4"

        public var bytes: Int {
            switch self {
            case .uint8: 1
            case .float16: 2
            case .float32, .int32: 4
            case .float64, .int64: 8
            }
        }
    }

    public struct Array {
        public var shape: [Int]
        public var dtype: DType
        public var data: Data   // raw little-endian payload
        public var count: Int { shape.reduce(1, *) }

        public func floats() -> [Float] {
            switch dtype {
            case .float32: return data.withUnsafeBytes { Swift.Array($0.bindMemory(to: Float.self)) }
            case .float64: return data.withUnsafeBytes { $0.bindMemory(to: Double.self).map(Float.init) }
            case .float16:
                return data.withUnsafeBytes { raw in
                    let halves = raw.bindMemory(to: UInt16.self)
                    return [Float](unsafeUninitializedCapacity: halves.count) { out, initialised in
                        if let src = halves.baseAddress { HalfPrecision.convert(src, into: out.baseAddress!, count: halves.count) }
                        initialised = halves.count
                    }
                }
            case .uint8: return data.map { Float($0) }
            case .int64: return data.withUnsafeBytes { $0.bindMemory(to: Int64.self).map { Float($0) } }
            case .int32: return data.withUnsafeBytes { $0.bindMemory(to: Int32.self).map { Float($0) } }
            }
        }
        /// Values as doubles (exact for float64 and integer arrays).
        public func doubles() -> [Double] {
            switch dtype {
            case .float64: return data.withUnsafeBytes { Swift.Array($0.bindMemory(to: Double.self)) }
            case .int64: return data.withUnsafeBytes { $0.bindMemory(to: Int64.self).map { Double($0) } }
            case .int32: return data.withUnsafeBytes { $0.bindMemory(to: Int32.self).map { Double($0) } }
            default: return floats().map(Double.init)
            }
        }
        public func bytes() -> [UInt8] { [UInt8](data) }
    }

    /// Encodes a float32 array; `values.count` must equal the product of `shape`.
    public static func encode(_ values: [Float], shape: [Int]) -> Data {
        values.withUnsafeBytes { encode(bytes: $0, dtype: .float32, count: values.count, shape: shape) }
    }

    /// Encodes float32 values as float16 (`<f2`), each rounded to the nearest half (ties to even, beyond 65504 to
    /// infinity), as numpy's astype(float16) rounds them.
    public static func encode(float16 values: [Float], shape: [Int]) -> Data {
        let half = values.withUnsafeBufferPointer { halfBits($0) }
        return half.withUnsafeBytes { encode(bytes: $0, dtype: .float16, count: values.count, shape: shape) }
    }

    /// The float16 bit patterns of `values`, each rounded to the nearest half (ties to even): what `<f2` files hold.
    public static func halfBits(_ values: UnsafeBufferPointer<Float>) -> [UInt16] { values.map { Float16($0).bitPattern } }

    /// Encodes a float64 array; `values.count` must equal the product of `shape`.
    public static func encode(_ values: [Double], shape: [Int]) -> Data {
        values.withUnsafeBytes { encode(bytes: $0, dtype: .float64, count: values.count, shape: shape) }
    }

    private static func encode(bytes: UnsafeRawBufferPointer, dtype: DType, count: Int, shape: [Int]) -> Data {
        precondition(count == shape.reduce(1, *), "npy shape does not match the values")
        var out = header(dtype: dtype, shape: shape)
        out.append(contentsOf: bytes)
        return out
    }

    /// The bytes before the data: magic, version 1.0, header length and the header dictionary, padded with spaces to
    /// at least `length` bytes in all and so that the data starts 64-byte aligned.
    static func header(dtype: DType, shape: [Int], length: Int = 0) -> Data {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(dims), }"
        // Magic (6) + version (2) + header length (2) + header + newline.
        let unpadded = max(10 + header.utf8.count + 1, length)
        header += String(repeating: " ", count: unpadded - (10 + header.utf8.count + 1) + (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let bytes = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(bytes & 0xff), UInt8(bytes >> 8)])
        out.append(Data(header.utf8))
        return out
    }

    /// Writes atomically: a crash leaves either the old file or the complete new one.
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        try writeAtomically(encode(values, shape: shape), to: path)
    }

    /// The same as float16 (`encode(float16:shape:)`'s rounding).
    public static func write(float16 values: [Float], shape: [Int], to path: String) throws {
        try writeAtomically(encode(float16: values, shape: shape), to: path)
    }

    public static func read(_ path: String) throws -> Array {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError(.io, "cannot read file", path: path)
        }
        return try decode(data, path: path)
    }

    /// A float32 matrix read straight from the file into its array (no second copy of the payload, so a 2 GB pool
    /// peaks at 2 GB); a float16 one converted exactly as it is read, `halfBlock` values at a time (a 1 GB half file
    /// peaks at the 2 GB of its floats); other dtypes are read whole and converted. The header is checked as `decode`
    /// checks it.
    public static func readFloats(_ path: String, halfBlock: Int = 1 << 22) throws -> (shape: [Int], values: [Float]) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EngineError(.io, "cannot read file", path: path) }
        defer { try? handle.close() }
        let (_, described) = try describe(handle, path: path)
        guard described.dtype == .float32 || described.dtype == .float16 else {
            let whole = try read(path)
            return (whole.shape, whole.floats())
        }
        let count = described.count
        var failure: Error?
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            initialised = count
            do {
                if described.dtype == .float32 {
                    try fill(handle.fileDescriptor, UnsafeMutableRawBufferPointer(buffer), path: path)
                } else {
                    // float16: converted a block at a time, so the file's size is never held twice.
                    try forEachBlock(path, block: halfBlock) { _, start, raw in
                        HalfPrecision.convert(raw.bindMemory(to: UInt16.self).baseAddress!, into: buffer.baseAddress! + start, count: raw.count / 2)
                    }
                }
            } catch {
                buffer.initialize(repeating: 0)
                failure = error
            }
        }
        if let failure { throw failure }
        return (described.shape, values)
    }

    /// The array an open .npy file's header describes (without its payload), checked as `decode` checks it.
    public static func header(of handle: FileHandle, path: String) throws -> Array { try describe(handle, path: path).array }

    /// The header of an open .npy file, checked as `decode` checks it (magic, dtype, order, shape, and the payload's
    /// size against the file's): its length in bytes (where the payload starts) and the array it describes, without
    /// the payload.
    static func describe(_ handle: FileHandle, path: String) throws -> (headerBytes: Int, array: Array) {
        let head = try handle.read(upToCount: 12) ?? Data()
        guard head.count >= 10 else { throw EngineError(.format, "not a valid .npy file: short header", path: path) }
        let bytes = [UInt8](head)
        let start = bytes[6] >= 2 ? 12 : 10
        guard head.count >= start else { throw EngineError(.format, "not a valid .npy file: short header", path: path) }
        let length = bytes[6] >= 2 ? Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24 : Int(bytes[8]) | Int(bytes[9]) << 8
        guard length < 1 << 20 else { throw EngineError(.format, "not a valid .npy file: header of \(length) bytes", path: path) }
        try handle.seek(toOffset: 0)
        let header = try handle.read(upToCount: start + length) ?? Data()
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return (header.count, try decode(header, path: path, payloadBytes: size - header.count))
    }

    public static func decode(_ data: Data, path: String? = nil) throws -> Array {
        try decode(data, path: path, payloadBytes: nil)
    }

    /// `payloadBytes`: the payload's size when `data` holds only the header (checked, and no payload is returned).
    static func decode(_ data: Data, path: String?, payloadBytes: Int?) throws -> Array {
        func fail(_ m: String) -> EngineError { EngineError(.format, "not a valid .npy file: \(m)", path: path) }
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, Data(bytes[1..<6]) == Data("NUMPY".utf8) else { throw fail("bad magic") }
        let major = bytes[6]
        var headerStart = 10, headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        if major >= 2 {
            guard bytes.count >= 12 else { throw fail("short header") }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        }
        guard data.count >= headerStart + headerLength,
              let header = String(data: data.subdata(in: headerStart..<headerStart + headerLength), encoding: .ascii)
        else { throw fail("truncated header") }
        guard let descr = field("descr", in: header), let dtype = DType(rawValue: descr) ?? (descr == "<u1" ? .uint8 : nil)
        else { throw fail("unsupported dtype in \(header)") }
        if field("fortran_order", in: header) == "True" { throw fail("Fortran order is not supported") }
        guard let open = header.range(of: "'shape':"), let lp = header[open.upperBound...].firstIndex(of: "("),
              let rp = header[lp...].firstIndex(of: ")") else { throw fail("no shape") }
        var dims: [Int] = []
        for part in header[header.index(after: lp)..<rp].split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            guard let d = Int(text), d >= 0 else { throw fail("bad dimension \(text) in the shape") }
            dims.append(d)
        }
        let size = dtype.bytes
        let payload = payloadBytes == nil ? data.subdata(in: headerStart + headerLength..<data.count) : Data()
        var count = 1
        for d in dims {
            let (c, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, c <= Int(Int32.max) * 16 else { throw fail("shape \(dims) is too large") }
            count = c
        }
        guard (payloadBytes ?? payload.count) == count * size else {
            throw fail("payload has \(payloadBytes ?? payload.count) bytes, shape \(dims) needs \(count * size)")
        }
        return Array(shape: dims, dtype: dtype, data: payload)
    }

    private static func field(_ name: String, in header: String) -> String? {
        guard let r = header.range(of: "'\(name)':") else { return nil }
        let rest = header[r.upperBound...].drop(while: { $0 == " " })
        if rest.first == "'" {
            let body = rest.dropFirst()
            return body.firstIndex(of: "'").map { String(body[..<$0]) }
        }
        return String(rest.prefix(while: { $0 != "," && $0 != "}" })).trimmingCharacters(in: .whitespaces)
    }
}

/// Write to a temporary file beside `path`, flush it to the disk, rename it over `path` and flush the folder: after a
/// crash or power loss the file is either the old one or the new one, never a torn mix. `durable: false` skips the
/// flushes (cache entries, which are checked when read and recomputed when missing): still atomic against crashes of
/// the process, not against power loss.
public func writeAtomically(_ data: Data, to path: String, durable: Bool = true) throws {
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    // Unique per write, not only per process: two threads writing the same file never share a temporary file.
    let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 36))").path
    func failure(_ what: String) -> EngineError {
        let reason = String(cString: strerror(errno))
        unlink(temp)
        return EngineError(.io, "cannot write file (\(what)): \(reason)", path: path)
    }
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw EngineError(.io, "cannot write file: \(String(cString: strerror(errno)))", path: path) }
    var written = 0
    let ok: Bool = data.withUnsafeBytes { raw in
        while written < raw.count {
            let r = write(fd, raw.baseAddress! + written, raw.count - written)
            if r <= 0 { return false }
            written += r
        }
        return true
    }
    guard ok, !durable || fsync(fd) == 0 else { let e = failure("writing"); close(fd); throw e }
    close(fd)
    guard rename(temp, path) == 0 else { throw failure("renaming") }
    if durable { syncFolder(folder) }
}

/// Flushes a folder's entries (a rename or a new file in it) to the disk; best effort.
public func syncFolder(_ folder: String) {
    let fd = open(folder.isEmpty ? "." : folder, O_RDONLY)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
}
