import Foundation

/// The text clean-up in front of CLIP's BPE: the parts of `ftfy.fix_text` (6.x defaults) that matter for
/// short English-like text, `html.unescape` twice, whitespace collapsing, lowercasing.
/// Not reproduced: ftfy's mojibake repair (`fix_encoding`); text that is mojibake stays as it is.
public enum TextCleaner {
    public static func clean(_ text: String) -> String {
        var s = ftfy(text)
        s = HTMLEntities.unescape(HTMLEntities.unescape(s))
        s = collapseWhitespace(s)
        return lowercase(s)
    }

    /// Python's str.lower(): each scalar's full lowercase mapping, with Unicode's Final_Sigma rule
    /// (capital sigma after a cased letter and not before one becomes ς).
    static func lowercase(_ s: String) -> String {
        let a = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        func cased(_ c: Unicode.Scalar) -> Bool { c.properties.isCased }
        func ignorable(_ c: Unicode.Scalar) -> Bool { c.properties.isCaseIgnorable }
        for (i, c) in a.enumerated() {
            if c.value == 0x3A3 {
                var j = i - 1
                while j >= 0, ignorable(a[j]) { j -= 1 }
                let after = a[(i + 1)...].first(where: { !ignorable($0) })
                if j >= 0, cased(a[j]), !(after.map(cased) ?? false) { out.append("\u{3C2}"); continue }
            }
            if c.properties.changesWhenLowercased { out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars) } else { out.append(c) }
        }
        return String(out)
    }

    /// Python's str.isspace(): Unicode White_Space plus the separators U+001C...U+001F.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
    }

    static func collapseWhitespace(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for c in s.unicodeScalars {
            if isSpace(c) { pendingSpace = true; continue }
            if pendingSpace && !out.isEmpty { out.append(" ") }
            pendingSpace = false
            out.append(c)
        }
        return String(out)
    }

    /// ftfy.fix_text subset, in ftfy's order: HTML unescape (when the text has no '<'), terminal escapes,
    /// C1 controls as Windows-1252, Latin ligatures, character width, curly quotes, line breaks, control characters, NFC.
    static func ftfy(_ text: String) -> String {
        var s = text
        if !s.contains("<") { s = HTMLEntities.unescape(s) }
        s = removeTerminalEscapes(s)
        s = fixMojibake(s)
        func map(_ f: (Unicode.Scalar) -> String?) {
            var out = String.UnicodeScalarView()
            for c in s.unicodeScalars {
                if let r = f(c) { out.append(contentsOf: r.unicodeScalars) } else { out.append(c) }
            }
            s = String(out)
        }
        map { c in (0x80...0x9F).contains(c.value) ? windows1252[c.value].map { String($0) } : nil }
        map { c in ligatures[c.value] }
        map { c in
            if c.value == 0x3000 { return " " }
            if (0xFF01...0xFFEF).contains(c.value) { return String(c).precomposedStringWithCompatibilityMapping }
            return nil
        }
        map { c in
            if c.value == 0x02BC || (0x2018...0x201B).contains(c.value) { return "'" }
            if (0x201C...0x201F).contains(c.value) { return "\"" }
            return nil
        }
        s = s.replacingOccurrences(of: "\r\n", with: "\n")
        map { c in c == "\r" || c.value == 0x2028 || c.value == 0x2029 || c.value == 0x85 ? "\n" : nil }
        map { c in isRemovedControl(c.value) ? "" : nil }
        return s.precomposedStringWithCanonicalMapping
    }

    /// The common case of ftfy's `fix_encoding`: UTF-8 text that was decoded as Windows-1252 (or Latin-1)
    /// ("cafÃ©" -> "café", "donâ€™t" -> "don’t"). The whole text is re-decoded only when every character
    /// maps back to one byte and those bytes are valid UTF-8 with at least one multi-byte sequence.
    static func fixMojibake(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { (0xC2...0xF4).contains($0.value) }) else { return s }
        var bytes: [UInt8] = []
        for c in s.unicodeScalars {
            if c.value < 0x80 || (0xA0...0xFF).contains(c.value) { bytes.append(UInt8(c.value)); continue }
            if (0x80...0x9F).contains(c.value), windows1252[c.value] == nil { bytes.append(UInt8(c.value)); continue }
            guard let b = windows1252Inverse[c.value] else { return s }
            bytes.append(b)
        }
        guard bytes.contains(where: { $0 >= 0xC2 }), let fixed = String(validating: bytes, as: UTF8.self) else { return s }
        return fixed
    }

    static let windows1252Inverse: [UInt32: UInt8] = Dictionary(uniqueKeysWithValues: windows1252.map { ($0.value.value, UInt8($0.key)) })

    static func isRemovedControl(_ v: UInt32) -> Bool {
        (0x00...0x08).contains(v) || v == 0x0B || (0x0E...0x1F).contains(v) || v == 0x7F ||
            (0x206A...0x206F).contains(v) || v == 0xFEFF || (0xFFF9...0xFFFC).contains(v)
    }

    /// ESC [ ... final byte sequences (colours, cursor moves).
    static func removeTerminalEscapes(_ s: String) -> String {
        guard s.contains("\u{1B}") else { return s }
        var out = String.UnicodeScalarView()
        let a = Array(s.unicodeScalars)
        var i = 0
        while i < a.count {
            if a[i] == "\u{1B}", i + 1 < a.count, a[i + 1] == "[" {
                var j = i + 2
                while j < a.count, ("0"..."9").contains(a[j]) || a[j] == ";" { j += 1 }
                if j < a.count, ("A"..."Z").contains(a[j]) || ("a"..."z").contains(a[j]) { i = j + 1; continue }
            }
            out.append(a[i]); i += 1
        }
        return String(out)
    }

    static let ligatures: [UInt32: String] = [
        0x0132: "IJ", 0x0133: "ij", 0x0149: "\u{02BC}n", 0x01C4: "D\u{017D}", 0x01C5: "D\u{017E}", 0x01C6: "d\u{017E}",
        0x01C7: "LJ", 0x01C8: "Lj", 0x01C9: "lj", 0x01CA: "NJ", 0x01CB: "Nj", 0x01CC: "nj",
        0x01F1: "DZ", 0x01F2: "Dz", 0x01F3: "dz",
        0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "\u{017F}t", 0xFB06: "st",
    ]

    /// C1 control characters read as the Windows-1252 characters they usually were.
    static let windows1252: [UInt32: Unicode.Scalar] = {
        let table: [UInt32: UInt32] = [
            0x80: 0x20AC, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021,
            0x88: 0x02C6, 0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8E: 0x017D,
            0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014,
            0x98: 0x02DC, 0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A, 0x9C: 0x0153, 0x9E: 0x017E, 0x9F: 0x0178,
        ]
        return table.mapValues { Unicode.Scalar($0)! }
    }()
}
