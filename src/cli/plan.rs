//! `cutover plan PLAN`: the dry-run a change board reviews. It reads the plan and the platform
//! and writes nothing anywhere.

use jiff::Timestamp;

use crate::clock::Clock;
use crate::dry_run::{self, DryRun};
use crate::exit_code::Exit;
use crate::plan::{Plan, Precheck};
use crate::planner;
use crate::precheck::MailboxCheck;
use crate::state::MailboxAccess;
use crate::state::RunState;
use crate::target::Observed;

use super::{CommandError, Output, PlanFormat, Session, block_on};

pub(crate) fn run(
    session: &Session<'_>,
    format: PlanFormat,
    full: bool,
    now: Option<Timestamp>,
    out: &Output,
) -> Result<Exit, CommandError> {
    let (plan, path, clock) = (&session.plan, session.path.as_path(), session.clock);
    let target = session.open_target()?;
    let now = now.unwrap_or_else(|| clock.now());
    let observed = session.observe(&target)?;
    let state = session.read_state()?;
    let mailboxes = match &plan.precheck {
        Some(precheck) => Some(check_mailboxes(plan, precheck, &observed, &state, clock)?),
        None => None,
    };
    let schedule = planner::plan(&planner::Inputs {
        plan,
        observed: &observed,
        state: &state,
        now,
        run_started: None,
        reauthorize: false,
        mailboxes: mailboxes.as_ref(),
    });
    let digest = planner::Snapshot::digest_of(plan, &observed);
    super::reviewed_dry_runs::save_dry_run(path, &digest, || {
        planner::Snapshot::of(plan, &observed)
    });
    let dry = DryRun {
        plan,
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
    let exit = if schedule.is_blocked() {
        Exit::Halted
    } else {
        Exit::Done
    };
    // The process ends right after this command: freeing a large tenant's observation and
    // schedule one allocation at a time (millions at 200,000 users) only delays the exit that
    // returns the memory anyway.
    std::mem::forget(observed);
    std::mem::forget(schedule);
    std::mem::forget(rendered);
    Ok(exit)
}

/// Runs the pre-check, as `apply` will, for every member of every step not started yet: the
/// dry-run then names the denied mailboxes and shows a blocked step as blocked.
fn check_mailboxes(
    plan: &Plan,
    precheck: &Precheck,
    observed: &Observed,
    state: &RunState,
    clock: Clock,
) -> Result<MailboxAccess, CommandError> {
    let check = MailboxCheck::new(precheck, clock)?;
    let unstarted = planner::unstarted_members(plan, observed, state);
    let mut mailboxes = MailboxAccess::default();
    block_on(check.check(&unstarted, &mut mailboxes))??;
    Ok(mailboxes)
}
