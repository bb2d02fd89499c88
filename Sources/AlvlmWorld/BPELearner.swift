import AlvlmActive
import AlvlmEngine
import AlvlmKernels
import Foundation

/// Learns a small byte-level BPE vocabulary in CLIP's format (`vocab.json` + `merges.txt`) from a corpus,
/// so a small model can use the same tokenizer code as real CLIP checkpoints.
/// Layout as OpenAI builds it: 256 byte symbols, the same with `</w>`, one symbol per merge, then SOT and EOT
/// (EOT last, so it is the largest id, which is where CLIP pools).
public enum BPELearner {
    public struct Vocabulary {
        public let symbols: [String]               // id -> symbol
        public let merges: [(String, String)]

        public var vocabulary: [String: Int] { Dictionary(uniqueKeysWithValues: symbols.enumerated().map { ($1, $0) }) }

        public func tokenizer(contextLength: Int = 77) throws -> CLIPTokenizer {
            try CLIPTokenizer(vocabulary: vocabulary, merges: merges, contextLength: contextLength)
        }

        /// Writes `vocab.json`, `merges.txt` and the Hugging Face tokenizer configs into a model folder.
        public func write(to directory: String, contextLength: Int) throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
            let vocab = try JSONSerialization.data(withJSONObject: vocabulary, options: [.sortedKeys])
            try writeAtomically(vocab, to: path("vocab.json"))
            let lines = ["#version: 0.2"] + merges.map { "\($0.0) \($0.1)" }
            try writeAtomically(Data((lines.joined(separator: "\n") + "\n").utf8), to: path("merges.txt"))
            let config: [String: Any] = [
                "tokenizer_class": "CLIPTokenizer", "model_max_length": contextLength, "do_lower_case": true,
                "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
            ]
            try writeAtomically(try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]),
                                to: path("tokenizer_config.json"))
            let special: [String: Any] = ["bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                                          "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"]
            try writeAtomically(try JSONSerialization.data(withJSONObject: special, options: [.prettyPrinted, .sortedKeys]),
                                to: path("special_tokens_map.json"))
        }
    }

    /// Merges the most frequent adjacent pair (ties broken by the pair's text, so the result is deterministic)
    /// until every word of the corpus is one symbol or `maxMerges` is reached.
    public static func learn(corpus: [String], maxMerges: Int = 10_000) -> Vocabulary {
        let table = CLIPTokenizer.byteToUnicode
        var counts: [String: Int] = [:]
        for text in corpus {
            for piece in CLIPTokenizer.pieces(TextCleaner.clean(text)) { counts[piece, default: 0] += 1 }
        }
        // Each word as symbols: one per UTF-8 byte, the last carrying "</w>".
        var words: [(symbols: [String], count: Int)] = counts.keys.sorted().map { word in
            var symbols = word.utf8.map { String(table[Int($0)]) }
            symbols[symbols.count - 1] += "</w>"
            return (symbols, counts[word]!)
        }
        var merges: [(String, String)] = []
        while merges.count < maxMerges {
            var pairs: [String: (pair: (String, String), count: Int)] = [:]
            for w in words where w.symbols.count > 1 {
                for i in 0..<(w.symbols.count - 1) {
                    let key = w.symbols[i] + " " + w.symbols[i + 1]
                    pairs[key, default: ((w.symbols[i], w.symbols[i + 1]), 0)].count += w.count
                }
            }
            guard let best = pairs.max(by: { $0.value.count != $1.value.count ? $0.value.count < $1.value.count : $0.key > $1.key }) else { break }
            let (a, b) = best.value.pair
            merges.append((a, b))
            for k in words.indices where words[k].symbols.count > 1 {
                var out: [String] = [], i = 0
                let s = words[k].symbols
                while i < s.count {
                    if i + 1 < s.count, s[i] == a, s[i + 1] == b { out.append(a + b); i += 2 } else { out.append(s[i]); i += 1 }
                }
                words[k].symbols = out
            }
        }
        // OpenAI orders the byte symbols by the code point of their printable character.
        var symbols = (0..<256).sorted { Self.order(table[$0]) < Self.order(table[$1]) }.map { String(table[$0]) }
        symbols += symbols.map { $0 + "</w>" }
        var seen = Set(symbols)
        for (a, b) in merges where seen.insert(a + b).inserted { symbols.append(a + b) }
        symbols += ["<|startoftext|>", "<|endoftext|>"]
        return Vocabulary(symbols: symbols, merges: merges)
    }

    private static func order(_ c: Character) -> UInt32 { c.unicodeScalars.first!.value }
}
