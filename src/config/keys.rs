//! The run configuration's settings, in one table: every other place a setting shows is
//! derived from its row. On the command line, in experiment grids, in run files and in
//! `config.json` every setting has one flat name (`lr`, `batch_size`); in the code (and in
//! run files written in sections) it lives in a section (`optimizer.lr`,
//! `data.batch_size`). Each row also holds its default (from which
//! [`RunConfig::default`] is built), its help (what `scalefree train --help` and
//! docs/training.md say of it, with the default), what the setting is to a run (its
//! [`Role`]) and how it shows in a derived run name: resume checks, sweep staleness
//! ([`super::compare`]), run names and `--print-config` all read this table, so a new
//! setting is one row.
use super::RunConfig;
use crate::optimizers::{RuleSetting, RULE_SETTINGS};
use anyhow::{bail, Result};
use serde_json::{Map, Value};
use std::sync::LazyLock;

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

impl Role {
    /// The role in a word, as docs/training.md's table gives it.
    pub fn word(self) -> &'static str {
        match self {
            Role::Result => "result",
            Role::Length => "length",
            Role::Placement => "placement",
            Role::Runtime => "runtime",
            Role::Logging => "logging",
        }
    }
}

/// A run's derived name part for one setting: `None` leaves the setting out of the name.
type NamePart = fn(&RunConfig) -> Option<String>;

/// One setting of a run.
pub struct Setting {
    /// The flat name: the flag without `--` (`_` as `-`), the key of grids and `config.json`.
    pub key: &'static str,
    pub section: &'static str,
    pub field: &'static str,
    pub role: Role,
    /// The default, as the JSON value a run file would hold (`null`: not set).
    pub default: &'static str,
    /// The default in words, where the value alone would not say it (`null` defaults).
    pub default_words: Option<&'static str>,
    /// What the setting is: the help of its flag and its line in docs/training.md.
    pub help: &'static str,
    /// Whether `scalefree train` has a flag for it (else only run files and grids set it).
    pub has_flag: bool,
    /// Its part of [`RunConfig::derived_name`], for the settings that name the runs of the
    /// paper's grids; other settings a grid sweeps are added to names as `_<key><value>`.
    pub name_part: Option<NamePart>,
}

impl Setting {
    const fn new(
        key: &'static str,
        section_field: (&'static str, &'static str),
        role: Role,
        default: &'static str,
        help: &'static str,
    ) -> Setting {
        Setting {
            key,
            section: section_field.0,
            field: section_field.1,
            role,
            default,
            default_words: None,
            help,
            has_flag: true,
            name_part: None,
        }
    }

    /// A setting that names the runs of the paper's grids (and so defines the result).
    const fn naming(mut self, name_part: NamePart) -> Setting {
        self.name_part = Some(name_part);
        self
    }

    /// The default said in words (for a `null` default).
    const fn default_words(mut self, words: &'static str) -> Setting {
        self.default_words = Some(words);
        self
    }

    /// A setting of run files and grids only, with no flag.
    const fn file_only(mut self) -> Setting {
        self.has_flag = false;
        self
    }

    /// The flag: `--batch-size` for `batch_size`.
    pub fn flag(&self) -> String {
        format!("--{}", self.key.replace('_', "-"))
    }

    /// The default as a JSON value.
    pub fn default_value(&self) -> Value {
        serde_json::from_str(self.default).expect("the table's defaults are JSON")
    }

    /// The default as help and docs say it: the words, else the value (a string unquoted).
    pub fn default_text(&self) -> String {
        if let Some(words) = self.default_words {
            return words.to_string();
        }
        match self.default_value() {
            Value::String(text) => text,
            other => other.to_string(),
        }
    }

    /// The flag's help: what it is, then its default.
    pub fn help_with_default(&self) -> String {
        format!("{} [default: {}]", self.help, self.default_text())
    }
}

use Role::{Length, Logging, Placement, Result as Defines, Runtime};

/// Every setting. The naming rows are in the order their parts make a run's name
/// (`resnet20-nobn_adamw_lr0.001_wd0.00005_s0`).
/// The rule settings (`beta1`, `momentum`, …) come from the table of optimizers
/// ([`crate::optimizers`]) and follow `wd`.
pub static SETTINGS: LazyLock<Vec<Setting>> = LazyLock::new(|| {
    let mut settings: Vec<Setting> = FIXED.into_iter().collect();
    let after_wd = settings
        .iter()
        .position(|s| s.key == "wd")
        .expect("wd has a row")
        + 1;
    let rule_rows = RULE_SETTINGS.iter().map(rule_row);
    settings.splice(after_wd..after_wd, rule_rows);
    settings
});

/// A row for one rule setting: the default optimizer's value where its rule has the
/// setting (what a run that leaves it out records), else null; in words, every rule's.
fn rule_row(rule: &RuleSetting) -> Setting {
    // Rows hold `&'static str`: the few generated strings live as long as the program.
    let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
    let optimizer = FIXED.iter().find(|s| s.key == "optimizer").expect("a row");
    let default_name: String = serde_json::from_str(optimizer.default).expect("a name");
    let default = optim::OptimConfig::named(&default_name, 1e-3, 0.0)
        .expect("the default optimizer is the crate's")
        .rule
        .settings()
        .into_iter()
        .find(|(key, _)| *key == rule.key)
        .map_or("null".to_string(), |(_, value)| value.to_string());
    Setting {
        key: rule.key,
        section: "optimizer",
        field: rule.key,
        role: Defines,
        default: leak(default),
        default_words: Some(leak(format!("the rule's ({})", rule.defaults))),
        help: rule.help,
        has_flag: true,
        name_part: None,
    }
}

const FIXED: [Setting; 29] = [
    Setting::new(
        "dataset",
        ("data", "dataset"),
        Defines,
        r#""cifar10""#,
        "The dataset: cifar10 or cifar100.",
    ),
    Setting::new(
        "data",
        ("data", "path"),
        Defines,
        "null",
        "Where the dataset is: its official directory or .tar.gz, or an image-folder \
         directory or .tar.gz.",
    )
    .default_words("data/<dataset>, where `make data` puts it"),
    Setting::new(
        "train_subset",
        ("data", "train_subset"),
        Defines,
        "null",
        "Train on the first N training images after a seeded shuffle.",
    )
    .default_words("the whole training set"),
    Setting::new(
        "val_fraction",
        ("data", "val_fraction"),
        Defines,
        "0.0",
        "Hold out this fraction of the training set and evaluate on it instead of the test \
         set; in [0, 1).",
    ),
    Setting::new(
        "batch_size",
        ("data", "batch_size"),
        Defines,
        "128",
        "Images per batch.",
    ),
    Setting::new(
        "model",
        ("model", "name"),
        Defines,
        r#""resnet20""#,
        "The network: any resnet<6n+2> (resnet20, resnet56, resnet110, …) or \
         densenet<6n+4> (densenet100, …).",
    )
    .naming(|c| Some(c.model.name.clone())),
    Setting::new(
        "bn",
        ("model", "bn"),
        Defines,
        "false",
        "With batch norm (--bn) or without (--no-bn).",
    )
    .naming(|c| Some(if c.model.bn { "-bn" } else { "-nobn" }.into()))
    .default_words("without (--no-bn)"),
    Setting::new(
        "optimizer",
        ("optimizer", "decay"),
        Defines,
        r#""adamw""#,
        "The optimizer: a rule and where the weight decay enters; the paper's adam-l2 \
         (added to the gradient), adamw (decoupled), adam-prox (proximal), and adam-l2-scalefree, \
         adamw-not-scalefree, sgd, sgdw, sgd-prox, lion, lion-l2, lion-prox, rmsprop, rmspropw, \
         rmsprop-prox, adagrad, adagradw, adagrad-prox (docs/optimizers.md).",
    )
    .naming(|c| Some(format!("_{}", c.optimizer.method))),
    Setting::new(
        "lr",
        ("optimizer", "lr"),
        Defines,
        "0.001",
        "The initial step size η_0.",
    )
    .naming(|c| Some(format!("_lr{}", c.optimizer.lr))),
    Setting::new(
        "wd",
        ("optimizer", "weight_decay"),
        Defines,
        "5e-5",
        "The weight decay λ as in the paper: the decoupled and proximal decays (adamw, \
         adam-prox, sgdw, lion, …) remove λ·η_t/η_0 per step (PyTorch's AdamW weight_decay is \
         λ/η_0), ℓ2 (adam-l2, sgd, …) adds λ·x to the gradient; docs/optimizers.md gives each \
         optimizer's units.",
    )
    .naming(|c| Some(format!("_wd{}", c.optimizer.weight_decay))),
    Setting::new(
        "kernel",
        ("optimizer", "kernel"),
        Runtime,
        r#""auto""#,
        "The optimizer's implementation, for tests and benchmarks: auto (the single-pass CPU \
         kernel on the CPU) or tensor-ops; both compute the same rule.",
    )
    .file_only(),
    Setting::new(
        "schedule",
        ("schedule", "kind"),
        Defines,
        r#""constant""#,
        "The step-size schedule: constant, cosine, step or warmup-cosine.",
    ),
    Setting::new(
        "step_every",
        ("schedule", "step_every"),
        Defines,
        "100",
        "The step schedule: epochs between decays.",
    ),
    Setting::new(
        "step_gamma",
        ("schedule", "step_gamma"),
        Defines,
        "0.1",
        "The step schedule: the factor of each decay.",
    ),
    Setting::new(
        "warmup_epochs",
        ("schedule", "warmup_epochs"),
        Defines,
        "5",
        "warmup-cosine: epochs of linear warm-up.",
    ),
    Setting::new(
        "epochs",
        ("training", "epochs"),
        Length,
        "300",
        "Epochs to train.",
    ),
    Setting::new(
        "max_steps",
        ("training", "max_steps"),
        Length,
        "null",
        "Stop after N optimizer steps (smoke tests, benchmarks).",
    )
    .default_words("no limit"),
    Setting::new(
        "seed",
        ("training", "seed"),
        Defines,
        "0",
        "Seeds the initial weights, the data order and the augmentation.",
    )
    .naming(|c| Some(format!("_s{}", c.training.seed))),
    Setting::new(
        "loss_mult",
        ("training", "loss_mult"),
        Defines,
        "1.0",
        "Multiply the loss the gradients see by this (reported losses are divided back).",
    )
    .naming(|c| {
        let m = c.training.loss_mult;
        (m != 1.0).then(|| format!("_lm{m}"))
    }),
    // Float32, the default, adds nothing: the names of runs made before the setting stay.
    Setting::new(
        "precision",
        ("training", "precision"),
        Defines,
        r#""fp32""#,
        "Convolutions and matrix products in fp32, bf16 (CPU or CUDA) or f16 (CUDA, with \
         dynamic loss scaling); weights, optimizer state, loss and logs stay float32.",
    )
    .naming(|c| {
        let p = c.training.precision;
        (p != super::Precision::Fp32).then(|| format!("_{}", p.name()))
    }),
    Setting::new(
        "eval_every",
        ("training", "eval_every"),
        Logging,
        "1",
        "Evaluate every N epochs and after the last step (0: never, for benchmarks).",
    ),
    Setting::new(
        "hist_every",
        ("training", "hist_every"),
        Logging,
        "1000",
        "Log gradient-scale histograms every N steps and at step 1 (0: never).",
    ),
    Setting::new(
        "grad_factors",
        ("training", "grad_factors"),
        Defines,
        r#""none""#,
        "Fixed per-layer factors on the gradients (claim 4's intervention): none, spread:D \
         (c = 10^(D·U(−1,1)) per layer), equalize (1/rms of each layer's first gradient) \
         or a JSON file {\"layer\": factor}.",
    )
    .naming(|c| {
        let factors = &c.training.grad_factors;
        (!factors.is_none()).then(|| format!("_gf-{}", factors.slug()))
    }),
    Setting::new(
        "factor_seed",
        ("training", "factor_seed"),
        Defines,
        "0",
        "Seeds spread:D's draw, apart from --seed.",
    ),
    Setting::new(
        "device",
        ("runtime", "device"),
        Runtime,
        r#""auto""#,
        "cpu, cuda, cuda:N or auto (CUDA when available).",
    ),
    Setting::new(
        "threads",
        ("runtime", "threads"),
        Runtime,
        "null",
        "CPU threads (libtorch and the data pipeline).",
    )
    .default_words("libtorch's default, one per core"),
    Setting::new(
        "layout",
        ("runtime", "layout"),
        Runtime,
        r#""auto""#,
        "The activations' memory layout: auto (channels-last on the CPU, NCHW on CUDA), \
         nchw or channels-last.",
    ),
    Setting::new(
        "out",
        ("runtime", "out"),
        Placement,
        "null",
        "The run directory.",
    )
    .default_words("runs/<name>"),
    Setting::new(
        "name",
        ("runtime", "name"),
        Placement,
        "null",
        "The run's name: letters, digits and . _ - + =.",
    )
    .default_words("derived from the settings, e.g. resnet20-nobn_adamw_lr0.001_wd0.00005_s0"),
];

/// The table as docs/training.md shows it: a Markdown table, one row per setting.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| flag | run file | default | role | what |\n|---|---|---|---|---|\n");
    for s in SETTINGS.iter() {
        let flag = match s.key {
            _ if !s.has_flag => "(run file only)".to_string(),
            "bn" | "amsgrad" => format!("`{}`, `--no-{}`", s.flag(), s.key),
            _ => format!("`{}`", s.flag()),
        };
        // Markdown would read `<dataset>` as an HTML tag and `|` as a column.
        let cell = |text: &str| {
            text.replace('|', "\\|")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        out.push_str(&format!(
            "| {flag} | `{}` (`{}.{}`) | {} | {} | {} |\n",
            s.key,
            s.section,
            s.field,
            cell(&s.default_text()),
            s.role.word(),
            cell(s.help)
        ));
    }
    out
}

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
         setting flat ({FLAT_EXAMPLE}) or every one in its section ({SECTIONED_EXAMPLE})",
        quoted(&flat),
        quoted(&sections)
    )
}

/// The two forms of a run file, as the refusal of a mix shows them.
const FLAT_EXAMPLE: &str = r#"{"lr": 0.001, "optimizer": "adamw"}"#;
const SECTIONED_EXAMPLE: &str = r#"{"optimizer": {"lr": 0.001, "decay": "adamw"}}"#;

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
