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

/// What a dry-run is made of: the schedule as of `now`, its digest, the platform in words, and
/// the stored state it was planned against.
pub(crate) struct Planned {
    pub(crate) schedule: planner::Schedule,
    pub(crate) digest: String,
    pub(crate) target: String,
    pub(crate) state: RunState,
    /// The rollout has written to the platform: the digest covers the plan alone.
    pub(crate) digest_of_plan_alone: bool,
}

impl Planned {
    pub(crate) fn dry_run<'a>(&'a self, session: &'a Session<'_>, full: bool) -> DryRun<'a> {
        DryRun {
            plan: &session.plan,
            plan_file: session.path.display().to_string(),
            target: self.target.clone(),
            schedule: &self.schedule,
            digest: &self.digest,
            digest_of_plan_alone: self.digest_of_plan_alone,
            full,
            warnings: &session.warnings,
            approvals: &self.state.approvals,
        }
    }
}

/// Reads the platform and the state and plans, as `apply` would, without changing anything.
pub(crate) fn planned(
    session: &Session<'_>,
    now: Option<Timestamp>,
) -> Result<Planned, CommandError> {
    let (plan, path, clock) = (&session.plan, session.path.as_path(), session.clock);
    let target = session.open_target()?;
    let now = now.unwrap_or_else(|| clock.now());
    let observed = session.observe(&target)?;
    let state = session.read_state()?;
    let mailboxes = match &plan.precheck {
        Some(precheck) => Some(check_mailboxes(plan, precheck, &observed, &state, clock)?),
        None => None,
    };
    let mut schedule = planner::plan(&planner::Inputs {
        plan,
        observed: &observed,
        state: &state,
        now,
        run_started: None,
        reauthorize: false,
        mailboxes: mailboxes.as_ref(),
        confirmed: false,
        memo: None,
    });
    schedule.findings.extend(certificate_findings(plan, now));
    schedule.findings.sort_by_key(|f| f.severity);
    // Before the rollout's first write its digest covers the plan and the platform (what the
    // board approves with `apply --approved`); after, the plan alone (what `approve --digest`
    // takes for an edit): the platform changes with every move.
    let started = state.first_write_at.is_some();
    let digest = if started {
        planner::plan_digest(plan)
    } else {
        let digest = planner::Snapshot::digest_of(plan, &observed);
        super::reviewed_dry_runs::save_dry_run(path, &digest, || {
            planner::Snapshot::of(plan, &observed)
        });
        digest
    };
    // The process ends soon after: freeing a large tenant's observation one allocation at a
    // time (millions at 200,000 users) only delays the exit that returns the memory anyway.
    std::mem::forget(observed);
    Ok(Planned {
        schedule,
        digest,
        target: target.description.clone(),
        state,
        digest_of_plan_alone: started,
    })
}

pub(crate) fn run(
    session: &Session<'_>,
    format: PlanFormat,
    full: bool,
    now: Option<Timestamp>,
    out: &Output,
) -> Result<Exit, CommandError> {
    let planned = planned(session, now)?;
    let dry = planned.dry_run(session, full);
    let rendered = match format {
        PlanFormat::Text => out.paint_report(&dry_run::text(&dry)),
        PlanFormat::Markdown => dry_run::markdown(&dry),
        // The largest of the documents (tens of megabytes at a large tenant): written as it is
        // serialized rather than built whole first.
        PlanFormat::Json => {
            out.stdout_with(|w| dry_run::write_json(&dry, w));
            String::new()
        }
        PlanFormat::Html => super::report::dry_run_html(&dry, session)?,
    };
    out.stdout(&rendered);
    let exit = if planned.schedule.is_blocked() {
        Exit::Halted
    } else {
        Exit::Done
    };
    // As above: the schedule and its rendering go with the process.
    std::mem::forget(planned);
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

/// A warning for each certificate credential that expires within 30 days of `now`: the
/// identity provider refuses an expired one, so the new one must be in the app registration
/// before then. (`apply` needs no warning of its own: the refusal names the certificate.)
fn certificate_findings(plan: &Plan, now: Timestamp) -> Vec<planner::Finding> {
    let mut credentials = Vec::new();
    if let crate::plan::TargetSpec::Http {
        auth: crate::plan::ApiAuth::ClientCredentials(c),
        ..
    } = &plan.target
    {
        credentials.push(("[target.auth]", c));
    }
    if let Some(precheck) = &plan.precheck {
        credentials.push(("[precheck]", &precheck.credentials));
    }
    credentials
        .into_iter()
        .filter_map(|(table, c)| crate::oauth::expiring(c, now).map(|e| (table, e)))
        .map(|(table, e)| {
            let when = plan.time(e.not_after);
            let message = if e.expired {
                format!("{table}: the certificate of {} expired at {when}; the identity provider refuses it", e.what)
            } else {
                format!(
                    "{table}: the certificate of {} expires at {when}, within {} days",
                    e.what,
                    crate::oauth::WARN_BEFORE_DAYS
                )
            };
            planner::Finding::new(planner::Severity::Warning, "certificate-expiring", message).remedy(
                "create a new certificate, upload it to the app registration (Certificates & secrets) beside the \
                 old one, and point the plan's `certificate` at it before the old one expires",
            )
        })
        .collect()
}
