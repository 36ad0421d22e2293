// `synth voices`: lists every installed model folder (voices, music models, ...) with its kind and size.
import AREngine
import ArgumentParser
import Foundation

struct Voices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List installed voices and models: their kind, size and (for voices) speakers.",
        discussion: "Model folders hold config.json (whose model_type names the family; a folder without one is a WaveNet voice) and model.safetensors, and are found in $SYNTH_VOICES, ./voices and the voices/ folder of the synth source tree. Each folder is loaded and checked as the command that uses it would load it. A folder that cannot be loaded is reported on stderr in one line naming the file and the problem, the others are still listed, and the exit status is then 1.")

    func run() throws {
        let all = ModelLibrary.installed()
        if all.isEmpty {
            print("no voices installed (searched: \(ModelLibrary.searchPaths().map(\.path).joined(separator: ", ")))")
            return
        }
        var failed = 0
        for (name, dir) in all {
            do {
                let model = try ModelRegistry.synth.load(dir)
                let family = type(of: model)
                let attributes = try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(ModelFolder.weightsName).path)
                let bytes = (attributes?[.size] as? Int) ?? 0
                print("\(name)  (\(dir.path))")
                print(String(format: "  %@: %@, %.1f MB", family.kind, model.summary, Double(bytes) / 1e6))
                model.details.forEach { print("  \($0)") }
                print("  use with: \(family.usage) \(name)")
            } catch {
                printErr("\(name): cannot load: \(error)")
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode.failure }
    }
}
