// Growing a trained WaveNet into a larger one that computes the same function (Net2Net-style).
import NNCore

extension WaveNetModel {
    /// A larger copy of `base` whose outputs are, at the start, exactly those of `base`: a way to give a voice
    /// more capacity without starting its training again.
    ///
    /// Follows the function-preserving idea of Net2Net (Chen, Goodfellow and Shlens, "Net2Net: Accelerating
    /// Learning via Knowledge Transfer", ICLR 2016) with zero-initialised read-out instead of unit copying:
    /// - every old weight is copied to the same unit in the new tensor (gate units keep their tanh or sigmoid
    ///   half: old tanh unit `j` becomes new unit `j`, old sigmoid unit `G/2 + j` becomes `G'/2 + j`);
    /// - a new unit (residual, gate, skip, conditioning or speaker channel, or a whole new layer) gets random
    ///   input weights, drawn as in `initialize(seed:)`, and every weight that *reads* a new unit is zero, so
    ///   it cannot change the output until training moves those weights. The new unit's activation is not
    ///   zero, so the first step's gradient reaches the zero read-out weights, and the step after reaches
    ///   its input weights: the new units do learn;
    /// - new layers (dilations in `target` that are not matched by the base's, in order) have zero `out`
    ///   weights, so each starts as the identity on the residual stream and adds nothing to the skip sum;
    /// - new residual blocks of the conditioning network (`target.condLayers` above the base's) come after the
    ///   base's and also start with zero `out` weights, so each starts as the identity on the frame features.
    ///
    /// - Parameters:
    ///   - base: the trained model.
    ///   - target: the new shape: its `dilations`, `residualChannels`, `gateChannels`, `skipChannels`,
    ///     `condChannels`, `condLayers` and `speakerEmbeddingDim` are used; everything else (features,
    ///     normalisation, pre-emphasis, classes, speakers) is taken from `base`.
    ///   - seed: seed of the new units' random weights.
    ///   `target`'s `pitch`, `source`, `lpc` and `pitch_lag` switches (with their settings) are turned on where the base
    ///   has them off; their new inputs (the pitch columns of the first conditioning convolution, the source projection,
    ///   the prediction, excitation and lag embeddings) start at zero. With `lpc` the target becomes the excitation, so the
    ///   grown model's outputs are those of the base on its old inputs, not a prediction of the new target.
    /// - Returns: the grown model; its config is `base.config` with the seven shape fields of `target` and its switches.
    /// - Throws: `VoiceError.cannotGrow` when a channel or block count would shrink, or the base's dilations are not
    ///   a subsequence of the target's (a layer can be added anywhere, none removed or changed).
    public static func growing(_ base: WaveNetModel, to target: WaveNetConfig, seed: UInt64) throws -> WaveNetModel {
        let c = try grownConfig(base.config, to: target)
        let layerMap = try Self.layerMap(base.config.dilations, into: c.dilations)
        let model = WaveNetModel(config: c)
        model.initialize(seed: seed)
        let g = Growth(old: base.config, new: c, from: base.parameters, to: model.parameters, layerMap: layerMap)
        g.copyInputs()
        g.copyConditioning()
        g.copyStackAndPostNet()
        return model
    }

    /// `base` with `target`'s sizes, and its pitch, source and LPC switches where `base` has them off.
    /// - Throws: `VoiceError.cannotGrow` when a size would shrink or the result is not a valid config.
    static func grownConfig(_ o: WaveNetConfig, to target: WaveNetConfig) throws -> WaveNetConfig {
        var c = o
        c.dilations = target.dilations
        c.residualChannels = target.residualChannels
        c.gateChannels = target.gateChannels
        c.skipChannels = target.skipChannels
        c.condChannels = target.condChannels
        c.condLayers = target.condLayers
        c.speakerEmbeddingDim = target.speakerEmbeddingDim
        // Switches can be turned on (not off): their new inputs start with zero weights, so the grown model reads
        // the same function of its old inputs; its target changes with `lpc` (the excitation), which training learns.
        if target.pitch && !o.pitch { c.pitch = true; c.pitchConfig = target.pitchConfig; c.f0Mean = target.f0Mean; c.f0Std = target.f0Std }
        if target.source && !o.source { c.source = true; c.sourceHarmonics = target.sourceHarmonics }
        if target.lpc && !o.lpc { c.lpc = true; c.lpcOrder = target.lpcOrder }
        if target.pitchLag && !o.pitchLag { c.pitchLag = true }
        func fail(_ reason: String) -> VoiceError { .cannotGrow(reason: reason) }
        for (name, old, new) in [("residual channels", o.residualChannels, c.residualChannels),
                                 ("gate channels", o.gateChannels, c.gateChannels),
                                 ("skip channels", o.skipChannels, c.skipChannels),
                                 ("conditioning channels", o.condChannels, c.condChannels),
                                 ("conditioning blocks", o.condLayers, c.condLayers),
                                 ("speaker embedding size", o.speakerEmbeddingDim, c.speakerEmbeddingDim)] where new < old {
            throw fail("\(name) can only grow: the voice has \(old), asked for \(new)")
        }
        do { try c.validate(file: "the grown voice") } catch VoiceError.invalidConfig(_, let reason) { throw fail(reason) }
        return c
    }

    /// Old layer l -> new layer `map[l]`: the first matching dilation after the previous match.
    /// - Throws: `VoiceError.cannotGrow` when `old` is not a subsequence of `new`.
    static func layerMap(_ old: [Int], into new: [Int]) throws -> [Int] {
        var map: [Int] = []
        var next = 0
        for d in old {
            while next < new.count && new[next] != d { next += 1 }
            guard next < new.count else {
                throw VoiceError.cannotGrow(reason: "the voice's dilations \(old) are not a subsequence of \(new) (layers can be added, not removed)")
            }
            map.append(next)
            next += 1
        }
        return map
    }
}

/// The copy of a base voice's tensors into a grown model (see `WaveNetModel.growing`).
private struct Growth {
    let o, c: WaveNetConfig
    let from, to: ParameterSet
    let layerMap: [Int]
    let R0, G0, H0, S0, R, G, H, S: Int
    /// Where the base's gate units go: tanh unit j to j, sigmoid unit G0/2 + j to G/2 + j.
    let gateMap: [Int]

    init(old o: WaveNetConfig, new c: WaveNetConfig, from: ParameterSet, to: ParameterSet, layerMap: [Int]) {
        (self.o, self.c, self.from, self.to, self.layerMap) = (o, c, from, to, layerMap)
        let h0 = o.gateChannels / 2, h = c.gateChannels / 2
        (R0, G0, H0, S0) = (o.residualChannels, o.gateChannels, h0, o.skipChannels)
        (R, G, H, S) = (c.residualChannels, c.gateChannels, h, c.skipChannels)
        gateMap = (0..<o.gateChannels).map { $0 < h0 ? $0 : h + ($0 - h0) }
    }

    func identity(_ n: Int) -> [Int] { Array(0..<n) }

    /// Copies tensor `name` of the base, viewed as `[blocks, rowMap.count, colMap.count]`, into tensor `dst`
    /// (default: the same name) of the new model, viewed as `[blocks', rows, cols]`: old block `b`, row `r`,
    /// column `k` go to `blockMap[b]`, `rowMap[r]`, `colMap[k]`. Rows are the input axis of every weight
    /// here: with `zeroNewRows`, the rows that are not images of old rows (weights reading new units) are
    /// zeroed first in every block.
    func copy(_ name: String, into dst: String? = nil, blockMap: [Int] = [0], rowMap: [Int], rows: Int,
              colMap: [Int], cols: Int, zeroNewRows: Bool) {
        let dstName = dst ?? name
        let src = from.value(name), out = to.value(dstName)
        let blocks = to.entry(dstName)!.count / (rows * cols)
        if zeroNewRows {
            let old = Set(rowMap)
            for b in 0..<blocks {
                for r in 0..<rows where !old.contains(r) { (out + (b * rows + r) * cols).update(repeating: 0, count: cols) }
            }
        }
        for (b, nb) in blockMap.enumerated() {
            for (r, nr) in rowMap.enumerated() {
                for (k, nk) in colMap.enumerated() {
                    out[(nb * rows + nr) * cols + nk] = src[(b * rowMap.count + r) * colMap.count + k]
                }
            }
        }
    }

    /// A bias: one row.
    func copyBias(_ name: String, into dst: String? = nil, colMap: [Int], cols: Int) {
        copy(name, into: dst, rowMap: [0], rows: 1, colMap: colMap, cols: cols, zeroNewRows: false)
    }

    /// The input embeddings and the source projection; switched-on inputs start at zero.
    func copyInputs() {
        let embeddings = ["input_embedding"] + (o.lpc ? ["lpc.prediction_embedding", "lpc.excitation_embedding"] : [])
            + (o.pitchLag ? ["lpc.lag_embedding"] : [])
        for name in embeddings {
            copy(name, rowMap: identity(o.classes), rows: c.classes, colMap: identity(R0), cols: R, zeroNewRows: false)
        }
        if !o.lpc && c.lpc {
            for name in ["lpc.prediction_embedding", "lpc.excitation_embedding"] { to.value(name).update(repeating: 0, count: c.classes * R) }
        }
        if !o.pitchLag && c.pitchLag { to.value("lpc.lag_embedding").update(repeating: 0, count: c.classes * R) }
        if o.source {
            copy("source.proj.weight", rowMap: identity(o.sourceChannels), rows: c.sourceChannels, colMap: identity(R0), cols: R,
                 zeroNewRows: false)
        } else if c.source {
            to.value("source.proj.weight").update(repeating: 0, count: c.sourceChannels * R)
        }
    }

    /// The frame-rate conditioning network and the speaker conditioning, with each layer's gate columns moved.
    func copyConditioning() {
        // The pitch columns (when pitch is switched on) are new input rows: zero.
        let condMap = identity(o.condChannels), C = c.condChannels
        copy("cond.conv.weight", blockMap: [0, 1, 2], rowMap: identity(o.frameFeatures), rows: c.frameFeatures,
             colMap: condMap, cols: C, zeroNewRows: true)
        copyBias("cond.conv.bias", colMap: condMap, cols: C)
        for k in 0..<o.condLayers {
            // Old blocks keep their units; weights reading the new channels of the frame features start at zero.
            copy("cond.blocks.\(k).conv.weight", blockMap: [0, 1, 2], rowMap: condMap, rows: C, colMap: condMap, cols: C, zeroNewRows: true)
            copyBias("cond.blocks.\(k).conv.bias", colMap: condMap, cols: C)
            copy("cond.blocks.\(k).out.weight", rowMap: condMap, rows: C, colMap: condMap, cols: C, zeroNewRows: true)
            copyBias("cond.blocks.\(k).out.bias", colMap: condMap, cols: C)
        }
        for k in o.condLayers..<c.condLayers {
            to.value("cond.blocks.\(k).out.weight").update(repeating: 0, count: C * C)
        }
        // Per-layer gate columns of the conditioning and speaker projections, `[in, layers * G]`.
        let projCols = layerMap.flatMap { nl in gateMap.map { nl * G + $0 } }
        copy("cond.proj.weight", rowMap: condMap, rows: C, colMap: projCols, cols: c.layers * G, zeroNewRows: true)
        copy("speaker_embedding", rowMap: identity(o.speakers.count), rows: c.speakers.count,
             colMap: identity(o.speakerEmbeddingDim), cols: c.speakerEmbeddingDim, zeroNewRows: false)
        copy("speaker.proj.weight", rowMap: identity(o.speakerEmbeddingDim), rows: c.speakerEmbeddingDim,
             colMap: projCols, cols: c.layers * G, zeroNewRows: true)
    }

    /// The residual layers (new ones start as the identity) and the post-net.
    func copyStackAndPostNet() {
        let outCols = identity(R0) + (0..<S0).map { R + $0 }
        let matched = Set(layerMap)
        for l in 0..<c.layers where !matched.contains(l) {
            // A new layer reads only the old residual channels and starts with a zero read-out (identity).
            let w = to.value("layers.\(l).conv.weight")
            for tap in 0..<2 {
                for r in R0..<R { (w + (tap * R + r) * G).update(repeating: 0, count: G) }
            }
            to.value("layers.\(l).out.weight").update(repeating: 0, count: H * (R + S))
        }
        for (l, nl) in layerMap.enumerated() {
            copy("layers.\(l).conv.weight", into: "layers.\(nl).conv.weight", blockMap: [0, 1], rowMap: identity(R0), rows: R,
                 colMap: gateMap, cols: G, zeroNewRows: true)
            copyBias("layers.\(l).conv.bias", into: "layers.\(nl).conv.bias", colMap: gateMap, cols: G)
            copy("layers.\(l).out.weight", into: "layers.\(nl).out.weight", rowMap: identity(H0), rows: H,
                 colMap: outCols, cols: R + S, zeroNewRows: true)
            copyBias("layers.\(l).out.bias", into: "layers.\(nl).out.bias", colMap: outCols, cols: R + S)
        }
        copy("post.conv1.weight", rowMap: identity(S0), rows: S, colMap: identity(S0), cols: S, zeroNewRows: true)
        copyBias("post.conv1.bias", colMap: identity(S0), cols: S)
        copy("post.conv2.weight", rowMap: identity(S0), rows: S, colMap: identity(o.classes), cols: c.classes, zeroNewRows: true)
        copyBias("post.conv2.bias", colMap: identity(o.classes), cols: c.classes)
    }
}
