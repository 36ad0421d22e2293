// `synth voices`: lists every installed model folder (voices, music models, ...) with its kind and size, and where it
// looked.
import AREngine
import ArgumentParser
import Foundation
import MIDI
import Music
import Text
import WaveNet

struct Voices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List installed voices and models (their kind, size and, for voices, speakers), and the folders searched.",
        discussion: """
            Model folders hold config.json (whose model_type names the family; a folder without one is a WaveNet voice) and model.safetensors, optionally generation_config.json (the sampling defaults of the commands that draw from the model: temperature, top_k, top_p, min_p, repetition_penalty, as in Hugging Face transformers; the options given win; listed here when present), and are found in $SYNTH_VOICES (colon-separated), ./voices, share/synth/voices beside the binary (PREFIX/share/synth/voices for PREFIX/bin/synth, where `make install` puts them) and the voices/ folder of the synth source tree. The first folder holding a name wins. The list starts with the folders searched, each marked when it is missing. Each folder is loaded and checked as the command that uses it would load it; a folder that cannot be loaded is reported on stderr in one line naming the file and the problem, the others are still listed, and the exit status is then 1.
            """)

    @OptionGroup var jsonOption: JSONOption

    func run() throws {
        let fm = FileManager.default
        let searched = ModelLibrary.searchPaths()
        var entries: [[String: Any]] = []
        var text: [String] = ["searched: " + searched.map { $0.path + (fm.fileExists(atPath: $0.path) ? "" : " (missing)") }.joined(separator: ", ")]
        let all = ModelLibrary.installed()
        if all.isEmpty { text.append("no voices installed") }
        var failed = 0
        for (name, dir) in all {
            do {
                let model = try ModelRegistry.synth.load(dir)
                let generation = try GenerationConfig.load(folder: dir)
                let continuation = try MusicGenerationConfig.load(folder: dir)
                let family = type(of: model)
                let bytes = (try? fm.attributesOfItem(atPath: dir.appendingPathComponent(ModelFolder.weightsName).path)[.size] as? Int) ?? 0
                text.append("\(name)  (\(dir.path))")
                text.append(String(format: "  %@: %@, %.1f MB", family.kind, model.summary, Double(bytes) / 1e6))
                text += model.details.map { "  \($0)" }
                // A token model over another vocabulary than bytes is a music model: its folder names its encoding.
                var encoding: MusicEncoding?
                if let tokens = model as? any TokenModel, family == TransformerModel.self || family == WaveNetTokenModel.self,
                   tokens.vocabularySize != ByteTokenizer.vocabularySize {
                    let e = try MusicEncoding.of(folder: dir)
                    text.append("  token encoding: \(e.rawValue) (\(e.vocabularySize) tokens: \(e.summary))")
                    encoding = e
                }
                if let g = generation, !g.isEmpty { text.append("  sampling defaults (\(GenerationConfig.fileName)): \(g.summary)") }
                if let c = continuation, !c.isEmpty { text.append("  continuation defaults (\(GenerationConfig.fileName)): \(c.summary)") }
                text.append("  use with: \(family.usage) \(name)")
                var entry: [String: Any] = ["name": name, "path": dir.path, "model_type": family.modelType, "kind": family.kind,
                                            "summary": model.summary, "bytes": bytes, "use_with": "\(family.usage) \(name)"]
                if let voice = model as? WaveNetModel { entry.merge(Self.facts(voice)) { $1 } }
                if let encoding { entry["encoding"] = encoding.rawValue }
                if let g = generation, !g.isEmpty, let json = try? JSONSerialization.jsonObject(with: JSONEncoder().encode(g)) {
                    entry["generation_config"] = json
                }
                entries.append(entry)
            } catch {
                printErr("\(name): cannot load: \(error)")
                entries.append(["name": name, "path": dir.path, "kind": "unusable", "error": "\(error)"])
                failed += 1
            }
        }
        if jsonOption.json {
            printJSON(["command": "voices", "searched": searched.map { ["path": $0.path, "exists": fm.fileExists(atPath: $0.path)] },
                       "voices": entries])
        } else {
            text.forEach { print($0) }
        }
        if failed > 0 { throw ExitCode.failure }
    }

    /// A voice's figures for --json.
    static func facts(_ m: WaveNetModel) -> [String: Any] {
        let c = m.config
        return ["sample_rate": c.features.sampleRate, "layers": c.layers, "receptive_field_samples": c.receptiveField,
                "parameters": m.parameters.count, "speakers": c.speakers, "speaker_statistics": c.speakerStatistics != nil,
                "pitch": c.pitch, "source": c.source, "lpc": c.lpc, "pitch_postfilter": (Double(c.pitchPostfilter ?? 0) * 1e6).rounded() / 1e6,
                "mel_correction": c.melCorrection ?? 0, "mel_correction_momentum": Double(c.melCorrectionMomentum ?? 0)]
    }
}
