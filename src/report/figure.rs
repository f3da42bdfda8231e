//! What the figures share: drawing a PNG atomically, the optimizers' colours, fonts.
use anyhow::{Context, Result};
use optim::DecayMode;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;
use std::path::Path;

pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// A written PNG, as the page and `summary.json` list it.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// File name inside the report directory.
    pub file: String,
    pub kind: &'static str,
    pub caption: String,
    pub width: u32,
    pub height: u32,
}

/// Draws into a temporary PNG beside `path` and renames it over `path`. The temporary
/// name still ends in `.png` because the bitmap backend picks its encoder from it.
pub fn draw_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area) -> Result<()>,
) -> Result<()> {
    crate::plot::ensure_font()?;
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

/// Plotters' errors borrow the backend's error type; this keeps only the message.
pub fn plot_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plotting: {e}")
}

pub fn optimizer_color(optimizer: DecayMode) -> RGBColor {
    match optimizer {
        DecayMode::L2 => RGBColor(31, 119, 180),
        DecayMode::Decoupled => RGBColor(214, 39, 40),
        DecayMode::Proximal => RGBColor(44, 160, 44),
    }
}

pub fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

pub fn centered(size: u32) -> TextStyle<'static> {
    font(size).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Center,
    ))
}
