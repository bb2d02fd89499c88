import Foundation

/// OpenAI CLIP's byte-level BPE tokenizer, reproduced exactly (greedy merges, quirks included):
/// clean (ftfy subset, HTML unescape twice, whitespace), lowercase, pre-tokenise, BPE, wrap in SOT/EOT.
public final class CLIPTokenizer {
    public let sot: Int
    public let eot: Int
    public let contextLength: Int
    public let vocabularySize: Int
    /// The folder the tokenizer files came from, if any (so a saved model can carry them along).
    public internal(set) var directory: String?

    private let byteIds: [Int32]            // byte -> id of its symbol
    private let byteEndIds: [Int32]         // byte -> id of its symbol + "</w>"
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private var cache: [String: [Int]] = [:]
    private let cacheLock = NSLock()

    /// - vocabulary: token string -> id (HF `vocab.json`); merges: pairs in rank order (HF `merges.txt`).
    public init(vocabulary: [String: Int], merges pairs: [(String, String)], contextLength: Int = 77, path: String = "") throws {
        func fail(_ m: String) -> EngineError { EngineError(.format, "invalid tokenizer: \(m)", path: path.isEmpty ? nil : path) }
        let table = Self.byteToUnicode
        var ids = [Int32](repeating: 0, count: 256), endIds = [Int32](repeating: 0, count: 256)
        for b in 0..<256 {
            let ch = String(table[b])
            guard let id = vocabulary[ch], let endId = vocabulary[ch + "</w>"] else { throw fail("vocabulary lacks byte symbol \(ch)") }
            ids[b] = Int32(id); endIds[b] = Int32(endId)
        }
        var merges: [UInt64: (Int32, Int32)] = [:]
        merges.reserveCapacity(pairs.count)
        for (rank, (a, b)) in pairs.enumerated() {
            guard let ia = vocabulary[a], let ib = vocabulary[b], let im = vocabulary[a + b] else {
                throw fail("merge \(rank + 1) (\(a) \(b)) uses symbols outside the vocabulary")
            }
            let key = UInt64(ia) << 32 | UInt64(ib)
            if merges[key] == nil { merges[key] = (Int32(rank), Int32(im)) }
        }
        guard let sot = vocabulary["<|startoftext|>"], let eot = vocabulary["<|endoftext|>"] else {
            throw fail("vocabulary lacks <|startoftext|> or <|endoftext|>")
        }
        self.byteIds = ids; self.byteEndIds = endIds; self.merges = merges
        self.sot = sot; self.eot = eot; self.contextLength = contextLength
        self.vocabularySize = (vocabulary.values.max() ?? 0) + 1
    }

    /// Loads `vocab.json` + `merges.txt`, or `tokenizer.json`, from a model folder; nil when it has neither.
    public static func inDirectory(_ dir: String, contextLength: Int = 77) throws -> CLIPTokenizer? {
        let fm = FileManager.default
        let vocabPath = (dir as NSString).appendingPathComponent("vocab.json")
        let mergesPath = (dir as NSString).appendingPathComponent("merges.txt")
        let jsonPath = (dir as NSString).appendingPathComponent("tokenizer.json")
        if fm.fileExists(atPath: vocabPath), fm.fileExists(atPath: mergesPath) {
            guard let vdata = fm.contents(atPath: vocabPath),
                  let vocab = (try? JSONSerialization.jsonObject(with: vdata)) as? [String: NSNumber] else {
                throw EngineError(.format, "not a JSON object of token ids", path: vocabPath)
            }
            guard let mdata = fm.contents(atPath: mergesPath), let text = String(data: mdata, encoding: .utf8) else {
                throw EngineError(.format, "unreadable or not UTF-8", path: mergesPath)
            }
            let pairs = try parseMerges(text, path: mergesPath)
            let tokenizer = try CLIPTokenizer(vocabulary: vocab.mapValues(\.intValue), merges: pairs, contextLength: contextLength, path: dir)
            tokenizer.directory = dir
            return tokenizer
        }
        if fm.fileExists(atPath: jsonPath) {
            guard let data = fm.contents(atPath: jsonPath),
                  let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let model = root["model"] as? [String: Any],
                  let vocab = model["vocab"] as? [String: NSNumber], let rawMerges = model["merges"] as? [Any] else {
                throw EngineError(.format, "not a BPE tokenizer.json (model.vocab and model.merges expected)", path: jsonPath)
            }
            var pairs: [(String, String)] = []
            for m in rawMerges {
                if let s = m as? String, let sp = s.firstIndex(of: " ") {
                    pairs.append((String(s[..<sp]), String(s[s.index(after: sp)...])))
                } else if let p = m as? [String], p.count == 2 {
                    pairs.append((p[0], p[1]))
                } else { throw EngineError(.format, "malformed merge \(m)", path: jsonPath) }
            }
            var fullVocab = vocab.mapValues(\.intValue)
            for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
                if let content = added["content"] as? String, let id = (added["id"] as? NSNumber)?.intValue { fullVocab[content] = id }
            }
            let tokenizer = try CLIPTokenizer(vocabulary: fullVocab, merges: pairs, contextLength: contextLength, path: jsonPath)
            tokenizer.directory = dir
            return tokenizer
        }
        return nil
    }

    /// OpenAI's CLIP vocabulary (the same `vocab.json` + `merges.txt` every CLIP model folder carries),
    /// shipped with the engine for models without tokenizer files, such as random-weight ones.
    public static let standard: CLIPTokenizer? = {
        guard let dir = Bundle.module.resourceURL?.path else { return nil }
        return try? inDirectory(dir)
    }()

    static func parseMerges(_ text: String, path: String) throws -> [(String, String)] {
        var pairs: [(String, String)] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("#version") || line.isEmpty { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw EngineError(.format, "line \(n + 1) is not a pair of symbols", path: path) }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        return pairs
    }

    // MARK: encoding

    /// Ids from SOT to EOT inclusive, unpadded; longer input is cut to `contextLength` with EOT last.
    public func encode(_ text: String) -> [Int] { encode(text, truncate: true) }

    /// Ids from SOT to EOT inclusive; without truncation the result may exceed `contextLength`.
    public func encode(_ text: String, truncate: Bool) -> [Int] {
        var ids = [sot]
        for piece in Self.pieces(TextCleaner.clean(text)) {
            switch piece {
            case Self.startLiteral: ids.append(sot)
            case Self.endLiteral: ids.append(eot)
            default: ids += bpe(piece)
            }
        }
        ids.append(eot)
        if truncate, ids.count > contextLength {
            ids.removeLast(ids.count - contextLength)
            ids[contextLength - 1] = eot
        }
        return ids
    }

    /// Ids of one pre-tokenised piece (no SOT/EOT).
    func bpe(_ piece: String) -> [Int] {
        cacheLock.lock()
        if let hit = cache[piece] { cacheLock.unlock(); return hit }
        cacheLock.unlock()
        let bytes = Array(piece.utf8)
        var word = bytes.enumerated().map { i, b in i == bytes.count - 1 ? byteEndIds[Int(b)] : byteIds[Int(b)] }
        while word.count > 1 {
            // The adjacent pair with the lowest rank...
            var best: (rank: Int32, first: Int32, second: Int32, merged: Int32)? = nil
            for i in 0..<(word.count - 1) {
                if let m = merges[UInt64(UInt32(word[i])) << 32 | UInt64(UInt32(word[i + 1]))], best == nil || m.rank < best!.rank {
                    best = (m.rank, word[i], word[i + 1], m.id)
                }
            }
            guard let b = best else { break }
            // ...merged at all its non-overlapping occurrences, left to right.
            var next: [Int32] = []
            next.reserveCapacity(word.count)
            var i = 0
            while i < word.count {
                if i < word.count - 1, word[i] == b.first, word[i + 1] == b.second {
                    next.append(b.merged); i += 2
                } else {
                    next.append(word[i]); i += 1
                }
            }
            word = next
        }
        let ids = word.map(Int.init)
        cacheLock.lock(); cache[piece] = ids; cacheLock.unlock()
        return ids
    }

    /// The special tokens written in text, as open_clip's tokenizer (the reference) spells them.
    static let startLiteral = "<start_of_text>", endLiteral = "<end_of_text>"

    /// The pre-tokeniser: `<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`,
    /// scanned like `re.findall` (first alternative that matches at a position wins; unmatched characters are skipped).
    public static func pieces(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var out: [String] = []
        var i = 0
        func str(_ a: Int, _ b: Int) -> String { var r = String.UnicodeScalarView(); r.append(contentsOf: s[a..<b]); return String(r) }
        func hasPrefix(_ p: String, at i: Int) -> Bool {
            let ps = Array(p.unicodeScalars)
            guard i + ps.count <= s.count else { return false }
            for k in 0..<ps.count where s[i + k].properties.lowercaseMapping != String(ps[k]) && s[i + k] != ps[k] { return false }
            return true
        }
        outer: while i < s.count {
            for special in [startLiteral, endLiteral] where hasPrefix(special, at: i) {
                out.append(special); i += special.unicodeScalars.count; continue outer
            }
            if s[i] == "'" {
                for c in ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"] where hasPrefix(c, at: i) {
                    out.append(str(i, i + c.unicodeScalars.count)); i += c.unicodeScalars.count; continue outer
                }
            }
            let c = s[i]
            if isLetter(c) {
                var j = i + 1
                while j < s.count, isLetter(s[j]) { j += 1 }
                out.append(str(i, j)); i = j
            } else if isNumber(c) {
                out.append(str(i, i + 1)); i += 1
            } else if !isSpace(c) {
                var j = i + 1
                while j < s.count, !isSpace(s[j]), !isLetter(s[j]), !isNumber(s[j]) { j += 1 }
                out.append(str(i, j)); i = j
            } else {
                i += 1
            }
        }
        return out
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
    static func isSpace(_ c: Unicode.Scalar) -> Bool { TextCleaner.isSpace(c) }

    /// GPT-2's reversible byte -> printable character table.
    public static let byteToUnicode: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = printable.map { Character(Unicode.Scalar(UInt32($0))!) }
        var n = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            chars.append(Character(Unicode.Scalar(UInt32(256 + n))!))
            n += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, ch) in zip(printable, chars) { table[b] = ch }
        return table
    }()
}
