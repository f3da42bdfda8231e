//! A check's verdict (which claim, whether the measurement supports it, the line that
//! says so with the numbers that decided it) and the number formats the verdict lines
//! and the commands' tables share.
use serde::Serialize;
use tch::Device;

/// The verdict of a check: which claim, whether the measurement supports it, and the
/// numbers that decided it.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub claim: String,
    pub supported: bool,
    /// `supported`, `not supported`, or `inconclusive` (the measurement cannot tell).
    pub finding: &'static str,
    pub line: String,
}

impl Verdict {
    pub fn new(claim: &str, supported: bool, detail: &str) -> Verdict {
        match supported {
            true => Verdict::with(claim, true, "supported", detail),
            false => Verdict::with(claim, false, "not supported", detail),
        }
    }

    /// The measurement cannot tell either way (its noise is as large as the effect).
    pub fn inconclusive(claim: &str, detail: &str) -> Verdict {
        Verdict::with(claim, false, "inconclusive", detail)
    }

    fn with(claim: &str, supported: bool, finding: &'static str, detail: &str) -> Verdict {
        Verdict {
            claim: claim.to_string(),
            supported,
            finding,
            line: format!("{claim}: {} — {detail}", finding.to_uppercase()),
        }
    }
}

/// `1.23e-4`-style numbers for the tables; `—` for none.
pub fn sci(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_nan() => "NaN".into(),
        Some(v) => format!("{v:.2e}"),
        None => "—".into(),
    }
}

pub fn fixed(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "—".into(),
    }
}

/// `cpu`, `cuda:0`, …, as the reports and printouts name a device.
pub fn device_label(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_line_names_the_claim_the_word_and_the_numbers() {
        let yes = Verdict::new("claim 9", true, "x = 1");
        assert_eq!(yes.line, "claim 9: SUPPORTED — x = 1");
        let no = Verdict::new("claim 9", false, "x = 2");
        assert!(!no.supported && no.line == "claim 9: NOT SUPPORTED — x = 2");
    }

    #[test]
    fn numbers_are_formatted_with_a_dash_for_none_and_nan_spelled_out() {
        assert_eq!(sci(Some(1.234e-4)), "1.23e-4");
        assert_eq!(sci(Some(f64::NAN)), "NaN");
        assert_eq!(sci(None), "—");
        assert_eq!(fixed(Some(2.0), 3), "2.000");
        assert_eq!(fixed(None, 3), "—");
        assert_eq!(device_label(Device::Cuda(1)), "cuda:1");
    }
}
