// The model registry and the one folder format, on two small families: saving and loading, one-line key errors,
// untyped and unknown folders, a folder of the wrong kind, and the whole-folder atomic write.
import AREngine
import Foundation
import NNCore
import XCTest

/// A family with a config of two sizes, one added "later" (decoded with a default).
struct ProbeConfig: ModelConfiguration, Equatable {
    var width: Int
    var depth: Int = 1
    enum CodingKeys: String, CodingKey { case width, depth }

    init(width: Int, depth: Int = 1) {
        self.width = width
        self.depth = depth
    }

    init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        width = try k.decode(Int.self, forKey: .width)
        depth = try k.decodeIfPresent(Int.self, forKey: .depth) ?? 1
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    func validate(file: String) throws {
        guard width > 0 else { throw Invalid(description: "\(file): width must be > 0, got \(width)") }
    }
}

final class ProbeModel: ModelFamily {
    static let modelType = "probe"
    static let kind = "probe model"
    static let usage = "synth probe --model"
    static let readsUntypedFolders = true
    let config: ProbeConfig
    let parameters: ParameterSet

    static func layout(_ c: ProbeConfig) -> ParameterLayout {
        var p = ParameterLayout()
        p.add("weight", shape: [c.depth, c.width])
        return p
    }

    init(config: ProbeConfig) {
        self.config = config
        parameters = ParameterSet(layout: Self.layout(config))
    }

    var summary: String { "width \(config.width), depth \(config.depth)" }
}

/// A second family, to be refused where a probe model is expected.
final class OtherModel: ModelFamily {
    static let modelType = "other"
    static let kind = "other model"
    static let usage = "synth other --model"
    let config: ProbeConfig
    let parameters: ParameterSet
    static func layout(_ c: ProbeConfig) -> ParameterLayout { ProbeModel.layout(c) }
    init(config: ProbeConfig) {
        self.config = config
        parameters = ParameterSet(layout: Self.layout(config))
    }
    var summary: String { "other" }
}

final class ModelFolderTests: XCTestCase {
    let registry = ModelRegistry([ProbeModel.self, OtherModel.self])
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("folder-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func probe(width: Int = 3, depth: Int = 2) -> ProbeModel {
        let m = ProbeModel(config: ProbeConfig(width: width, depth: depth))
        for i in 0..<m.parameters.count { m.parameters.values[i] = Float(i) * 0.5 }
        return m
    }

    func testSaveAndLoadRoundTrip() throws {
        let m = probe()
        try ModelFolder.save(m, to: dir)
        let json = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        XCTAssertEqual(json, "{\n  \"depth\" : 2,\n  \"model_type\" : \"probe\",\n  \"width\" : 3\n}\n")
        let back = try registry.load(ProbeModel.self, from: dir, noun: "probe")
        XCTAssertEqual(back.config, m.config)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: back.parameters.values, count: 6)), [0, 0.5, 1, 1.5, 2, 2.5])
        XCTAssertTrue(try registry.family(of: dir).family == ProbeModel.self)
    }

    /// Keys added after a folder was saved take their defaults; a folder without `model_type` is the family that reads
    /// untyped folders.
    func testOlderFoldersLoad() throws {
        try ModelFolder.save(probe(depth: 1), to: dir)
        try "{ \"width\": 3 }".write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let back = try registry.load(ProbeModel.self, from: dir, noun: "probe")
        XCTAssertEqual(back.config, ProbeConfig(width: 3, depth: 1))
    }

    /// Missing and mistyped keys, bad JSON, unknown types and missing files are one line naming the file and the key.
    func testConfigErrorsNameTheFileAndTheKey() throws {
        try ModelFolder.save(probe(), to: dir)
        let file = dir.appendingPathComponent("config.json").path
        func message(_ json: String?) -> String {
            if let json { try! json.write(toFile: file, atomically: true, encoding: .utf8) }
            do { _ = try registry.load(dir); return "loaded" } catch { return "\(error)" }
        }
        XCTAssertEqual(message("{ \"model_type\": \"probe\" }"), "\(file): key 'width': missing")
        XCTAssertEqual(message("{ \"model_type\": \"probe\", \"width\": \"3\" }"), "\(file): key 'width': expected an integer")
        XCTAssertEqual(message("{ \"model_type\": 7, \"width\": 3 }"), "\(file): key 'model_type': expected a string")
        // A fraction where an integer belongs: Foundation names no key, so the message says what kind of value is wrong.
        XCTAssertEqual(message("{ \"model_type\": \"probe\", \"width\": 2.5 }"),
                       "\(file): a number does not fit its key's type (a fraction or an out-of-range number where an integer is expected)")
        XCTAssertEqual(message("{ \"width\": 3, "), "\(file): not valid JSON")
        XCTAssertEqual(message("[3]"), "\(file): not valid JSON")
        XCTAssertEqual(message("{ \"model_type\": \"lstm\", \"width\": 3 }"), "\(file): unknown model_type 'lstm' (this synth knows probe, other)")
        XCTAssertEqual(message("{ \"model_type\": \"probe\", \"width\": 0, \"depth\": 2 }"), "\(file): width must be > 0, got 0")
        XCTAssertEqual(message("{ \"model_type\": \"probe\", \"width\": 4, \"depth\": 2 }"),
                       "\(dir.appendingPathComponent("model.safetensors").path): tensor 'weight' has shape [2, 3], expected [2, 4] from config.json")
        try FileManager.default.removeItem(atPath: file)
        XCTAssertEqual(message(nil), "\(file): no such file; a model folder holds config.json and model.safetensors")
    }

    /// A folder of another family than the command needs: one line naming both kinds and the command to use.
    func testWrongKindIsOneLine() throws {
        let other = OtherModel(config: ProbeConfig(width: 2))
        try ModelFolder.save(other, to: dir)
        XCTAssertThrowsError(try registry.load(ProbeModel.self, from: dir, noun: "probe model")) { e in
            XCTAssertEqual("\(e)", "\(dir.appendingPathComponent("config.json").path): this folder holds a other model (model_type other), not a probe model; use it with `synth other --model`")
        }
        XCTAssertNoThrow(try registry.load(dir, as: .any))
    }

    /// The folder is replaced as a whole: a second save leaves no file of the first behind, and no temporary folder.
    func testFolderIsReplacedAsAWhole() throws {
        try ModelFolder.write(to: dir, configJSON: try ModelFolder.encode(ProbeConfig(width: 3, depth: 2), modelType: "probe"),
                              parameters: probe().parameters, extras: [("notes.txt", Data("old".utf8))])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("notes.txt").path))
        try ModelFolder.save(probe(width: 5), to: dir)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["config.json", "model.safetensors"])
        let siblings = try FileManager.default.contentsOfDirectory(atPath: dir.deletingLastPathComponent().path)
        XCTAssertFalse(siblings.contains { $0.hasPrefix(".\(dir.lastPathComponent).tmp") }, "\(siblings)")
        XCTAssertEqual(try registry.load(ProbeModel.self, from: dir, noun: "probe").config.width, 5)
    }

    func testRegistryRefusesDuplicateTypes() {
        XCTAssertEqual(ModelRegistry([ProbeModel.self]).families.count, 1)
        XCTAssertThrowsError(try ModelRegistry([OtherModel.self]).family(forType: nil, file: "c.json")) { e in
            XCTAssertEqual("\(e)", "c.json: unknown model_type '(none)' (this synth knows other)")
        }
    }
}
