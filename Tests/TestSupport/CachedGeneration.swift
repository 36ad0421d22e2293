// The cached-generation check shared by every AutoregressiveModel's tests.
import AREngine
import XCTest

/// Asserts that stepping `m` through `sequences` (a batch of equal-length token lists) with its cached state gives
/// the logits of the full teacher-forced pass at every position, twice: the second pass checks that `reset`
/// really rewinds the cache.
public func assertCachedStepsMatchFullForward<M: AutoregressiveModel>(
    _ m: M, _ sequences: [[Int]], tolerance: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line
) {
    let full = m.logits(sequences)
    let V = m.vocabularySize, T = sequences[0].count, B = sequences.count
    var state = m.makeState(batch: B)
    let out = UnsafeMutablePointer<Float>.allocate(capacity: B * V)
    defer { out.deallocate() }
    for pass in 0..<2 {
        m.reset(&state)
        var maxDiff: Float = 0
        for t in 0..<T {
            m.step(sequences.map { $0[t] }, state: &state, logits: out)
            for b in 0..<B { for v in 0..<V { maxDiff = max(maxDiff, abs(out[b * V + v] - full[(b * T + t) * V + v])) } }
        }
        XCTAssertLessThan(maxDiff, tolerance, "pass \(pass): cached vs full logits, max |diff| \(maxDiff)", file: file, line: line)
    }
}
