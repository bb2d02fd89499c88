import Foundation

extension NPY {
    /// A float32 or float16 `.npy` file mapped read-only: its values are read from the page cache as they are touched
    /// and never copied into the process's own memory (the kernel may drop those pages again under pressure, and
    /// processes mapping the same file share them). The file must not change while it is mapped.
    public final class Mapping: @unchecked Sendable {
        public let shape: [Int]
        public let dtype: DType
        public let path: String
        private let region: UnsafeMutableRawPointer, length: Int, offset: Int
        /// The first value.
        public var payload: UnsafeRawPointer { UnsafeRawPointer(region) + offset }
        public var count: Int { shape.reduce(1, *) }

        fileprivate init(shape: [Int], dtype: DType, path: String, region: UnsafeMutableRawPointer, length: Int, offset: Int) {
            self.shape = shape; self.dtype = dtype; self.path = path; self.region = region; self.length = length; self.offset = offset
        }
        deinit { munmap(region, length) }
    }

    /// Maps a float32 (`<f4`) or float16 (`<f2`) file, its header checked as `decode` checks it.
    public static func map(_ path: String) throws -> Mapping {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EngineError(.io, "cannot read file", path: path) }
        defer { try? handle.close() }
        let (headerBytes, described) = try describe(handle, path: path)
        guard described.dtype == .float32 || described.dtype == .float16 else {
            throw EngineError(.format, "only float32 (<f4) and float16 (<f2) files can be mapped, not \(described.dtype.rawValue)", path: path)
        }
        guard headerBytes % described.dtype.bytes == 0 else {
            throw EngineError(.format, "the values start at byte \(headerBytes), not a multiple of \(described.dtype.bytes): the file cannot be mapped", path: path)
        }
        let length = headerBytes + described.count * described.dtype.bytes
        let region = mmap(nil, length, PROT_READ, MAP_PRIVATE, handle.fileDescriptor, 0)
        guard let region, region != MAP_FAILED else {
            throw EngineError(.io, "cannot map the file (\(String(cString: strerror(errno))))", path: path)
        }
        return Mapping(shape: described.shape, dtype: described.dtype, path: path, region: region, length: length, offset: headerBytes)
    }

    /// Reads a float32 or float16 file's values a block of at most `block` values at a time, through one buffer of
    /// that size (a large file is never held whole): body(dtype, index of the block's first value, its raw bytes).
    /// Returns the shape.
    @discardableResult
    public static func forEachBlock(_ path: String, block: Int = 1 << 22,
                                    _ body: (DType, Int, UnsafeRawBufferPointer) throws -> Void) throws -> [Int] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EngineError(.io, "cannot read file", path: path) }
        defer { try? handle.close() }
        let (_, described) = try describe(handle, path: path)
        guard described.dtype == .float32 || described.dtype == .float16 else {
            throw EngineError(.format, "only float32 (<f4) and float16 (<f2) values can be read in blocks, not \(described.dtype.rawValue)", path: path)
        }
        let size = described.dtype.bytes, count = described.count, fd = handle.fileDescriptor, block = max(1, block)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, min(block, count)) * size, alignment: 64)
        defer { buffer.deallocate() }
        var start = 0
        while start < count {
            let n = min(block, count - start)
            try fill(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(n * size)]), path: path)
            try body(described.dtype, start, UnsafeRawBufferPointer(rebasing: buffer[0..<(n * size)]))
            start += n
        }
        return described.shape
    }

    /// Fills `raw` from the file descriptor, reading up to 64 MB at a time; throws if the file ends early.
    static func fill(_ fd: Int32, _ raw: UnsafeMutableRawBufferPointer, path: String) throws {
        var done = 0
        while done < raw.count {
            let got = Foundation.read(fd, raw.baseAddress! + done, min(1 << 26, raw.count - done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw EngineError(.io, "file ended early or could not be read", path: path) }
            done += got
        }
    }
}
