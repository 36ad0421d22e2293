// LSTM and GRU layers: finite differences, PyTorch golden outputs and gradients, step == window, state carry-over.
import Foundation
import TestSupport
import XCTest
@testable import NNCore

final class RecurrentTests: XCTestCase {
    /// A single layer with random weights (PyTorch's init), random input and initial state.
    final class Setup {
        let params = ParameterSet()
        let layer: RecurrentLayer
        let x, h0, c0: Buf
        let time, batch: Int
        init(_ cell: RecurrentCell, input: Int, hidden: Int, batch: Int, time: Int, seed: UInt64) {
            layer = RecurrentLayer(cell, inputSize: input, hiddenSize: hidden, names: .init(prefix: "rnn."), adding: params)
            var rng = Xoshiro256(seed: seed)
            layer.initialize(params, rng: &rng)
            x = Buf(randomFloats(time * batch * input, seed: seed + 1))
            h0 = Buf(randomFloats(batch * hidden, seed: seed + 2, scale: 0.5))
            c0 = Buf(randomFloats(batch * hidden, seed: seed + 3, scale: 0.5))
            self.time = time
            self.batch = batch
        }
        var c0OrNil: UnsafePointer<Float>? { layer.cell == .lstm ? UnsafePointer(c0.p) : nil }
    }

    // MARK: Finite differences

    /// Loss `Σ output ⊙ r + Σ h_T ⊙ rh (+ Σ c_T ⊙ rc)`: every parameter, the input and the initial state.
    func checkGradients(_ cell: RecurrentCell, batch: Int, file: StaticString = #filePath, line: UInt = #line) {
        let I = 3, H = 4, T = 5, B = batch
        let s = Setup(cell, input: I, hidden: H, batch: B, time: T, seed: 40 + UInt64(batch))
        let ws = RecurrentWorkspace(layer: s.layer, batch: B, maxTime: T)
        let r = randomFloats(T * B * H, seed: 50), rh = randomFloats(B * H, seed: 51), rc = randomFloats(B * H, seed: 52)
        func loss() -> Double {
            s.layer.forward(s.params, x: s.x.p, time: T, h0: s.h0.p, c0: s.c0OrNil, workspace: ws)
            var l = dot(ws.output, r) + dot(ws.finalHidden, rh)
            if cell == .lstm { l += dot(ws.finalCell, rc) }
            return l
        }
        _ = loss()
        s.params.zeroGrads()
        let dx = Buf(zeros: s.x.count), dh0 = Buf(zeros: B * H), dc0 = Buf(zeros: B * H)
        s.layer.backward(s.params, x: s.x.p, dOutput: r, dFinalHidden: rh, dFinalCell: cell == .lstm ? rc : nil,
                         dx: dx.p, dh0: dh0.p, dc0: dc0.p, workspace: ws)
        let tol = GradientTolerance.layer.checking(48)
        for name in s.layer.names.all {
            let e = s.params.entry(name)!
            assertGradientsMatch("\(cell) B=\(B) \(name)", x: s.params.values + e.offset, count: e.count,
                                 analytic: s.params.grads + e.offset, tolerance: tol, file: file, line: line) { loss() }
        }
        assertGradientsMatch("\(cell) B=\(B) dx", s.x, analytic: dx, tolerance: tol, file: file, line: line) { loss() }
        assertGradientsMatch("\(cell) B=\(B) dh0", s.h0, analytic: dh0, tolerance: tol, file: file, line: line) { loss() }
        if cell == .lstm {
            assertGradientsMatch("\(cell) B=\(B) dc0", s.c0, analytic: dc0, tolerance: tol, file: file, line: line) { loss() }
        }
    }

    /// Batch 1 (dot-product kernels, vecmat backward), 3 (batched dot products, GEMM backward) and 10 (GEMM).
    func testLSTMGradients() { for b in [1, 3, 10] { checkGradients(.lstm, batch: b) } }
    func testGRUGradients() { for b in [1, 3, 10] { checkGradients(.gru, batch: b) } }

    func testBackwardAccumulates() {
        for cell in RecurrentCell.allCases {
            let s = Setup(cell, input: 3, hidden: 4, batch: 2, time: 3, seed: 60)
            let ws = RecurrentWorkspace(layer: s.layer, batch: 2, maxTime: 3)
            let r = randomFloats(3 * 2 * 4, seed: 61)
            s.layer.forward(s.params, x: s.x.p, time: 3, h0: s.h0.p, c0: s.c0OrNil, workspace: ws)
            s.params.zeroGrads()
            let dx = Buf(zeros: s.x.count)
            s.layer.backward(s.params, x: s.x.p, dOutput: r, dx: dx.p, dh0: nil, workspace: ws)
            let once = Array(UnsafeBufferPointer(start: s.params.grads, count: s.params.count)), dxOnce = dx.array
            s.layer.backward(s.params, x: s.x.p, dOutput: r, dx: dx.p, dh0: nil, workspace: ws)
            for i in 0..<once.count { XCTAssertEqual(s.params.grads[i], 2 * once[i], accuracy: 1e-6 * max(1, abs(once[i]))) }
            for i in 0..<dxOnce.count { XCTAssertEqual(dx.p[i], 2 * dxOnce[i], accuracy: 1e-6) }
        }
    }

    // MARK: Plain-loop reference

    /// The BLAS/C-kernel window forward against the plain loop (libm exp/tanh, sequential sums), on the dot-product
    /// path (batch 1, 3; at 3 in a forward-only workspace) and the GEMM path (batch 10).
    func testForwardMatchesPlainLoop() {
        for cell in RecurrentCell.allCases {
            for B in [1, 3, 10] {
                let I = 6, H = 9, T = 7
                let s = Setup(cell, input: I, hidden: H, batch: B, time: T, seed: 70)
                let ws = RecurrentWorkspace(layer: s.layer, batch: B, maxTime: T, withBackward: B != 3)
                s.layer.forward(s.params, x: s.x.p, time: T, h0: s.h0.p, c0: s.c0OrNil, workspace: ws)
                let ref = Buf(zeros: T * B * H), refC = Buf(zeros: B * H)
                s.layer.forwardReference(s.params, x: s.x.p, time: T, batch: B, h0: s.h0.p, c0: s.c0OrNil,
                                         output: ref.p, finalCell: refC.p)
                var maxDiff: Float = 0
                for i in 0..<ref.count { maxDiff = max(maxDiff, abs(ws.output[i] - ref.p[i])) }
                if cell == .lstm { for i in 0..<(B * H) { maxDiff = max(maxDiff, abs(ws.finalCell[i] - refC.p[i])) } }
                print("\(cell) batch \(B): window forward vs plain loop, max |diff| \(maxDiff)")
                XCTAssertLessThan(maxDiff, 2e-6, "\(cell) batch \(B)")
            }
        }
    }

    // MARK: PyTorch golden fixtures

    static func fixture(_ name: String) throws -> [String: SafeTensors.Tensor] {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
        return try SafeTensors.read(url).tensors
    }

    /// A two-layer `nn.LSTM`/`nn.GRU(5, 7, num_layers=2)` (scripts/fixtures/recurrent_fixtures.py): its state dict
    /// loads under PyTorch's names and shapes; outputs, final states and autograd's gradients of a scalar loss
    /// match. Tolerance: |ours - torch| <= atol + rtol |torch|, atol 1e-5, rtol 1e-4 (float32 against a float64
    /// reference).
    func checkGolden(_ cell: RecurrentCell) throws {
        let t = try Self.fixture("recurrent_\(cell.rawValue).safetensors")
        let prefix = "\(cell.rawValue).", L = 2, I = 5, H = 7, B = 3, T = 6, BH = B * H
        let params = ParameterSet()
        let stack = RecurrentLayer.stack(cell, inputSize: I, hiddenSize: H, layers: L, prefix: prefix, adding: params)
        try params.load(t.filter { $0.key.hasPrefix(prefix) }, source: "recurrent_\(cell.rawValue).safetensors")
        XCTAssertEqual(params.entries.map(\.name).sorted(), t.keys.filter { $0.hasPrefix(prefix) }.sorted())
        let x = t["x"]!.data, h0 = t["h0"]!.data, c0 = t["c0"]?.data ?? []
        XCTAssertEqual(t["x"]!.shape, [T, B, I])
        let ws = stack.map { RecurrentWorkspace(layer: $0, batch: B, maxTime: T) }
        h0.withUnsafeBufferPointer { h0 in c0.withUnsafeBufferPointer { c0 in x.withUnsafeBufferPointer { x in
            for (l, layer) in stack.enumerated() {
                layer.forward(params, x: l == 0 ? x.baseAddress! : ws[l - 1].output, time: T, h0: h0.baseAddress! + l * BH,
                              c0: cell == .lstm ? c0.baseAddress! + l * BH : nil, workspace: ws[l])
            }
        } } }
        var report: [String] = []
        func compare(_ name: String, _ ours: UnsafePointer<Float>, _ expected: [Float], offset: Int = 0, count: Int? = nil) {
            let n = count ?? expected.count
            var maxDiff: Float = 0, worst: Float = 0
            for i in 0..<n {
                let e = expected[offset + i], d = abs(ours[i] - e)
                maxDiff = max(maxDiff, d)
                worst = max(worst, d / (1e-5 + 1e-4 * abs(e)))
            }
            report.append("\(name) \(maxDiff)")
            XCTAssertLessThanOrEqual(worst, 1, "\(cell) \(name): max |diff| \(maxDiff) beyond atol 1e-5 + rtol 1e-4")
        }
        compare("output", ws[L - 1].output, t["output"]!.data)
        for l in 0..<L {
            compare("h_n[\(l)]", ws[l].finalHidden, t["h_n"]!.data, offset: l * BH, count: BH)
            if cell == .lstm { compare("c_n[\(l)]", ws[l].finalCell, t["c_n"]!.data, offset: l * BH, count: BH) }
        }
        // Backward of L = Σ output ⊙ r_output + Σ h_n ⊙ r_h (+ Σ c_n ⊙ r_c), layer by layer in reverse.
        params.zeroGrads()
        let rOut = Buf(t["r_output"]!.data), rh = t["r_h"]!.data, rc = t["r_c"]?.data ?? []
        let dx = Buf(zeros: T * B * I), dh0 = Buf(zeros: L * BH), dc0 = Buf(zeros: L * BH)
        let dUpper = Buf(zeros: T * BH) // d(output of layer 0), accumulated by layer 1's backward
        x.withUnsafeBufferPointer { x in
            for l in stride(from: L - 1, through: 0, by: -1) {
                let input = l == 0 ? x.baseAddress! : ws[l - 1].output
                stack[l].backward(
                    params, x: input, dOutput: UnsafePointer(l == L - 1 ? rOut.p : dUpper.p),
                    dFinalHidden: Array(rh[(l * BH)..<((l + 1) * BH)]),
                    dFinalCell: cell == .lstm ? Array(rc[(l * BH)..<((l + 1) * BH)]) : nil,
                    dx: l == 0 ? dx.p : dUpper.p, dh0: dh0.p + l * BH, dc0: dc0.p + l * BH, workspace: ws[l])
            }
        }
        for name in stack.flatMap(\.names.all) { compare("grad.\(name)", params.grad(name), t["grad.\(name)"]!.data) }
        compare("grad.x", dx.p, t["grad.x"]!.data)
        compare("grad.h0", dh0.p, t["grad.h0"]!.data)
        if cell == .lstm { compare("grad.c0", dc0.p, t["grad.c0"]!.data) }
        print("\(cell) vs PyTorch, max |diff|: " + report.joined(separator: ", "))
    }

    func testLSTMMatchesPyTorch() throws { try checkGolden(.lstm) }
    func testGRUMatchesPyTorch() throws { try checkGolden(.gru) }

    /// A tensor of the wrong shape under a PyTorch name is refused by `ParameterSet.load`, naming it.
    func testLoadRefusesWrongShape() throws {
        var t = try Self.fixture("recurrent_gru.safetensors").filter { $0.key.hasPrefix("gru.") }
        t["gru.weight_hh_l1"] = (shape: [7, 21], data: t["gru.weight_hh_l1"]!.data)
        let params = ParameterSet()
        _ = RecurrentLayer.stack(.gru, inputSize: 5, hiddenSize: 7, layers: 2, prefix: "gru.", adding: params)
        XCTAssertThrowsError(try params.load(t, source: "m.safetensors")) { e in
            XCTAssertEqual("\(e)", "m.safetensors: tensor 'gru.weight_hh_l1' has shape [7, 21], expected [21, 7] from config.json")
        }
    }

    func testResolvingFindsTheSameOffsets() {
        let p = ParameterSet()
        p.add("embedding.weight", shape: [10, 4])
        let added = RecurrentLayer.stack(.lstm, inputSize: 4, hiddenSize: 6, layers: 2, prefix: "lstm.", adding: p)
        let resolved = (0..<2).map {
            RecurrentLayer(.lstm, inputSize: $0 == 0 ? 4 : 6, hiddenSize: 6, names: .init(prefix: "lstm.", layer: $0), resolvingIn: p)
        }
        XCTAssertEqual(added, resolved)
        XCTAssertEqual(added[1].weightIH, p.entry("lstm.weight_ih_l1")!.offset)
        XCTAssertEqual(p.entry("lstm.weight_hh_l0")!.shape, [24, 6])
        XCTAssertEqual(added[0].parameterCount, 24 * (4 + 6 + 2))
    }

    /// PyTorch's init: every tensor U(-1/√H, 1/√H), filling the range.
    func testInitialisationBounds() {
        let p = ParameterSet()
        let layer = RecurrentLayer(.gru, inputSize: 30, hiddenSize: 25, names: .init(), adding: p)
        var rng = Xoshiro256(seed: 3)
        layer.initialize(p, rng: &rng)
        for name in layer.names.all {
            let e = p.entry(name)!, v = UnsafeBufferPointer(start: p.values + e.offset, count: e.count)
            XCTAssertLessThanOrEqual(v.map(abs).max()!, 0.2)
            XCTAssertGreaterThan(v.map(abs).max()!, 0.19, name)
        }
    }

    // MARK: Cached step

    /// Stepping a two-layer stack token by token gives the window forward's outputs and final states, twice (the
    /// second pass after `reset`): bitwise at batch 1 and 3 (dot-product kernels), within 1e-5 at batch 10 (GEMMs).
    func testStepMatchesWindowForward() {
        for cell in RecurrentCell.allCases {
            for B in [1, 3, 10] {
                let I = 6, H = 16, T = 12, p = ParameterSet()
                let stack = RecurrentLayer.stack(cell, inputSize: I, hiddenSize: H, layers: 2, prefix: "rnn.", adding: p)
                var rng = Xoshiro256(seed: 80)
                for l in stack { l.initialize(p, rng: &rng) }
                let x = Buf(randomFloats(T * B * I, seed: 81))
                let ws = stack.map { RecurrentWorkspace(layer: $0, batch: B, maxTime: T) }
                for (l, layer) in stack.enumerated() {
                    layer.forward(p, x: l == 0 ? UnsafePointer(x.p) : ws[l - 1].output, time: T, h0: nil, c0: nil, workspace: ws[l])
                }
                let states = stack.map { RecurrentState(layer: $0, batch: B) }
                for pass in 0..<2 {
                    for s in states { s.reset() }
                    var maxDiff: Float = 0
                    for t in 0..<T {
                        for (l, layer) in stack.enumerated() {
                            layer.step(p, x: l == 0 ? UnsafePointer(x.p + t * B * I) : UnsafePointer(states[l - 1].hidden),
                                       state: states[l])
                            let expected = (l == 0 ? ws[0].output : ws[1].output) + t * B * H
                            for i in 0..<(B * H) { maxDiff = max(maxDiff, abs(states[l].hidden[i] - expected[i])) }
                        }
                    }
                    if cell == .lstm {
                        for l in 0..<2 { for i in 0..<(B * H) { maxDiff = max(maxDiff, abs(states[l].cell[i] - ws[l].finalCell[i])) } }
                    }
                    if pass == 0 { print("\(cell) batch \(B): step vs window forward, max |diff| \(maxDiff)") }
                    if B <= RecurrentLayer.dotProductBatchLimit {
                        XCTAssertEqual(maxDiff, 0, "\(cell) batch \(B) pass \(pass): the same kernels must agree bitwise")
                    } else {
                        XCTAssertLessThan(maxDiff, 1e-5, "\(cell) batch \(B) pass \(pass)")
                    }
                }
            }
        }
    }

    /// The step kernels give each sequence of a batch the numbers it gets alone (batch 1), bitwise.
    func testStepIsBatchInvariant() {
        for cell in RecurrentCell.allCases {
            let I = 5, H = 12, B = 4, p = ParameterSet()
            let layer = RecurrentLayer(cell, inputSize: I, hiddenSize: H, names: .init(), adding: p)
            var rng = Xoshiro256(seed: 90)
            layer.initialize(p, rng: &rng)
            let x = Buf(randomFloats(3 * B * I, seed: 91))
            let batched = RecurrentState(layer: layer, batch: B)
            let alone = (0..<B).map { _ in RecurrentState(layer: layer, batch: 1) }
            for t in 0..<3 {
                layer.step(p, x: x.p + t * B * I, state: batched)
                for b in 0..<B { layer.step(p, x: x.p + (t * B + b) * I, state: alone[b]) }
            }
            for b in 0..<B {
                XCTAssertEqual(Array(UnsafeBufferPointer(start: batched.hidden + b * H, count: H)),
                               Array(UnsafeBufferPointer(start: alone[b].hidden, count: H)), "\(cell) sequence \(b)")
            }
        }
    }

    // MARK: Truncated BPTT: the initial state's gradient carries across windows

    /// One window of 8 steps against two windows of 4 with the state carried over: the same outputs, and, when the
    /// first window's backward takes the second's initial-state gradient as its final-state gradient, the same
    /// parameter, input and initial-state gradients as backpropagating through all 8 steps.
    func testInitialStateGradientCarriesAcrossWindows() {
        for cell in RecurrentCell.allCases {
            let I = 3, H = 5, B = 2, T = 8, half = 4, BH = B * H
            let s = Setup(cell, input: I, hidden: H, batch: B, time: T, seed: 100)
            let r = randomFloats(T * BH, seed: 101)
            // Whole window.
            let whole = RecurrentWorkspace(layer: s.layer, batch: B, maxTime: T)
            s.layer.forward(s.params, x: s.x.p, time: T, h0: s.h0.p, c0: s.c0OrNil, workspace: whole)
            s.params.zeroGrads()
            let dxWhole = Buf(zeros: s.x.count), dh0Whole = Buf(zeros: BH), dc0Whole = Buf(zeros: BH)
            s.layer.backward(s.params, x: s.x.p, dOutput: r, dx: dxWhole.p, dh0: dh0Whole.p, dc0: dc0Whole.p, workspace: whole)
            let gradWhole = Array(UnsafeBufferPointer(start: s.params.grads, count: s.params.count))
            // Two windows, state carried through a RecurrentState.
            let first = RecurrentWorkspace(layer: s.layer, batch: B, maxTime: half)
            let second = RecurrentWorkspace(layer: s.layer, batch: B, maxTime: half)
            let carry = RecurrentState(layer: s.layer, batch: B)
            s.layer.forward(s.params, x: s.x.p, time: half, h0: s.h0.p, c0: s.c0OrNil, workspace: first)
            carry.load(finalStateOf: first)
            s.layer.forward(s.params, x: s.x.p + half * B * I, time: half, h0: carry.hidden, c0: carry.cellOrNil, workspace: second)
            var outDiff: Float = 0
            for i in 0..<(half * BH) {
                outDiff = max(outDiff, abs(first.output[i] - whole.output[i]))
                outDiff = max(outDiff, abs(second.output[i] - whole.output[half * BH + i]))
            }
            XCTAssertLessThan(outDiff, 1e-6, "\(cell): outputs of carried windows")
            s.params.zeroGrads()
            let dx = Buf(zeros: s.x.count), dCarryH = Buf(zeros: BH), dCarryC = Buf(zeros: BH)
            let dh0 = Buf(zeros: BH), dc0 = Buf(zeros: BH)
            s.layer.backward(s.params, x: s.x.p + half * B * I, dOutput: r.withUnsafeBufferPointer { $0.baseAddress! + half * BH },
                             dx: dx.p + half * B * I, dh0: dCarryH.p, dc0: dCarryC.p, workspace: second)
            s.layer.backward(s.params, x: s.x.p, dOutput: r, dFinalHidden: dCarryH.p,
                             dFinalCell: cell == .lstm ? UnsafePointer(dCarryC.p) : nil,
                             dx: dx.p, dh0: dh0.p, dc0: dc0.p, workspace: first)
            var maxDiff: Float = 0
            for i in 0..<gradWhole.count { maxDiff = max(maxDiff, abs(s.params.grads[i] - gradWhole[i])) }
            for i in 0..<dx.count { maxDiff = max(maxDiff, abs(dx.p[i] - dxWhole.p[i])) }
            for i in 0..<BH { maxDiff = max(maxDiff, abs(dh0.p[i] - dh0Whole.p[i]), abs(dc0.p[i] - dc0Whole.p[i])) }
            print("\(cell): two carried windows vs one, max |diff| of every gradient \(maxDiff)")
            XCTAssertLessThan(maxDiff, 1e-5, "\(cell)")
            // And the detached gradient (truncated BPTT) of the second window alone is not the full one.
            XCTAssertGreaterThan((0..<BH).map { abs(dCarryH.p[$0]) }.max()!, 1e-3)
        }
    }

    // MARK: Speed

    /// Generation speed at batch 1 on this thread: a 2 × 512 LSTM and GRU stack, `step` alone, printed (no floor:
    /// the machine is shared). A short probe first: under the emulated CPU of `make test` it is all that runs.
    func testStepSpeed() {
        for cell in RecurrentCell.allCases {
            func rate(_ steps: Int, _ repeats: Int) -> Double {
                RecurrentLayer.measureStepRate(cell, layers: 2, hiddenSize: 512, inputSize: 512, batch: 1,
                                               steps: steps, repeats: repeats)
            }
            let probe = rate(10, 1)
            let measured = probe < 200 ? probe : rate(300, 3)
            print("\(cell) 2 x 512 (input 512), batch 1: \(Int(measured)) steps/s")
            XCTAssertGreaterThan(measured, 0)
        }
    }
}
