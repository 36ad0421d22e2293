// Every model family this program knows: the one place a new family is registered (docs/architecture.md).
import AREngine
import Music
import Text
import WaveNet

extension ModelRegistry {
    /// `model_type` → family for every folder `synth` reads. A folder without `model_type` is a WaveNet voice.
    static let synth = ModelRegistry([WaveNetModel.self, TransformerModel.self, WaveNetTokenModel.self, RecurrentLanguageModel.self])
}

extension ModelRole {
    /// What `vocode`, `render`, `eval`, `features`, `generate` and `train --init-from` read.
    static let voice = ModelRole.family(WaveNetModel.self, noun: "voice")
    /// What `music generate`, `music eval` and `music train --resume` read: a token model of a family music uses (the
    /// transformer or the token WaveNet; their vocabulary is checked when loaded, since both also serve text).
    static let musicModel = ModelRole("music model") { $0 is any TokenModel.Type && $0 != RecurrentLanguageModel.self }
}
