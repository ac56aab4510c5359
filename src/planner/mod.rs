//! The planner: one pure function from (validated plan, observed platform, stored run state,
//! now) to the ordered steps of the rollout, each with the reason for its status.
//!
//! `cutover plan` renders what it returns; `cutover apply` executes it. Nothing here does I/O
//! or reads a clock, so the same inputs always give the same schedule.

mod digest;
mod finding;
mod membership;
mod planner;
mod schedule;
mod timeline;

pub(crate) use digest::digest;
pub(crate) use finding::{Finding, Severity};
pub(crate) use planner::plan;
pub(crate) use schedule::{
    Member, MemberState, MoveDetail, PlannedStep, Schedule, StepDetail, StepStatus, WaitReason,
};
