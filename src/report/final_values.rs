//! The final values of the measures evaluated once (`cifar10-quick` evaluates at the end
//! only): in TensorBoard a single value per run is a dot on an empty chart, so the summary
//! run shows them as a bar chart with each bar's 95 % CI (the claim at a glance: which
//! changes clear 0) and as a table of the same numbers (to read them exactly). One panel
//! per measure and comparison: each optimizer at its best setting per group, and claim 4's
//! paired change per intervention.
use crate::optimizers::Method;
use crate::plot::{display_name, font, optimizer_color, plot_error, png_bytes, Area};
use crate::stats::Estimate;
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One bar: a mean over seeds with its CI, and what it is of (`η₀ 1e-3, λ 5e-4`).
#[derive(Clone, Debug)]
pub struct Bar {
    pub estimate: Estimate,
    pub detail: String,
}

/// One panel: a measure, its categories (groups, or interventions) and each optimizer's
/// bar in each.
#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub categories: Vec<String>,
    pub optimizers: Vec<Method>,
    /// `[category][optimizer]`.
    pub bars: Vec<Vec<Option<Bar>>>,
    /// An accuracy, shown in per cent (a change in points).
    pub percent: bool,
    /// A paired change (signed, around 0).
    pub change: bool,
}

const PANEL: (u32, u32) = (620, 380);
const HEADER: u32 = 36;

impl Panel {
    /// How the panel's values are written: their scale, decimals and unit.
    fn format(&self) -> (f64, usize, &'static str) {
        match (self.percent, self.change) {
            (true, false) => (100.0, 2, " %"),
            (true, true) => (100.0, 2, " points"),
            (false, _) => (1.0, 4, ""),
        }
    }

    /// `27.59 %`, `+3.51 points`, `+0.0511`, `1.9980`.
    fn mean_text(&self, e: &Estimate) -> String {
        let (scale, digits, unit) = self.format();
        match self.change {
            true => format!("{:+.digits$}{unit}", e.mean * scale),
            false => format!("{:.digits$}{unit}", e.mean * scale),
        }
    }

    /// `27.59 % ± 2.42 (n = 4)`, `+0.0511 ± 0.0203 (n = 4)`, `1.9980 (1 seed)`.
    fn text(&self, e: &Estimate) -> String {
        let (scale, digits, _) = self.format();
        match e.half_width {
            Some(h) => format!(
                "{} ± {:.digits$} (n = {})",
                self.mean_text(e),
                h * scale,
                e.n
            ),
            None => format!("{} (1 seed)", self.mean_text(e)),
        }
    }

    /// The panel as a Markdown table: a row per category, a column per optimizer.
    fn markdown(&self) -> String {
        let names: Vec<&str> = self.optimizers.iter().map(|o| display_name(*o)).collect();
        let mut md = format!("### {}\n\n| | {} |\n|---|", self.title, names.join(" | "));
        md.push_str(&"---:|".repeat(names.len()));
        md.push('\n');
        for (category, bars) in self.categories.iter().zip(&self.bars) {
            let cells: Vec<String> = bars
                .iter()
                .map(|bar| match bar {
                    Some(b) if b.detail.is_empty() => self.text(&b.estimate),
                    Some(b) => format!("{} ({})", self.text(&b.estimate), b.detail),
                    None => "—".into(),
                })
                .collect();
            md.push_str(&format!("| {category} | {} |\n", cells.join(" | ")));
        }
        md
    }

    /// The y range: the bars' CIs and 0, with room above and below for the values written
    /// there (one unit around 0 when every value is 0).
    fn y_range(&self) -> (f64, f64) {
        let scale = self.format().0;
        let ends = self.bars.iter().flatten().flatten().flat_map(|b| {
            let (lo, hi) = b.estimate.bounds();
            [lo * scale, hi * scale]
        });
        let (lo, hi) = ends.fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        if hi - lo < 1e-12 {
            return (-1.0, 1.0);
        }
        let pad = 0.15 * (hi - lo);
        (if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad)
    }

    fn draw(&self, area: &Area) -> Result<()> {
        let scale = self.format().0;
        let (y_lo, y_hi) = self.y_range();
        let n = self.categories.len().max(1) as f64;
        let y_desc = match (self.percent, self.change) {
            (true, true) => "points",
            (true, false) => "%",
            _ => "",
        };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, font(14))
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(62)
            .build_cartesian_2d(0.0..n, y_lo..y_hi)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(1)
            .x_label_formatter(&|_| String::new())
            .light_line_style(WHITE.mix(0.0))
            .y_desc(y_desc)
            .label_style(font(11))
            .axis_desc_style(font(12))
            .draw()
            .map_err(plot_error)?;
        let base = area.get_base_pixel();
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        // Text under the axis at `x`, `line` lines down.
        let below = |x: f64, line: i32, text: &str, size: u32| {
            let px = xs.start + ((x / n) * (xs.end - xs.start) as f64).round() as i32;
            let style = font(size).pos(Pos::new(HPos::Center, VPos::Top));
            let at = (px - base.0, ys.end - base.1 + 6 + 16 * line);
            area.draw(&Text::new(text.to_string(), at, style))
                .map_err(plot_error)
        };
        let axis = BLACK.mix(0.5).stroke_width(1);
        let zero = PathElement::new(vec![(0.0, 0.0), (n, 0.0)], axis);
        chart.draw_series([zero]).map_err(plot_error)?;
        let k = self.optimizers.len().max(1) as f64;
        for (i, bars) in self.bars.iter().enumerate() {
            for (j, bar) in bars.iter().enumerate() {
                let Some(bar) = bar else {
                    continue;
                };
                let optimizer = self.optimizers[j];
                let color = optimizer_color(optimizer);
                let x0 = i as f64 + 0.12 + j as f64 * 0.76 / k;
                let (x1, mid) = (x0 + 0.68 / k, x0 + 0.34 / k);
                let mean = bar.estimate.mean * scale;
                let rect = Rectangle::new([(x0, 0.0), (x1, mean)], color.mix(0.75).filled());
                chart.draw_series([rect]).map_err(plot_error)?;
                below(mid, 0, display_name(optimizer), 11)?;
                let (lo, hi) = bar.estimate.bounds();
                let (lo, hi) = (lo * scale, hi * scale);
                let whisker = BLACK.stroke_width(2);
                let cap = 0.08 / k;
                for path in [
                    vec![(mid, lo), (mid, hi)],
                    vec![(mid - cap, lo), (mid + cap, lo)],
                    vec![(mid - cap, hi), (mid + cap, hi)],
                ] {
                    chart
                        .draw_series([PathElement::new(path, whisker)])
                        .map_err(plot_error)?;
                }
                // The mean beyond the whisker's end.
                let (at, v) = match mean >= 0.0 {
                    true => (hi, VPos::Bottom),
                    false => (lo, VPos::Top),
                };
                let style = font(11).pos(Pos::new(HPos::Center, v));
                let text = Text::new(self.mean_text(&bar.estimate), (mid, at), style);
                chart.draw_series([text]).map_err(plot_error)?;
            }
        }
        // The categories under their bars.
        for (i, category) in self.categories.iter().enumerate() {
            below(i as f64 + 0.5, 1, category, 12)?;
        }
        Ok(())
    }
}

/// The table of `panels` (Markdown, for TensorBoard's text dashboard).
pub fn markdown(panels: &[Panel]) -> String {
    let mut md = String::from(
        "Final values of the measures evaluated once, at the end (a single value per run is no \
         curve): mean over the completed seeds ± the 95 % CI half-width (Student's t). Each \
         optimizer at its best setting per group; claim 4's change paired by seed \
         (intervention − none).\n\n",
    );
    for panel in panels {
        md.push_str(&panel.markdown());
        md.push('\n');
    }
    md
}

/// The bar chart of `panels`, as PNG bytes with its size: the measures side by side, the
/// best settings above claim 4's changes.
pub fn png(panels: &[Panel], measures: usize) -> Result<(Vec<u8>, u32, u32)> {
    let columns = measures.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns);
    let (width, height) = (PANEL.0 * columns as u32, HEADER + PANEL.1 * rows as u32);
    let bytes = png_bytes((width, height), |root| {
        let title = "final values (one evaluation, at the end): mean over seeds, 95 % CI";
        let body = crate::plot::header(root, HEADER, title, 16)?;
        let areas = body.split_evenly((rows, columns));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            panel.draw(area)?;
        }
        Ok(())
    })?;
    Ok((bytes, width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(values: &[f64]) -> Estimate {
        Estimate::of(values).unwrap()
    }

    #[test]
    fn values_read_as_the_report_writes_them() {
        let panel = Panel {
            title: "final test accuracy".into(),
            categories: vec!["resnet20, no BN".into()],
            optimizers: vec![Method::ADAM_L2, Method::ADAMW],
            bars: vec![vec![
                Some(Bar {
                    estimate: estimate(&[0.25, 0.27]),
                    detail: "η₀ 1e-3, λ 5e-4".into(),
                }),
                None,
            ]],
            percent: true,
            change: false,
        };
        let md = markdown(std::slice::from_ref(&panel));
        assert!(
            md.contains("| resnet20, no BN | 26.00 % ± 12.71 (n = 2) (η₀ 1e-3, λ 5e-4) | — |"),
            "{md}"
        );
        let change = Panel {
            percent: false,
            change: true,
            ..panel.clone()
        };
        assert_eq!(change.text(&estimate(&[0.05])), "+0.0500 (1 seed)");
        let (png, width, height) = png(&[panel, change], 1).unwrap();
        assert_eq!((width, height), (PANEL.0, HEADER + 2 * PANEL.1));
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (width, height));
    }
}
