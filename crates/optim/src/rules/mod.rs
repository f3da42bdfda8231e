//! The update rules, and the table of every optimizer by name.
//!
//! Adding a rule: its file here (a struct of its settings implementing
//! [`crate::UpdateRule`], a `NAMES` table of its placements, and a `new` with PyTorch's
//! defaults) and one line in [`FAMILIES`].
mod adagrad;
mod adam;
mod lion;
mod rmsprop;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::Adam;
pub use lion::Lion;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use crate::rule::{Placement, UpdateRule};

/// One optimizer by name: a rule family at its default settings with a placement.
#[derive(Clone, Copy, Debug)]
pub struct Named {
    /// The name in files, flags and run names: `adamw`, `sgd`, …
    pub name: &'static str,
    /// Where the decay enters.
    pub placement: Placement,
    /// One line for help texts and documentation.
    pub summary: &'static str,
}

/// A rule family: its names and its default settings.
#[derive(Clone, Copy)]
pub struct Family {
    /// The rule at PyTorch's default settings.
    pub new: fn() -> Box<dyn UpdateRule>,
    /// Its placements by name.
    pub names: &'static [Named],
}

/// Every rule family. Adding a rule adds one line here.
pub const FAMILIES: &[Family] = &[
    Family {
        new: adam::new,
        names: adam::NAMES,
    },
    Family {
        new: sgd::new,
        names: sgd::NAMES,
    },
    Family {
        new: lion::new,
        names: lion::NAMES,
    },
    Family {
        new: rmsprop::new,
        names: rmsprop::NAMES,
    },
    Family {
        new: adagrad::new,
        names: adagrad::NAMES,
    },
];

/// Every optimizer's name, family by family.
pub fn names() -> impl Iterator<Item = &'static Named> {
    FAMILIES.iter().flat_map(|f| f.names.iter())
}

/// The family and placement called `name`.
pub fn find(name: &str) -> Option<(&'static Family, &'static Named)> {
    FAMILIES
        .iter()
        .find_map(|f| f.names.iter().find(|n| n.name == name).map(|n| (f, n)))
}

/// The family whose rules call themselves `family` (`adam`, `sgd`, …).
pub fn family(family: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| (f.new)().family() == family)
}

/// The name of `placement` in `family`, if the family offers it.
pub fn name_of(family: &str, placement: Placement) -> Option<&'static str> {
    self::family(family)?
        .names
        .iter()
        .find(|n| n.placement == placement)
        .map(|n| n.name)
}
