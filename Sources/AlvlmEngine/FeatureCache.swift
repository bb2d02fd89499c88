import Foundation

/// 64-bit FNV-1a, over bytes or 32-bit words: content keys for caches.
public struct FNV64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }
    }
    public mutating func add(_ s: String) { var s = s; s.withUTF8 { add(UnsafeRawBufferPointer($0)) }; add(UInt64(0xff)) }
    public mutating func add(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { add($0) } }
    public static func hash(_ s: String) -> UInt64 { var h = FNV64(); h.add(s); return h.value }
    /// Word-wise variant for large float arrays (a different, faster function than the byte-wise one).
    public mutating func add(words: [Float]) {
        words.withUnsafeBufferPointer { add(words: $0) }
    }

    public mutating func add(words: UnsafeBufferPointer<Float>) {
        for w in words { value = (value ^ UInt64(w.bitPattern)) &* 0x100_0000_01b3 }
    }
}

extension CLIPModel {
    /// A hash of everything that determines image features: the image tower's weights and the preprocessing.
    public var imageTowerHash: UInt64 {
        if let h = cachedImageHash { return h }
        var h = FNV64()
        h.add("\(config.vision) \(config.imageSize) \(config.patchSize) \(config.embedDim) \(config.mean) \(config.std)")
        let p = parameters
        for t in p.table where t.tower == .vision { h.add(words: UnsafeBufferPointer(start: p[keyPath: t.path].pointer, count: t.count)) }
        cachedImageHash = h.value
        return h.value
    }
}

/// Image features on disk, one file per (model, image file, preprocessing) in one directory.
/// An entry records its full key and a checksum of its values; a stale, foreign or corrupt entry is
/// reported as missing (and so recomputed), never used. Writes are atomic.
public final class FeatureCache {
    public let directory: String
    static let magic: [UInt8] = Array("ALVF".utf8)
    static let version: UInt32 = 1
    /// Where the first failed write is reported (a full disk, a folder made read-only): a cache that cannot be written
    /// costs speed, never the features being computed. Later failures are only counted.
    public var onWriteFailure: ((EngineError) -> Void)?
    public private(set) var failedWrites = 0

    public init(directory: String) throws {
        self.directory = (directory as NSString).expandingTildeInPath
        do {
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        } catch {
            throw EngineError(.io, "cannot create the feature cache directory: \(error.localizedDescription)", path: directory)
        }
    }

    /// The key of an image file's features: model hash, path, size, modification time and the settings string.
    public static func key(modelHash: UInt64, imagePath: String, settings: String) throws -> String {
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: imagePath) } catch {
            throw EngineError(.io, "no such file", path: imagePath)
        }
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let absolute = URL(fileURLWithPath: imagePath).standardizedFileURL.path
        return String(format: "model=%016llx|path=%@|size=%lld|mtime=%.6f|%@", modelHash, absolute, size, mtime, settings)
    }

    func file(for key: String) -> String {
        var h = FNV64()
        h.add(key)
        return (directory as NSString).appendingPathComponent(String(format: "%016llx.feat", h.value))
    }

    /// The cached rows for `key`, or nil when absent, stale or corrupt.
    public func lookup(_ key: String, rows: Int, width: Int) -> [Float]? {
        guard let data = FileManager.default.contents(atPath: file(for: key)) else { return nil }
        let bytes = [UInt8](data)
        var offset = 0
        func u32() -> UInt32? {
            guard offset + 4 <= bytes.count else { return nil }
            defer { offset += 4 }
            return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
        }
        guard bytes.count >= 8, Array(bytes[0..<4]) == Self.magic else { return nil }
        offset = 4
        guard u32() == Self.version, let keyLength = u32(), offset + Int(keyLength) <= bytes.count,
              String(decoding: bytes[offset..<(offset + Int(keyLength))], as: UTF8.self) == key else { return nil }
        offset += Int(keyLength)
        guard u32() == UInt32(rows), u32() == UInt32(width), bytes.count == offset + rows * width * 4 + 8 else { return nil }
        let payload = bytes[offset..<(offset + rows * width * 4)]
        var h = FNV64()
        payload.withUnsafeBytes { h.add($0) }
        let stored = bytes[(offset + rows * width * 4)...].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        guard UInt64(littleEndian: stored) == h.value else { return nil }
        var values = [Float](repeating: 0, count: rows * width)
        values.withUnsafeMutableBytes { dst in payload.withUnsafeBytes { dst.copyMemory(from: $0) } }
        return values.allSatisfy(\.isFinite) ? values : nil
    }

    public func store(_ key: String, values: [Float], rows: Int, width: Int) throws {
        precondition(values.count == rows * width, "cache entry shape mismatch")
        var data = Data(Self.magic)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        let keyBytes = Array(key.utf8)
        u32(Self.version); u32(UInt32(keyBytes.count)); data.append(contentsOf: keyBytes)
        u32(UInt32(rows)); u32(UInt32(width))
        var h = FNV64()
        values.withUnsafeBytes { data.append(contentsOf: $0); h.add($0) }
        withUnsafeBytes(of: h.value.littleEndian) { data.append(contentsOf: $0) }
        try writeAtomically(data, to: file(for: key), durable: false)   // an entry lost to a power cut is encoded again
    }

    /// `store`, with a failure reported through `onWriteFailure` (the first) instead of thrown.
    func storeOrReport(_ key: String, values: [Float], rows: Int, width: Int) {
        do { try store(key, values: values, rows: rows, width: width) } catch {
            failedWrites += 1
            if failedWrites == 1 {
                onWriteFailure?(error as? EngineError ?? EngineError(.io, "\(error)", path: directory))
            }
        }
    }
}

/// Image features for files: decoding, preprocessing (centre crop, or `views` augmented views), encoding,
/// through an optional on-disk cache. Rows are image-major: 1 row per image, or `views` rows per image.
public final class ImageFeatureExtractor {
    public let model: CLIPModel
    public let cache: FeatureCache?
    public var batch = 16

    public init(model: CLIPModel, cache: FeatureCache? = nil) { self.model = model; self.cache = cache }

    public func features(
        paths: [String], views: Int = 0, seed: UInt64 = 0,
        progress: ((Int, Int) -> Void)? = nil, cancel: CancellationToken? = nil
    ) throws -> [Float] {
        guard views >= 0 else { throw EngineError(.argument, "views must be 0 (centre crop) or positive") }
        let e = model.config.embedDim, rows = max(1, views)
        let pre = Preprocessor(config: model.config)
        let settings = (views == 0
            ? "centre-crop size=\(pre.size)"
            : "random-resized-crop views=\(views) seed=\(seed) size=\(pre.size) scale=0.08-1 flip")
            + (model.effectiveImagePrecision == .bfloat16 ? " bfloat16" : "")
        var out = [Float](repeating: 0, count: paths.count * rows * e)
        var pending: [(index: Int, key: String?)] = []
        var pixels: [Float] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            let f = model.encodeImages(pixels, count: pending.count * rows, batch: batch)
            for (j, p) in pending.enumerated() {
                let values = Array(f[(j * rows * e)..<((j + 1) * rows * e)])
                out.replaceSubrange((p.index * rows * e)..<((p.index + 1) * rows * e), with: values)
                if let key = p.key { cache?.storeOrReport(key, values: values, rows: rows, width: e) }
            }
            pending = []; pixels = []
        }
        for (i, path) in paths.enumerated() {
            if cancel?.isCancelled == true { throw EngineError(.cancelled, "feature extraction cancelled after \(i) of \(paths.count) images") }
            let key = try cache.map { _ in try FeatureCache.key(modelHash: model.imageTowerHash, imagePath: path, settings: settings) }
            if let key, let hit = cache?.lookup(key, rows: rows, width: e) {
                out.replaceSubrange((i * rows * e)..<((i + 1) * rows * e), with: hit)
            } else {
                pixels += try Self.pixels(path: path, views: views, seed: seed, preprocessor: pre)
                pending.append((i, key))
                if pending.count * rows >= batch { try flush() }
            }
            progress?(i + 1, paths.count)
        }
        try flush()
        return out
    }

    /// One image file's normalised pixels: the centre crop (`views` 0), or `views` random-resized-crop-and-flip views
    /// from the image's own generator (seed and path), so they do not depend on order or batching.
    public static func pixels(path: String, views: Int, seed: UInt64, preprocessor pre: Preprocessor) throws -> [Float] {
        let image = try ImageDecoder.decode(path: path)
        guard views > 0 else { return pre.pixels(image) }
        var h = FNV64(); h.add(seed); h.add(URL(fileURLWithPath: path).standardizedFileURL.path)
        var rng = SeededRandom(seed: h.value)
        let aug = Augmentation(size: pre.size)
        var out: [Float] = []
        for _ in 0..<views { out += pre.normalize(aug.view(image, rng: &rng)) }
        return out
    }
}
