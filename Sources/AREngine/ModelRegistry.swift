// The registry of model families (config.json's "model_type" → family) and where installed model folders are found.
import Foundation
import NNCore

/// What a command needs from a model folder, as a noun for messages ("voice", "music model") and a test of the family.
public struct ModelRole {
    public let noun: String
    let accepts: (any ModelFamily.Type) -> Bool

    public init(_ noun: String, accepts: @escaping (any ModelFamily.Type) -> Bool) {
        self.noun = noun
        self.accepts = accepts
    }

    /// Any folder, whatever its family (`synth voices`).
    public static let any = ModelRole("model") { _ in true }

    /// Folders of family `F` only.
    public static func family<F: ModelFamily>(_ f: F.Type, noun: String) -> ModelRole {
        ModelRole(noun) { ObjectIdentifier($0) == ObjectIdentifier(f) }
    }
}

/// Every model family a program knows, by `model_type`: one entry per family, and the only place that lists them
/// (the CLI's `ModelRegistry.synth`). Loading a folder goes through it, so a folder of the wrong family for a command
/// is refused in one line naming both kinds and the command that uses it.
public struct ModelRegistry {
    public let families: [any ModelFamily.Type]

    /// - Precondition: the model types are distinct and at most one family reads folders without `model_type`.
    public init(_ families: [any ModelFamily.Type]) {
        precondition(Set(families.map { $0.modelType }).count == families.count, "two families share a model_type")
        precondition(families.filter { $0.readsUntypedFolders }.count <= 1, "two families read untyped folders")
        self.families = families
    }

    /// The family of a config's `model_type` (nil: the family that reads folders saved without the key).
    /// - Throws: `ModelFolderError.unknownModelType` listing the known types.
    public func family(forType type: String?, file: String) throws -> any ModelFamily.Type {
        let hit = type.map { t in families.first { $0.modelType == t } } ?? families.first { $0.readsUntypedFolders }
        guard let family = hit else {
            throw ModelFolderError.unknownModelType(file: file, type: type ?? "(none)", known: families.map { $0.modelType })
        }
        return family
    }

    /// The family of the folder `dir`, read from its config.json without loading anything else, checked against `role`.
    /// - Throws: `ModelFolderError` for a missing or unreadable config, an unknown type, or a family `role` does not take.
    public func family(of dir: URL, as role: ModelRole = .any) throws -> (family: any ModelFamily.Type, data: Data, file: String) {
        let (data, type, file) = try ModelFolder.readConfig(dir)
        let family = try self.family(forType: type, file: file)
        guard role.accepts(family) else {
            throw ModelFolderError.wrongKind(file: file, holds: family.kind, modelType: family.modelType, expected: role.noun,
                                             usage: family.usage)
        }
        return (family, data, file)
    }

    /// Loads the folder `dir`, which must hold a family `role` accepts.
    /// - Throws: as `family(of:as:)`, then `ModelFolder.load`'s errors.
    public func load(_ dir: URL, as role: ModelRole = .any) throws -> any ModelFamily {
        let (family, data, file) = try self.family(of: dir, as: role)
        return try Self.open(family, dir: dir, data: data, file: file)
    }

    /// Loads the folder `dir` as family `F`.
    public func load<F: ModelFamily>(_ family: F.Type, from dir: URL, noun: String) throws -> F {
        try load(dir, as: .family(F.self, noun: noun)) as! F
    }

    /// Loads a folder that must hold a token model of `role` (whose families must all be `TokenModel`s).
    public func loadTokenModel(_ dir: URL, as role: ModelRole) throws -> any TokenModel {
        Self.tokenModel(try load(dir, as: role), role)
    }

    /// A token model of `role` with the config of folder `dir` and zero weights (to resume a checkpoint into).
    public func untrainedTokenModel(_ dir: URL, as role: ModelRole) throws -> any TokenModel {
        let (family, data, file) = try self.family(of: dir, as: role)
        return Self.tokenModel(try Self.untrained(family, data: data, file: file), role)
    }

    static func tokenModel(_ model: any ModelFamily, _ role: ModelRole) -> any TokenModel {
        guard let m = model as? any TokenModel else { preconditionFailure("role '\(role.noun)' took \(type(of: model)), not a token model") }
        return m
    }

    /// The config of folder `dir` as family `F` (decoded and validated), e.g. to rebuild a checkpoint's model before
    /// resuming it; `role` (which must accept `F`) names what a folder of another family is not.
    public func config<F: ModelFamily>(_ family: F.Type, in dir: URL, as role: ModelRole) throws -> F.Config {
        let (_, data, file) = try self.family(of: dir, as: role)
        let config = try ModelFolder.decode(F.Config.self, from: data, file: file)
        try config.validate(file: file)
        return config
    }

    static func open<F: ModelFamily>(_ family: F.Type, dir: URL, data: Data, file: String) throws -> any ModelFamily {
        try ModelFolder.load(F.self, from: dir, configData: data, file: file)
    }

    static func untrained<F: ModelFamily>(_ family: F.Type, data: Data, file: String) throws -> any ModelFamily {
        let config = try ModelFolder.decode(F.Config.self, from: data, file: file)
        try config.validate(file: file)
        return F(config: config)
    }

    /// Resolves a model name (looked up in `ModelLibrary.searchPaths`) or a folder path to a folder.
    /// - Throws: `ModelFolderError.unknownModel` listing the installed folders `role` accepts.
    public func resolve(_ nameOrPath: String, as role: ModelRole) throws -> URL {
        if let dir = ModelLibrary.resolve(nameOrPath) { return dir }
        let fm = FileManager.default
        // The folders that exist, or every candidate when none does (so the message never reads "looked in ").
        let existing = ModelLibrary.searchPaths().filter { fm.fileExists(atPath: $0.path) }
        let searched = (existing.isEmpty ? ModelLibrary.searchPaths() : existing).map(\.path)
        let available = ModelLibrary.installed().filter { (try? family(of: $0.directory, as: role)) != nil }.map(\.name)
        throw ModelFolderError.unknownModel(noun: role.noun, name: nameOrPath, searched: searched, available: available)
    }
}

/// Where installed model folders (voices, music models, ...) are found, and how names resolve to folders.
public enum ModelLibrary {
    /// Folders searched, in order: `$SYNTH_VOICES` (colon-separated), `./voices`, `../share/synth/voices` beside the
    /// binary (where `make install` puts them: PREFIX/bin/synth finds PREFIX/share/synth/voices), and the `voices/`
    /// folder of the source tree the binary was built in (so `.build/release/synth` finds them). The binary is located
    /// through `/proc/self/exe`, so a `synth` found on the PATH works from any folder.
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

    /// Installed folders: every folder with a config.json under the search paths (the first wins per name).
    public static func installed() -> [(name: String, directory: URL)] {
        var seen = Set<String>(), out: [(String, URL)] = []
        let fm = FileManager.default
        for base in searchPaths() {
            guard let names = try? fm.contentsOfDirectory(atPath: base.path) else { continue }
            for n in names.sorted() where !seen.contains(n) {
                let d = base.appendingPathComponent(n)
                if fm.fileExists(atPath: d.appendingPathComponent(ModelFolder.configName).path) { seen.insert(n); out.append((n, d)) }
            }
        }
        return out
    }

    /// The folder of a name (installed) or a path (a folder holding config.json, or any folder named with a `/`); nil
    /// when there is none.
    public static func resolve(_ nameOrPath: String) -> URL? {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if nameOrPath.contains("/"), fm.fileExists(atPath: nameOrPath, isDirectory: &isDir), isDir.boolValue {
            return URL(fileURLWithPath: nameOrPath)
        }
        if let hit = installed().first(where: { $0.name == nameOrPath }) { return hit.directory }
        if fm.fileExists(atPath: nameOrPath, isDirectory: &isDir), isDir.boolValue,
           fm.fileExists(atPath: (nameOrPath as NSString).appendingPathComponent(ModelFolder.configName)) {
            return URL(fileURLWithPath: nameOrPath)
        }
        return nil
    }
}
