@testable import AlvlmJupyter
import XCTest

/// Signing and framing: HMAC-SHA256 against RFC 4231's vectors, messages with 0, 1 and 2 routing identities,
/// a wrong or missing signature refused, an empty key meaning unsigned, connection files read and refused.
final class WireTests: XCTestCase {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func testSHA256AndHMACMatchPublishedVectors() {
        XCTAssertEqual(hex(SHA256.hash([])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex(SHA256.hash(Array("abc".utf8))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000))), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // RFC 4231 test cases 1, 2, 6 (a key longer than the block) and 7.
        XCTAssertEqual(HMAC(key: [UInt8](repeating: 0x0b, count: 20)).hex([Array("Hi There".utf8)]),
                       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        XCTAssertEqual(HMAC(key: Array("Jefe".utf8)).hex([Array("what do ya want ".utf8), Array("for nothing?".utf8)]),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertEqual(HMAC(key: [UInt8](repeating: 0xaa, count: 131)).hex([Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)]),
                       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        XCTAssertEqual(HMAC(key: [UInt8](repeating: 0xaa, count: 131)).hex([Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8)]),
                       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
        XCTAssertTrue(HMAC.equalInConstantTime([1, 2], [1, 2]))
        XCTAssertFalse(HMAC.equalInConstantTime([1, 2], [1, 3]))
        XCTAssertFalse(HMAC.equalInConstantTime([1, 2], [1]))
    }

    func testMessagesRoundTripWithAnyNumberOfIdentities() throws {
        let wire = Wire(key: "5f2e-key", session: "s1")
        for identities in [[], [[1, 2, 3]], [[9], Array("second".utf8)]] as [[[UInt8]]] {
            let frames = wire.encode("execute_request", content: ["code": "1 + 1", "silent": false], parent: nil, identities: identities)
            XCTAssertEqual(frames.count, identities.count + 6)
            let m = try wire.decode(frames)
            XCTAssertEqual(m.identities, identities)
            XCTAssertEqual(m.type, "execute_request")
            XCTAssertEqual(m.content["code"] as? String, "1 + 1")
            XCTAssertEqual(m.header["session"] as? String, "s1")
            XCTAssertEqual(m.header["version"] as? String, "5.3")
            XCTAssertEqual(m.parentHeader.count, 0)
            // A reply carries the request's header bytes as its parent, and goes back to the same identities.
            let reply = try wire.decode(wire.encode("execute_reply", content: ["status": "ok"], parent: m, identities: m.identities))
            XCTAssertEqual(reply.parentHeader["msg_id"] as? String, m.id)
            XCTAssertEqual(reply.identities, identities)
        }
    }

    func testBadSignaturesAndFramesAreRefused() throws {
        let wire = Wire(key: "right")
        var frames = wire.encode("kernel_info_request", content: [:], parent: nil, identities: [[7]])
        XCTAssertNoThrow(try wire.decode(frames))
        XCTAssertThrowsError(try Wire(key: "wrong").decode(frames)) { XCTAssertEqual($0 as? WireError, .badSignature) }
        frames[frames.count - 1] = Array("{\"code\": \"evil\"}".utf8)   // content changed after signing
        XCTAssertThrowsError(try wire.decode(frames)) { XCTAssertEqual($0 as? WireError, .badSignature) }
        frames[2] = []   // no signature at all
        XCTAssertThrowsError(try wire.decode(frames)) { XCTAssertEqual($0 as? WireError, .badSignature) }
        XCTAssertThrowsError(try wire.decode([[1], Array("{}".utf8)])) { XCTAssertEqual($0 as? WireError, .noDelimiter) }
        XCTAssertThrowsError(try wire.decode([Wire.delimiter, [], []])) { XCTAssertEqual($0 as? WireError, .tooFewFrames(2)) }
        // An empty key: unsigned messages, whatever the signature frame holds.
        let open = Wire(key: "")
        let unsigned = open.encode("kernel_info_request", content: [:], parent: nil, identities: [])
        XCTAssertEqual(unsigned[1], [])
        XCTAssertNoThrow(try open.decode(unsigned))
        var notJSON = open.encode("x", content: [:], parent: nil, identities: [])
        notJSON[2] = Array("[1".utf8)
        XCTAssertThrowsError(try open.decode(notJSON)) { XCTAssertEqual($0 as? WireError, .badJSON("header")) }
    }

    func testConnectionFiles() throws {
        let good = """
            {"shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004, "hb_port": 5005,
             "ip": "127.0.0.1", "key": "abc", "transport": "tcp", "signature_scheme": "hmac-sha256", "kernel_name": "alvlm"}
            """
        let c = try Connection.parse(Data(good.utf8))
        XCTAssertEqual(c.endpoint(c.shellPort), "tcp://127.0.0.1:5001")
        XCTAssertEqual(c.key, "abc")
        XCTAssertEqual(Connection(transport: "ipc", ip: "/tmp/k", shellPort: 1, controlPort: 2, stdinPort: 3, iopubPort: 4, heartbeatPort: 5, key: "").endpoint(3), "ipc:///tmp/k-3")
        for (text, message) in [("[]", "not a JSON object"), (good.replacingOccurrences(of: "\"hb_port\": 5005", with: "\"hb_port\": 0"), "hb_port"),
                                (good.replacingOccurrences(of: "hmac-sha256", with: "hmac-md5"), "hmac-md5"),
                                (good.replacingOccurrences(of: "\"tcp\"", with: "\"udp\""), "udp")] {
            XCTAssertThrowsError(try Connection.parse(Data(text.utf8))) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
    }
}
