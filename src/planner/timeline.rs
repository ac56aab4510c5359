//! The projected timeline: the earliest each step can start and pass, given `not_before`,
//! windows, soaks and the disconnect's quiet time. Sync and approval delays are not known in
//! advance, so these are lower bounds, and the dry-run says so.

use jiff::{SignedDuration, Timestamp};

use crate::plan::grammar::PlanDuration;

use super::schedule::{PlannedStep, StepDetail, StepStatus};

pub(super) fn project(steps: &mut [PlannedStep], now: Timestamp) {
    let mut cursor = now;
    for step in steps {
        if step.status == StepStatus::Done {
            continue;
        }
        let (start, pass) = match &step.detail {
            StepDetail::Connect { .. } => (cursor, cursor),
            StepDetail::Move(detail) => {
                let mut start = cursor;
                if let Some(not_before) = detail.not_before {
                    start = start.max(not_before.timestamp());
                }
                if let Some(window) = &detail.window {
                    start = window.next_open(start).unwrap_or(start);
                }
                (start, add(start, detail.gate.soak))
            }
            StepDetail::Disconnect { after, .. } => {
                let at = add(cursor, *after);
                (at, at)
            }
        };
        step.start = Some(start);
        step.pass = Some(pass);
        cursor = pass;
    }
}

fn add(at: Timestamp, duration: PlanDuration) -> Timestamp {
    let seconds = i64::try_from(duration.seconds()).unwrap_or(i64::MAX);
    at.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(at)
}
