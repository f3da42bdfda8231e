//! A figure of the report, as its page and `summary.json` list it; drawing is shared
//! with the checks in [`crate::plot`].
pub use crate::plot::{centered, draw_png, font, optimizer_color, plot_error, Area};
use serde::Serialize;

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
