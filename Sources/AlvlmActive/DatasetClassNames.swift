/// Class names of the datasets the paper evaluates on, as CoOp's split files name them.
public enum DatasetClassNames {
    /// Describable Textures (47 classes), in label order.
    public static let describableTextures = """
        banded blotchy braided bubbly bumpy chequered cobwebbed cracked crosshatched crystalline dotted fibrous \
        flecked freckled frilly gauzy grid grooved honeycombed interlaced knitted lacelike lined marbled matted \
        meshed paisley perforated pitted pleated polka-dotted porous potholed scaly smeared spiralled sprinkled \
        stained stratified striped studded swirly veined waffled woven wrinkled zigzagged
        """.split(separator: " ").map(String.init)
}
