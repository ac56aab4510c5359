//! The validated plan: what every later stage (planner, dry-run, engine) works from.

use jiff::tz::TimeZone;
use serde::Serialize;

use super::grammar::{Email, PlanDuration, StepName};
use super::{ChangeControl, Gate, NotifyChannel, Precheck, Step, TargetSpec};

/// A plan that passed validation. Only [`validate`](super::validate) can build one (it alone
/// holds a [`Validated`] token), so nothing downstream can see raw input.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    pub(crate) name: StepName,
    pub(crate) description: String,
    pub(crate) target: TargetSpec,
    pub(crate) from: FromConfig,
    pub(crate) to: ToConfig,
    /// The default gate, before pilot and batch overrides (each step holds its merged gate).
    pub(crate) gate: Gate,
    pub(crate) pilot: Option<Step>,
    pub(crate) batches: Vec<Step>,
    pub(crate) disconnect: Disconnect,
    // Left out of the canonical form when absent, so plans without it keep their digests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) precheck: Option<Precheck>,
    /// Where events are sent. Not part of the canonical form: a channel is not what a change
    /// board approves, and editing one mid-rollout is no edit of the rollout.
    #[serde(skip)]
    pub(crate) notify: Vec<NotifyChannel>,
    /// `[change_control]`. Part of the canonical form once a rule is on (what a change board
    /// approves includes how it is enforced); left out while none is, so digests stay put.
    #[serde(skip_serializing_if = "ChangeControl::is_default")]
    pub(crate) change_control: ChangeControl,
    #[serde(skip)]
    pub(crate) _validated: Validated,
}

impl Plan {
    /// The zone the plan's times are shown in: its first window's zone, else the offset of its
    /// first `not_before`, else UTC.
    pub(crate) fn display_zone(&self) -> TimeZone {
        let steps = || self.pilot.iter().chain(&self.batches);
        if let Some(window) = steps().find_map(|s| s.window.as_ref()) {
            return window.zone().clone();
        }
        if let Some(start) = steps().find_map(|s| s.not_before) {
            return TimeZone::fixed(start.offset());
        }
        TimeZone::UTC
    }

    /// An instant as RFC 3339 with the offset of the plan's zone, as schedulers are told it.
    pub(crate) fn time(&self, at: jiff::Timestamp) -> String {
        at.to_zoned_datetime(self.display_zone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }
}

/// Proof that a value came out of validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validated(pub(super) ());

/// The configuration being retired.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FromConfig {
    pub(crate) display_name: String,
}

/// The configuration being introduced.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ToConfig {
    pub(crate) display_name: String,
    pub(crate) tenant_id: String,
    pub(crate) exchange_version: Option<String>,
    pub(crate) service_address: Option<String>,
    pub(crate) service_account: Option<Email>,
}

/// The final disconnect of `from`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Disconnect {
    pub(crate) after: PlanDuration,
    pub(crate) approval: bool,
}
