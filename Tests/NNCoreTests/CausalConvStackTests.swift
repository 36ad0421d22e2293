// The shared causal convolution stack and post-net: gradients against finite differences, cached stepping against
// the teacher-forced pass (through a small token model built on them), and row independence.
import AREngine
import NNCore
import TestSupport
import XCTest

/// A small shape with dilations that wrap the queues several times in a dozen steps.
let probeShape = CausalConvShape(dilations: [1, 2, 4, 1, 3], residualChannels: 4, gateChannels: 6, skipChannels: 5)

/// The stack and the post-net in one `ParameterSet`, with random weights (and non-zero biases).
func probeParameters(classes: Int = 7, seed: UInt64) -> (ParameterSet, CausalConvStack, PostNet) {
    var layout = ParameterLayout()
    CausalConvStack.addParameters(probeShape, to: &layout)
    PostNet.addParameters(skip: probeShape.skipChannels, classes: classes, to: &layout)
    let p = ParameterSet(layout: layout)
    var rng = Xoshiro256(seed: seed)
    for i in 0..<p.count { p.values[i] = rng.nextGaussian() * 0.4 }
    return (p, CausalConvStack(probeShape, layout: layout), PostNet(skip: probeShape.skipChannels, classes: classes, layout: layout))
}

/// A token model over the stack (token embedding in, post-net out) with a constant conditioning of every gate
/// (`gateStride` 0): what `assertCachedStepsMatchFullForward` needs.
final class StackProbe: AutoregressiveModel {
    let params: ParameterSet, stack: CausalConvStack, post: PostNet
    let embedding: [Float], gate: [Float]
    let vocabularySize = 7
    let contextLength = Int.max
    let R = probeShape.residualChannels

    init(seed: UInt64) {
        (params, stack, post) = probeParameters(classes: 7, seed: seed)
        embedding = randomFloats(7 * probeShape.residualChannels, seed: seed + 1)
        gate = randomFloats(probeShape.layers * probeShape.gateChannels, seed: seed + 2, scale: 0.5)
    }

    func logits(_ tokens: [[Int]]) -> [Float] {
        let B = tokens.count, T = tokens[0].count, V = vocabularySize
        let ws = CausalConvWorkspace(probeShape, time: T, batch: B)
        for t in 0..<T { for b in 0..<B { for i in 0..<R { ws.h[(t * B + b) * R + i] = embedding[tokens[b][t] * R + i] } } }
        let hidden = Buf(zeros: T * B * probeShape.skipChannels), out = Buf(zeros: T * B * V)
        gate.withUnsafeBufferPointer { stack.forward(ws, parameters: params, gate: $0.baseAddress!, gateStride: 0) }
        post.forward(skip: ws.skip, rows: T * B, hidden: hidden.p, logits: out.p, parameters: params)
        var result = [Float](repeating: 0, count: B * T * V)
        for t in 0..<T { for b in 0..<B { for v in 0..<V { result[(b * T + t) * V + v] = out.p[(t * B + b) * V + v] } } }
        return result
    }

    final class State {
        let conv: CausalConvState
        let hidden: Buf
        init(rows: Int) { conv = CausalConvState(probeShape, rows: rows); hidden = Buf(zeros: rows * probeShape.skipChannels) }
    }

    func makeState(batch: Int) -> State { State(rows: batch) }
    func reset(_ state: inout State) { state.conv.reset() }

    func step(_ tokens: [Int], state: inout State, logits: UnsafeMutablePointer<Float>) {
        let s = state.conv
        for (b, tok) in tokens.enumerated() { for i in 0..<R { s.input[b * R + i] = embedding[tok * R + i] } }
        gate.withUnsafeBufferPointer {
            stack.step(s, parameters: params, rows: s.allRows, count: s.rows, gate: $0.baseAddress!, gateStride: 0)
        }
        post.step(skip: s.skip, hidden: state.hidden.p, logits: logits, rows: s.allRows, count: s.rows, parameters: params)
    }
}

final class CausalConvStackTests: XCTestCase {
    func testLayoutNamesShapesAndReceptiveField() {
        var layout = ParameterLayout()
        CausalConvStack.addParameters(probeShape, to: &layout, prefix: "layers.")
        XCTAssertEqual(layout.entry("layers.4.conv.weight")?.shape, [2, 4, 6])
        XCTAssertEqual(layout.entry("layers.0.out.weight")?.shape, [3, 9])
        XCTAssertEqual(layout.entries.count, 4 * probeShape.layers)
        XCTAssertEqual(probeShape.receptiveField, 1 + 1 + 2 + 4 + 1 + 3)
        XCTAssertEqual(probeShape.queueFloats, 11 * 4)
    }

    /// Every tensor's gradient, and those of the input and of the gate conditioning, against central differences of a
    /// linear functional of the logits.
    func testGradientsMatchFiniteDifferences() {
        let (p, stack, post) = probeParameters(seed: 3)
        let T = 9, B = 2, N = T * B, R = probeShape.residualChannels, LG = probeShape.layers * probeShape.gateChannels
        let S = probeShape.skipChannels, V = post.classes
        let ws = CausalConvWorkspace(probeShape, time: T, batch: B)
        let h0 = Buf(randomFloats(N * R, seed: 4)), gate = Buf(randomFloats(N * LG, seed: 5, scale: 0.5))
        let hidden = Buf(zeros: N * S), logits = Buf(zeros: N * V), dHidden = Buf(zeros: N * S), dGate = Buf(zeros: N * LG)
        let r = randomFloats(N * V, seed: 6)
        // Small steps: the post-net's ReLUs put kinks within 1e-2 of some pre-activations.
        let tolerance = GradientTolerance(rtol: 2e-2, atol: 2e-3, eps: 1e-3)
        func loss() -> Double {
            ws.h.update(from: h0.p, count: N * R)
            stack.forward(ws, parameters: p, gate: gate.p, gateStride: LG)
            post.forward(skip: ws.skip, rows: N, hidden: hidden.p, logits: logits.p, parameters: p)
            return dot(logits.p, r)
        }
        _ = loss()
        p.zeroGrads()
        let dLogits = Buf(r)
        post.backward(skip: ws.skip, hidden: hidden.p, dLogits: dLogits.p, rows: N, dHidden: dHidden.p, dSkip: ws.dSkip, parameters: p)
        stack.backward(ws, parameters: p, dGate: dGate.p, gateStride: LG)
        let dh = Buf(Array(UnsafeBufferPointer(start: ws.dh, count: N * R)))
        let analytic = Array(UnsafeBufferPointer(start: p.grads, count: p.count))
        analytic.withUnsafeBufferPointer { a in
            for e in p.entries {
                assertGradientsMatch(e.name, x: p.values + e.offset, count: e.count, analytic: a.baseAddress! + e.offset,
                                     tolerance: tolerance.checking(12), loss: loss)
            }
        }
        assertGradientsMatch("h_0", h0, analytic: dh, tolerance: tolerance.checking(24), loss: loss)
        assertGradientsMatch("gate", gate, analytic: dGate, tolerance: tolerance.checking(24), loss: loss)
    }

    /// Stepping with the queues gives the teacher-forced logits at every position, also after `reset`.
    func testCachedStepsMatchFullForward() {
        assertCachedStepsMatchFullForward(StackProbe(seed: 8), [[0, 3, 6, 6, 1, 2, 5, 4, 0, 1, 3, 2], [5, 5, 1, 0, 2, 3, 4, 6, 6, 1, 0, 0]])
    }

    /// Rows step independently: a row restarted with `reset(row:)` while another keeps going gives the same logits as a
    /// fresh state, bit for bit, and rows left out of a step keep their queues.
    func testRowsAreIndependent() {
        let m = StackProbe(seed: 11)
        let a = [1, 4, 2, 2, 6, 0, 3], b = [5, 0, 0, 1, 3, 3, 2]
        var alone = m.makeState(batch: 1)
        let V = m.vocabularySize
        let out1 = UnsafeMutablePointer<Float>.allocate(capacity: V), out2 = UnsafeMutablePointer<Float>.allocate(capacity: 2 * V)
        defer { out1.deallocate(); out2.deallocate() }
        var expected: [[Float]] = []
        for t in b { m.step([t], state: &alone, logits: out1); expected.append(Array(UnsafeBufferPointer(start: out1, count: V))) }
        var two = m.makeState(batch: 2)
        for t in a { m.step([t, t], state: &two, logits: out2) }
        two.conv.reset(row: 1)
        for (i, t) in b.enumerated() {
            m.step([a[i], t], state: &two, logits: out2)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: out2 + V, count: V)), expected[i], "position \(i)")
        }
    }
}
