// Small grey-level images (e.g. generated digits) side by side in a grid, as PNG.
import Foundation

/// A grid of equally sized grey-level images, each pixel drawn as a sharp square, ink dark on white.
public enum ImageGridFigure {
    /// The picture as PNG bytes (cairo's encoder).
    /// - Parameters:
    ///   - images: `[count][height × width]` grey levels in raster order, each in `0...maxLevel` (`maxLevel` = full ink).
    ///   - columns: images per grid row (nil: the smallest square that holds them all).
    ///   - scale: screen pixels per image pixel.
    ///   - title: a line above the grid, or nil.
    /// - Throws: `PlotError.nothingToPlot` for no images, `.cairo` if drawing fails.
    public static func png(_ images: [[Int]], height: Int, width: Int, maxLevel: Int, columns: Int? = nil, scale: Int = 8,
                           title: String? = nil) throws -> Data {
        guard !images.isEmpty else { throw PlotError.nothingToPlot("no images to draw") }
        precondition(images.allSatisfy { $0.count == height * width } && maxLevel > 0, "images of height x width levels")
        let cols = columns ?? Int(Double(images.count).squareRoot().rounded(.up)), rows = (images.count + cols - 1) / cols
        let gap = max(2, scale / 2), cellW = width * scale, cellH = height * scale
        let titleH = title == nil ? 0 : 24
        let canvasW = max(cols * (cellW + gap) + gap, title == nil ? 0 : 8 * (title!.count) + 2 * gap)
        let canvas = try Canvas(width: canvasW, height: titleH + rows * (cellH + gap) + gap)
        if let title { canvas.text(title, x: Double(gap), y: Double(titleH) / 2 + 2, size: 13) }
        for (k, img) in images.enumerated() {
            let x = Double(gap + (k % cols) * (cellW + gap)), y = Double(titleH + gap + (k / cols) * (cellH + gap))
            try canvas.image(columns: width, rows: height, x: x, y: y, width: Double(cellW), height: Double(cellH), smooth: false) { c, r in
                let g = 1 - Double(min(max(img[r * width + c], 0), maxLevel)) / Double(maxLevel)
                return Color(g, g, g)
            }
            canvas.strokeRect(x: x - 0.5, y: y - 0.5, width: Double(cellW) + 1, height: Double(cellH) + 1, color: .lightGrey)
        }
        return try canvas.png()
    }
}
