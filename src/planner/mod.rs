//! The planner: one pure function from (validated plan, observed platform, stored run state,
//! now) to the ordered steps of the rollout, each with the reason for its status.
//!
//! `cutover plan` renders what it returns; `cutover apply` executes it. Nothing here does I/O
//! or reads a clock, so the same inputs always give the same schedule.

mod action;
mod approvals;
mod change_control;
mod connect;
mod digest;
mod disconnect;
mod edits;
mod ews_retirement;
mod exceptions;
mod finding;
mod gate;
mod membership;
mod memo;
mod overlap_note;
mod phase;
mod planner;
mod precheck_verdicts;
mod preflight;
mod readiness;
mod schedule;
mod timeline;
mod waves;

pub(crate) use action::{Action, Side, refused_write};
pub(crate) use approvals::{
    PLAN_STEP, Standing as ApprovalStanding, approved, digest_approval, plan_approval, plan_digest,
    standing as approval_standing, step_digest, wait_detail as approval_wait_detail,
};
pub(crate) use change_control::{enforce, requesters};
pub(crate) use digest::Snapshot;
pub(crate) use edits::{edits, step_definitions};
pub(crate) use finding::{Finding, Severity};
pub(crate) use gate::GateReading;
pub(crate) use memo::Memo;
pub(crate) use planner::{Inputs, plan};
pub(crate) use precheck_verdicts::{failing_users, uncleared};
pub(crate) use readiness::unstarted_members;
pub(crate) use schedule::{
    MemberState, MoveDetail, PlannedStep, Schedule, StepDetail, StepStatus, WaitReason,
};
