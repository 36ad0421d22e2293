// The pieces of data-parallel training that need no MPI: how a batch is split, the agreement hash, one rank.
import AREngine
import Foundation
import NNCore
import XCTest

final class DataParallelSupportTests: XCTestCase {
    /// The ranks' rows tile the batch in order, contiguous, sizes differing by at most one.
    func testBatchRowsTileTheBatch() {
        for batch in 1...13 {
            for ranks in 1...batch {
                let parts = (0..<ranks).map { batchRows(rank: $0, of: ranks, batch: batch) }
                XCTAssertEqual(parts.first?.lowerBound, 0)
                XCTAssertEqual(parts.last?.upperBound, batch)
                for (a, b) in zip(parts, parts.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
                let sizes = parts.map(\.count)
                XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "batch \(batch), \(ranks) ranks")
                XCTAssertGreaterThan(sizes.min()!, 0)
            }
        }
        XCTAssertEqual((0..<3).map { batchRows(rank: $0, of: 3, batch: 8) }, [0..<2, 2..<5, 5..<8])
    }

    /// FNV-1a over the bytes then the length: the published FNV-1a offset basis and prime, pieces kept apart.
    func testFingerprint() {
        XCTAssertEqual(Fingerprint().value, 0xcbf2_9ce4_8422_2325)
        var a = Fingerprint(), b = Fingerprint(), c = Fingerprint()
        a.combine("ab"); a.combine("c")
        b.combine("a"); b.combine("bc")
        c.combine("ab"); c.combine("c")
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(a, c)
        // One byte 'a' (0x61) then the length 1 and seven zero bytes, by hand.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte: UInt64 in [0x61, 1, 0, 0, 0, 0, 0, 0, 0] { h = (h ^ byte) &* 0x0000_0100_0000_01b3 }
        var one = Fingerprint()
        one.combine("a")
        XCTAssertEqual(one.value, h)
    }

    /// One process: every collective is the identity and the values agree with themselves.
    func testSingleProcessIsTheIdentity() throws {
        let comm = SingleProcess()
        XCTAssertEqual(comm.rank, 0)
        XCTAssertEqual(comm.size, 1)
        var x: [Float] = [1, -2, 3]
        try x.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
        XCTAssertEqual(x, [1, -2, 3])
        XCTAssertTrue(try comm.allAgree(on: 42))
    }
}
