// LSTM and GRU layers with PyTorch's gate layouts: forward and backward through time over a window (truncated
// BPTT), the allocation-free single step for cached generation, and a plain-loop reference.
import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The cell of a recurrent layer.
public enum RecurrentCell: String, Codable, Sendable, CaseIterable {
    /// Long short-term memory (Hochreiter & Schmidhuber 1997, forget gate of Gers et al. 2000), as PyTorch's
    /// `nn.LSTM`: gates `i, f, g, o`, `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')`.
    case lstm
    /// Gated recurrent unit (Cho et al. 2014), as PyTorch's `nn.GRU`: gates `r, z, n`,
    /// `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 - z) ⊙ n + z ⊙ h`.
    case gru

    /// Gates stacked in the weights' rows: 4 for the LSTM, 3 for the GRU.
    public var gates: Int { self == .lstm ? 4 : 3 }
    /// Whether the state has a cell `c` beside the hidden `h` (the LSTM's).
    public var hasCellState: Bool { self == .lstm }
}

/// One LSTM or GRU layer: its sizes and its four tensors in a `ParameterSet`, with offsets resolved once.
///
/// Tensors, named and shaped as in PyTorch's `state_dict()` so that a `safetensors` file written from PyTorch loads
/// with `ParameterSet.load` (and ours load into PyTorch), `G = gates · H` (`4H` LSTM, `3H` GRU):
///
/// | name | shape | rows |
/// |---|---|---|
/// | `{prefix}weight_ih_l{k}` | `[G, in]` | gate blocks of `H` rows: LSTM `i, f, g, o`; GRU `r, z, n` |
/// | `{prefix}weight_hh_l{k}` | `[G, H]` | same blocks |
/// | `{prefix}bias_ih_l{k}` | `[G]` | same blocks |
/// | `{prefix}bias_hh_l{k}` | `[G]` | same blocks |
///
/// With `prefix: "lstm."` and `k = 0, 1, …` these are the keys of a module `lstm = nn.LSTM(in, H, num_layers=N)`
/// (`stack`); with `prefix: "rnn.0."` and `k = 0` those of one single-layer module in an `nn.ModuleList`.
/// The weights stay in PyTorch's row-major `[G, in]` layout: `x · W_ihᵀ` is `BLAS.gemm(transB: true)` above
/// `dotProductBatchLimit` sequences, and up to it (generation at batch 1) each row of `W` is one dot product
/// (`synth_matvec_rows_acc`), which is what makes `step` equal `forward` bitwise.
///
/// Activations are time-major `[time, batch, channels]` (row `t * batch + b`) like the rest of NNCore, so the input
/// projection of every step is one product (one GEMM); the recurrent part is one `[batch, H] × [H, G]` product per
/// step.
/// States `h`, `c` are `[batch, H]`; for a stack, PyTorch's `h0` `[layers, batch, H]` is layer `l`'s `h0` at
/// offset `l * batch * H`.
///
/// Equations (PyTorch's), with `σ` the logistic sigmoid:
/// - LSTM: `[i, f, g, o] = W_ih x + b_ih + W_hh h + b_hh`; `i, f, o ← σ`, `g ← tanh`; `c' = f ⊙ c + i ⊙ g`;
///   `h' = o ⊙ tanh(c')`.
/// - GRU: `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
///   `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 - z) ⊙ n + z ⊙ h`.
///
/// Training over windows (truncated backpropagation through time): `forward` takes the initial state as an input
/// and leaves the final one in the workspace; `backward` returns the gradient of the initial state. A caller that
/// carries the state across windows copies the final state (`RecurrentState.load(finalStateOf:)`) and passes it as
/// the next window's initial state, not asking for its gradient (that detaches it).
/// Stacking is the caller's: layer `l + 1` reads layer `l`'s `workspace.output` as its `x`, and layer `l`'s
/// backward takes as `dOutput` the `dx` that layer `l + 1`'s backward accumulated.
public struct RecurrentLayer: Equatable, Sendable {
    /// The four tensor names of one layer (see the table on `RecurrentLayer`).
    public struct Names: Equatable, Sendable {
        public let weightIH, weightHH, biasIH, biasHH: String

        /// PyTorch's names for layer `layer` of a recurrent module whose state-dict keys start with `prefix`
        /// (`"lstm."`, or `""` for the module itself).
        public init(prefix: String = "", layer: Int = 0) {
            weightIH = "\(prefix)weight_ih_l\(layer)"
            weightHH = "\(prefix)weight_hh_l\(layer)"
            biasIH = "\(prefix)bias_ih_l\(layer)"
            biasHH = "\(prefix)bias_hh_l\(layer)"
        }

        /// In PyTorch's registration order: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
        public var all: [String] { [weightIH, weightHH, biasIH, biasHH] }
    }

    public let cell: RecurrentCell
    /// Channels of the input `x`.
    public let inputSize: Int
    /// Units `H` of the hidden state (and of the cell state of an LSTM).
    public let hiddenSize: Int
    public let names: Names
    /// Offsets in floats of the tensors in the parameter set's `values` and `grads`.
    public let weightIH, weightHH, biasIH, biasHH: Int

    /// Rows of the stacked gates, `G = gates · H`.
    public var gateSize: Int { cell.gates * hiddenSize }
    /// Floats in the four tensors.
    public var parameterCount: Int { gateSize * (inputSize + hiddenSize + 2) }

    /// Registers the layer's four tensors in `params` (zero; see `initialize`), in PyTorch's order.
    /// - Precondition: the names are new, the sizes positive.
    public init(_ cell: RecurrentCell, inputSize: Int, hiddenSize: Int, names: Names, adding params: ParameterSet) {
        precondition(inputSize > 0 && hiddenSize > 0,
                     "recurrent layer sizes must be positive, got \(inputSize), \(hiddenSize)")
        let G = cell.gates * hiddenSize
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.names = names
        weightIH = params.add(names.weightIH, shape: [G, inputSize])
        weightHH = params.add(names.weightHH, shape: [G, hiddenSize])
        biasIH = params.add(names.biasIH, shape: [G])
        biasHH = params.add(names.biasHH, shape: [G])
    }

    /// Resolves a layer whose tensors `params` already holds (registered by someone else, in any order).
    /// - Precondition: all four exist with the shapes of the table above; the message names the tensor.
    public init(
        _ cell: RecurrentCell, inputSize: Int, hiddenSize: Int, names: Names, resolvingIn params: ParameterSet
    ) {
        let G = cell.gates * hiddenSize
        func offset(_ name: String, _ shape: [Int]) -> Int {
            guard let e = params.entry(name) else { preconditionFailure("recurrent layer: no tensor \(name)") }
            precondition(e.shape == shape, "recurrent layer: tensor \(name) has shape \(e.shape), expected \(shape)")
            return e.offset
        }
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.names = names
        weightIH = offset(names.weightIH, [G, inputSize])
        weightHH = offset(names.weightHH, [G, hiddenSize])
        biasIH = offset(names.biasIH, [G])
        biasHH = offset(names.biasHH, [G])
    }

    /// `layers` layers registered as PyTorch's `nn.LSTM`/`nn.GRU(inputSize, hiddenSize, num_layers: layers)`
    /// names them under `prefix`: layer 0 maps `inputSize → H`, the others `H → H`.
    public static func stack(
        _ cell: RecurrentCell, inputSize: Int, hiddenSize: Int, layers: Int, prefix: String = "",
        adding params: ParameterSet
    ) -> [RecurrentLayer] {
        precondition(layers > 0, "a recurrent stack needs at least one layer, got \(layers)")
        return (0..<layers).map {
            RecurrentLayer(cell, inputSize: $0 == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize,
                           names: Names(prefix: prefix, layer: $0), adding: params)
        }
    }

    /// PyTorch's initialisation: every weight and bias `U(-1/√H, 1/√H)`, drawn in the order `weight_ih`,
    /// `weight_hh`, `bias_ih`, `bias_hh` (the distribution is PyTorch's; the numbers come from our `Xoshiro256`).
    public func initialize(_ params: ParameterSet, rng: inout Xoshiro256) {
        let bound = 1 / Float(hiddenSize).squareRoot()
        for name in names.all { params.initUniform(name, bound: bound, rng: &rng) }
    }

    // MARK: Kernels shared by the window and the step

    /// Up to this batch every product of `forward` and `step` runs as dot products over `W`'s rows
    /// (`synth_matvec_rows_acc`: each row read once for the whole batch, each sequence's numbers independent of the
    /// batch size, and `step` equal to `forward` bitwise); above it, as OpenBLAS GEMMs.
    public static let dotProductBatchLimit = 8

    /// `y[b] += W · x[b]` for `W` `[rows, cols]` (PyTorch layout) over `batch` rows of `x` `[batch, cols]`,
    /// `y` `[batch, rows]`.
    @inline(__always)
    static func addProduct(
        weight w: UnsafePointer<Float>, rows: Int, cols: Int, x: UnsafePointer<Float>, batch: Int,
        y: UnsafeMutablePointer<Float>
    ) {
        if batch <= dotProductBatchLimit {
            synth_matvec_rows_acc(w, rows, cols, x, cols, batch, y, rows)
        } else {
            BLAS.gemm(transB: true, m: batch, n: rows, k: cols, a: x, b: w, beta: 1, c: y)
        }
    }

    /// Writes `b1 (+ b2)` into each of `n` rows of `y` `[n, count]`.
    @inline(__always)
    static func fillBias(
        _ b1: UnsafePointer<Float>, _ b2: UnsafePointer<Float>?, count: Int, rows n: Int, y: UnsafeMutablePointer<Float>
    ) {
        if let b2 {
            for i in 0..<count { y[i] = b1[i] + b2[i] }
        } else {
            y.update(from: b1, count: count)
        }
        for r in 1..<max(n, 1) { (y + r * count).update(from: y, count: count) }
    }

    // MARK: Forward and backward through time

    /// Runs the layer over a window of `time` steps from the initial state (`h0`, and `c0` for an LSTM; `[batch, H]`
    /// each, nil for zeros), saving what `backward` needs in `ws`.
    ///
    /// `x` is `[time, batch, inputSize]` (row `t * batch + b`). The outputs `h_1 … h_time` are left in
    /// `ws.output` `[time, batch, H]`, the final state in `ws.finalHidden` and `ws.finalCell` (which may be copied
    /// back over `h0`/`c0` for the next window: the initial state is copied in first).
    /// - Precondition: `ws` was made for this layer and `time <= ws.maxTime`.
    public func forward(
        _ params: ParameterSet, x: UnsafePointer<Float>, time T: Int, h0: UnsafePointer<Float>?,
        c0: UnsafePointer<Float>?, workspace ws: RecurrentWorkspace
    ) {
        precondition(ws.layer == self, "recurrent workspace was made for another layer")
        precondition(T >= 0 && T <= ws.maxTime, "window of \(T) steps exceeds the workspace's \(ws.maxTime)")
        let W = UnsafePointer(params.values), B = ws.batch, H = hiddenSize, G = gateSize, I = inputSize
        ws.time = T
        if let h0 { ws.hidden.update(from: h0, count: B * H) } else { ws.hidden.update(repeating: 0, count: B * H) }
        if cell == .lstm {
            if let c0 { ws.cells.update(from: c0, count: B * H) } else { ws.cells.update(repeating: 0, count: B * H) }
        }
        guard T > 0 else { return }
        // Input projection of every step at once: gates[t] = b_ih (+ b_hh for the LSTM) + x_t · W_ihᵀ. Up to
        // `dotProductBatchLimit` sequences with the step's kernel, so that stepping gives these numbers bitwise.
        Self.fillBias(W + biasIH, cell == .lstm ? W + biasHH : nil, count: G, rows: T * B, y: ws.gates)
        if B <= Self.dotProductBatchLimit {
            synth_matvec_rows_acc(W + weightIH, G, I, x, I, T * B, ws.gates, G)
        } else {
            BLAS.gemm(transB: true, m: T * B, n: G, k: I, a: x, b: W + weightIH, beta: 1, c: ws.gates)
        }
        for t in 0..<T {
            let g = ws.gates + t * B * G, hPrev = ws.hidden + t * B * H, hNext = hPrev + B * H
            switch cell {
            case .lstm:
                Self.addProduct(weight: W + weightHH, rows: G, cols: H, x: hPrev, batch: B, y: g)
                synth_lstm_cell_forward(g, ws.cells + t * B * H, B, H, ws.cells + (t + 1) * B * H,
                                        ws.withBackward ? ws.tanhCells + t * B * H : nil, hNext)
            case .gru:
                let gh = ws.hiddenGates + t * B * G
                Self.fillBias(W + biasHH, nil, count: G, rows: B, y: gh)
                Self.addProduct(weight: W + weightHH, rows: G, cols: H, x: hPrev, batch: B, y: gh)
                synth_gru_cell_forward(g, gh, hPrev, B, H, hNext)
            }
        }
    }

    /// Backward through time of the last `forward` of `ws` (called with the same `x`), in exact reverse order.
    ///
    /// Gradients in: `dOutput` `[time, batch, H]` of the loss with respect to `ws.output` (nil: none), and
    /// `dFinalHidden`, `dFinalCell` `[batch, H]` with respect to the final state (nil: none; the final hidden state
    /// is also the output's last step, and the two add).
    /// Gradients out, each *accumulated* (`+=`) and each optional: the four tensors in `params.grads` (skipped with
    /// `parameterGradients: false`, for a frozen layer), `dx` `[time, batch, inputSize]`, `dh0` and `dc0`
    /// `[batch, H]` (the initial state's: pass nil to detach).
    /// - Precondition: `ws` was made `withBackward`.
    public func backward(
        _ params: ParameterSet, x: UnsafePointer<Float>, dOutput: UnsafePointer<Float>?,
        dFinalHidden: UnsafePointer<Float>? = nil, dFinalCell: UnsafePointer<Float>? = nil,
        dx: UnsafeMutablePointer<Float>?, dh0: UnsafeMutablePointer<Float>?, dc0: UnsafeMutablePointer<Float>? = nil,
        workspace ws: RecurrentWorkspace, parameterGradients: Bool = true
    ) {
        precondition(ws.layer == self, "recurrent workspace was made for another layer")
        precondition(ws.withBackward, "recurrent workspace was made for forward only")
        let W = UnsafePointer(params.values), dW = params.grads
        let T = ws.time, B = ws.batch, H = hiddenSize, G = gateSize, I = inputSize, BH = B * H
        let dh = ws.dh, dc = ws.dc
        if let dFinalHidden { dh.update(from: dFinalHidden, count: BH) } else { dh.update(repeating: 0, count: BH) }
        if cell == .lstm {
            if let dFinalCell { dc.update(from: dFinalCell, count: BH) } else { dc.update(repeating: 0, count: BH) }
        }
        for t in stride(from: T - 1, through: 0, by: -1) {
            if let dOutput { let d = dOutput + t * BH; for i in 0..<BH { dh[i] += d[i] } }
            let hPrev = ws.hidden + t * BH, dg = ws.dGates + t * B * G
            switch cell {
            case .lstm:
                synth_lstm_cell_backward(ws.gates + t * B * G, ws.cells + t * BH, ws.tanhCells + t * BH, dh, dc,
                                         B, H, dg)
                // dh_{t-1} = dgates_t · W_hh ([B, G] × [G, H]).
                if B == 1 { synth_vecmat(dg, W + weightHH, nil, G, H, dh) }
                else { BLAS.gemm(m: B, n: H, k: G, a: dg, b: W + weightHH, beta: 0, c: dh) }
            case .gru:
                let dgh = ws.dHiddenGates + t * B * G
                // In place: dh becomes the direct part dh ⊙ z, then dh_{t-1} = dh ⊙ z + dgh_t · W_hh.
                synth_gru_cell_backward(ws.gates + t * B * G, ws.hiddenGates + t * B * G, hPrev, dh, B, H, dg, dgh, dh)
                if B == 1 { synth_vecmat_acc(dgh, W + weightHH, G, H, dh) }
                else { BLAS.gemm(m: B, n: H, k: G, a: dgh, b: W + weightHH, beta: 1, c: dh) }
            }
        }
        if let dh0 { for i in 0..<BH { dh0[i] += dh[i] } }
        if cell == .lstm, let dc0 { for i in 0..<BH { dc0[i] += dc[i] } }
        guard T > 0 else { return }
        let N = T * B
        // dgates of the hidden projection: the LSTM's are the input projection's; the GRU's differ in the n block.
        let dgh = cell == .lstm ? ws.dGates : ws.dHiddenGates
        if let dx { BLAS.gemm(m: N, n: I, k: G, a: ws.dGates, b: W + weightIH, beta: 1, c: dx) }
        guard parameterGradients else { return }
        BLAS.gemm(transA: true, m: G, n: I, k: N, a: ws.dGates, b: x, beta: 1, c: dW + weightIH)
        BLAS.gemm(transA: true, m: G, n: H, k: N, a: dgh, b: ws.hidden, beta: 1, c: dW + weightHH)
        let dbi = dW + biasIH, dbh = dW + biasHH
        for r in 0..<N {
            let a = ws.dGates + r * G, b = dgh + r * G
            for j in 0..<G { dbi[j] += a[j]; dbh[j] += b[j] }
        }
    }

    // MARK: One step for cached generation

    /// Advances `state` by one step from `x` `[batch, inputSize]`: `(h, c) ← cell(x, h, c)`, in place. Allocates
    /// nothing. Up to `dotProductBatchLimit` sequences it gives bitwise the numbers of `forward` over the same inputs
    /// (the same kernels in the same order); above, up to float rounding (OpenBLAS GEMMs of other heights).
    /// `x` may be another layer's `state.hidden` (stacking), not this one's.
    public func step(_ params: ParameterSet, x: UnsafePointer<Float>, state s: RecurrentState) {
        precondition(s.layer == self, "recurrent state was made for another layer")
        let W = UnsafePointer(params.values), B = s.batch, H = hiddenSize, G = gateSize
        let g = s.gates
        switch cell {
        case .lstm:
            Self.fillBias(W + biasIH, W + biasHH, count: G, rows: B, y: g)
            Self.addProduct(weight: W + weightIH, rows: G, cols: inputSize, x: x, batch: B, y: g)
            Self.addProduct(weight: W + weightHH, rows: G, cols: H, x: s.hidden, batch: B, y: g)
            synth_lstm_cell_forward(g, s.cell, B, H, s.cell, nil, s.hidden)
        case .gru:
            let gh = s.hiddenGates
            Self.fillBias(W + biasIH, nil, count: G, rows: B, y: g)
            Self.addProduct(weight: W + weightIH, rows: G, cols: inputSize, x: x, batch: B, y: g)
            Self.fillBias(W + biasHH, nil, count: G, rows: B, y: gh)
            Self.addProduct(weight: W + weightHH, rows: G, cols: H, x: s.hidden, batch: B, y: gh)
            synth_gru_cell_forward(g, gh, s.hidden, B, H, s.hidden)
        }
    }

    // MARK: Plain-loop reference

    /// Plain-loop reference of `forward` (no BLAS, no C kernels, libm `expf`/`tanhf`, sequential sums), for tests:
    /// `x` `[time, batch, inputSize]`, `h0`/`c0` `[batch, H]` (nil: zeros); writes `output` `[time, batch, H]`
    /// and, for an LSTM, the final cell state into `finalCell` `[batch, H]` if given.
    public func forwardReference(
        _ params: ParameterSet, x: UnsafePointer<Float>, time T: Int, batch B: Int, h0: UnsafePointer<Float>?,
        c0: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, finalCell: UnsafeMutablePointer<Float>? = nil
    ) {
        let W = params.values, H = hiddenSize, I = inputSize, G = gateSize
        let wih = W + weightIH, whh = W + weightHH, bih = W + biasIH, bhh = W + biasHH
        func sigmoid(_ v: Float) -> Float { 1 / (1 + expf(-v)) }
        var h = (0..<(B * H)).map { h0?[$0] ?? 0 }
        var c = (0..<(B * H)).map { c0?[$0] ?? 0 }
        var gi = [Float](repeating: 0, count: G), gh = [Float](repeating: 0, count: G)
        for t in 0..<T {
            var hNew = h
            for b in 0..<B {
                let xt = x + (t * B + b) * I
                for j in 0..<G {
                    var si = bih[j], sh = bhh[j]
                    for i in 0..<I { si += wih[j * I + i] * xt[i] }
                    for i in 0..<H { sh += whh[j * H + i] * h[b * H + i] }
                    gi[j] = si
                    gh[j] = sh
                }
                for u in 0..<H {
                    switch cell {
                    case .lstm:
                        let ig = sigmoid(gi[u] + gh[u]), fg = sigmoid(gi[H + u] + gh[H + u])
                        let gg = tanhf(gi[2 * H + u] + gh[2 * H + u]), og = sigmoid(gi[3 * H + u] + gh[3 * H + u])
                        c[b * H + u] = fg * c[b * H + u] + ig * gg
                        hNew[b * H + u] = og * tanhf(c[b * H + u])
                    case .gru:
                        let r = sigmoid(gi[u] + gh[u]), z = sigmoid(gi[H + u] + gh[H + u])
                        let n = tanhf(gi[2 * H + u] + r * gh[2 * H + u])
                        hNew[b * H + u] = (1 - z) * n + z * h[b * H + u]
                    }
                }
            }
            h = hNew
            (output + t * B * H).update(from: h, count: B * H)
        }
        if let finalCell, cell == .lstm { finalCell.update(from: c, count: B * H) }
    }
}

/// What one layer's `forward` saves for `backward` over a window, and the backward's scratch: allocated once for
/// `batch` sequences and windows of up to `maxTime` steps, reused for every window.
public final class RecurrentWorkspace {
    public let layer: RecurrentLayer
    public let batch: Int
    public let maxTime: Int
    /// Whether `backward` can run (false: forward only, for evaluation, without the backward's buffers).
    public let withBackward: Bool
    /// Steps of the last `forward`.
    public internal(set) var time = 0
    private let scratch = Scratch()
    /// Hidden states `[maxTime + 1, batch, H]`: block 0 is `h0`, block `t + 1` the output of step `t`.
    let hidden: UnsafeMutablePointer<Float>
    /// LSTM cell states `[maxTime + 1, batch, H]` (block 0 is `c0`) and their tanh `[maxTime, batch, H]`.
    let cells, tanhCells: UnsafeMutablePointer<Float>
    /// Activated gates `[maxTime, batch, G]`: LSTM `i, f, g, o`; GRU `r, z, n`.
    let gates: UnsafeMutablePointer<Float>
    /// GRU only: `W_hh h + b_hh` `[maxTime, batch, 3H]` (its `n` block is needed by backward).
    let hiddenGates: UnsafeMutablePointer<Float>
    /// Backward: gradients of the gate pre-activations `[maxTime, batch, G]` (GRU: input and hidden projections).
    let dGates, dHiddenGates: UnsafeMutablePointer<Float>
    /// Backward: the running gradients of `h` and `c`, `[batch, H]`.
    let dh, dc: UnsafeMutablePointer<Float>

    public init(layer: RecurrentLayer, batch: Int, maxTime: Int, withBackward: Bool = true) {
        precondition(batch > 0 && maxTime > 0, "recurrent workspace needs batch, maxTime > 0, got \(batch), \(maxTime)")
        self.layer = layer
        self.batch = batch
        self.maxTime = maxTime
        self.withBackward = withBackward
        let H = layer.hiddenSize, G = layer.gateSize, lstm = layer.cell == .lstm, bw = withBackward
        hidden = scratch.floats((maxTime + 1) * batch * H)
        cells = scratch.floats(lstm ? (maxTime + 1) * batch * H : 0)
        tanhCells = scratch.floats(lstm && bw ? maxTime * batch * H : 0)
        gates = scratch.floats(maxTime * batch * G)
        hiddenGates = scratch.floats(lstm ? 0 : maxTime * batch * G)
        dGates = scratch.floats(bw ? maxTime * batch * G : 0)
        dHiddenGates = scratch.floats(lstm || !bw ? 0 : maxTime * batch * G)
        dh = scratch.floats(bw ? batch * H : 0)
        dc = scratch.floats(bw ? batch * H : 0)
    }

    /// The outputs `h_1 … h_time` of the last `forward`, `[time, batch, H]`: the next layer's input.
    public var output: UnsafePointer<Float> { UnsafePointer(hidden + batch * layer.hiddenSize) }
    /// The final hidden state `h_time` `[batch, H]` of the last `forward` (`h0` when `time` is 0).
    public var finalHidden: UnsafePointer<Float> { UnsafePointer(hidden + time * batch * layer.hiddenSize) }
    /// The final cell state `c_time` `[batch, H]` of the last `forward`. - Precondition: an LSTM layer.
    public var finalCell: UnsafePointer<Float> {
        precondition(layer.cell == .lstm, "a GRU has no cell state")
        return UnsafePointer(cells + time * batch * layer.hiddenSize)
    }

    /// Floats held (for memory reports).
    public var totalFloats: Int { scratch.totalFloats }
}

/// The recurrent state of one layer for cached generation (or to carry across training windows): `hidden`
/// `[batch, H]`, `cell` `[batch, H]` (LSTM), and the step's scratch. Allocated once; `step` allocates nothing.
public final class RecurrentState {
    public let layer: RecurrentLayer
    public let batch: Int
    private let scratch = Scratch()
    /// `h` `[batch, H]`, row `b` for sequence `b`.
    public let hidden: UnsafeMutablePointer<Float>
    /// `c` `[batch, H]` for an LSTM; for a GRU, an unused buffer of one float.
    public let cell: UnsafeMutablePointer<Float>
    /// The step's pre-activations: `[batch, G]`, and for the GRU `W_hh h + b_hh` `[batch, G]`.
    let gates, hiddenGates: UnsafeMutablePointer<Float>

    /// A zero state.
    public init(layer: RecurrentLayer, batch: Int) {
        precondition(batch > 0, "recurrent state needs batch > 0, got \(batch)")
        self.layer = layer
        self.batch = batch
        let H = layer.hiddenSize, G = layer.gateSize, lstm = layer.cell == .lstm
        hidden = scratch.floats(batch * H)
        cell = scratch.floats(lstm ? batch * H : 0)
        gates = scratch.floats(batch * G)
        hiddenGates = scratch.floats(lstm ? 0 : batch * G)
    }

    /// Back to the zero state.
    public func reset() {
        hidden.update(repeating: 0, count: batch * layer.hiddenSize)
        if layer.cell == .lstm { cell.update(repeating: 0, count: batch * layer.hiddenSize) }
    }

    /// Copies the final state of `ws`'s last `forward` (to start the next window from it, or to generate on).
    public func load(finalStateOf ws: RecurrentWorkspace) {
        precondition(ws.layer == layer && ws.batch == batch,
                     "workspace and state were made for different layers or batches")
        hidden.update(from: ws.finalHidden, count: batch * layer.hiddenSize)
        if layer.cell == .lstm { cell.update(from: ws.finalCell, count: batch * layer.hiddenSize) }
    }

    /// The state's cell pointer for `forward`'s `c0`: `cell` for an LSTM, nil for a GRU.
    public var cellOrNil: UnsafePointer<Float>? { layer.cell == .lstm ? UnsafePointer(cell) : nil }
}

extension RecurrentLayer {
    /// Generation speed of a stack: steps per second of `layers` layers of `hiddenSize` units at `batch` on the
    /// calling thread (`step` alone: no embedding or read-out), best of `repeats` runs of `steps` steps, on weights
    /// initialised as PyTorch does. The input of layer 0 has `inputSize` channels.
    public static func measureStepRate(
        _ cell: RecurrentCell, layers: Int, hiddenSize: Int, inputSize: Int, batch: Int = 1, steps: Int = 500,
        repeats: Int = 3
    ) -> Double {
        let p = ParameterSet()
        let stack = RecurrentLayer.stack(cell, inputSize: inputSize, hiddenSize: hiddenSize, layers: layers, adding: p)
        var rng = Xoshiro256(seed: 1)
        for l in stack { l.initialize(p, rng: &rng) }
        let states = stack.map { RecurrentState(layer: $0, batch: batch) }
        let x = UnsafeMutablePointer<Float>.allocate(capacity: batch * inputSize)
        defer { x.deallocate() }
        for i in 0..<(batch * inputSize) { x[i] = rng.nextFloat() * 2 - 1 }
        func run(_ n: Int) {
            for _ in 0..<n {
                for (l, layer) in stack.enumerated() {
                    layer.step(p, x: l == 0 ? UnsafePointer(x) : UnsafePointer(states[l - 1].hidden), state: states[l])
                }
            }
        }
        run(min(steps, 20))
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            run(steps)
            clock_gettime(CLOCK_MONOTONIC, &t1)
            best = min(best, Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9)
        }
        return Double(steps) / best
    }
}
