// A thin drawing surface over cairo: lines, rectangles, text, scaled images, and the PNG encoding of the result.
import CCairo
import Foundation

/// Why a picture could not be made; each message is one line.
public enum PlotError: Error, CustomStringConvertible, Equatable {
    /// cairo reported an error (`reason` is `cairo_status_to_string`).
    case cairo(String)
    /// There is nothing to draw: no audio, or a log with no loss lines.
    case nothingToPlot(String)

    public var description: String {
        switch self {
        case .cairo(let r): return "cairo: \(r)"
        case .nothingToPlot(let r): return r
        }
    }
}

/// An RGB colour, components in [0, 1].
public struct Color: Equatable, Sendable {
    public var r, g, b: Double
    public init(_ r: Double, _ g: Double, _ b: Double) { (self.r, self.g, self.b) = (r, g, b) }
    public static let black = Color(0, 0, 0), white = Color(1, 1, 1), grey = Color(0.5, 0.5, 0.5), lightGrey = Color(0.88, 0.88, 0.88)
    /// Two distinguishable line colours (blue, orange: the first two of matplotlib's tab10).
    public static let blue = Color(0.12, 0.47, 0.71), orange = Color(1.0, 0.50, 0.05)
}

/// A white ARGB32 image of `width x height` pixels drawn with cairo; y grows downwards, units are pixels.
final class Canvas {
    let width: Int, height: Int
    let surface: OpaquePointer
    let cr: OpaquePointer

    /// - Throws: `PlotError.cairo` if cairo cannot create the surface (e.g. out of memory, absurd size).
    init(width: Int, height: Int) throws {
        self.width = width
        self.height = height
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height))
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            cairo_surface_destroy(surface)
            throw PlotError.cairo(String(cString: cairo_status_to_string(status)))
        }
        cr = cairo_create(surface)
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        fill(x: 0, y: 0, width: Double(width), height: Double(height), color: .white)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    func setColor(_ c: Color, alpha: Double = 1) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha) }

    func fill(x: Double, y: Double, width w: Double, height h: Double, color: Color) {
        setColor(color)
        cairo_rectangle(cr, x, y, w, h)
        cairo_fill(cr)
    }

    func strokeRect(x: Double, y: Double, width w: Double, height h: Double, color: Color = .black, lineWidth: Double = 1) {
        setColor(color)
        cairo_set_line_width(cr, lineWidth)
        cairo_rectangle(cr, x, y, w, h)
        cairo_stroke(cr)
    }

    /// A polyline through `points` (pixel coordinates), clipped to `clip` when given.
    func polyline(_ points: [(Double, Double)], color: Color, lineWidth: Double = 1.5, dash: [Double] = [],
                  clip: (x: Double, y: Double, w: Double, h: Double)? = nil) {
        guard points.count >= 2 else { return }
        cairo_save(cr)
        if let c = clip { cairo_rectangle(cr, c.x, c.y, c.w, c.h); cairo_clip(cr) }
        setColor(color)
        cairo_set_line_width(cr, lineWidth)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        if !dash.isEmpty { cairo_set_dash(cr, dash, Int32(dash.count), 0) }
        cairo_move_to(cr, points[0].0, points[0].1)
        for p in points.dropFirst() { cairo_line_to(cr, p.0, p.1) }
        cairo_stroke(cr)
        cairo_restore(cr)
    }

    func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, color: Color = .black, lineWidth: Double = 1) {
        polyline([(x0, y0), (x1, y1)], color: color, lineWidth: lineWidth)
    }

    func circle(x: Double, y: Double, radius: Double, color: Color) {
        setColor(color)
        cairo_arc(cr, x, y, radius, 0, 2 * Double.pi)
        cairo_fill(cr)
    }

    /// Draws `text` with its anchor at (x, y): `h` -1 left, 0 centre, 1 right; `v` -1 top, 0 middle, 1 baseline-ish
    /// bottom. `rotated` turns it 90 degrees anticlockwise (for a vertical axis label).
    func text(_ text: String, x: Double, y: Double, size: Double = 13, h: Int = -1, v: Int = 0, bold: Bool = false,
              rotated: Bool = false, color: Color = .black) {
        cairo_save(cr)
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, text, &e)
        cairo_translate(cr, x, y)
        if rotated { cairo_rotate(cr, -Double.pi / 2) }
        let dx = h < 0 ? 0 : h == 0 ? -e.width / 2 : -e.width
        // Vertical placement from the font size, so labels of a row share a baseline.
        let dy = v < 0 ? size * 0.8 : v == 0 ? size * 0.35 : 0
        setColor(color)
        cairo_move_to(cr, dx - e.x_bearing, dy)
        cairo_show_text(cr, text)
        cairo_restore(cr)
    }

    /// Width of `text` in pixels at `size`.
    func textWidth(_ text: String, size: Double = 13, bold: Bool = false) -> Double {
        cairo_save(cr)
        defer { cairo_restore(cr) }
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, text, &e)
        return e.x_advance
    }

    /// Draws an image of `columns x rows` opaque pixels (`rgb(column, row)`, row 0 at the top) scaled into the
    /// rectangle, smoothed by cairo's `GOOD` filter (area averaging when shrinking).
    func image(columns: Int, rows: Int, x: Double, y: Double, width w: Double, height h: Double, rgb: (Int, Int) -> Color) throws {
        guard columns > 0, rows > 0 else { return }
        let img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(columns), Int32(rows))
        defer { cairo_surface_destroy(img) }
        guard cairo_surface_status(img) == CAIRO_STATUS_SUCCESS else {
            throw PlotError.cairo(String(cString: cairo_status_to_string(cairo_surface_status(img))))
        }
        cairo_surface_flush(img)
        let stride = Int(cairo_image_surface_get_stride(img))
        let data = cairo_image_surface_get_data(img)!
        for r in 0..<rows {
            let row = UnsafeMutableRawPointer(data + r * stride).assumingMemoryBound(to: UInt32.self)
            for c in 0..<columns {
                let col = rgb(c, r)
                let R = UInt32(max(0, min(255, (col.r * 255).rounded()))), G = UInt32(max(0, min(255, (col.g * 255).rounded())))
                let B = UInt32(max(0, min(255, (col.b * 255).rounded())))
                row[c] = 0xFF00_0000 | R << 16 | G << 8 | B
            }
        }
        cairo_surface_mark_dirty(img)
        cairo_save(cr)
        cairo_rectangle(cr, x, y, w, h)
        cairo_clip(cr)
        cairo_translate(cr, x, y)
        cairo_scale(cr, w / Double(columns), h / Double(rows))
        cairo_set_source_surface(cr, img, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD)
        cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD)
        cairo_paint(cr)
        cairo_restore(cr)
    }

    /// The picture as PNG bytes (cairo's encoder).
    /// - Throws: `PlotError.cairo` with cairo's reason.
    func png() throws -> Data {
        cairo_surface_flush(surface)
        final class Sink { var data = Data() }
        let sink = Sink()
        let status = withExtendedLifetime(sink) {
            cairo_surface_write_to_png_stream(surface, { closure, bytes, length in
                let s = Unmanaged<Sink>.fromOpaque(closure!).takeUnretainedValue()
                s.data.append(bytes!, count: Int(length))
                return CAIRO_STATUS_SUCCESS
            }, Unmanaged.passUnretained(sink).toOpaque())
        }
        guard status == CAIRO_STATUS_SUCCESS else { throw PlotError.cairo(String(cString: cairo_status_to_string(status))) }
        return sink.data
    }
}
