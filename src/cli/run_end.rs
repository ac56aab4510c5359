//! How a run ended, for the people and programs after it: the final report a person reads
//! (why it halted, each user and the platform's words; or the `waiting:` line, always last), and
//! the record `status` reads back from the state alone.

use std::path::Path;

use jiff::Timestamp;

use crate::engine::RunOutcome;
use crate::plan::Plan;
use crate::state::{FailingUser, RunEnd};

/// The `waiting:` line: `waiting: <reason> <step> <detail>`, with the time of the next action
/// where there is one, in the plan's zone, and the command a person must run where one must.
pub(crate) fn waiting_line(
    plan: &Plan,
    path: &Path,
    reason: &str,
    step: &str,
    detail: &str,
    until: Option<Timestamp>,
) -> String {
    let mut parts = Vec::new();
    if let Some(until) = until {
        parts.push(format!("until {}", plan.time(until)));
    }
    if !detail.is_empty() {
        parts.push(detail.to_owned());
    }
    if reason == "approval" && step == crate::planner::PLAN_STEP {
        let digest = detail.split(':').take(2).collect::<Vec<_>>().join(":");
        parts.push(format!(
            "run `cutover approve {} --digest {digest}`",
            path.display()
        ));
    } else if reason == "approval" {
        let name = step.split('#').next().unwrap_or(step);
        parts.push(format!("run `cutover approve {} {name}`", path.display()));
    }
    format!("waiting: {reason} {step} {}", parts.join("; "))
        .trim_end()
        .to_owned()
}

/// What a run's end is recorded as.
pub(crate) fn recorded(outcome: &RunOutcome) -> RunEnd {
    match outcome {
        RunOutcome::Done => RunEnd::Done,
        RunOutcome::Waiting {
            reason,
            step,
            detail,
            until,
        } => RunEnd::Waiting {
            reason: reason.as_str().to_owned(),
            step: step.clone(),
            detail: detail.clone(),
            until: *until,
        },
        RunOutcome::Halted {
            step,
            reason,
            failures,
        } => RunEnd::Halted {
            step: step.clone(),
            reason: reason.clone(),
            failures: failures.clone(),
        },
        RunOutcome::Interrupted { signal } => RunEnd::Interrupted {
            signal: signal.name().to_owned(),
        },
    }
}

/// What a person needs at the end of a run: why it halted (each user and the platform's
/// words), or what it waits for — always as the last line.
pub(crate) fn final_report(plan: &Plan, path: &Path, outcome: &RunOutcome) -> String {
    match outcome {
        RunOutcome::Done => "done: the rollout is complete\n".to_owned(),
        RunOutcome::Interrupted { signal } => format!(
            "interrupted by {}: the state is saved; run the same command again to resume\n",
            signal.name()
        ),
        RunOutcome::Halted {
            step,
            reason,
            failures,
        } => {
            let mut text = format!("\nHALTED at {step}: {reason}\n");
            text.push_str(&failure_table(plan, failures));
            text.push_str(&remedy(plan, path, step, reason));
            text.push_str(&format!("halted: {step}\n"));
            text
        }
        RunOutcome::Waiting {
            reason,
            step,
            detail,
            until,
        } => format!(
            "{}\n",
            waiting_line(plan, path, reason.as_str(), step, detail, *until)
        ),
    }
}

fn failure_table(plan: &Plan, failures: &[FailingUser]) -> String {
    let mut text = String::new();
    for f in failures {
        let at =
            f.at.map(|t| format!(" (at {})", plan.time(t)))
                .unwrap_or_default();
        let error = f.error.as_deref().unwrap_or("");
        text.push_str(&format!(
            "  {:<40} {:<10} {error}{at}\n",
            f.email.to_string(),
            f.outcome
        ));
    }
    text
}

fn remedy(plan: &Plan, path: &Path, step: &str, reason: &str) -> String {
    let path = path.display();
    if reason.contains("gate failed") {
        format!(
            "These users sync over {:?} again until their OAuth problem is fixed (for access denied: add their \
             mailboxes to the OAuth app's access policy). Then run `cutover apply {path}`: it asks the platform \
             to re-check them and re-opens the gate.\n",
            plan.from.display_name
        )
    } else if reason.contains("rolled back") {
        format!(
            "Every user of `{step}` is back on {:?} alone. Fix the cause, then `cutover approve {path} {step}` and apply again.\n",
            plan.from.display_name
        )
    } else {
        String::new()
    }
}
