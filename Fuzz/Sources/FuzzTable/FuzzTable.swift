// Fuzz target: the manifest reader (TSV/CSV) and the three manifest parsers built on it: render manifests,
// speech training manifests and music manifests (the latter two read from a file, as `synth train` does).
import Foundation
import FuzzSupport
import Music
import Tabular
import WaveNet

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = input(data, size)
    guard let text = String(data: bytes, encoding: .utf8) else { return 0 }
    let table = Table.parse(text, path: "fuzz.tsv")
    for row in table.rows {
        precondition(row.problem != nil || row.fields.count == table.columns.count, "line \(row.line)")
        if let p = row.problem { precondition(!p.contains("\n"), "row problem not one line") }
    }
    do {
        let m = try RenderManifest.parse(text, path: "fuzz.csv")
        precondition(m.rowCount == table.rows.count)
        for l in m.lines {
            precondition(l.output.hasSuffix(".wav") || l.output.hasSuffix(".WAV") || l.output.lowercased().hasSuffix(".wav"))
            precondition(!l.output.contains("/") && !l.output.hasPrefix(".") && !l.output.unicodeScalars.contains { $0.value < 0x20 })
        }
        for p in m.problems { precondition(!p.reason.contains("\n"), "problem not one line: \(p.reason.debugDescription)") }
    } catch {
        checkOneLine(error, "RenderManifest")
    }
    let file = folder(["m.tsv": bytes]).appendingPathComponent("m.tsv")
    do { _ = try SpeechManifest.read(file) } catch { checkOneLine(error, "SpeechManifest") }
    do { _ = try MusicCorpus.readManifest(file) } catch { checkOneLine(error, "MusicCorpus") }
    return 0
}
