//! The flags of the optimizers' own settings (`--beta1`, `--momentum`, `--nesterov`, …),
//! made from the table of optimizers rather than written out, so that a new rule's
//! settings get their flags from its row ([`crate::optimizers`]). Numbers take a value;
//! switches come as `--x` / `--no-x`. Their help is the settings table's, like every flag.
use crate::config::flag_values::finite;
use crate::optimizers::RULE_SETTINGS;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Per setting: its key (the argument's id), `--key`, and for a switch the id and flag
/// of its `--no-` form. Kept in a static so that clap can borrow the names.
struct Names {
    key: &'static str,
    long: String,
    value_name: String,
    off: Option<(String, String)>,
}

static NAMES: LazyLock<Vec<Names>> = LazyLock::new(|| {
    RULE_SETTINGS
        .iter()
        .map(|s| {
            let long = s.key.replace('_', "-");
            Names {
                key: s.key,
                off: s
                    .switch
                    .then(|| (format!("no_{}", s.key), format!("no-{long}"))),
                value_name: s.key.to_uppercase(),
                long,
            }
        })
        .collect()
});

/// The rule settings given on the command line, under their flat keys.
#[derive(Clone, Debug, Default)]
pub struct RuleFlags(pub Map<String, Value>);

impl Serialize for RuleFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl FromArgMatches for RuleFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Map::new();
        for names in NAMES.iter() {
            match &names.off {
                Some((off, _)) => {
                    if matches.get_flag(names.key) || matches.get_flag(off) {
                        given.insert(names.key.into(), Value::Bool(matches.get_flag(names.key)));
                    }
                }
                None => {
                    if let Some(value) = matches.get_one::<f64>(names.key) {
                        given.insert(names.key.into(), serde_json::json!(value));
                    }
                }
            }
        }
        Ok(RuleFlags(given))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for RuleFlags {
    fn augment_args(command: Command) -> Command {
        NAMES
            .iter()
            .fold(command, |command, names| match &names.off {
                Some((off, off_long)) => command
                    .arg(
                        Arg::new(names.key)
                            .long(names.long.as_str())
                            .action(ArgAction::SetTrue)
                            .conflicts_with(off.as_str()),
                    )
                    .arg(
                        Arg::new(off.as_str())
                            .long(off_long.as_str())
                            .action(ArgAction::SetTrue)
                            .help(format!(
                                "Turns --{} off (over a run file that sets it).",
                                names.long
                            )),
                    ),
                None => command.arg(
                    Arg::new(names.key)
                        .long(names.long.as_str())
                        .value_name(names.value_name.as_str())
                        .allow_hyphen_values(true)
                        .value_parser(finite),
                ),
            })
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}
