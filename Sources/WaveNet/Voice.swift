// Voice folders (config.json + model.safetensors): finding, loading with shape checks, and saving.
import AtomicIO
import Foundation
import NNCore

/// A trained WaveNet voice loaded from a folder holding `config.json` and `model.safetensors`.
public struct Voice {
    public let name: String
    public let directory: URL
    public let model: WaveNetModel
    public var config: WaveNetConfig { model.config }

    /// A voice from a model in memory (e.g. random weights for tests and benchmarks); `directory` is informational.
    public init(name: String, directory: URL, model: WaveNetModel) {
        self.name = name
        self.directory = directory
        self.model = model
    }

    /// Loads and checks a voice folder. Nothing is allocated for the model until config.json has passed
    /// `WaveNetConfig.validate` (its bounds) and every tensor of model.safetensors has the name and shape the
    /// config asks for; the weights file is read once and copied into the model.
    /// - Throws: `VoiceError.invalidConfig` for a missing, oversized (over `ModelLimits.maxConfigBytes`) or
    ///   malformed config.json, `.notAVoice` for a music model's folder, `TensorFileError` for a missing or
    ///   corrupt model file, or a tensor whose name or shape disagrees with the config.
    public static func load(_ dir: URL) throws -> Voice {
        let cfgURL = dir.appendingPathComponent("config.json")
        let data: Data
        do { data = try BoundedRead.contents(of: cfgURL, limit: ModelLimits.maxConfigBytes) } catch let p as BoundedRead.Problem {
            if p == .missing, FileManager.default.fileExists(atPath: dir.appendingPathComponent("best/config.json").path) {
                throw VoiceError.invalidConfig(file: cfgURL.path, reason: "file is missing; this is a training run folder: its voice is \(dir.appendingPathComponent("best").path)")
            }
            throw VoiceError.invalidConfig(file: cfgURL.path, reason: p == .missing ? "file is missing" : "\(p)")
        }
        if let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let kind = obj["model_type"] as? String {
            throw VoiceError.notAVoice(file: cfgURL.path, modelType: kind)
        }
        let config: WaveNetConfig
        do { config = try JSONDecoder().decode(WaveNetConfig.self, from: data) } catch let e as DecodingError {
            throw VoiceError.invalidConfig(file: cfgURL.path, reason: Self.describe(e))
        } catch {
            throw VoiceError.invalidConfig(file: cfgURL.path, reason: "not valid JSON")
        }
        try config.validate(file: cfgURL.path)
        let weights = try SafeTensorsFile.open(dir.appendingPathComponent("model.safetensors"))
        try WaveNetModel.layout(config).check(weights)
        let model = WaveNetModel(config: config)
        try model.params.load(weights)
        return Voice(name: dir.lastPathComponent, directory: dir, model: model)
    }

    /// Writes `config.json` and `model.safetensors` into `dir` (each atomically).
    public static func save(_ model: WaveNetModel, to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileIO.writeJSON(model.config, to: dir.appendingPathComponent("config.json"))
        try SafeTensors.write(model.params.tensors(), metadata: ["format": "synth"], to: dir.appendingPathComponent("model.safetensors"))
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .keyNotFound(let k, _): return "missing key '\(k.stringValue)'"
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            return "wrong type at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted(let c):
            return c.codingPath.isEmpty ? "not valid JSON" : "bad value at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        @unknown default: return "cannot decode"
        }
    }
}

/// Where voices are installed and how names resolve to folders.
public enum VoiceLibrary {
    /// Folders searched for voices, in order: `$SYNTH_VOICES` (colon-separated), `./voices`, `../share/synth/voices`
    /// beside the binary (where `make install` puts them: PREFIX/bin/synth finds PREFIX/share/synth/voices), and the
    /// `voices/` folder of the source tree the binary was built in (so `.build/release/synth` finds them). The
    /// binary is located through `/proc/self/exe`, so a `synth` found on the PATH works from any folder.
    public static func searchPaths() -> [URL] {
        var paths: [URL] = []
        func add(_ u: URL) {
            if !paths.contains(where: { $0.standardizedFileURL == u.standardizedFileURL }) { paths.append(u.standardizedFileURL) }
        }
        if let env = ProcessInfo.processInfo.environment["SYNTH_VOICES"] {
            env.split(separator: ":").forEach { add(URL(fileURLWithPath: String($0))) }
        }
        add(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("voices"))
        let exe = executableURL()
        add(exe.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("share/synth/voices"))
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            add(dir.appendingPathComponent("voices"))
            dir = dir.deletingLastPathComponent()
        }
        return paths
    }

    /// The running binary, symlinks resolved (`/proc/self/exe` on Linux, else `argv[0]`).
    static func executableURL() -> URL {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: target)
        }
        return URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
    }

    /// Installed voices: every folder with a config.json under the search paths (first wins per name).
    public static func installed() -> [(name: String, directory: URL)] {
        var seen = Set<String>(), out: [(String, URL)] = []
        let fm = FileManager.default
        for base in searchPaths() {
            guard let names = try? fm.contentsOfDirectory(atPath: base.path) else { continue }
            for n in names.sorted() where !seen.contains(n) {
                let d = base.appendingPathComponent(n)
                if fm.fileExists(atPath: d.appendingPathComponent("config.json").path) { seen.insert(n); out.append((n, d)) }
            }
        }
        return out
    }

    /// Resolves a voice name (looked up in `searchPaths`) or a folder path.
    /// - Throws: `VoiceError.unknownVoice` listing the installed voices.
    public static func resolve(_ nameOrPath: String) throws -> URL {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if nameOrPath.contains("/"), fm.fileExists(atPath: nameOrPath, isDirectory: &isDir), isDir.boolValue {
            return URL(fileURLWithPath: nameOrPath)
        }
        if let hit = installed().first(where: { $0.name == nameOrPath }) { return hit.directory }
        if fm.fileExists(atPath: nameOrPath, isDirectory: &isDir), isDir.boolValue,
           fm.fileExists(atPath: (nameOrPath as NSString).appendingPathComponent("config.json")) {
            return URL(fileURLWithPath: nameOrPath)
        }
        // The folders that exist, or every candidate when none does (so the message never reads "looked in ").
        let existing = searchPaths().filter { fm.fileExists(atPath: $0.path) }
        throw VoiceError.unknownVoice(name: nameOrPath, searched: (existing.isEmpty ? searchPaths() : existing).map(\.path),
                                      available: installed().map(\.name))
    }
}
