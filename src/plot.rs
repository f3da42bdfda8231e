//! Shared set-up for the PNG figures (plotters, bitmap backend).
//!
//! Text needs a TrueType font; plotters' `ab_glyph` backend takes one as bytes, so no
//! system font library is linked. The font is read once from the usual DejaVu location
//! (Debian's `fonts-dejavu-core`, which `make setup` installs when it is missing).
use anyhow::{bail, Result};
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
