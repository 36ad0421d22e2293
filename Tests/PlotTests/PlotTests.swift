// The train.log reader, axis ticks, and PNG output of the figures (decoded back by cairo's reader is not available,
// so the PNG signature, size and IHDR dimensions are checked).
import Foundation
import XCTest
@testable import Plot

final class PlotTests: XCTestCase {
    let log = """
        # 2026-11-30T10:00:00Z synth train --data m.tsv --out runs/x
        data: 3 train utterances
        step 1/400  train 5.5100 nats  lr 5.00e-06  |g| 1.20  1200 samples/s  0m02s trained  ETA 9m00s
        step 100/400  train 3.9000 nats  lr 1.00e-03  |g| 0.80  19000 samples/s  1h00m trained  ETA 3h00m
        step 100  valid 3.8000 nats (5.482 bits/sample)  best
        step 200/400  train 3.5000 nats  lr 1.00e-03  |g| 0.70  19000 samples/s  2h00m trained  ETA 2h00m
        step 200  valid 3.6000 nats (5.194 bits/sample)  best
        # 2026-11-30T13:00:00Z synth train --data m.tsv --out runs/x --resume
        resumed from runs/x/checkpoints/step-000150 at step 150
        step 151/400  train 3.6500 nats  lr 1.00e-03  |g| 0.70  19000 samples/s  1h31m trained  ETA 2h00m
        step 200/400  train 3.4000 nats  lr 1.00e-03  |g| 0.70  19000 samples/s  2h01m trained  ETA 2h00m
        step 200  valid 3.5500 nats (5.122 bits/sample)  best
        step 300/400  train 3.3000 nats  lr 5.00e-04  |g| 0.60  19000 samples/s  3h01m trained  ETA 1h00m
        step 300  valid 3.5800 nats (5.165 bits/sample)
        """

    func testTrainingLogKeepsTheLatestLinesOfEveryStep() {
        let l = TrainingLog.parse(log)
        XCTAssertEqual(l.train.map(\.step), [1, 100, 151, 200, 300])
        XCTAssertEqual(l.train.map(\.loss), [5.51, 3.9, 3.65, 3.4, 3.3])
        XCTAssertEqual(l.train[1].hours, 1, accuracy: 1e-9)
        XCTAssertEqual(l.train[3].hours, 2 + 1.0 / 60, accuracy: 1e-9)
        XCTAssertEqual(l.valid.map(\.step), [100, 200, 300])
        XCTAssertEqual(l.valid.map(\.loss), [3.8, 3.55, 3.58])
        XCTAssertEqual(l.valid[2].hours, 3 + 1.0 / 60, accuracy: 1e-9)
        XCTAssertEqual(l.best?.step, 200)
        XCTAssertEqual(l.unit, "sample")
        XCTAssertEqual(l.totalSteps, 400)
        XCTAssertEqual(l.invocations, 2)
        XCTAssertEqual(TrainingLog.duration("3m05s"), 185)
        XCTAssertEqual(TrainingLog.duration("12h07m"), 12 * 3600 + 7 * 60)
        XCTAssertNil(TrainingLog.duration("soon"))
    }

    func testTicksAreRoundNumbers() {
        XCTAssertEqual(Axis(lo: 0, hi: 8000, target: 6).ticks, [0, 2000, 4000, 6000, 8000])
        XCTAssertEqual(Axis(lo: 0, hi: 3.1, target: 10).ticks, [0, 0.5, 1, 1.5, 2, 2.5, 3])
        let a = Axis(lo: 2.93, hi: 3.71, target: 6)
        XCTAssertEqual(a.step, 0.2, accuracy: 1e-12)
        XCTAssertEqual(a.ticks.map(a.label), ["3.0", "3.2", "3.4", "3.6"])
    }

    func testFiguresArePNGsOfTheExpectedSize() throws {
        let panels = (0..<2).map { i in
            SpectrogramPanel(title: "panel \(i)", duration: 1 + Double(i), maxFrequency: 8000, frames: 50, bins: 33,
                             decibels: (0..<(50 * 33)).map { Float(-($0 % 33)) * 2 })
        }
        let png = try SpectrogramFigure.png(panels, width: 800, panelHeight: 200)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(dimensions(png).width, 800)
        XCTAssertEqual(dimensions(png).height, 8 + 2 * (26 + 200) + 34 + 52)
        let l = TrainingLog.parse(log)
        let curve = try CurveFigure.png(title: "x", panels: [CurvePanel(xLabel: "step", yLabel: "loss", series: [
            Series(name: "train", points: l.train.map { (Double($0.step), $0.loss) }, color: .blue),
        ])], width: 640, panelHeight: 240)
        XCTAssertEqual(dimensions(curve).width, 640)
        XCTAssertThrowsError(try SpectrogramFigure.png([]))
        XCTAssertThrowsError(try CurveFigure.png(title: "x", panels: []))
    }

    /// Width and height from a PNG's IHDR chunk.
    func dimensions(_ png: Data) -> (width: Int, height: Int) {
        let b = Array(png)
        func u32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (u32(16), u32(20))
    }
}
