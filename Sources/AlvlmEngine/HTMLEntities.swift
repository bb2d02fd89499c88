/// Python's `html.unescape`: numeric character references (with its replacements for invalid ones)
/// and named entities, including the legacy names that may omit the semicolon.
/// The named table covers the Latin-1 set and common typography, not all 2,231 HTML5 names.
enum HTMLEntities {
    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        let a = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < a.count {
            guard a[i] == "&" else { out.append(a[i]); i += 1; continue }
            if let (text, used) = reference(a, at: i) {
                out.append(contentsOf: text.unicodeScalars); i += used
            } else {
                out.append(a[i]); i += 1
            }
        }
        return String(out)
    }

    /// The replacement and the number of scalars consumed for a reference starting at `a[i] == "&"`.
    private static func reference(_ a: [Unicode.Scalar], at i: Int) -> (String, Int)? {
        var j = i + 1
        if j < a.count, a[j] == "#" {
            j += 1
            var hex = false
            if j < a.count, a[j] == "x" || a[j] == "X" { hex = true; j += 1 }
            let start = j
            while j < a.count, hex ? a[j].properties.isASCIIHexDigit : ("0"..."9").contains(a[j]) { j += 1 }
            guard j > start else { return nil }
            let digits = String(String.UnicodeScalarView(a[start..<j]))
            if j < a.count, a[j] == ";" { j += 1 }
            let n = UInt64(digits.prefix(12), radix: hex ? 16 : 10) ?? UInt64.max
            return (numeric(digits.count > 12 ? UInt64.max : n), j - i)
        }
        // Named: up to 32 characters from [^\t\n\f <&#;], optionally followed by ';'.
        let start = j
        while j < a.count, j - start < 32, !"\t\n\u{0C} <&#;".unicodeScalars.contains(a[j]) { j += 1 }
        guard j > start else { return nil }
        let name = String(String.UnicodeScalarView(a[start..<j]))
        if j < a.count, a[j] == ";", let v = named[name] { return (v, j + 1 - i) }
        // Longest legacy (semicolon-less) prefix, as Python does.
        let chars = Array(name)
        var x = chars.count
        while x > 1 {
            let prefix = String(chars[0..<x])
            if legacy.contains(prefix), let v = named[prefix] {
                return (v + String(chars[x...]), j - i)
            }
            x -= 1
        }
        return nil
    }

    private static func numeric(_ n: UInt64) -> String {
        if n == 0 { return "\u{FFFD}" }
        if n == 0x0D { return "\r" }
        if (0x80...0x9F).contains(n) {
            // Python maps the Windows-1252 code points and keeps the five it leaves undefined.
            return TextCleaner.windows1252[UInt32(n)].map { String($0) } ?? String(Unicode.Scalar(UInt32(n))!)
        }
        if (0xD800...0xDFFF).contains(n) || n > 0x10FFFF { return "\u{FFFD}" }
        if (0x1...0x8).contains(n) || (0xE...0x1F).contains(n) || (0x7F...0x9F).contains(n) ||
            (0xFDD0...0xFDEF).contains(n) || n == 0xB || n & 0xFFFE == 0xFFFE { return "" }
        return String(Unicode.Scalar(UInt32(n))!)
    }

    /// Latin-1 names for U+00A0...U+00FF, in code point order.
    private static let latin1 = "nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml"
        .split(separator: " ").map(String.init)

    /// Names HTML5 accepts without a semicolon.
    private static let legacy: Set<String> = Set(latin1 + ["amp", "AMP", "lt", "LT", "gt", "GT", "quot", "QUOT", "COPY", "REG"])

    static let named: [String: String] = {
        var t: [String: String] = [
            "amp": "&", "AMP": "&", "lt": "<", "LT": "<", "gt": ">", "GT": ">", "quot": "\"", "QUOT": "\"", "apos": "'",
            "COPY": "\u{A9}", "REG": "\u{AE}", "trade": "\u{2122}", "TRADE": "\u{2122}", "hellip": "\u{2026}", "mdash": "\u{2014}",
            "ndash": "\u{2013}", "lsquo": "\u{2018}", "rsquo": "\u{2019}", "sbquo": "\u{201A}", "ldquo": "\u{201C}",
            "rdquo": "\u{201D}", "bdquo": "\u{201E}", "bull": "\u{2022}", "euro": "\u{20AC}", "dagger": "\u{2020}",
            "Dagger": "\u{2021}", "permil": "\u{2030}", "lsaquo": "\u{2039}", "rsaquo": "\u{203A}", "prime": "\u{2032}",
            "Prime": "\u{2033}", "larr": "\u{2190}", "rarr": "\u{2192}", "uarr": "\u{2191}", "darr": "\u{2193}",
            "harr": "\u{2194}", "hearts": "\u{2665}", "spades": "\u{2660}", "clubs": "\u{2663}", "diams": "\u{2666}",
            "ensp": "\u{2002}", "emsp": "\u{2003}", "thinsp": "\u{2009}", "zwnj": "\u{200C}", "zwj": "\u{200D}",
            "lrm": "\u{200E}", "rlm": "\u{200F}", "OElig": "\u{152}", "oelig": "\u{153}", "Scaron": "\u{160}",
            "scaron": "\u{161}", "Yuml": "\u{178}", "fnof": "\u{192}", "circ": "\u{2C6}", "tilde": "\u{2DC}",
            "alpha": "\u{3B1}", "beta": "\u{3B2}", "gamma": "\u{3B3}", "delta": "\u{3B4}", "pi": "\u{3C0}", "mu": "\u{3BC}",
            "sigma": "\u{3C3}", "Omega": "\u{3A9}", "omega": "\u{3C9}", "infin": "\u{221E}", "ne": "\u{2260}",
            "le": "\u{2264}", "ge": "\u{2265}", "minus": "\u{2212}", "radic": "\u{221A}", "sum": "\u{2211}",
            "star": "\u{2606}", "check": "\u{2713}", "nbsp": "\u{A0}", "NewLine": "\n", "Tab": "\t",
        ]
        for (k, name) in latin1.enumerated() { t[name] = String(Unicode.Scalar(UInt32(0xA0 + k))!) }
        return t
    }()
}
