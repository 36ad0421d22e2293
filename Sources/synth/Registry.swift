// Every model family this program knows: the one place a new family is registered (docs/architecture.md).
import AREngine
import Forecast
import Image
import Music
import Text
import WaveNet

extension ModelRegistry {
    /// `model_type` → family for every folder `synth` reads. A folder without `model_type` is a WaveNet voice.
    static let synth = ModelRegistry([WaveNetModel.self, TransformerModel.self, WaveNetTokenModel.self, PixelCNNModel.self, ForecastNet.self, RecurrentLanguageModel.self])
}

extension ModelRole {
    /// What `vocode`, `render`, `eval`, `features`, `generate` and `train --init-from` read.
    static let voice = ModelRole.family(WaveNetModel.self, noun: "voice")
    /// What `music generate`, `music eval` and `music train --resume` read: the two music families (token models too,
    /// as the image PixelCNN is, which is not music).
    static let musicModel = ModelRole("music model") { $0 == TransformerModel.self || $0 == WaveNetTokenModel.self }
    /// What `image sample`, `image eval` and `image train --resume` read.
    static let imageModel = ModelRole.family(PixelCNNModel.self, noun: "PixelCNN image model")
    /// What `forecast --load-model` reads.
    static let forecaster = ModelRole.family(ForecastNet.self, noun: "forecaster")
}
