//! `[change_control]`: the change-management rules a run must meet before it touches anything.
//!
//! Enforcing them is the command line's (`apply` checks the plan's git state first); this only
//! says what the plan asks for.

use serde::Serialize;

/// The plan's change-control rules, every one off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ChangeControl {
    /// Run only a plan whose file (and CSV user files) are committed to git and unchanged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) require_clean_git: bool,
}

impl ChangeControl {
    /// No rule is on: left out of the plan's canonical form, so plans without the table keep
    /// their digests.
    pub(crate) fn is_default(&self) -> bool {
        *self == Self::default()
    }
}
