//! The run configuration's settings, in one table. On the command line, in experiment
//! grids, in run files and in `config.json` every setting has one flat name (`lr`,
//! `batch_size`); in the code (and in run files written in sections) it lives in a section
//! (`optimizer.lr`, `data.batch_size`). Each row also says what the setting is to a run
//! (its [`Role`]) and how it shows in a derived run name: resume checks, sweep staleness
//! ([`super::compare`]), run names and `--print-config` all read this table, so a new
//! setting is one row.
use super::RunConfig;
use anyhow::{bail, Result};
use serde_json::{Map, Value};

/// What a setting is to a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Defines the run's result: with another value it is another run.
    Result,
    /// How far the run goes (`epochs`, `max_steps`): a resumed run may go further, unless
    /// its schedule spans the run (cosine, warm-up cosine), where another length is
    /// another schedule and so another run.
    Length,
    /// Where the run's files go (`out`, `name`), not what they hold.
    Placement,
    /// Where and how fast it runs (device, threads, layout, kernel): never the numbers.
    Runtime,
    /// What is logged along the way (`hist_every`, `eval_every`), not what is trained.
    Logging,
}

/// A run's derived name part for one setting: `None` leaves the setting out of the name.
type NamePart = fn(&RunConfig) -> Option<String>;

/// One setting of a run.
pub struct Setting {
    /// The flat name: the flag without `--`, the key of grids and `config.json`.
    pub key: &'static str,
    pub section: &'static str,
    pub field: &'static str,
    pub role: Role,
    /// Its part of [`RunConfig::derived_name`], for the settings that name the runs of the
    /// paper's grids; other settings a grid sweeps are added to names as `_<key><value>`.
    pub name_part: Option<NamePart>,
}

const fn setting(
    key: &'static str,
    section: &'static str,
    field: &'static str,
    role: Role,
) -> Setting {
    Setting {
        key,
        section,
        field,
        role,
        name_part: None,
    }
}

const fn naming(
    key: &'static str,
    section: &'static str,
    field: &'static str,
    name_part: NamePart,
) -> Setting {
    Setting {
        key,
        section,
        field,
        role: Role::Result,
        name_part: Some(name_part),
    }
}

/// Every setting. The naming rows are in the order their parts make a run's name
/// (`resnet20-nobn_adamw_lr0.001_wd0.00005_s0`).
pub const SETTINGS: [Setting; 33] = [
    setting("dataset", "data", "dataset", Role::Result),
    setting("data", "data", "path", Role::Result),
    setting("train_subset", "data", "train_subset", Role::Result),
    setting("val_fraction", "data", "val_fraction", Role::Result),
    setting("batch_size", "data", "batch_size", Role::Result),
    naming("model", "model", "name", |c| Some(c.model.name.clone())),
    naming("bn", "model", "bn", |c| {
        Some(if c.model.bn { "-bn" } else { "-nobn" }.into())
    }),
    naming("optimizer", "optimizer", "decay", |c| {
        Some(format!("_{}", c.optimizer.decay))
    }),
    naming("lr", "optimizer", "lr", |c| {
        Some(format!("_lr{}", c.optimizer.lr))
    }),
    naming("wd", "optimizer", "weight_decay", |c| {
        Some(format!("_wd{}", c.optimizer.weight_decay))
    }),
    setting("beta1", "optimizer", "beta1", Role::Result),
    setting("beta2", "optimizer", "beta2", Role::Result),
    setting("eps", "optimizer", "eps", Role::Result),
    setting("amsgrad", "optimizer", "amsgrad", Role::Result),
    setting("kernel", "optimizer", "kernel", Role::Runtime),
    setting("schedule", "schedule", "kind", Role::Result),
    setting("step_every", "schedule", "step_every", Role::Result),
    setting("step_gamma", "schedule", "step_gamma", Role::Result),
    setting("warmup_epochs", "schedule", "warmup_epochs", Role::Result),
    setting("epochs", "training", "epochs", Role::Length),
    setting("max_steps", "training", "max_steps", Role::Length),
    naming("seed", "training", "seed", |c| {
        Some(format!("_s{}", c.training.seed))
    }),
    naming("loss_mult", "training", "loss_mult", |c| {
        let m = c.training.loss_mult;
        (m != 1.0).then(|| format!("_lm{m}"))
    }),
    // Float32, the default, adds nothing: the names of runs made before the setting stay.
    naming("precision", "training", "precision", |c| {
        let p = c.training.precision;
        (p != super::Precision::Fp32).then(|| format!("_{}", p.name()))
    }),
    setting("eval_every", "training", "eval_every", Role::Logging),
    setting("hist_every", "training", "hist_every", Role::Logging),
    naming("grad_factors", "training", "grad_factors", |c| {
        let factors = &c.training.grad_factors;
        (!factors.is_none()).then(|| format!("_gf-{}", factors.slug()))
    }),
    setting("factor_seed", "training", "factor_seed", Role::Result),
    setting("device", "runtime", "device", Role::Runtime),
    setting("threads", "runtime", "threads", Role::Runtime),
    setting("layout", "runtime", "layout", Role::Runtime),
    setting("out", "runtime", "out", Role::Placement),
    setting("name", "runtime", "name", Role::Placement),
];

/// The row of a canonical flat name.
pub fn get(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// The role of a canonical flat name.
pub fn role(key: &str) -> Role {
    get(key).map_or(Role::Result, |s| s.role)
}

/// The flat names of the settings with a role among `roles`, in the table's order.
pub fn keys_with(roles: &[Role]) -> Vec<&'static str> {
    SETTINGS
        .iter()
        .filter(|s| roles.contains(&s.role))
        .map(|s| s.key)
        .collect()
}

/// Other spellings accepted in files and grids. λ is `wd` as a flag and a flat key (the
/// name run names and experiment files have always used) and `optimizer.weight_decay` in
/// `config.json`, the optim crate's own field.
const ALIASES: [(&str, &str); 1] = [("weight_decay", "wd")];

pub const SECTIONS: [&str; 6] = [
    "data",
    "model",
    "optimizer",
    "schedule",
    "training",
    "runtime",
];

/// The canonical flat name of `key` (a flat name, an alias, or `section.field`).
pub fn canonical(key: &str) -> Result<&'static str> {
    let key = ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key, |(_, name)| name);
    if let Some(setting) = get(key) {
        return Ok(setting.key);
    }
    if let Some((section, field)) = key.split_once('.') {
        if let Some(s) = SETTINGS
            .iter()
            .find(|s| s.section == section && s.field == field)
        {
            return Ok(s.key);
        }
    }
    bail!(
        "unknown field `{key}`; valid: {}",
        SETTINGS
            .iter()
            .map(|s| s.key)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A file written with sections has only section names at the top, each holding an
/// object; anything else is the flat form (run files written before the sections, and
/// users' own run files).
pub fn is_sectioned(map: &Map<String, Value>) -> bool {
    !map.is_empty()
        && map
            .iter()
            .all(|(k, v)| SECTIONS.contains(&k.as_str()) && v.is_object())
}

/// Refuses a file with both forms at the top: a section name holding an object beside
/// flat keys (`{"lr": 2e-3, "optimizer": {"lr": 3e-3}}`), which read as flat would fail
/// later on the section's object as an unknown value, saying nothing of the mix.
fn refuse_mixed_forms(map: &Map<String, Value>) -> Result<()> {
    let (sections, flat): (Vec<&String>, Vec<&String>) = map
        .keys()
        .partition(|key| SECTIONS.contains(&key.as_str()) && map[key.as_str()].is_object());
    if sections.is_empty() || flat.is_empty() {
        return Ok(());
    }
    let quoted = |keys: &[&String]| {
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    bail!(
        "the run file mixes the two forms: {} at the top (flat), {} as sections; write every \
         setting flat ({{\"lr\": 0.001, \"optimizer\": \"adamw\"}}) or every one in its \
         section ({{\"optimizer\": {{\"lr\": 0.001, \"decay\": \"adamw\"}}}})",
        quoted(&flat),
        quoted(&sections)
    )
}

/// Any accepted form of a run file as flat settings with canonical names.
pub fn flatten(map: &Map<String, Value>) -> Result<Map<String, Value>> {
    refuse_mixed_forms(map)?;
    let mut flat = Map::new();
    if is_sectioned(map) {
        for (section, fields) in map {
            for (field, value) in fields.as_object().expect("checked by is_sectioned") {
                let key = canonical(&format!("{section}.{field}"))?;
                flat.insert(key.to_string(), value.clone());
            }
        }
    } else {
        for (key, value) in map {
            let canonical_key = canonical(key)?;
            if flat
                .insert(canonical_key.to_string(), value.clone())
                .is_some()
            {
                bail!("`{key}` is given twice (as `{canonical_key}` and an older spelling)");
            }
        }
    }
    Ok(flat)
}

/// Flat settings as sections (every key must be canonical).
pub fn nest(flat: &Map<String, Value>) -> Map<String, Value> {
    let mut nested = Map::new();
    for (key, value) in flat {
        let setting = get(key).expect("flat settings carry canonical names");
        nested
            .entry(setting.section.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("sections are objects")
            .insert(setting.field.to_string(), value.clone());
    }
    nested
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key_round_trips_between_flat_and_sectioned() {
        let flat: Map<String, Value> = SETTINGS
            .iter()
            .map(|s| (s.key.to_string(), json!(1)))
            .collect();
        let nested = nest(&flat);
        assert!(is_sectioned(&nested));
        assert_eq!(flatten(&nested).unwrap(), flat);
    }

    #[test]
    fn aliases_and_dotted_names_resolve_and_unknown_keys_are_named() {
        assert_eq!(canonical("weight_decay").unwrap(), "wd");
        assert_eq!(canonical("optimizer.weight_decay").unwrap(), "wd");
        assert_eq!(canonical("optimizer.eps").unwrap(), "eps");
        let err = canonical("learning_rate").unwrap_err().to_string();
        assert!(err.contains("`learning_rate`") && err.contains("batch_size"));
        let twice = json!({"wd": 1e-4, "weight_decay": 5e-5});
        assert!(flatten(twice.as_object().unwrap()).is_err());
    }

    #[test]
    fn a_file_mixing_flat_keys_and_sections_is_refused_naming_both() {
        let mixed = json!({"lr": 2e-3, "optimizer": {"lr": 3e-3}});
        let err = flatten(mixed.as_object().unwrap()).unwrap_err().to_string();
        assert!(
            err.contains("mixes the two forms")
                && err.contains("`lr`")
                && err.contains("`optimizer`"),
            "{err}"
        );
    }

    #[test]
    fn a_flat_file_with_a_model_name_is_not_mistaken_for_sections() {
        let flat = json!({"model": "resnet20", "optimizer": "adamw"});
        assert!(!is_sectioned(flat.as_object().unwrap()));
        let sectioned = json!({"model": {"name": "resnet20"}});
        assert!(is_sectioned(sectioned.as_object().unwrap()));
    }
}
