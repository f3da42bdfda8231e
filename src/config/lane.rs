//! A run as TensorBoard's HParams and the summary run see it: the settings that define
//! it, and its lane, every one of those settings but the seed, which gathers the runs
//! that differ only in their seed.
use super::keys::{self, Role};
use super::RunConfig;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The setting that tells the runs of a lane apart.
pub const SEED: &str = "seed";

impl RunConfig {
    /// The settings that define the run's result and length (every setting but where it
    /// runs, how fast and what it logs), under their flat names, those not set left out.
    pub fn defining_settings(&self) -> Vec<(String, Value)> {
        let settings = self.settings();
        keys::SETTINGS
            .iter()
            .filter(|s| matches!(s.role, Role::Result | Role::Length))
            .filter_map(|s| {
                let value = settings.get(s.key)?;
                (!value.is_null()).then(|| (s.key.to_string(), value.clone()))
            })
            .collect()
    }

    /// The lane: the derived name without the seed, and a short hash of every defining
    /// setting but the seed, so that lanes differing in a setting the name leaves out (ε,
    /// the batch size) stay apart.
    pub fn lane(&self) -> String {
        let mut settings = self.defining_settings();
        settings.retain(|(key, _)| key != SEED);
        let digest = Sha256::digest(serde_json::to_string(&settings).unwrap_or_default());
        let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}#{hash}", self.name_without("", &[SEED]))
    }

    /// `run_name` without the name parts of `left_out` (`resnet20-nobn_adamw_lr0.001_wd0_s0`
    /// without the seed: `resnet20-nobn_adamw_lr0.001_wd0`); what a sweep adds after the
    /// derived part (`_eps1e-10`) stays. A name not made from the settings is the derived
    /// name without those parts.
    pub fn name_without(&self, run_name: &str, left_out: &[&str]) -> String {
        let derived = self.derived_name();
        let added = run_name.strip_prefix(&derived).unwrap_or("");
        let kept: String = keys::SETTINGS
            .iter()
            .filter(|s| !left_out.contains(&s.key))
            .filter_map(|s| s.name_part?(self))
            .collect();
        kept + added
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(settings: Value) -> RunConfig {
        RunConfig::from_settings(settings.as_object().unwrap()).unwrap()
    }

    #[test]
    fn seeds_share_a_lane_and_other_settings_do_not() {
        let a = config(json!({"optimizer": "adamw", "seed": 0}));
        let b = config(json!({"optimizer": "adamw", "seed": 1}));
        let c = config(json!({"optimizer": "adamw", "seed": 0, "eps": 1e-10}));
        assert_eq!(a.lane(), b.lane());
        assert_ne!(a.lane(), c.lane());
        assert!(
            a.lane().starts_with("resnet20-nobn_adamw_lr0.001_wd"),
            "{}",
            a.lane()
        );
        assert!(!a.lane().contains("_s0"), "{}", a.lane());
    }

    #[test]
    fn a_name_loses_only_the_parts_left_out() {
        let c = config(json!({"optimizer": "adamw", "seed": 3, "wd": 0.0}));
        let name = format!("{}_eps1e-10", c.derived_name());
        assert_eq!(
            c.name_without(&name, &[SEED, "optimizer"]),
            "resnet20-nobn_lr0.001_wd0_eps1e-10"
        );
    }

    #[test]
    fn defining_settings_leave_out_runtime_logging_and_unset_ones() {
        let keys: Vec<String> = config(json!({}))
            .defining_settings()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for key in [
            "optimizer",
            "lr",
            "wd",
            "seed",
            "eps",
            "epochs",
            "grad_factors",
        ] {
            assert!(keys.contains(&key.to_string()), "{key}: {keys:?}");
        }
        // Another rule's settings are null for this one (AdamW has no momentum).
        for key in [
            "device",
            "threads",
            "hist_every",
            "out",
            "max_steps",
            "momentum",
        ] {
            assert!(!keys.contains(&key.to_string()), "{key}");
        }
    }
}
