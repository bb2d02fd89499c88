/// A 5x7 pixel font for captions drawn into images (thumbnail sheets): digits, lowercase letters (capitals are drawn
/// as lowercase) and the punctuation that ids, class names and scores use; anything else is drawn as `?`.
public enum BitmapFont {
    public static let glyphWidth = 5, glyphHeight = 7
    /// Horizontal and vertical advance (a pixel of space after each glyph and line).
    public static let advance = 6, lineHeight = 9

    /// Rows of each glyph, top to bottom, `#` for ink.
    static let glyphs: [Character: [String]] = [
        "0": [" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "],
        "1": ["  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
        "2": [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"],
        "3": ["#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "],
        "4": ["   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "],
        "5": ["#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "],
        "6": ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "],
        "7": ["#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "],
        "8": [" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "],
        "9": [" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "],
        "a": ["     ", "     ", " ### ", "    #", " ####", "#   #", " ####"],
        "b": ["#    ", "#    ", "# ## ", "##  #", "#   #", "#   #", "#### "],
        "c": ["     ", "     ", " ### ", "#    ", "#    ", "#   #", " ### "],
        "d": ["    #", "    #", " ## #", "#  ##", "#   #", "#   #", " ####"],
        "e": ["     ", "     ", " ### ", "#   #", "#####", "#    ", " ### "],
        "f": ["  ## ", " #  #", " #   ", "###  ", " #   ", " #   ", " #   "],
        "g": ["     ", " ####", "#   #", "#   #", " ####", "    #", " ### "],
        "h": ["#    ", "#    ", "# ## ", "##  #", "#   #", "#   #", "#   #"],
        "i": ["  #  ", "     ", " ##  ", "  #  ", "  #  ", "  #  ", " ### "],
        "j": ["   # ", "     ", "  ## ", "   # ", "   # ", "#  # ", " ##  "],
        "k": ["#    ", "#    ", "#  # ", "# #  ", "##   ", "# #  ", "#  # "],
        "l": [" ##  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
        "m": ["     ", "     ", "## # ", "# # #", "# # #", "#   #", "#   #"],
        "n": ["     ", "     ", "# ## ", "##  #", "#   #", "#   #", "#   #"],
        "o": ["     ", "     ", " ### ", "#   #", "#   #", "#   #", " ### "],
        "p": ["     ", "     ", "#### ", "#   #", "#### ", "#    ", "#    "],
        "q": ["     ", "     ", " ## #", "#  ##", " ####", "    #", "    #"],
        "r": ["     ", "     ", "# ## ", "##  #", "#    ", "#    ", "#    "],
        "s": ["     ", "     ", " ####", "#    ", " ### ", "    #", "#### "],
        "t": [" #   ", " #   ", "###  ", " #   ", " #   ", " #  #", "  ## "],
        "u": ["     ", "     ", "#   #", "#   #", "#   #", "#  ##", " ## #"],
        "v": ["     ", "     ", "#   #", "#   #", "#   #", " # # ", "  #  "],
        "w": ["     ", "     ", "#   #", "#   #", "# # #", "# # #", " # # "],
        "x": ["     ", "     ", "#   #", " # # ", "  #  ", " # # ", "#   #"],
        "y": ["     ", "     ", "#   #", "#   #", " ####", "    #", " ### "],
        "z": ["     ", "     ", "#####", "   # ", "  #  ", " #   ", "#####"],
        ".": ["     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "],
        ",": ["     ", "     ", "     ", "     ", " ##  ", "  #  ", " #   "],
        "-": ["     ", "     ", "     ", "#####", "     ", "     ", "     "],
        "_": ["     ", "     ", "     ", "     ", "     ", "     ", "#####"],
        ":": ["     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "],
        "%": ["##   ", "##  #", "   # ", "  #  ", " #   ", "#  ##", "   ##"],
        "#": [" # # ", " # # ", "#####", " # # ", "#####", " # # ", " # # "],
        "(": ["   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # "],
        ")": [" #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   "],
        "/": ["     ", "    #", "   # ", "  #  ", " #   ", "#    ", "     "],
        "=": ["     ", "     ", "#####", "     ", "#####", "     ", "     "],
        "+": ["     ", "  #  ", "  #  ", "#####", "  #  ", "  #  ", "     "],
        "?": [" ### ", "#   #", "    #", "   # ", "  #  ", "     ", "  #  "],
        "'": ["  #  ", "  #  ", "     ", "     ", "     ", "     ", "     "],
        "&": [" ##  ", "#  # ", "# #  ", " #   ", "# # #", "#  # ", " ## #"],
        " ": ["     ", "     ", "     ", "     ", "     ", "     ", "     "],
    ]

    /// Whether pixel (x, y) of the character's glyph is ink.
    public static func ink(_ c: Character, x: Int, y: Int) -> Bool {
        let rows = glyphs[Character(c.lowercased())] ?? glyphs["?"]!
        let row = Array(rows[y])
        return row[x] == "#"
    }

    /// How many characters fit in a width of pixels.
    public static func fitting(_ width: Int) -> Int { max(0, (width + 1) / advance) }

    /// Draws one line of text into RGB pixels (clipped to the image), top-left corner at (x, y).
    public static func draw(_ text: String, into pixels: inout [UInt8], width: Int, height: Int, x: Int, y: Int,
                            color: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        for (i, c) in text.enumerated() {
            let left = x + i * advance
            if left >= width { break }
            for gy in 0..<glyphHeight where y + gy >= 0 && y + gy < height {
                for gx in 0..<glyphWidth where left + gx >= 0 && left + gx < width && ink(c, x: gx, y: gy) {
                    let p = ((y + gy) * width + left + gx) * 3
                    pixels[p] = color.0; pixels[p + 1] = color.1; pixels[p + 2] = color.2
                }
            }
        }
    }
}
