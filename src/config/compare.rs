//! How a requested configuration of a run differs from the one it was made with, by the
//! settings' roles ([`keys::Role`]). `train --resume` and a sweep's staleness both ask this
//! one comparison: a difference in a setting of the result makes another run; one in the
//! run's length goes on with the same run unless the schedule spans the run; where or how
//! fast it runs, what it logs and where its files go never count.
use super::keys::{self, Role};
use super::{RunConfig, ScheduleName};
use anyhow::{bail, Result};
use serde_json::Value;

/// A setting whose value differs.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    pub key: &'static str,
    pub role: Role,
    /// The run's value and the requested one (`null` where unset).
    pub old: Value,
    pub new: Value,
}

impl Difference {
    /// `` `lr` 0.001 → 0.002 ``.
    pub fn describe(&self) -> String {
        format!("`{}` {} → {}", self.key, show(&self.old), show(&self.new))
    }
}

/// A value as a person reads it: strings unquoted, `none` for unset.
pub fn show(value: &Value) -> String {
    match value {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// `` `epochs` 2 → 4, `lr` 0.001 → 0.002 ``.
pub fn describe(differences: &[&Difference]) -> String {
    let parts: Vec<String> = differences.iter().map(|d| d.describe()).collect();
    parts.join(", ")
}

/// Every difference between a run's configuration and a requested one.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// In the order of [`keys::SETTINGS`].
    pub differences: Vec<Difference>,
    /// The requested schedule spans the whole run (cosine, warm-up cosine): its length is
    /// then part of the result.
    pub schedule_spans_run: bool,
}

impl Comparison {
    pub fn of(stored: &RunConfig, requested: &RunConfig) -> Comparison {
        let (old, new) = (stored.settings(), requested.settings());
        let differences = keys::SETTINGS
            .iter()
            .filter_map(|s| {
                let (a, b) = (old.get(s.key), new.get(s.key));
                (a != b).then(|| Difference {
                    key: s.key,
                    role: s.role,
                    old: a.cloned().unwrap_or(Value::Null),
                    new: b.cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
        let schedule_spans_run = matches!(
            requested.schedule.kind,
            ScheduleName::Cosine | ScheduleName::WarmupCosine
        );
        Comparison {
            differences,
            schedule_spans_run,
        }
    }

    /// The differences in settings of `role`.
    pub fn of_role(&self, role: Role) -> Vec<&Difference> {
        self.differences.iter().filter(|d| d.role == role).collect()
    }

    /// The differences that make it another run: every result setting, and the length
    /// where the schedule spans the run.
    pub fn another_run(&self) -> Vec<&Difference> {
        self.differences
            .iter()
            .filter(|d| {
                d.role == Role::Result || (d.role == Role::Length && self.schedule_spans_run)
            })
            .collect()
    }

    /// The differences that say what the run is or how far it goes (the rest only say
    /// where it runs, how fast, what it logs and where its files go).
    pub fn of_the_run(&self) -> Vec<&Difference> {
        self.differences
            .iter()
            .filter(|d| matches!(d.role, Role::Result | Role::Length))
            .collect()
    }

    /// Whether the requested run goes at least as far as the stored one, in epochs and
    /// in steps (an absent `max_steps` is no limit).
    pub fn goes_as_far(&self) -> bool {
        let limit = |v: &Value| v.as_f64().unwrap_or(f64::INFINITY);
        self.of_role(Role::Length)
            .iter()
            .all(|d| limit(&d.new) >= limit(&d.old))
    }
}

/// Refuses to resume the run made with `stored` as `requested` where that would be another
/// run, naming the first setting that makes it so.
pub fn check_resume(stored: &RunConfig, requested: &RunConfig) -> Result<()> {
    let comparison = Comparison::of(stored, requested);
    let Some(first) = comparison.another_run().into_iter().next() else {
        return Ok(());
    };
    let (key, old, new) = (first.key, &first.old, &first.new);
    if first.role == Role::Length {
        bail!(
            "cannot resume with `{key}` = {new}: the run was started with {old}, and its {} \
             schedule spans the whole run, so another length is another run (another step \
             size at every step); start a new run with --out, or resume with `{key}` = {old}",
            show(&serde_json::to_value(requested.schedule.kind).unwrap_or(Value::Null))
        );
    }
    bail!(
        "cannot resume with `{key}` = {new}: the run was started with {old}; only {} may \
         change on resume",
        keys::keys_with(&[Role::Length, Role::Runtime, Role::Logging, Role::Placement]).join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(settings: Value) -> RunConfig {
        RunConfig::from_value(&settings).unwrap()
    }

    #[test]
    fn differences_are_sorted_by_role() {
        let stored = config(json!({"lr": 1e-3, "epochs": 2, "kernel": "auto", "hist_every": 5}));
        let requested = config(json!({"lr": 2e-3, "epochs": 4, "kernel": "tensor-ops",
                                      "hist_every": 0, "eval_every": 2, "threads": 3,
                                      "device": "cpu", "layout": "nchw", "name": "x"}));
        let c = Comparison::of(&stored, &requested);
        let keys = |ds: Vec<&Difference>| ds.iter().map(|d| d.key).collect::<Vec<_>>();
        assert_eq!(keys(c.another_run()), ["lr"]);
        assert_eq!(keys(c.of_role(Role::Length)), ["epochs"]);
        assert_eq!(
            keys(c.of_role(Role::Runtime)),
            ["kernel", "device", "threads", "layout"]
        );
        assert_eq!(keys(c.of_role(Role::Logging)), ["eval_every", "hist_every"]);
        assert_eq!(keys(c.of_role(Role::Placement)), ["name"]);
        assert_eq!(describe(&c.another_run()), "`lr` 0.001 → 0.002");
        assert!(c.goes_as_far());
    }

    #[test]
    fn a_schedule_that_spans_the_run_makes_its_length_part_of_the_result() {
        let run =
            |epochs: u32, schedule: &str| config(json!({"epochs": epochs, "schedule": schedule}));
        for spanning in ["cosine", "warmup-cosine"] {
            let c = Comparison::of(&run(2, spanning), &run(4, spanning));
            assert_eq!(c.another_run().len(), 1, "{spanning}");
        }
        for fixed in ["constant", "step"] {
            let c = Comparison::of(&run(2, fixed), &run(4, fixed));
            assert!(c.another_run().is_empty(), "{fixed}");
            assert!(!Comparison::of(&run(4, fixed), &run(2, fixed)).goes_as_far());
        }
        let err = check_resume(&run(2, "cosine"), &run(4, "cosine")).unwrap_err();
        assert!(err.to_string().contains("`epochs` = 4") && err.to_string().contains("cosine"));
        check_resume(&run(2, "step"), &run(4, "step")).unwrap();
    }
}
