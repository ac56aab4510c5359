//! `cutover plan PLAN`: the dry-run a change board reviews. It reads the plan and the platform
//! and writes nothing anywhere.

use std::path::Path;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::dry_run::{self, DryRun};
use crate::exit_code::Exit;
use crate::plan::{Plan, Precheck};
use crate::planner;
use crate::precheck::MailboxCheck;
use crate::state::{MailboxAccess, RunState};
use crate::target::{Observed, observe};

use super::{Output, PlanFormat, load_or_report, open_target};

pub(crate) fn run(
    path: &Path,
    state_flag: Option<&Path>,
    format: PlanFormat,
    full: bool,
    now: Option<Timestamp>,
    clock: Clock,
    out: &Output,
) -> Exit {
    let Some(plan) = load_or_report(path, out) else {
        return Exit::Invalid;
    };
    let target = match open_target(&plan, path, clock) {
        Ok(target) => target,
        Err(message) => {
            out.stderr(&format!("error: {message}\n"));
            return Exit::Failure;
        }
    };
    let now = now.unwrap_or_else(|| clock.now());
    let observed = match super::block_on(observe(&target.target)) {
        Ok(Ok(observed)) => observed,
        Ok(Err(e)) => {
            out.stderr(&format!(
                "error: cannot read the platform ({}): {e}\n",
                target.description
            ));
            return Exit::Failure;
        }
        Err(e) => {
            out.stderr(&format!(
                "error: cannot read the platform ({}): {e}\n",
                target.description
            ));
            return Exit::Failure;
        }
    };
    let state = match super::read_state(&plan, path, state_flag) {
        Ok(state) => state,
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            return Exit::Failure;
        }
    };
    let mailboxes = match &plan.precheck {
        Some(precheck) => match check_mailboxes(&plan, precheck, &observed, &state, clock) {
            Ok(mailboxes) => Some(mailboxes),
            Err(message) => {
                out.stderr(&format!("error: the mailbox pre-check: {message}\n"));
                return Exit::Failure;
            }
        },
        None => None,
    };
    let schedule = planner::plan(&planner::Inputs {
        plan: &plan,
        observed: &observed,
        state: &state,
        now,
        run_started: None,
        reauthorize: false,
        mailboxes: mailboxes.as_ref(),
    });
    let snapshot = planner::Snapshot::of(&plan, &observed);
    let digest = snapshot.digest();
    super::context::save_dry_run(path, &snapshot);
    let dry = DryRun {
        plan: &plan,
        plan_file: path.display().to_string(),
        target: target.description.clone(),
        schedule: &schedule,
        digest: &digest,
        full,
    };
    let rendered = match format {
        PlanFormat::Text => dry_run::text(&dry),
        PlanFormat::Markdown => dry_run::markdown(&dry),
        PlanFormat::Json => dry_run::json(&dry),
    };
    out.stdout(&rendered);
    if schedule.is_blocked() {
        Exit::Halted
    } else {
        Exit::Done
    }
}

/// Runs the pre-check, as `apply` will, for every member of every step not started yet: the
/// dry-run then names the denied mailboxes and shows a blocked step as blocked.
fn check_mailboxes(
    plan: &Plan,
    precheck: &Precheck,
    observed: &Observed,
    state: &RunState,
    clock: Clock,
) -> Result<MailboxAccess, String> {
    let check = MailboxCheck::new(precheck, clock).map_err(|e| e.to_string())?;
    let unstarted = planner::unstarted_members(plan, observed, state);
    let mut mailboxes = MailboxAccess::default();
    super::block_on(check.check(&unstarted, &mut mailboxes))?.map_err(|e| e.to_string())?;
    Ok(mailboxes)
}
