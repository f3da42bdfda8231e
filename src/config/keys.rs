//! The run configuration's key space. On the command line, in experiment grids, in run
//! files and in `config.json` every setting has one flat name (`lr`, `batch_size`); in the
//! code (and in run files written in sections) it lives in a section (`optimizer.lr`,
//! `data.batch_size`). This table is the one place that maps the two, so any setting can
//! be given as a flag, swept in a grid, or written either way.
use anyhow::{bail, Result};
use serde_json::{Map, Value};

/// (flat name, section, field in the section). The flat name is the flag without `--`.
pub const KEYS: [(&str, &str, &str); 30] = [
    ("dataset", "data", "dataset"),
    ("data", "data", "path"),
    ("train_subset", "data", "train_subset"),
    ("val_fraction", "data", "val_fraction"),
    ("batch_size", "data", "batch_size"),
    ("model", "model", "name"),
    ("bn", "model", "bn"),
    ("optimizer", "optimizer", "decay"),
    ("lr", "optimizer", "lr"),
    ("wd", "optimizer", "weight_decay"),
    ("beta1", "optimizer", "beta1"),
    ("beta2", "optimizer", "beta2"),
    ("eps", "optimizer", "eps"),
    ("amsgrad", "optimizer", "amsgrad"),
    ("kernel", "optimizer", "kernel"),
    ("schedule", "schedule", "kind"),
    ("step_every", "schedule", "step_every"),
    ("step_gamma", "schedule", "step_gamma"),
    ("warmup_epochs", "schedule", "warmup_epochs"),
    ("epochs", "training", "epochs"),
    ("max_steps", "training", "max_steps"),
    ("loss_mult", "training", "loss_mult"),
    ("seed", "training", "seed"),
    ("eval_every", "training", "eval_every"),
    ("hist_every", "training", "hist_every"),
    ("grad_factors", "training", "grad_factors"),
    ("factor_seed", "training", "factor_seed"),
    ("device", "runtime", "device"),
    ("threads", "runtime", "threads"),
    ("layout", "runtime", "layout"),
];

/// Where a run's files go: not part of what defines the run, but settable like the rest.
pub const PLACEMENT_KEYS: [(&str, &str, &str); 2] =
    [("out", "runtime", "out"), ("name", "runtime", "name")];

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

fn all_keys() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    KEYS.iter().chain(PLACEMENT_KEYS.iter())
}

/// The canonical flat name of `key` (a flat name, an alias, or `section.field`).
pub fn canonical(key: &str) -> Result<&'static str> {
    let key = ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key, |(_, name)| name);
    if let Some((flat, ..)) = all_keys().find(|(flat, ..)| *flat == key) {
        return Ok(flat);
    }
    if let Some((section, field)) = key.split_once('.') {
        if let Some((flat, ..)) = all_keys().find(|(_, s, f)| *s == section && *f == field) {
            return Ok(flat);
        }
    }
    bail!(
        "unknown field `{key}`; valid: {}",
        all_keys()
            .map(|(flat, ..)| *flat)
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

/// Any accepted form of a run file as flat settings with canonical names.
pub fn flatten(map: &Map<String, Value>) -> Result<Map<String, Value>> {
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
        let (_, section, field) = all_keys()
            .find(|(f, ..)| f == key)
            .expect("flat settings carry canonical names");
        nested
            .entry(section.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("sections are objects")
            .insert(field.to_string(), value.clone());
    }
    nested
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key_round_trips_between_flat_and_sectioned() {
        let flat: Map<String, Value> = all_keys()
            .map(|(k, ..)| (k.to_string(), json!(1)))
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
    fn a_flat_file_with_a_model_name_is_not_mistaken_for_sections() {
        let flat = json!({"model": "resnet20", "optimizer": "adamw"});
        assert!(!is_sectioned(flat.as_object().unwrap()));
        let sectioned = json!({"model": {"name": "resnet20"}});
        assert!(is_sectioned(sectioned.as_object().unwrap()));
    }
}
