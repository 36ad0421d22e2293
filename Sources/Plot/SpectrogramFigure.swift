// Spectrograms of several recordings stacked on one time axis, one frequency axis and one colour scale.
import Foundation

/// One recording's spectrogram for `SpectrogramFigure`.
public struct SpectrogramPanel: Sendable {
    /// Shown above the panel (e.g. the file name, rate and length).
    public var title: String
    /// Seconds covered by the frames (frame `t` is centred at `t * duration / frames`).
    public var duration: Double
    /// Frequency of the last bin in Hz (the Nyquist frequency); bin 0 is 0 Hz.
    public var maxFrequency: Double
    public var frames: Int
    public var bins: Int
    /// Power in dB, `[frames, bins]` row-major.
    public var decibels: [Float]

    public init(title: String, duration: Double, maxFrequency: Double, frames: Int, bins: Int, decibels: [Float]) {
        precondition(decibels.count == frames * bins, "SpectrogramPanel: decibels must be [frames, bins]")
        self.title = title
        self.duration = duration
        self.maxFrequency = maxFrequency
        self.frames = frames
        self.bins = bins
        self.decibels = decibels
    }
}

/// Stacked spectrograms with the same scales: time in seconds (the longest recording sets the axis), frequency in
/// Hz (the highest Nyquist frequency sets it; a recording at a lower rate leaves grey above its own), and one colour
/// scale in dB from the loudest value of all panels down `dynamicRange` dB, shown by a colour bar.
public enum SpectrogramFigure {
    /// The picture as PNG bytes.
    /// - Throws: `PlotError.nothingToPlot` for no panels, `.cairo` if drawing fails.
    public static func png(_ panels: [SpectrogramPanel], dynamicRange: Double = 80, width: Int = 1200, panelHeight: Int = 240) throws -> Data {
        guard !panels.isEmpty else { throw PlotError.nothingToPlot("no spectrograms to draw") }
        let left = 78.0, right = 110.0, titleHeight = 26.0, gap = 34.0, bottom = 52.0, top = 8.0
        let plotW = Double(width) - left - right, plotH = Double(panelHeight)
        let height = Int(top + Double(panels.count) * (titleHeight + plotH) + Double(panels.count - 1) * gap + bottom)
        let canvas = try Canvas(width: width, height: height)
        let maxDuration = panels.map(\.duration).max()!, maxHz = panels.map(\.maxFrequency).max()!
        let loudest = Double(panels.compactMap { $0.decibels.filter(\.isFinite).max() }.max() ?? 0)
        let floorDB = loudest - dynamicRange
        let time = Axis(lo: 0, hi: max(maxDuration, 1e-3), target: 10), freq = Axis(lo: 0, hi: maxHz, target: 6)
        var y = top
        for (i, p) in panels.enumerated() {
            canvas.text(p.title, x: left, y: y + titleHeight / 2, size: 14, bold: true)
            y += titleHeight
            let x0 = left, y0 = y
            canvas.fill(x: x0, y: y0, width: plotW, height: plotH, color: .lightGrey)
            // The panel's own extent on the shared axes.
            let w = plotW * p.duration / time.hi, h = plotH * p.maxFrequency / freq.hi
            try canvas.image(columns: p.frames, rows: p.bins, x: x0, y: y0 + plotH - h, width: w, height: h) { c, r in
                let v = Double(p.decibels[c * p.bins + (p.bins - 1 - r)])
                return Magma.color((v - floorDB) / dynamicRange)
            }
            canvas.strokeRect(x: x0, y: y0, width: plotW, height: plotH)
            for t in time.ticks {
                let x = time.position(t, x0, x0 + plotW)
                canvas.line(x, y0 + plotH, x, y0 + plotH + 5)
                canvas.text(time.label(t), x: x, y: y0 + plotH + 7, size: 11, h: 0, v: -1)
            }
            for f in freq.ticks {
                let yy = freq.position(f, y0 + plotH, y0)
                canvas.line(x0 - 5, yy, x0, yy)
                canvas.text(freq.label(f), x: x0 - 8, y: yy, size: 11, h: 1, v: 0)
            }
            canvas.text("Frequency (Hz)", x: 16, y: y0 + plotH / 2, size: 12, h: 0, v: 0, rotated: true)
            y += plotH + (i + 1 < panels.count ? gap : 0)
        }
        canvas.text("Time (s)", x: left + plotW / 2, y: y + 26, size: 12, h: 0, v: -1)
        // Colour bar over the panels' height.
        let barX = left + plotW + 28, barTop = top + titleHeight, barH = y - barTop, barW = 16.0
        try canvas.image(columns: 1, rows: 256, x: barX, y: barTop, width: barW, height: barH) { _, r in Magma.color(1 - Double(r) / 255) }
        canvas.strokeRect(x: barX, y: barTop, width: barW, height: barH)
        let dB = Axis(lo: floorDB, hi: loudest, target: 8)
        for v in dB.ticks {
            let yy = dB.position(v, barTop + barH, barTop)
            canvas.line(barX + barW, yy, barX + barW + 4, yy)
            canvas.text(dB.label(v), x: barX + barW + 7, y: yy, size: 11, h: -1, v: 0)
        }
        canvas.text("Power (dB)", x: barX + barW + 60, y: barTop + barH / 2, size: 12, h: 0, v: 0, rotated: true)
        return try canvas.png()
    }
}
