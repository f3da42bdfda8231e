//! The table of optimizers: one row per update rule of the optim crate, with what the
//! program shows of each of its names (display name, colour) and the help of the rule's
//! settings. Everything else derives from it: the `--optimizer` names, the rule
//! settings' flags and run-file keys ([`crate::config::keys`]), the colours and names of
//! figures, TensorBoard and report tables.
//!
//! Adding a rule to the crate (its file in `crates/optim/src/rules/`, one line in its
//! `FAMILIES`) and a row here is all it takes (`tests/optimizer_table.rs` checks that
//! every name of the crate has a row).
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// What the program shows of one optimizer name.
pub struct Shown {
    /// The crate's name (`adamw`): flags, files, run names.
    pub name: &'static str,
    /// The name in figures and tables (`AdamW`).
    pub display: &'static str,
    /// The colour of its lines and bars.
    pub color: (u8, u8, u8),
}

/// One rule: its names and the help of its settings (PyTorch's names).
pub struct Row {
    pub family: &'static str,
    pub names: &'static [Shown],
    /// `(key, help)` of each of the rule's settings; a key shared with an earlier row
    /// (`eps`, `momentum`, `beta1`) takes that row's help.
    pub settings: &'static [(&'static str, &'static str)],
}

const fn shown(name: &'static str, display: &'static str, color: (u8, u8, u8)) -> Shown {
    Shown {
        name,
        display,
        color,
    }
}

/// Every rule, in the order figures and tables list them.
pub const ROWS: &[Row] = &[
    Row {
        family: "adam",
        names: &[
            shown("adam-l2", "Adam-ℓ2", (31, 119, 180)),
            shown("adamw", "AdamW", (214, 39, 40)),
            shown("adam-prox", "AdamProx", (44, 160, 44)),
            shown("adam-l2-scalefree", "Adam-ℓ2 scale-free", (23, 190, 207)),
            shown(
                "adamw-not-scalefree",
                "AdamW not scale-free",
                (255, 127, 14),
            ),
        ],
        settings: &[
            (
                "beta1",
                "β1, the first moment's decay rate, in [0, 1) (Adam, Lion).",
            ),
            (
                "beta2",
                "β2, the second moment's decay rate, in [0, 1) (Adam, Lion).",
            ),
            (
                "eps",
                "ε, added to the root in the denominator; > 0 to train (Adam, RMSprop, Adagrad).",
            ),
            (
                "amsgrad",
                "AMSGrad (--amsgrad): the running maximum of v, then bias-corrected, as PyTorch.",
            ),
        ],
    },
    Row {
        family: "sgd",
        names: &[
            shown("sgd", "SGD", (127, 127, 127)),
            shown("sgdw", "SGDW", (90, 90, 90)),
            shown("sgd-prox", "SGD-prox", (170, 170, 170)),
        ],
        settings: &[
            ("momentum", "The momentum factor μ ≥ 0 (SGD, RMSprop)."),
            ("dampening", "SGD's dampening of the momentum, in [0, 1]."),
            (
                "nesterov",
                "SGD's Nesterov momentum (--nesterov; needs momentum > 0, dampening 0).",
            ),
        ],
    },
    Row {
        family: "lion",
        names: &[
            shown("lion", "Lion", (148, 103, 189)),
            shown("lion-l2", "Lion-ℓ2", (197, 176, 213)),
            shown("lion-prox", "LionProx", (103, 62, 140)),
        ],
        settings: &[("beta1", ""), ("beta2", "")],
    },
    Row {
        family: "rmsprop",
        names: &[
            shown("rmsprop", "RMSprop", (140, 86, 75)),
            shown("rmspropw", "RMSpropW", (196, 156, 148)),
            shown("rmsprop-prox", "RMSpropProx", (100, 60, 50)),
        ],
        settings: &[
            (
                "alpha",
                "RMSprop's α, the square average's decay rate, in [0, 1).",
            ),
            ("eps", ""),
            (
                "centered",
                "RMSprop centered (--centered): normalise by the variance estimate.",
            ),
            ("momentum", ""),
        ],
    },
    Row {
        family: "adagrad",
        names: &[
            shown("adagrad", "Adagrad", (188, 189, 34)),
            shown("adagradw", "AdagradW", (219, 219, 141)),
            shown("adagrad-prox", "AdagradProx", (140, 140, 20)),
        ],
        settings: &[
            (
                "lr_decay",
                "Adagrad's step-size decay with the step count, ≥ 0.",
            ),
            (
                "initial_accumulator_value",
                "Adagrad's starting sum of squares, ≥ 0.",
            ),
            ("eps", ""),
        ],
    },
];

/// Every name, in table order, with its row.
static NAMES: LazyLock<Vec<(&'static Shown, &'static Row)>> = LazyLock::new(|| {
    ROWS.iter()
        .flat_map(|row| row.names.iter().map(move |shown| (shown, row)))
        .collect()
});

/// One optimizer: a rule with a placement of the weight decay, by its place in the table
/// (so the paper's three sort first, in the order Adam-ℓ2, AdamW, AdamProx).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(u8);

impl Method {
    /// The paper's Adam-ℓ2.
    pub const ADAM_L2: Method = Method(0);
    /// The paper's AdamW.
    pub const ADAMW: Method = Method(1);
    /// The paper's AdamProx.
    pub const ADAM_PROX: Method = Method(2);
    /// Adam with the decay through the moments, made scale-free per tensor.
    pub const ADAM_L2_SCALEFREE: Method = Method(3);
    /// AdamW's decoupled decay divided by the tensor's gradient scale: not scale-free.
    pub const ADAMW_NOT_SCALEFREE: Method = Method(4);

    /// The paper's three, in its order: Adam-ℓ2, AdamW, AdamProx.
    pub const PAPER: [Method; 3] = [Method::ADAM_L2, Method::ADAMW, Method::ADAM_PROX];

    /// Every optimizer, in table order.
    pub fn all() -> impl Iterator<Item = Method> {
        (0..NAMES.len()).map(|i| Method(i as u8))
    }

    fn entry(self) -> (&'static Shown, &'static Row) {
        NAMES[self.0 as usize]
    }

    /// The name in flags, files and run names (`adamw`).
    pub fn name(self) -> &'static str {
        self.entry().0.name
    }

    /// The name in figures and tables (`AdamW`).
    pub fn display_name(self) -> &'static str {
        self.entry().0.display
    }

    /// The colour of its lines and bars.
    pub fn color(self) -> (u8, u8, u8) {
        self.entry().0.color
    }

    /// The rule's family (`adam`, `sgd`, …).
    pub fn family(self) -> &'static str {
        self.entry().1.family
    }

    /// The rule's setting keys.
    pub fn setting_keys(self) -> impl Iterator<Item = &'static str> {
        self.entry().1.settings.iter().map(|(key, _)| *key)
    }

    /// The crate's configuration of this optimizer with `lr` and `weight_decay`, the
    /// rule's settings at their defaults.
    pub fn config(self, lr: f64, weight_decay: f64) -> optim::OptimConfig {
        optim::OptimConfig::named(self.name(), lr, weight_decay)
            .expect("every name of the table is one of the crate's")
    }
}

impl From<optim::DecayMode> for Method {
    fn from(decay: optim::DecayMode) -> Method {
        match decay {
            optim::DecayMode::L2 => Method::ADAM_L2,
            optim::DecayMode::Decoupled => Method::ADAMW,
            optim::DecayMode::Proximal => Method::ADAM_PROX,
        }
    }
}

impl Method {
    /// The paper's three as the crate's `DecayMode` (for `AdamConfig`); `None` for the
    /// others.
    pub fn decay_mode(self) -> Option<optim::DecayMode> {
        optim::DecayMode::ALL
            .into_iter()
            .find(|d| Method::from(*d) == self)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Method::all().find(|m| m.name() == s).ok_or_else(|| {
            let valid: Vec<&str> = Method::all().map(Method::name).collect();
            format!("unknown optimizer `{s}`; valid: {}", valid.join(", "))
        })
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// One setting of some rule, as the settings table shows it.
pub struct RuleSetting {
    pub key: &'static str,
    pub help: &'static str,
    /// A switch (`--amsgrad`/`--no-amsgrad`) rather than a number.
    pub switch: bool,
    /// Each rule that has it, with its default there (`adam 1e-8, rmsprop 1e-8`).
    pub defaults: String,
}

/// Every rule setting once, in table order.
pub static RULE_SETTINGS: LazyLock<Vec<RuleSetting>> = LazyLock::new(|| {
    let mut settings: Vec<RuleSetting> = Vec::new();
    for row in ROWS {
        let rule = optim::rules::family(row.family)
            .map(|f| (f.new)())
            .expect("every row is one of the crate's rules");
        for (key, help) in row.settings {
            let value = rule
                .settings()
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("the {} rule has no setting {key}", row.family));
            let default = format!("{} {value}", row.family);
            match settings.iter_mut().find(|s| s.key == *key) {
                Some(known) => known.defaults = format!("{}, {default}", known.defaults),
                None => settings.push(RuleSetting {
                    key,
                    help,
                    switch: matches!(value, optim::Setting::Flag(_)),
                    defaults: default,
                }),
            }
        }
    }
    settings
});

/// docs/optimizers.md's table: every optimizer with its rule settings, its placement and
/// the exact invariance test's verdicts (computed by the crate's `invariance`, about
/// half a second).
pub fn markdown_table() -> Result<String, optim::OptimError> {
    let yes_no = |m: optim::invariance::Measurement| if m.invariant { "yes" } else { "no" };
    let mut text = String::from(
        "| `--optimizer` | shown as | rule settings | scale-free: per coordinate / per tensor / \
         factors changing every step | what it is |\n|---|---|---|---|---|\n",
    );
    for method in Method::all() {
        let measured = optim::invariance::measure(method.name())?;
        let summary = optim::rules::find(method.name()).map_or("", |(_, n)| n.summary);
        let keys: Vec<String> = method.setting_keys().map(|k| format!("`{k}`")).collect();
        text.push_str(&format!(
            "| `{}` | {} | {} | {} / {} / {} | {} |\n",
            method.name(),
            method.display_name(),
            if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            },
            yes_no(measured.per_coordinate),
            yes_no(measured.per_tensor),
            yes_no(measured.time_varying),
            summary,
        ));
    }
    Ok(text)
}
