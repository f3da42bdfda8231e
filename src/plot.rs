//! What every PNG figure shares (plotters, bitmap backend): the font, drawing a PNG
//! atomically, the optimizers' colours and names, text styles, and the magnitude-histogram panel
//! that the report and `check grad-scales` both draw.
//!
//! Text needs a TrueType font; plotters' `ab_glyph` backend takes one as bytes, so no
//! system font library is linked. The font is read once from the usual DejaVu location
//! (Debian's `fonts-dejavu-core`, which `make setup` installs when it is missing).
use crate::optimizers::Method;
use anyhow::{bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

const FONT_CANDIDATES: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

static FONT: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Registers DejaVu Sans as plotters' `sans-serif`; call before drawing any text.
pub fn ensure_font() -> Result<()> {
    let outcome = FONT.get_or_init(|| {
        let env_font = std::env::var("SCALEFREE_FONT").ok();
        let candidates = env_font.iter().map(String::as_str).chain(FONT_CANDIDATES);
        for path in candidates {
            if let Ok(bytes) = std::fs::read(path) {
                let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                return plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, leaked)
                    .map_err(|_| format!("{path} is not a usable TrueType font"));
            }
        }
        Err(format!(
            "no font for the figures: install DejaVu (`apt-get install fonts-dejavu-core`, which `make setup` does) \
             or point SCALEFREE_FONT at a .ttf file; looked in {}",
            FONT_CANDIDATES.join(", ")
        ))
    });
    match outcome {
        Ok(()) => Ok(()),
        Err(message) => bail!("{message}"),
    }
}

pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws into a temporary PNG beside `path` and renames it over `path`. The temporary
/// name still ends in `.png` because the bitmap backend picks its encoder from it.
pub fn draw_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area) -> Result<()>,
) -> Result<()> {
    ensure_font()?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}.png", std::process::id()));
    let outcome = (|| -> Result<()> {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw(&root)?;
        root.present().map_err(plot_error)?;
        Ok(())
    })();
    match outcome {
        Ok(()) => std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.context(format!("cannot draw {}", path.display())))
        }
    }
}

/// A figure drawn in memory, as PNG bytes (for a TensorBoard image: no file is written).
pub fn png_bytes(size: (u32, u32), draw: impl FnOnce(&Area) -> Result<()>) -> Result<Vec<u8>> {
    ensure_font()?;
    let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw(&root)?;
        root.present().map_err(plot_error)?;
    }
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &pixels,
        size.0,
        size.1,
        image::ExtendedColorType::Rgb8,
    )
    .context("cannot encode a PNG")?;
    Ok(png)
}

/// Plotters' errors borrow the backend's error type; this keeps only the message.
pub fn plot_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plotting: {e}")
}

/// The optimizer's colour, from the table of optimizers.
pub fn optimizer_color(optimizer: Method) -> RGBColor {
    let (r, g, b) = optimizer.color();
    RGBColor(r, g, b)
}

/// Adam-ℓ2, AdamW, AdamProx, SGD, …: the names used in figures and tables.
pub fn display_name(optimizer: Method) -> &'static str {
    optimizer.display_name()
}

pub fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

/// Text whose anchor is its vertical middle and, horizontally, `h`.
pub fn anchored(size: u32, h: HPos) -> TextStyle<'static> {
    font(size).pos(Pos::new(h, VPos::Center))
}

pub fn centered(size: u32) -> TextStyle<'static> {
    anchored(size, HPos::Center)
}

/// The lowest and the highest of `values` (∞ and −∞ when there are none).
pub fn extremes(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = (f64::INFINITY, f64::NEG_INFINITY);
    values
        .into_iter()
        .fold((lo, hi), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// A chart on a PNG figure.
pub type Chart<'a, X, Y> = ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>;

/// `text` at `at` in `style`.
pub fn text(area: &Area, text: &str, at: (i32, i32), style: TextStyle<'_>) -> Result<()> {
    area.draw(&Text::new(text, at, style)).map_err(plot_error)
}

/// Splits off the top `height` pixels of a figure with `title` in `size`-point text in
/// their middle; returns the rest.
pub fn header<'a>(root: &Area<'a>, height: u32, title: &str, size: u32) -> Result<Area<'a>> {
    let (top, body) = root.split_vertically(height);
    let middle = (root.dim_in_pixel().0 as i32 / 2, height as i32 / 2 + 2);
    text(&top, title, middle, centered(size))?;
    Ok(body)
}

/// A line through `points` with a dot of `radius` pixels at each (none for 0), over a translucent
/// `band` of (x, low, high) points (none when empty), named in the legend by a stroke
/// `legend_w` pixels long.
pub fn line<X, Y>(
    chart: &mut Chart<'_, X, Y>,
    points: &[(f64, f64)],
    band: &[(f64, f64, f64)],
    color: RGBColor,
    radius: i32,
    (label, legend_w): (&str, i32),
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if !band.is_empty() {
        let upper = band.iter().map(|b| (b.0, b.2));
        let outline: Vec<_> = upper.chain(band.iter().rev().map(|b| (b.0, b.1))).collect();
        let fill = color.mix(0.15).filled();
        chart
            .draw_series([Polygon::new(outline, fill)])
            .map_err(plot_error)?;
    }
    let stroke = color.stroke_width(2);
    chart
        .draw_series(LineSeries::new(points.to_vec(), stroke))
        .map_err(plot_error)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + legend_w, y)], stroke));
    if radius > 0 {
        let dots = points
            .iter()
            .map(|&p| Circle::new(p, radius, color.filled()));
        chart.draw_series(dots).map_err(plot_error)?;
    }
    Ok(())
}

/// Axes of `x` × `y` under `caption`, labelled `descs` (x, y), with a faint line at
/// y = 0 across them: the frame of the report's figures of signed differences.
pub fn zero_line_chart<'a>(
    root: &Area<'a>,
    caption: &str,
    (x, y): (Range<f64>, Range<f64>),
    descs: (&str, &str),
    y_label_width: u32,
) -> Result<Chart<'a, plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>
{
    let (x_lo, x_hi) = (x.start, x.end);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, font(18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(x, y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(descs.0)
        .y_desc(descs.1)
        .label_style(font(12))
        .axis_desc_style(font(13))
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new([(x_lo, 0.0), (x_hi, 0.0)], BLACK.mix(0.4)))
        .map_err(plot_error)?;
    Ok(chart)
}

/// The legend of every figure: at `position`, on a light box, in `size`-point text.
pub fn legend<X: Ranged, Y: Ranged>(
    chart: &mut Chart<'_, X, Y>,
    position: SeriesLabelPosition,
    size: u32,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(font(size))
        .draw()
        .map_err(plot_error)
}

/// One line of a magnitude-histogram panel: proportions per octave, and octaves to mark
/// with vertical lines (percentiles, say).
pub struct OctaveSeries {
    pub label: String,
    pub color: RGBColor,
    /// (octave, proportion)
    pub points: Vec<(f64, f64)>,
    pub marks: Vec<f64>,
}

/// A panel of `log2|x|` histograms as proportions per octave, one line per series, with a
/// legend in the upper left.
pub fn octave_panel(
    area: &Area,
    title: &str,
    series: &[OctaveSeries],
    x_range: Range<f64>,
    y_range: Range<f64>,
) -> Result<()> {
    let y_top = y_range.end;
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(14))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(x_range, y_range)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("octave (log2 of magnitude)")
        .y_desc("proportion")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .light_line_style(WHITE.mix(0.0))
        .label_style(font(11))
        .axis_desc_style(font(12))
        .draw()
        .map_err(plot_error)?;
    for s in series {
        line(&mut chart, &s.points, &[], s.color, 2, (&s.label, 18))?;
        for &mark in &s.marks {
            chart
                .draw_series(LineSeries::new(
                    [(mark, 0.0), (mark, y_top)],
                    s.color.mix(0.6).stroke_width(1),
                ))
                .map_err(plot_error)?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft, 11)
}
