//! `cutover status PLAN`: where the rollout stands, from the state database alone — no
//! credentials, no network — so a monitor or an auditor can ask. Its exit code is the code of
//! the last recorded outcome, brought up to date by the approvals, holds and times recorded
//! since (never 5): what the next `apply` would exit with. `--live` asks the platform instead
//! (`status_live.rs`).

use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::exit_code::Exit;
use crate::plan::Plan;
use crate::planner;
use crate::state::{
    Acceptance, Approval, Exception, FailingUser, Holder, RunEnd, RunRecord, RunState, StepPhase,
};

use super::run_end::waiting_line;
use super::{CommandError, Format, Output, Session};

#[derive(Serialize)]
struct Status<'a> {
    format_version: u32,
    plan: String,
    /// `done`, `halted`, `waiting`, `due`, `in_progress`, `not_started`.
    state: &'static str,
    exit_code: i32,
    /// What the next `apply` would do first.
    next: Next,
    /// The last line: `waiting: …`, `halted: …`, `done`, `due: …`, `error: …`.
    line: String,
    last_run: Option<&'a RunRecord>,
    /// The audit chain's head (`sha256:…`), as stored: what `cutover log --verify --head`
    /// checks a kept copy against. `None` before anything was recorded.
    audit_chain_head: Option<String>,
    /// How many records the audit trail has.
    audit_records: u64,
    lock: Option<LockLine>,
    hold: Option<HoldLine>,
    steps: Vec<StepLine>,
    approvals: &'a [Approval],
    /// Users the last halt named, with the platform's words.
    failing: Vec<FailingUser>,
    exceptions: Vec<&'a Exception>,
    accepted: &'a [Acceptance],
    /// Members the mailbox pre-check left out of their step (by step id), with its verdict:
    /// they stay on `from` and hold up the disconnect.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    skipped: &'a std::collections::BTreeMap<String, Vec<crate::state::SkippedUser>>,
    disconnected_at: Option<Timestamp>,
    /// With `--stale-after`: no run has ended for longer than that (a dead scheduler).
    stale: bool,
    /// Notifications that have not reached their channel (never a URL: the ledger holds none).
    undelivered: Vec<&'a crate::state::DeliveryRecord>,
    #[serde(skip)]
    undelivered_lines: Vec<String>,
}

#[derive(Serialize)]
struct LockLine {
    holder: String,
    host: String,
    pid: u32,
    since: Timestamp,
    /// The holder ran on this host and is gone: `apply` takes such a lock over.
    gone: bool,
}

#[derive(Serialize)]
struct HoldLine {
    reason: String,
    by: String,
    at: Timestamp,
}

#[derive(Serialize)]
struct StepLine {
    id: String,
    /// The step's phase, or `not_started`.
    phase: &'static str,
    users: usize,
    started_at: Option<Timestamp>,
    phase_at: Option<Timestamp>,
    passed_at: Option<Timestamp>,
}

pub(crate) fn run(
    session: &Session<'_>,
    format: Format,
    stale_after: Option<SignedDuration>,
    out: &Output,
) -> Result<Exit, CommandError> {
    let plan = &session.plan;
    let (state, ledger, head) = match session.existing_store()? {
        Some(store) => (
            session.weigh(store.load()?),
            store.notification_ledger()?,
            store.audit_head()?,
        ),
        None => Default::default(),
    };
    let now = session.clock.now();
    let (label, exit, next) = standing(plan, &state, now);
    let line = next_line(plan, &session.path, &next);
    let ended = state.last_run.as_ref().map(|r| r.ended_at);
    let stale = stale_after.is_some_and(|limit| {
        label != "done" && ended.is_none_or(|at| now.duration_since(at) > limit)
    });
    let status = Status {
        format_version: 2,
        plan: plan.name.to_string(),
        state: label,
        exit_code: if stale { 1 } else { exit as i32 },
        next,
        line,
        last_run: state.last_run.as_ref(),
        audit_records: head.as_ref().map_or(0, |h| h.records),
        audit_chain_head: head.map(|h| h.hash),
        lock: state.lock_holder.as_ref().map(lock_line),
        hold: state.hold.as_ref().map(|h| HoldLine {
            reason: h.reason.clone(),
            by: h.by.clone(),
            at: h.at,
        }),
        steps: step_lines(plan, &state),
        approvals: &state.approvals,
        failing: match state.last_run.as_ref().map(|r| &r.end) {
            Some(RunEnd::Halted { failures, .. }) => failures.clone(),
            _ => Vec::new(),
        },
        exceptions: state.open_exceptions().collect(),
        accepted: &state.acceptances,
        skipped: &state.skipped,
        disconnected_at: state.disconnected_at,
        stale,
        undelivered: crate::notify::undelivered(&ledger),
        undelivered_lines: crate::notify::status_lines(&ledger, |t| plan.time(t)),
    };
    match format {
        Format::Json => out.stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        )),
        Format::Text => out.stdout(&text(&status, plan, stale_after)),
    }
    Ok(if stale { Exit::Failure } else { exit })
}

/// What the next `apply` would do first, as far as the state can tell.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Next {
    Wait {
        reason: String,
        step: String,
        until: Option<Timestamp>,
        detail: String,
    },
    Stop {
        step: String,
        reason: String,
    },
    /// Something is due: the next `apply` goes on.
    Due {
        step: String,
        detail: String,
    },
    Error {
        message: String,
    },
    Finish,
}

/// Where the rollout stands: a label, the exit code the next `apply` would end with, and what
/// it would do.
fn standing(plan: &Plan, state: &RunState, now: Timestamp) -> (&'static str, Exit, Next) {
    let wait = |reason: &str, step: &str, until, detail: String| Next::Wait {
        reason: reason.to_owned(),
        step: step.to_owned(),
        until,
        detail,
    };
    if state.disconnected_at.is_some() {
        return ("done", Exit::Done, Next::Finish);
    }
    // A rolled-back step waits for a new approval; a halted gate for a re-run.
    for record in state.steps.values() {
        match record.phase {
            StepPhase::RolledBack
                if !planner::approved(
                    plan,
                    state,
                    &record.id,
                    &record.batch,
                    Some(record.phase_at),
                ) =>
            {
                let detail = format!(
                    "rolled back at {}; it starts again only once approved",
                    record.phase_at
                );
                return (
                    "waiting",
                    Exit::NeedsPerson,
                    wait("approval", &record.id, None, detail),
                );
            }
            StepPhase::Halted if state.hold.is_none() => {
                let next = Next::Stop {
                    step: record.id.clone(),
                    reason: "the gate failed".to_owned(),
                };
                return ("halted", Exit::Halted, next);
            }
            _ => {}
        }
    }
    let Some(run) = &state.last_run else {
        return derived(plan, state, now);
    };
    let changed_since = |at: Timestamp| at > run.ended_at;
    match &run.end {
        RunEnd::Done => ("done", Exit::Done, Next::Finish),
        RunEnd::Error { message } => {
            let exit = if run.exit_code == Exit::Invalid as i32 {
                Exit::Invalid
            } else {
                Exit::Failure
            };
            let next = Next::Error {
                message: message.clone(),
            };
            ("error", exit, next)
        }
        RunEnd::Halted { step, reason, .. } => {
            // A rolled-back step approved again is no longer halted: it starts again.
            let approved_again = state.steps.get(step).is_some_and(|r| {
                r.phase == StepPhase::RolledBack
                    && planner::approved(plan, state, &r.id, &r.batch, Some(r.phase_at))
            });
            let held = state.hold.is_some() && step != "preflight";
            if approved_again || held || state.approvals.iter().any(|a| changed_since(a.at)) {
                derived(plan, state, now)
            } else {
                let next = Next::Stop {
                    step: step.clone(),
                    reason: reason.clone(),
                };
                ("halted", Exit::Halted, next)
            }
        }
        RunEnd::Waiting {
            reason,
            step,
            detail,
            until,
        } => {
            let recorded = wait(reason, step, *until, detail.clone());
            let batch = step.split('#').next().unwrap_or(step);
            match reason.as_str() {
                "approval" if step == planner::PLAN_STEP => {
                    // The wait names the digest it needs approved (the dry-run's, before the
                    // first write; the plan's, for an edit).
                    let awaited = detail
                        .split_whitespace()
                        .next()
                        .map(|d| d.trim_end_matches(':'))
                        .unwrap_or_default();
                    if planner::digest_approval(state, awaited).is_some()
                        || planner::plan_approval(plan, state).is_some()
                    {
                        derived(plan, state, now)
                    } else {
                        ("waiting", Exit::NeedsPerson, recorded)
                    }
                }
                "approval" if !planner::approved(plan, state, step, batch, Some(run.ended_at)) => {
                    ("waiting", Exit::NeedsPerson, recorded)
                }
                "authorization" | "confirmation" => ("waiting", Exit::NeedsPerson, recorded),
                "hold" if state.hold.is_some() => ("waiting", Exit::Waiting, recorded),
                "approval" | "hold" => derived(plan, state, now),
                _ if until.is_some_and(|t| t <= now) => derived(plan, state, now),
                _ if state.hold.is_some() => derived(plan, state, now),
                _ => ("waiting", Exit::Waiting, recorded),
            }
        }
        RunEnd::Interrupted { .. } => derived(plan, state, now),
    }
}

/// What the next `apply` would do, derived from the plan and the state alone: the first step
/// that has not passed, and what it waits for (its approval, the hold, `not_before`, the window;
/// the disconnect's approval and quiet time). What only the platform knows — syncs, stragglers,
/// preflight — is for the run itself to find out.
fn derived(plan: &Plan, state: &RunState, now: Timestamp) -> (&'static str, Exit, Next) {
    let wait = |reason: &str, step: &str, until, detail: String| Next::Wait {
        reason: reason.to_owned(),
        step: step.to_owned(),
        until,
        detail,
    };
    let hold = |step: &str| {
        state.hold.as_ref().map(|h| {
            (
                "waiting",
                Exit::Waiting,
                Next::Wait {
                    reason: "hold".to_owned(),
                    step: step.to_owned(),
                    until: None,
                    detail: format!("change freeze by {}: {}", h.by, h.reason),
                },
            )
        })
    };
    let label = if state.started_at.is_none() {
        "not_started"
    } else {
        "due"
    };
    for step in plan.pilot.iter().chain(&plan.batches) {
        let name = step.name.as_str();
        let ids: Vec<String> = match (state.batches.get(name), step.max_size) {
            (Some(members), Some(size)) => {
                let waves = members.len().div_ceil(size.get() as usize).max(1);
                (1..=waves).map(|n| format!("{name}#{n}")).collect()
            }
            (None, Some(_)) => vec![format!("{name}#1")],
            _ => vec![name.to_owned()],
        };
        for id in ids {
            match state.steps.get(&id) {
                Some(record) if record.phase == StepPhase::Passed => continue,
                Some(record) => {
                    let detail = format!("{id} is {}", record.phase.as_str().replace('_', " "));
                    return hold(&id).unwrap_or((
                        "in_progress",
                        Exit::Waiting,
                        Next::Due { step: id, detail },
                    ));
                }
                None => {
                    let standing = planner::approval_standing(plan, state, &id, name, None);
                    if step.approval && standing != planner::ApprovalStanding::Approved {
                        let detail = planner::approval_wait_detail(&standing);
                        return (
                            "waiting",
                            Exit::NeedsPerson,
                            wait("approval", &id, None, detail),
                        );
                    }
                    if let Some(held) = hold(&id) {
                        return held;
                    }
                    if let Some(at) = step.not_before.map(|t| t.timestamp()).filter(|t| *t > now) {
                        return (
                            "waiting",
                            Exit::Waiting,
                            wait("not_before", &id, Some(at), String::new()),
                        );
                    }
                    if let Some(window) = &step.window {
                        match window.next_open(now) {
                            Some(open) if open > now => {
                                return (
                                    "waiting",
                                    Exit::Waiting,
                                    wait("window", &id, Some(open), window.to_string()),
                                );
                            }
                            None => {
                                let detail = format!("{window} never opens");
                                return (
                                    "waiting",
                                    Exit::Waiting,
                                    wait("window", &id, None, detail),
                                );
                            }
                            _ => {}
                        }
                    }
                    let detail = format!("{id} can start");
                    return (label, Exit::Waiting, Next::Due { step: id, detail });
                }
            }
        }
    }
    if plan.disconnect.approval
        && !planner::approved(
            plan,
            state,
            "disconnect",
            "disconnect",
            state.acceptances_changed,
        )
    {
        let detail = "needs `cutover approve`".to_owned();
        return (
            "waiting",
            Exit::NeedsPerson,
            wait("approval", "disconnect", None, detail),
        );
    }
    if let Some(held) = hold("disconnect") {
        return held;
    }
    if let Some(quiet_until) = state
        .last_pass()
        .and_then(|t| {
            let seconds = i64::try_from(plan.disconnect.after.seconds()).ok()?;
            t.checked_add(SignedDuration::from_secs(seconds)).ok()
        })
        .filter(|t| *t > now)
    {
        return (
            "waiting",
            Exit::Waiting,
            wait("after", "disconnect", Some(quiet_until), String::new()),
        );
    }
    let next = Next::Due {
        step: "disconnect".to_owned(),
        detail: "the disconnect can run once the platform shows everyone on OAuth".to_owned(),
    };
    (label, Exit::Waiting, next)
}

/// The line that says it, as `apply` would have printed it.
fn next_line(plan: &Plan, path: &Path, next: &Next) -> String {
    match next {
        Next::Wait {
            reason,
            step,
            until,
            detail,
        } => waiting_line(plan, path, reason, step, detail, *until),
        Next::Stop { step, reason } => format!("halted: {step}: {reason}"),
        Next::Due { detail, .. } => {
            format!("due: {detail}; `cutover apply {}` goes on", path.display())
        }
        Next::Error { message } => format!("error: {message}"),
        Next::Finish => "done".to_owned(),
    }
}

fn lock_line(holder: &Holder) -> LockLine {
    LockLine {
        holder: holder.to_string(),
        host: holder.host.clone(),
        pid: holder.pid,
        since: holder.started,
        gone: crate::state::lock_is_stale(holder),
    }
}

/// The plan's steps in order, each started one (and each wave) as the state has it.
fn step_lines(plan: &Plan, state: &RunState) -> Vec<StepLine> {
    let mut lines = Vec::new();
    let mut started_later = Vec::new();
    for step in plan.pilot.iter().chain(&plan.batches) {
        let mut started: Vec<_> = state
            .steps
            .values()
            .filter(|r| r.batch == step.name.as_str())
            .collect();
        started.sort_by_key(|r| r.started_at);
        // The waves of a batch whose members are frozen are known before they start.
        let frozen = state.batches.get(step.name.as_str());
        if let (Some(members), Some(size), false) = (frozen, step.max_size, started.is_empty()) {
            let waves = members.len().div_ceil(size.get() as usize);
            for n in started.len() + 1..=waves {
                let first = (n - 1) * size.get() as usize;
                let users = members.len().saturating_sub(first).min(size.get() as usize);
                let id = format!("{}#{n}", step.name);
                if !state.steps.contains_key(&id) {
                    started_later.push((id, users));
                }
            }
        }
        if started.is_empty() {
            lines.push(StepLine {
                id: step.name.to_string(),
                phase: "not_started",
                users: state.batches.get(step.name.as_str()).map_or(0, |b| b.len()),
                started_at: None,
                phase_at: None,
                passed_at: None,
            });
        }
        for record in started {
            lines.push(StepLine {
                id: record.id.clone(),
                phase: record.phase.as_str(),
                users: record.members.len(),
                started_at: Some(record.started_at),
                phase_at: Some(record.phase_at),
                passed_at: record.passed_at,
            });
        }
        for (id, users) in started_later.drain(..) {
            lines.push(StepLine {
                id,
                phase: "not_started",
                users,
                started_at: None,
                phase_at: None,
                passed_at: None,
            });
        }
    }
    lines.push(StepLine {
        id: "disconnect".to_owned(),
        phase: if state.disconnected_at.is_some() {
            "disconnected"
        } else {
            "not_started"
        },
        users: 0,
        started_at: None,
        phase_at: state.disconnected_at,
        passed_at: None,
    });
    lines
}

fn text(status: &Status<'_>, plan: &Plan, stale_after: Option<SignedDuration>) -> String {
    let mut text = String::new();
    let accepted = if status.state == "done" && !status.accepted.is_empty() {
        format!(
            ", with {} accepted user(s) on {:?} alone who will not sync until fixed",
            status.accepted.len(),
            plan.to.display_name
        )
    } else {
        String::new()
    };
    text.push_str(&format!(
        "plan {}: {}{accepted}\n",
        status.plan,
        status.state.replace('_', " ")
    ));
    match status.last_run {
        Some(run) => text.push_str(&format!(
            "last run: `cutover {}` by {} on {} (pid {}), {} to {}, exit {}\n",
            run.command,
            run.operator,
            run.host,
            run.pid,
            plan.time(run.started_at),
            plan.time(run.ended_at),
            run.exit_code
        )),
        None => text.push_str("last run: none recorded\n"),
    }
    if let Some(head) = &status.audit_chain_head {
        text.push_str(&format!(
            "audit chain head: {head} ({} record(s); `cutover log --verify` checks it)\n",
            status.audit_records
        ));
    }
    if status.stale {
        let limit = stale_after
            .map(crate::report::human_duration)
            .unwrap_or_default();
        text.push_str(&format!(
            "STALE: no run has ended for more than {limit}: is the scheduler running?\n"
        ));
    }
    if let Some(lock) = &status.lock {
        let gone = if lock.gone {
            " — that process is gone; the next `apply` takes the lock over"
        } else {
            ""
        };
        text.push_str(&format!("lock: held by {}{gone}\n", lock.holder));
    }
    if let Some(hold) = &status.hold {
        text.push_str(&format!(
            "hold: {} (by {} at {})\n",
            hold.reason,
            hold.by,
            plan.time(hold.at)
        ));
    }
    text.push_str("steps:\n");
    for step in &status.steps {
        let users = if step.users > 0 {
            format!(" {} user(s)", step.users)
        } else {
            String::new()
        };
        let mut times = Vec::new();
        if let Some(at) = step.started_at {
            times.push(format!("started {}", plan.time(at)));
        }
        if let Some(at) = step.passed_at {
            times.push(format!("passed {}", plan.time(at)));
        } else if let (Some(at), Some(_)) = (step.phase_at, step.started_at) {
            times.push(format!(
                "{} since {}",
                step.phase.replace('_', " "),
                plan.time(at)
            ));
        } else if let Some(at) = step.phase_at {
            times.push(plan.time(at));
        }
        let times = if times.is_empty() {
            String::new()
        } else {
            format!(" ({})", times.join(", "))
        };
        let line = format!(
            "  {:<20} {:<12}{users}{times}",
            step.id,
            step.phase.replace('_', " ")
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if !status.approvals.is_empty() {
        text.push_str("approvals:\n");
        for a in status.approvals {
            text.push_str(&format!(
                "  {:<20} by {} ({} on {}) at {}\n",
                a.step,
                a.by,
                a.os_user,
                a.host,
                plan.time(a.at)
            ));
        }
    }
    if !status.failing.is_empty() {
        text.push_str("failing:\n");
        for f in &status.failing {
            text.push_str(&format!(
                "  {:<40} {:<10} {}\n",
                f.email.to_string(),
                f.outcome,
                f.error.as_deref().unwrap_or("")
            ));
        }
    }
    if !status.skipped.is_empty() {
        text.push_str("left out by the mailbox pre-check, still on their old configuration:\n");
        for (step, users) in status.skipped {
            for u in users {
                text.push_str(&format!(
                    "  {:<40} {:<10} {step}: {}\n",
                    u.email.to_string(),
                    u.verdict.access.as_str(),
                    u.verdict.graph_words()
                ));
            }
        }
    }
    if !status.exceptions.is_empty() {
        text.push_str(&format!(
            "exceptions (syncing over {:?} too until their OAuth sync is clean):\n",
            plan.from.display_name
        ));
        for e in &status.exceptions {
            text.push_str(&format!(
                "  {:<40} {:<10} {:<12} {}\n",
                e.user.email.to_string(),
                e.user.outcome,
                e.step,
                e.user.error.as_deref().unwrap_or("")
            ));
        }
    }
    if !status.accepted.is_empty() {
        text.push_str("accepted (will stop syncing until fixed):\n");
        for a in status.accepted {
            text.push_str(&format!(
                "  {:<40} by {} at {}: {}\n",
                a.email.to_string(),
                a.by,
                plan.time(a.at),
                a.reason
            ));
        }
    }
    for line in &status.undelivered_lines {
        text.push_str(&format!("{line}\n"));
    }
    text.push_str(&format!("{}\n", status.line));
    text
}

/// One plan's standing as `status` would report it, in the cells of `fleet status`'s table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Standing {
    /// `done`, `halted`, `waiting`, `due`, `in_progress`, `not_started`, `error`.
    pub(crate) state: &'static str,
    #[serde(skip)]
    pub(crate) exit: Exit,
    /// The step the rollout is at (or waits for); empty after an error.
    pub(crate) step: String,
    /// What it waits for and until when (`soak until …`); empty when it does not wait.
    pub(crate) waiting: String,
    /// The last line `status` prints.
    pub(crate) line: String,
    /// Open exceptions: users syncing over both configurations until their OAuth sync is clean.
    pub(crate) exceptions: usize,
    /// Who holds the run lock, if anyone.
    pub(crate) holder: Option<String>,
}

/// Where `session`'s rollout stands, from its state alone (as `status` without `--live`).
pub(crate) fn standing_of(session: &Session<'_>) -> Result<Standing, CommandError> {
    let plan = &session.plan;
    let state = session.read_state()?;
    let (label, exit, next) = standing(plan, &state, session.clock.now());
    let line = next_line(plan, &session.path, &next);
    let (step, waiting) = match &next {
        Next::Wait {
            reason,
            step,
            until,
            ..
        } => {
            let waiting = match until {
                Some(t) => format!("{reason} until {}", plan.time(*t)),
                None => reason.clone(),
            };
            (step.clone(), waiting)
        }
        Next::Stop { step, .. } | Next::Due { step, .. } => (step.clone(), String::new()),
        Next::Error { .. } => (String::new(), String::new()),
        Next::Finish => ("disconnect".to_owned(), String::new()),
    };
    let holder = state.lock_holder.as_ref().map(|h| {
        let line = lock_line(h);
        let gone = if line.gone { ", gone" } else { "" };
        format!("pid {} on {}{gone}", line.pid, line.host)
    });
    Ok(Standing {
        state: label,
        exit,
        step,
        waiting,
        line,
        exceptions: state.open_exceptions().count(),
        holder,
    })
}
