import Foundation

/// A safetensors file: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
/// The header is validated on open; tensors are read one at a time with `pread`, so loading
/// a model never holds more than the float32 weights plus one tensor's source bytes.
public final class SafetensorsFile {
    public enum DType: String { case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
        var size: Int {
            switch self {
            case .f64, .i64: 8
            case .f32, .i32: 4
            case .f16, .bf16, .i16: 2
            case .i8, .u8, .bool: 1
            }
        }
        public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }
    }

    public struct Entry {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let begin: Int   // relative to the data section
        public let end: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let entries: [String: Entry]
    private let fd: Int32
    private let dataStart: Int

    static let maxHeader = 100 << 20

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EngineError(.io, "cannot open: \(String(cString: strerror(errno)))", path: path) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw EngineError(.io, "cannot stat", path: path) }
        let fileSize = Int(st.st_size)
        do {
            func fail(_ m: String) -> EngineError { EngineError(.format, "invalid safetensors: \(m)", path: path) }
            guard fileSize >= 8 else { throw fail(fileSize == 0 ? "empty file" : "file is \(fileSize) bytes, shorter than the 8-byte header length") }
            var lengthBytes = [UInt8](repeating: 0, count: 8)
            guard pread(fd, &lengthBytes, 8, 0) == 8 else { throw fail("cannot read header length") }
            let n = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard n <= UInt64(fileSize - 8) else { throw fail("header length \(n) runs past the end of the \(fileSize)-byte file") }
            guard n <= UInt64(Self.maxHeader) else { throw fail("header length \(n) exceeds 100 MB") }
            guard n >= 2 else { throw fail("header of \(n) bytes") }
            var header = Data(count: Int(n))
            let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(n), 8) }
            guard got == Int(n) else { throw fail("cannot read header") }
            guard let object = (try? JSONSerialization.jsonObject(with: header)) as? [String: Any] else {
                throw fail("header is not a JSON object")
            }
            let dataSize = fileSize - 8 - Int(n)
            var entries: [String: Entry] = [:]
            for (name, value) in object where name != "__metadata__" {
                guard let info = value as? [String: Any] else { throw fail("entry \(name) is not an object") }
                guard let dtypeName = info["dtype"] as? String else { throw fail("entry \(name) has no dtype") }
                guard let dtype = DType(rawValue: dtypeName) else { throw fail("tensor \(name) has unsupported dtype \(dtypeName)") }
                guard let shapeAny = info["shape"] as? [Any], let offsets = info["data_offsets"] as? [Any], offsets.count == 2 else {
                    throw fail("entry \(name) lacks shape or data_offsets")
                }
                let shape = try shapeAny.map { v -> Int in
                    guard let d = (v as? NSNumber)?.intValue, d >= 0, d < 1 << 40 else { throw fail("tensor \(name) has a bad shape") }
                    return d
                }
                guard let begin = (offsets[0] as? NSNumber)?.intValue, let end = (offsets[1] as? NSNumber)?.intValue,
                      begin >= 0, end >= begin else { throw fail("tensor \(name) has bad data_offsets") }
                guard end <= dataSize else { throw fail("tensor \(name) ends at \(end), past the \(dataSize)-byte data section") }
                let (numel, overflow) = shape.reduce((1, false)) { acc, d in
                    let r = acc.0.multipliedReportingOverflow(by: d); return (r.partialValue, acc.1 || r.overflow)
                }
                let (bytes, byteOverflow) = numel.multipliedReportingOverflow(by: dtype.size)
                guard !overflow, !byteOverflow, bytes == end - begin else {
                    throw fail("tensor \(name) has \(end - begin) bytes, its shape \(shape) of \(dtypeName) needs \(numel &* dtype.size)")
                }
                entries[name] = Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
            }
            let sorted = entries.values.filter { $0.end > $0.begin }.sorted { $0.begin < $1.begin }
            for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
                throw fail("tensors \(a.name) and \(b.name) overlap")
            }
            self.entries = entries
            self.dataStart = 8 + Int(n)
            self.fd = fd
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Reads a floating tensor and converts it to float32.
    public func floats(_ name: String) throws -> [Float] {
        guard let e = entries[name] else { throw EngineError(.model, "missing tensor \(name)", path: path) }
        var out = [Float](repeating: 0, count: e.count)
        try out.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        return out
    }

    /// A float tensor's values as float32, written into `dest` (exactly the tensor's element count): no copy in
    /// between for float32 files, so a model loads into its one allocation directly.
    public func read(_ name: String, into dest: UnsafeMutableBufferPointer<Float>) throws {
        guard let e = entries[name] else { throw EngineError(.model, "missing tensor \(name)", path: path) }
        guard e.dtype.isFloat else { throw EngineError(.model, "tensor \(name) is \(e.dtype.rawValue), expected a float type", path: path) }
        precondition(dest.count == e.count, "a destination of \(dest.count) values for tensor \(name) of \(e.count)")
        let bytes = e.end - e.begin
        guard e.count > 0, let out = dest.baseAddress else { return }
        if e.dtype == .f32 {
            try readFully(UnsafeMutableRawPointer(out), bytes, offset: e.begin)
            return
        }
        var raw = [UInt8](repeating: 0, count: bytes)
        try raw.withUnsafeMutableBytes { try readFully($0.baseAddress!, bytes, offset: e.begin) }
        raw.withUnsafeBytes { src in
            switch e.dtype {
            case .f16:
                let h = src.bindMemory(to: UInt16.self)
                for i in 0..<e.count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: h[i]))) }
            case .bf16:
                let h = src.bindMemory(to: UInt16.self)
                for i in 0..<e.count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: h[i])) << 16) }
            case .f64:
                let d = src.bindMemory(to: Double.self)
                for i in 0..<e.count { out[i] = Float(d[i]) }
            default: break
            }
        }
    }

    private func readFully(_ dest: UnsafeMutableRawPointer, _ count: Int, offset: Int) throws {
        var done = 0
        while done < count {
            let r = pread(fd, dest + done, count - done, off_t(dataStart + offset + done))
            if r <= 0 { throw EngineError(.io, "short read at offset \(dataStart + offset + done)", path: path) }
            done += r
        }
    }

    // MARK: writing (random-weight models, tests)

    /// Writes float32 tensors as a safetensors file, names sorted, header padded to 8 bytes.
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], to path: String) throws {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var offset = 0
        let sorted = tensors.sorted { $0.name < $1.name }
        for t in sorted {
            precondition(t.values.count == t.shape.reduce(1, *), "shape mismatch for \(t.name)")
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        // Streamed to a temporary file, then renamed: never the whole payload in memory twice.
        let temp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temp, contents: nil), let handle = FileHandle(forWritingAtPath: temp) else {
            throw EngineError(.io, "cannot write file", path: path)
        }
        do {
            var prefix = Data()
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix.append(contentsOf: $0) }
            try handle.write(contentsOf: prefix + json)
            for t in sorted { try t.values.withUnsafeBytes { try handle.write(contentsOf: Data($0)) } }
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temp)
            throw EngineError(.io, "cannot write file: \(error.localizedDescription)", path: path)
        }
        guard rename(temp, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temp)
            throw EngineError(.io, "cannot write file: \(String(cString: strerror(errno)))", path: path)
        }
    }
}
