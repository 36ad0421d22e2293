// `synth voices`: lists installed voices with their speakers, sample rate, receptive field and size, and where it looked.
import ArgumentParser
import Foundation
import Music
import WaveNet

struct Voices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List installed voices and their speakers, and the folders searched.",
        discussion: """
            Voices are folders holding config.json and model.safetensors, found in $SYNTH_VOICES (colon-separated), ./voices, share/synth/voices beside the binary (PREFIX/share/synth/voices for PREFIX/bin/synth, where `make install` puts them) and the voices/ folder of the synth source tree. The first folder holding a name wins. The list starts with the folders searched, each marked when it is missing. Each folder is loaded and checked as `vocode` (or `music generate`) would load it; a folder that cannot be loaded is reported on stderr in one line naming the file and the problem, the others are still listed, and the exit status is then 1.
            """)

    @OptionGroup var jsonOption: JSONOption

    func run() throws {
        let fm = FileManager.default
        let searched = VoiceLibrary.searchPaths()
        var entries: [[String: Any]] = []
        var text: [String] = ["searched: " + searched.map { $0.path + (fm.fileExists(atPath: $0.path) ? "" : " (missing)") }.joined(separator: ", ")]
        let all = VoiceLibrary.installed()
        if all.isEmpty { text.append("no voices installed") }
        var failed = 0
        for (name, dir) in all {
            do {
                let v = try Voice.load(dir)
                let c = v.config
                let bytes = (try? fm.attributesOfItem(atPath: dir.appendingPathComponent("model.safetensors").path)[.size] as? Int) ?? 0
                let hasStatistics = SpeakerStatistics.read(voice: v) != nil
                text.append("\(name)  (\(dir.path))")
                text.append(String(format: "  %d Hz, %d layers, receptive field %d samples (%.1f ms), %d parameters, %.1f MB",
                                   c.features.sampleRate, c.layers, c.receptiveField,
                                   1000 * Double(c.receptiveField) / Double(c.features.sampleRate), v.model.params.count,
                                   Double(bytes) / 1e6))
                text.append("  speakers: \(c.speakers.joined(separator: ", "))" + (hasStatistics ? " (with speaker statistics for --speaker auto)" : ""))
                entries.append(["name": name, "path": dir.path, "kind": "voice", "sample_rate": c.features.sampleRate,
                                "layers": c.layers, "receptive_field_samples": c.receptiveField, "parameters": v.model.params.count,
                                "bytes": bytes, "speakers": c.speakers, "speaker_statistics": hasStatistics,
                                "pitch": c.pitch, "source": c.source, "lpc": c.lpc])
            } catch {
                if let m = try? MusicModel.load(dir) {  // a music model folder (config.json has "model_type")
                    text.append("\(name)  (\(dir.path))\n  music \(m.summary)")
                    entries.append(["name": name, "path": dir.path, "kind": "music", "summary": m.summary])
                    continue
                }
                // A music model folder fails as a voice with notAVoice; report the music loader's error then.
                var reason = "\(error)"
                if case VoiceError.notAVoice = error { do { _ = try MusicModel.load(dir) } catch { reason = "\(error)" } }
                printErr("\(name): cannot load: \(reason)")
                entries.append(["name": name, "path": dir.path, "kind": "unusable", "error": reason])
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
}
