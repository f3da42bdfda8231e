//! Parsers of flag values, shared by every command: clap names the flag in the error, these
//! say what would be valid.
use std::str::FromStr;

/// `s` as a `T` that `ok` accepts; else what was `expected`.
fn number<T: FromStr>(s: &str, ok: impl Fn(&T) -> bool, expected: &str) -> Result<T, String> {
    s.trim()
        .parse::<T>()
        .ok()
        .filter(|v| ok(v))
        .ok_or_else(|| format!("{expected}, not {s}"))
}

pub fn positive(s: &str) -> Result<f64, String> {
    let ok = |v: &f64| v.is_finite() && *v > 0.0;
    number(s, ok, "must be a finite number > 0")
}

pub fn non_negative(s: &str) -> Result<f64, String> {
    let ok = |v: &f64| v.is_finite() && *v >= 0.0;
    number(s, ok, "must be a finite number >= 0")
}

pub fn beta(s: &str) -> Result<f64, String> {
    number(s, |v| (0.0..1.0).contains(v), "must be a number in [0, 1)")
}

/// A count (`usize`) or a number of steps (`u64`): 0 would start nothing or runs that all
/// fail, so it is refused before anything is planned.
pub fn at_least_one<T: FromStr + PartialOrd + From<u8>>(s: &str) -> Result<T, String> {
    number(
        s,
        |v| *v >= T::from(1),
        "must be a whole number, at least 1",
    )
}

/// A model name `models` can build (`resnet20`, `densenet100`, …).
pub fn model_name(s: &str) -> Result<String, String> {
    models::parse_name(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// `cpu`, `cuda`, `cuda:N` or `auto`, with a device there.
pub fn device_name(s: &str) -> Result<String, String> {
    super::parse_device(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// A float flag's value: a finite number. NaN, ±inf and what overflows to inf (`1e309`)
/// are refused here, because the flags reach the configuration as JSON, where a
/// non-finite number becomes `null`, which reads as "not given" and so the default.
pub fn finite(s: &str) -> Result<f64, String> {
    let value: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if value.is_finite() {
        Ok(value)
    } else if value.is_nan() || s.to_ascii_lowercase().contains("inf") {
        Err(format!("must be a finite number, not {s}"))
    } else {
        Err(format!(
            "must be a finite number; {s} is beyond a float64's range (±1.8e308)"
        ))
    }
}
