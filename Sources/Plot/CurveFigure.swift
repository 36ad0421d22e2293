// Line charts: one or more panels of curves sharing a y scale, with axes, grid and a legend.
import Foundation

/// One curve of a `CurvePanel`.
public struct Series: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var color: Color
    public var lineWidth: Double
    /// Dots at the points as well as the line (for sparse series such as validation losses).
    public var markers: Bool

    public init(name: String, points: [(x: Double, y: Double)], color: Color, lineWidth: Double = 1.5, markers: Bool = false) {
        self.name = name
        self.points = points
        self.color = color
        self.lineWidth = lineWidth
        self.markers = markers
    }
}

/// A chart: its axis labels and curves.
public struct CurvePanel: Sendable {
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]

    public init(xLabel: String, yLabel: String, series: [Series]) {
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }
}

/// Panels stacked vertically under a title, each with its own x axis and the same y range (so values compare
/// across panels). The y range covers every point after the first `skipFraction` (5 %) of each panel's x range (from 0), so
/// that the first steps of a training run (losses near ln 256) do not flatten the rest; earlier points run off
/// the top, clipped.
public enum CurveFigure {
    /// The picture as PNG bytes.
    /// - Throws: `PlotError.nothingToPlot` when no series has a point, `.cairo` if drawing fails.
    public static func png(title: String, subtitle: String? = nil, panels: [CurvePanel], skipFraction: Double = 0.05,
                           width: Int = 1000, panelHeight: Int = 300) throws -> Data {
        let all = panels.flatMap { $0.series.flatMap(\.points) }.filter { $0.x.isFinite && $0.y.isFinite }
        guard !all.isEmpty else { throw PlotError.nothingToPlot("no points to plot") }
        var shown: [Double] = []
        for p in panels {
            let xs = p.series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
            guard let lo = xs.min(), let hi = xs.max() else { continue }
            let cut = min(0, lo) + skipFraction * (hi - min(0, lo))
            shown += p.series.flatMap { $0.points.filter { $0.x >= cut && $0.y.isFinite }.map(\.y) }
        }
        if shown.isEmpty { shown = all.map(\.y) }
        let span = max(shown.max()! - shown.min()!, 1e-6)
        let yAxis = Axis(lo: shown.min()! - 0.05 * span, hi: shown.max()! + 0.05 * span, target: 6)

        let left = 80.0, right = 30.0, top = subtitle == nil ? 44.0 : 64.0, gap = 70.0, bottom = 56.0
        let plotW = Double(width) - left - right, plotH = Double(panelHeight)
        let height = Int(top + Double(panels.count) * plotH + Double(panels.count - 1) * gap + bottom)
        let canvas = try Canvas(width: width, height: height)
        canvas.text(title, x: Double(width) / 2, y: 14, size: 16, h: 0, v: -1, bold: true)
        if let subtitle { canvas.text(subtitle, x: Double(width) / 2, y: 38, size: 12, h: 0, v: -1, color: Color(0.25, 0.25, 0.25)) }
        var y0 = top
        for p in panels {
            let xs = p.series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
            let xAxis = Axis(lo: min(0, xs.min() ?? 0), hi: xs.max() ?? 1, target: 8)
            let x0 = left
            func px(_ x: Double) -> Double { xAxis.position(x, x0, x0 + plotW) }
            func py(_ y: Double) -> Double { yAxis.position(y, y0 + plotH, y0) }
            for t in yAxis.ticks {
                canvas.line(x0, py(t), x0 + plotW, py(t), color: .lightGrey)
                canvas.line(x0 - 5, py(t), x0, py(t))
                canvas.text(yAxis.label(t), x: x0 - 8, y: py(t), size: 11, h: 1, v: 0)
            }
            for t in xAxis.ticks {
                canvas.line(px(t), y0, px(t), y0 + plotH, color: .lightGrey)
                canvas.line(px(t), y0 + plotH, px(t), y0 + plotH + 5)
                canvas.text(xAxis.label(t), x: px(t), y: y0 + plotH + 7, size: 11, h: 0, v: -1)
            }
            let clip = (x: x0, y: y0, w: plotW, h: plotH)
            for s in p.series {
                let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite }.map { (px($0.x), py($0.y)) }
                canvas.polyline(pts, color: s.color, lineWidth: s.lineWidth, clip: clip)
                if s.markers {
                    for (x, y) in pts where y >= y0 && y <= y0 + plotH { canvas.circle(x: x, y: y, radius: 3, color: s.color) }
                }
            }
            canvas.strokeRect(x: x0, y: y0, width: plotW, height: plotH)
            canvas.text(p.xLabel, x: x0 + plotW / 2, y: y0 + plotH + 28, size: 12, h: 0, v: -1)
            canvas.text(p.yLabel, x: 18, y: y0 + plotH / 2, size: 12, h: 0, v: 0, rotated: true)
            // Legend, top right.
            let named = p.series.filter { !$0.name.isEmpty }
            if !named.isEmpty {
                let lw = (named.map { canvas.textWidth($0.name, size: 12) }.max() ?? 0) + 48
                let lx = x0 + plotW - lw - 10, ly = y0 + 10
                canvas.fill(x: lx, y: ly, width: lw, height: Double(named.count) * 20 + 8, color: .white)
                canvas.strokeRect(x: lx, y: ly, width: lw, height: Double(named.count) * 20 + 8, color: .grey)
                for (k, s) in named.enumerated() {
                    let yy = ly + 14 + Double(k) * 20
                    canvas.line(lx + 8, yy, lx + 32, yy, color: s.color, lineWidth: 2.5)
                    if s.markers { canvas.circle(x: lx + 20, y: yy, radius: 3, color: s.color) }
                    canvas.text(s.name, x: lx + 40, y: yy, size: 12, h: -1, v: 0)
                }
            }
            y0 += plotH + gap
        }
        return try canvas.png()
    }
}
