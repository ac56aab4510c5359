//! A step that moves users: the pilot or one batch.

use std::num::NonZeroU32;

use serde::Serialize;

use super::grammar::{StartTime, StepName, Window};
use super::{Gate, Selector};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StepKind {
    Pilot,
    Batch,
}

/// The pilot or a batch, with its gate already merged over the plan's default gate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Step {
    /// `pilot` for the pilot; the batch's name otherwise.
    pub(crate) name: StepName,
    pub(crate) kind: StepKind,
    pub(crate) users: Selector,
    pub(crate) approval: bool,
    pub(crate) not_before: Option<StartTime>,
    pub(crate) window: Option<Window>,
    pub(crate) max_size: Option<NonZeroU32>,
    pub(crate) gate: Gate,
}
