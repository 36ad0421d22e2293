// Fuzz target: loading a model folder (config.json + model.safetensors) as `synth vocode`, `synth voices` and
// `synth music generate` do, then using what loaded: the voice's feature extraction and a few generation steps,
// a music model's first tokens. Input: config.json, a NUL byte, then model.safetensors.
import AREngine
import DSP
import Foundation
import FuzzSupport
import Music
import NNCore
import WaveNet

/// Every family, as `synth` registers them (Sources/synth/Registry.swift).
let registry = ModelRegistry([WaveNetModel.self, TransformerModel.self, WaveNetTokenModel.self])

/// Splits the input at its first NUL byte: (config.json, model.safetensors).
func split(_ d: Data) -> (Data, Data) {
    guard let i = d.firstIndex(of: 0) else { return (d, Data()) }
    return (d.subdata(in: d.startIndex..<i), d.subdata(in: (i + 1)..<d.endIndex))
}

/// Seeds: tiny voices (plain, and with pitch, source and LPC) and tiny music models of both families, written by
/// the library itself into `SYNTH_FUZZ_SEEDS` when `make fuzz` sets it.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    guard let seeds = seedFolder else { return 0 }
    func save(_ name: String, _ write: (URL) throws -> Void) {
        let dir = scratch.appendingPathComponent("seed-\(name)")
        try? write(dir)
        guard let c = try? Data(contentsOf: dir.appendingPathComponent("config.json")),
              let w = try? Data(contentsOf: dir.appendingPathComponent("model.safetensors")) else { return }
        try? (c + Data([0]) + w).write(to: seeds.appendingPathComponent("seed-\(name)"))
        try? FileManager.default.removeItem(at: dir)
    }
    let f = FeatureConfig(sampleRate: 16000, nFFT: 64, winLength: 48, hopLength: 16, nMels: 4, fmin: 50, fmax: 7600, logFloor: 1e-5)
    for (name, pitch, source, lpc) in [("voice", false, false, false), ("voice-pitch-source-lpc", true, true, true)] {
        var c = WaveNetConfig(dilations: [1, 2], residualChannels: 2, gateChannels: 2, skipChannels: 2, classes: 8,
                              condChannels: 2, speakerEmbeddingDim: 1, speakers: ["a", "b"], features: f,
                              preemphasis: 0.5, condLayers: 1, pitch: pitch, source: source, lpc: lpc)
        c.sourceHarmonics = 1
        c.lpcOrder = 2
        let m = WaveNetModel(config: c)
        m.initialize(seed: 1)
        save(name) { try Voice.save(m, to: $0) }
    }
    let t = TransformerModel(config: TransformerConfig(vocabSize: 6, contextLength: 4, dModel: 2, nHeads: 1, nLayers: 1, dFF: 2))
    t.initialize(seed: 1)
    save("transformer") { try ModelFolder.save(t, to: $0) }
    let w = WaveNetTokenModel(config: WaveNetTokenConfig(vocabSize: 6, dilations: [1, 2], residualChannels: 2, gateChannels: 2, skipChannels: 2))
    w.initialize(seed: 1)
    save("wavenet-tokens") { try ModelFolder.save(w, to: $0) }
    return 0
}

/// Features of a short sine through the voice's own front end, then a few samples of generation.
func use(_ voice: Voice) throws {
    let vocoder = try Vocoder(voice: voice)
    let c = voice.config
    let x = (0..<(4 * c.features.hopLength)).map { 0.5 * sinf(Float($0) * 0.3) }
    let (mels, frames) = vocoder.features(of: x)
    precondition(mels.count == frames * c.frameFeatures, "features: \(mels.count) values for \(frames) frames")
    let gen = WaveNetGenerator(model: voice.model, maxFrames: frames)
    gen.start(mels: mels, frames: frames, speaker: c.speakers.count - 1)
    var previous = 0
    for _ in 0..<16 {
        let logits = gen.step(previous: previous)
        previous = (0..<c.classes).max { logits[$0] < logits[$1] } ?? 0
        _ = gen.value(ofClass: previous)
    }
}

/// A token model's first steps.
func use<M: TokenModel>(_ m: M) {
    var state = m.makeState(batch: 1)
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: m.vocabularySize)
    defer { logits.deallocate() }
    for t in 0..<min(4, m.contextLength) { m.step([t % m.vocabularySize], state: &state, logits: logits) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (config, weights) = split(input(data, size))
    let dir = folder(["config.json": config, "model.safetensors": weights])
    do {
        let model = try registry.load(dir)
        if let voice = model as? WaveNetModel { try use(Voice(name: "fuzz", directory: dir, model: voice)) }
        if let tokens = model as? any TokenModel { use(tokens) }
    } catch {
        checkOneLine(error, "model folder")
    }
    return 0
}
