//! Verification gates: when a step's switch counts as proven.

use serde::Serialize;

use super::grammar::{PlanDuration, Share};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Gate {
    pub(crate) soak: PlanDuration,
    pub(crate) timeout: PlanDuration,
    pub(crate) max_errors: Threshold,
    pub(crate) on_failure: OnFailure,
    pub(crate) count_preexisting: bool,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            soak: PlanDuration::ZERO,
            timeout: PlanDuration::from_seconds(3_600),
            max_errors: Threshold::Count(0),
            on_failure: OnFailure::Halt,
            count_preexisting: false,
        }
    }
}

impl Threshold {
    /// The number of failing users tolerated in a step of `users` users.
    pub(crate) fn allowed(self, users: u64) -> u64 {
        match self {
            Threshold::Count(n) => n,
            Threshold::Share(share) => share.of(users),
        }
    }
}

/// `max_errors`: how many failing users a gate tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum Threshold {
    Count(u64),
    Share(Share),
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Threshold::Count(n) => write!(f, "{n}"),
            Threshold::Share(share) => write!(f, "{share}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OnFailure {
    /// Failing users get `from` back beside `to`; the run stops.
    Halt,
    /// Every user of the step goes back to `from` alone; the run stops.
    Rollback,
}
