// `synth voices`: lists installed voices with their speakers, sample rate, receptive field and size.
import ArgumentParser
import Foundation
import Music
import WaveNet

struct Voices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List installed voices and their speakers.",
        discussion: "Voices are folders holding config.json and model.safetensors, found in $SYNTH_VOICES, ./voices and the voices/ folder of the synth source tree. Each folder is loaded and checked as `vocode` (or `music generate`) would load it. A folder that cannot be loaded is reported on stderr in one line naming the file and the problem, the others are still listed, and the exit status is then 1.")

    func run() throws {
        let all = VoiceLibrary.installed()
        if all.isEmpty {
            print("no voices installed (searched: \(VoiceLibrary.searchPaths().map(\.path).joined(separator: ", ")))")
            return
        }
        var failed = 0
        for (name, dir) in all {
            do {
                do {
                    let v = try Voice.load(dir)
                    let c = v.config
                    let bytes = (try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("model.safetensors").path)[.size] as? Int) ?? 0
                    print("\(name)  (\(dir.path))")
                    print(String(format: "  %d Hz, %d layers, receptive field %d samples (%.1f ms), %d parameters, %.1f MB",
                                 c.features.sampleRate, c.layers, c.receptiveField,
                                 1000 * Double(c.receptiveField) / Double(c.features.sampleRate), v.model.params.count,
                                 Double(bytes) / 1e6))
                    print("  speakers: \(c.speakers.joined(separator: ", "))")
                } catch VoiceError.notAVoice {
                    let m = try MusicModel.load(dir)  // a music model folder (config.json has "model_type")
                    print("\(name)  (\(dir.path))\n  music \(m.summary)")
                }
            } catch {
                printErr("\(name): cannot load: \(error)")
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode.failure }
    }
}
