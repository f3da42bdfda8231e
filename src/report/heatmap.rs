//! Final test error over (η_0, λ), one panel per optimizer on one colour scale, the
//! best cell outlined (the paper's heatmaps). Drawn cell by cell in pixels: the axes are
//! categorical, which plotters' numeric meshes do not express well.
use super::collect::{fmt_sci, Cell, Collection, Group, RunProgress, DIVERGED_ERROR};
use super::figure::{centered, draw_png, plot_error, Area, Figure};
use crate::plot::display_name;
use crate::plot::{anchored, extremes, header, text};
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::HPos;
use std::path::Path;

const CELL_W: u32 = 72;
const CELL_H: u32 = 42;
/// The grid's least width, so that a small grid still has room for its panel title.
const MIN_GRID_W: u32 = 300;
const LEFT: u32 = 72;
const RIGHT: u32 = 18;
const PANEL_TOP: u32 = 58;
const BOTTOM: u32 = 58;
const HEADER: u32 = 40;
const COLORBAR_W: u32 = 110;
/// The colour bar's least height; a grid of few rows gets a taller figure for it.
const MIN_BAR_H: u32 = 126;

const MISSING: RGBColor = RGBColor(190, 190, 190);
const NOT_PLANNED: RGBColor = RGBColor(245, 245, 245);
const BEST_OUTLINE: RGBColor = RGBColor(230, 20, 20);

fn panel_size(n_lr: usize, n_wd: usize) -> (u32, u32) {
    let grid_w = (n_wd as u32 * CELL_W).max(MIN_GRID_W);
    (LEFT + grid_w + RIGHT, PANEL_TOP + bar_height(n_lr) + BOTTOM)
}

fn bar_height(n_lr: usize) -> u32 {
    (n_lr as u32 * CELL_H).max(MIN_BAR_H)
}

/// Pixel size of the heatmap figure for `n_opt` optimizers over `n_lr` × `n_wd` settings.
pub fn figure_size(n_opt: usize, n_lr: usize, n_wd: usize) -> (u32, u32) {
    let (w, h) = panel_size(n_lr, n_wd);
    (n_opt.max(1) as u32 * w + COLORBAR_W, HEADER + h)
}

/// The colour scale shared by all panels: from the lowest to the highest value shown.
fn scale_range(group: &Group) -> (f64, f64) {
    let cells = group.optimizers.iter().flat_map(|g| &g.cells);
    let (lo, hi) = extremes(cells.filter_map(|c| c.error));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-6 {
        return (lo - 0.005, hi + 0.005);
    }
    (lo, hi)
}

/// Low error bright (yellow), high error dark (purple).
fn color_of(error: f64, (lo, hi): (f64, f64)) -> RGBColor {
    let t = ((error - lo) / (hi - lo)).clamp(0.0, 1.0);
    ViridisRGB::get_color(1.0 - t)
}

fn text_color_on(background: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = background;
    let luminance = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
    if luminance > 140.0 {
        BLACK
    } else {
        WHITE
    }
}

pub fn draw(collection: &Collection, group: &Group, dir: &Path) -> Result<Figure> {
    let file = format!("heatmap-{}.png", group.key.slug());
    let size = figure_size(group.optimizers.len(), group.lrs.len(), group.wds.len());
    let range = scale_range(group);
    let title = format!(
        "Final test error — {} (diverged = {DIVERGED_ERROR})",
        group.key.label()
    );
    draw_png(&dir.join(&file), size, |root| {
        let body = header(root, HEADER, &title, 20)?;
        let (panels, colorbar) = body.split_horizontally(size.0 - COLORBAR_W);
        let panel_w = panel_size(group.lrs.len(), group.wds.len()).0;
        for (i, grid) in group.optimizers.iter().enumerate() {
            let x0 = i as i32 * panel_w as i32;
            let panel = panels.clone().shrink((x0, 0), (panel_w, size.1 - HEADER));
            draw_panel(collection, group, grid, &panel, range)?;
        }
        draw_colorbar(&colorbar, range, bar_height(group.lrs.len()) as i32)
    })?;
    let optimizers: Vec<&str> = group
        .optimizers
        .iter()
        .map(|g| display_name(g.optimizer))
        .collect();
    Ok(Figure {
        file,
        kind: "heatmap",
        caption: format!(
            "{}: final test error over η₀ (rows) and λ (columns) for {}, on one colour scale; \
             the best setting of each optimizer outlined in red; diverged runs count as {DIVERGED_ERROR}; \
             grey cells have no finished run yet.",
            group.key.label(),
            optimizers.join(", ")
        ),
        width: size.0,
        height: size.1,
    })
}

fn cell_label(collection: &Collection, cell: &Cell) -> (String, String) {
    if !cell.planned() {
        return (String::new(), String::new());
    }
    let Some(error) = cell.error else {
        let mut runs = collection.runs_of(cell).map(|r| r.progress);
        let note = if runs
            .clone()
            .any(|o| matches!(o, RunProgress::Started | RunProgress::Interrupted))
        {
            "unfinished"
        } else if runs.clone().any(|o| o == RunProgress::Stale) {
            "stale"
        } else if runs.any(|o| o == RunProgress::Damaged) {
            "damaged"
        } else {
            "missing"
        };
        return ("–".into(), note.into());
    };
    let value = if cell.any_diverged && cell.finished == 1 {
        format!("{DIVERGED_ERROR}")
    } else {
        format!("{error:.3}")
    };
    let diverged = cell
        .runs
        .iter()
        .filter(|&&i| collection.runs[i].progress == RunProgress::Diverged)
        .count();
    (value, cell_note(diverged, cell.finished, cell.runs.len()))
}

/// The line under a cell's value: how many runs it averages and how many diverged.
/// At most 12 characters, which fit a cell at the note's 10 px font ("diverged mean of 3"
/// did not, and was clipped).
fn cell_note(diverged: usize, finished: usize, planned: usize) -> String {
    if diverged > 0 && finished > 1 {
        let long = format!("{diverged}/{finished} diverged");
        match long.chars().count() <= 12 {
            true => long,
            false => format!("{diverged}/{finished} div."),
        }
    } else if diverged > 0 {
        "diverged".into()
    } else if finished < planned {
        format!("{finished}/{planned} runs")
    } else if finished == 1 {
        "1 seed".into()
    } else {
        format!("mean of {finished}")
    }
}

fn draw_panel(
    collection: &Collection,
    group: &Group,
    grid: &super::collect::OptimizerGrid,
    panel: &Area,
    range: (f64, f64),
) -> Result<()> {
    let (panel_w, _) = panel.dim_in_pixel();
    let n_lr = group.lrs.len();
    let n_wd = group.wds.len();
    let grid_w = (n_wd as u32 * CELL_W) as i32;
    // A grid narrower than its panel sits in the middle of the room right of the labels.
    let grid_x = LEFT as i32 + (panel_w as i32 - LEFT as i32 - RIGHT as i32 - grid_w) / 2;
    let grid_y = PANEL_TOP as i32;
    let mid_x = grid_x + grid_w / 2;
    let name = display_name(grid.optimizer);
    text(panel, name, (mid_x, 16), centered(19))?;
    let best = match grid.best_cell() {
        Some(c) => format!(
            "best {:.3} at η₀ = {}, λ = {}",
            c.error.unwrap_or(f64::NAN),
            fmt_sci(c.lr),
            fmt_sci(c.wd)
        ),
        None => "no finished run without divergence".into(),
    };
    text(panel, &best, (mid_x, 38), centered(13))?;

    // Rows: the largest η_0 at the top, as on a plot's y axis.
    for (row, &lr) in group.lrs.iter().rev().enumerate() {
        let y = grid_y + (row as u32 * CELL_H) as i32;
        let at = (grid_x - 8, y + CELL_H as i32 / 2);
        text(panel, &fmt_sci(lr), at, anchored(13, HPos::Right))?;
        let lr_index = n_lr - 1 - row;
        for (col, _) in group.wds.iter().enumerate() {
            let x = grid_x + (col as u32 * CELL_W) as i32;
            let cell = &grid.cells[lr_index * n_wd + col];
            let fill = match (cell.planned(), cell.error) {
                (false, _) => NOT_PLANNED,
                (true, None) => MISSING,
                (true, Some(e)) => color_of(e, range),
            };
            let corners = [(x, y), (x + CELL_W as i32, y + CELL_H as i32)];
            panel
                .draw(&Rectangle::new(corners, fill.filled()))
                .map_err(plot_error)?;
            panel
                .draw(&Rectangle::new(corners, WHITE.stroke_width(1)))
                .map_err(plot_error)?;
            let (value, note) = cell_label(collection, cell);
            let ink = text_color_on(fill);
            let cx = x + CELL_W as i32 / 2;
            let cy = y + CELL_H as i32 / 2;
            if note.is_empty() {
                text(panel, &value, (cx, cy), centered(14).color(&ink))?;
            } else {
                text(panel, &value, (cx, cy - 7), centered(14).color(&ink))?;
                text(panel, &note, (cx, cy + 10), centered(10).color(&ink))?;
            }
        }
    }
    if let Some(best) = grid.best {
        let row = n_lr - 1 - best / n_wd;
        let col = best % n_wd;
        let x = grid_x + (col as u32 * CELL_W) as i32;
        let y = grid_y + (row as u32 * CELL_H) as i32;
        for inset in 0..3 {
            let corners = [
                (x + inset, y + inset),
                (x + CELL_W as i32 - inset, y + CELL_H as i32 - inset),
            ];
            panel
                .draw(&Rectangle::new(corners, BEST_OUTLINE.stroke_width(1)))
                .map_err(plot_error)?;
        }
    }
    let below = grid_y + (n_lr as u32 * CELL_H) as i32;
    for (col, &wd) in group.wds.iter().enumerate() {
        let x = grid_x + (col as u32 * CELL_W) as i32 + CELL_W as i32 / 2;
        text(panel, &fmt_sci(wd), (x, below + 12), centered(13))?;
    }
    text(panel, "λ (weight decay)", (mid_x, below + 36), centered(14))?;
    let rows_mid = grid_y + (n_lr as u32 * CELL_H) as i32 / 2;
    text(panel, "η₀", (grid_x - 58, rows_mid), centered(15))
}

fn draw_colorbar(area: &Area, (lo, hi): (f64, f64), height: i32) -> Result<()> {
    let top = PANEL_TOP as i32;
    let x = 16;
    let w = 22;
    for i in 0..height {
        let e = hi - (hi - lo) * i as f64 / (height - 1) as f64;
        let c = color_of(e, (lo, hi));
        area.draw(&Rectangle::new(
            [(x, top + i), (x + w, top + i + 1)],
            c.filled(),
        ))
        .map_err(plot_error)?;
    }
    area.draw(&Rectangle::new(
        [(x, top), (x + w, top + height)],
        BLACK.stroke_width(1),
    ))
    .map_err(plot_error)?;
    let left = |s: u32| anchored(s, HPos::Left);
    for k in 0..=4 {
        let e = hi - (hi - lo) * k as f64 / 4.0;
        let y = top + (height - 1) * k / 4;
        area.draw(&PathElement::new(vec![(x + w, y), (x + w + 4, y)], BLACK))
            .map_err(plot_error)?;
        text(area, &format!("{e:.3}"), (x + w + 7, y), left(12))?;
    }
    text(area, "test error", (x, top - 16), left(13))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest note under a cell's value that fits [`CELL_W`] at 10 px.
    const NOTE_CHARS: usize = 12;

    #[test]
    fn every_cell_note_fits_its_cell() {
        for planned in 1..=99 {
            for finished in 0..=planned {
                for diverged in 0..=finished {
                    let note = cell_note(diverged, finished, planned);
                    assert!(note.chars().count() <= NOTE_CHARS, "{note:?}");
                }
            }
        }
        assert_eq!(cell_note(1, 3, 3), "1/3 diverged");
        assert_eq!(cell_note(0, 3, 3), "mean of 3");
        assert_eq!(cell_note(0, 2, 3), "2/3 runs");
    }
}
