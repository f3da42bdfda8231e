//! The magnitude histograms of docs/paper.md#figures: `log2|x|` of gradients, updates, updates/η_0
//! and parameters, all non-BN layers merged, as proportions per octave, at the first,
//! a middle and the last logged step. One figure per (model, loss multiplier) and
//! quantity: optimizers side by side, with and without BN one above the other.
use super::collect::{fmt_sci, Collection, Group};
use super::figure::{centered, draw_png, Area, Figure};
use crate::distinct::distinct;
use crate::optimizers::Method;
use crate::plot::display_name;
use crate::plot::{header, octave_panel, text, OctaveSeries};
use crate::rundir::ScaleRow;
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

const PANEL: (u32, u32) = (460, 310);
const HEADER: u32 = 40;

pub fn figure_size(rows: usize, cols: usize) -> (u32, u32) {
    (cols as u32 * PANEL.0, HEADER + rows as u32 * PANEL.1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Grad,
    Update,
    UpdateOverLr,
    Param,
}

impl Quantity {
    pub const ALL: [Quantity; 4] = [
        Quantity::Grad,
        Quantity::Update,
        Quantity::UpdateOverLr,
        Quantity::Param,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Quantity::Grad => "grad",
            Quantity::Update => "update",
            Quantity::UpdateOverLr => "update-over-lr",
            Quantity::Param => "param",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Quantity::Grad => "gradients, log2|g|",
            Quantity::Update => "updates, log2|Δx|",
            Quantity::UpdateOverLr => "updates / η₀, log2(|Δx|/η₀)",
            Quantity::Param => "parameters, log2|x|",
        }
    }

    fn counts(self, row: &ScaleRow) -> (&[f64], f64) {
        match self {
            Quantity::Grad => (&row.grad_octaves, row.grad_zeros),
            Quantity::Update => (&row.update_octaves, row.update_zeros),
            Quantity::UpdateOverLr => (&row.update_over_lr_octaves, row.update_over_lr_zeros),
            Quantity::Param => (&row.param_octaves, row.param_zeros),
        }
    }
}

/// One panel's data: a best run's logged rows at the chosen steps.
struct Panel {
    title: String,
    snapshots: Vec<ScaleRow>,
}

/// The first, a middle and the last row (fewer when fewer are logged).
fn chosen(rows: &[ScaleRow]) -> Vec<ScaleRow> {
    let mut picks: Vec<usize> = vec![0, (rows.len() - 1) / 2, rows.len() - 1];
    picks.dedup();
    picks.into_iter().map(|i| rows[i].clone()).collect()
}

/// Proportions per octave (zeros in the denominator), with the octave of each.
fn proportions(q: Quantity, row: &ScaleRow) -> (Vec<(i64, f64)>, f64) {
    let (counts, zeros) = q.counts(row);
    let total = counts.iter().sum::<f64>() + zeros;
    if total <= 0.0 {
        return (Vec::new(), 0.0);
    }
    let bins = counts
        .iter()
        .enumerate()
        .map(|(i, c)| (row.lowest_octave + i as i64, c / total))
        .collect();
    (bins, zeros / total)
}

const SNAPSHOT_SHADES: [f64; 3] = [0.8, 0.45, 0.05];

/// Figures for every (model, loss multiplier) whose best runs logged scales.
pub fn draw_all(collection: &Collection, dir: &Path) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for family in distinct(collection.groups.iter().map(|g| g.key.family())) {
        // BN first when both exist, as in the paper's figures.
        let mut groups: Vec<&Group> = collection
            .groups
            .iter()
            .filter(|g| g.key.family() == family)
            .collect();
        groups.sort_by_key(|g| !g.key.bn);
        let optimizers: Vec<Method> = Method::all()
            .filter(|&o| groups.iter().any(|g| g.grid(o).is_some()))
            .collect();
        let mut grid: Vec<Vec<Option<Panel>>> = Vec::new();
        for group in &groups {
            let row = optimizers.iter().map(|&o| panel_for(collection, group, o));
            let row = row.collect::<Result<Vec<_>>>()?;
            if row.iter().any(Option::is_some) {
                grid.push(row);
            }
        }
        if grid.is_empty() {
            continue;
        }
        let (label, slug) = groups[0].key.family();
        for q in Quantity::ALL {
            figures.push(draw_quantity(&grid, q, &label, &slug, dir)?);
        }
    }
    Ok(figures)
}

fn panel_for(collection: &Collection, group: &Group, optimizer: Method) -> Result<Option<Panel>> {
    let Some(cell) = group.best_cell(optimizer) else {
        return Ok(None);
    };
    let Some(run) = collection.representative(cell) else {
        return Ok(None);
    };
    let mut rows = run.scale_rows()?;
    if rows.is_empty() {
        return Ok(None);
    }
    rows.sort_by_key(|r| r.step);
    let title = format!(
        "{}, {} (η₀ = {}, λ = {})",
        display_name(optimizer),
        if group.key.bn { "BN" } else { "no BN" },
        fmt_sci(cell.lr),
        fmt_sci(cell.wd)
    );
    Ok(Some(Panel {
        title,
        snapshots: chosen(&rows),
    }))
}

fn draw_quantity(
    grid: &[Vec<Option<Panel>>],
    q: Quantity,
    label: &str,
    slug: &str,
    dir: &Path,
) -> Result<Figure> {
    let rows = grid.len();
    let cols = grid[0].len();
    let size = figure_size(rows, cols);
    let all = grid
        .iter()
        .flatten()
        .flatten()
        .flat_map(|p| p.snapshots.iter());
    let mut x_lo = i64::MAX;
    let mut x_hi = i64::MIN;
    let mut y_hi: f64 = 0.0;
    for row in all {
        for (octave, p) in proportions(q, row).0 {
            if p > 1e-4 {
                x_lo = x_lo.min(octave);
                x_hi = x_hi.max(octave);
                y_hi = y_hi.max(p);
            }
        }
    }
    if x_lo > x_hi {
        (x_lo, x_hi) = (-27, 13);
    }
    let x_range = (x_lo as f64 - 1.0)..(x_hi as f64 + 1.0);
    // Headroom for the legend in the upper left.
    let y_range = 0.0..(y_hi * 1.4).max(0.01);
    let file = format!("hist-{slug}-{}.png", q.slug());
    let title = format!(
        "{label}: {}, all non-BN layers, proportion per octave",
        q.title()
    );
    draw_png(&dir.join(&file), size, |root| {
        let body = header(root, HEADER, &title, 19)?;
        let areas = body.split_evenly((rows, cols));
        for (area, panel) in areas.iter().zip(grid.iter().flatten()) {
            match panel {
                Some(panel) => draw_panel(area, panel, q, x_range.clone(), y_range.clone())?,
                None => {
                    let (w, h) = area.dim_in_pixel();
                    text(
                        area,
                        "no scales logged",
                        (w as i32 / 2, h as i32 / 2),
                        centered(14),
                    )?;
                }
            }
        }
        Ok(())
    })?;
    Ok(Figure {
        file,
        kind: "histogram",
        caption: format!(
            "{label}: {} — all non-BN layers merged, binned by floor(log2|x|) with values clamped to [1e-8, 1e4], \
             as proportions; lines are the first, a middle and the last logged step of each optimizer's best \
             setting (columns){}.",
            q.title(),
            if rows > 1 { ", with BN (top) and without (bottom)" } else { "" }
        ),
        width: size.0,
        height: size.1,
    })
}

fn draw_panel(
    area: &Area,
    panel: &Panel,
    q: Quantity,
    x_range: std::ops::Range<f64>,
    y_range: std::ops::Range<f64>,
) -> Result<()> {
    let series: Vec<OctaveSeries> = panel
        .snapshots
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let (bins, zeros) = proportions(q, row);
            let mut label = format!("epoch {} (step {})", row.epoch, row.step);
            if zeros >= 0.005 {
                label.push_str(&format!(", {:.0}% zeros", zeros * 100.0));
            }
            let shade = ViridisRGB::get_color(SNAPSHOT_SHADES[i.min(2)]);
            OctaveSeries {
                label,
                color: RGBColor(shade.0, shade.1, shade.2),
                points: bins.into_iter().map(|(o, p)| (o as f64, p)).collect(),
                marks: Vec::new(),
            }
        })
        .collect();
    octave_panel(area, &panel.title, &series, x_range, y_range)
}
