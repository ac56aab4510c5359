//! `cutover status PLAN --live`: where the rollout stands as the platform shows it now — the
//! planner's view, as the next `apply` would see it, read with the plan's credentials. Its exit
//! code is the one that `apply` would exit with now (1 if the platform cannot be read).

use std::path::Path;

use serde::Serialize;

use crate::exit_code::Exit;
use crate::planner::{self, Action, Inputs, StepDetail, StepStatus};
use crate::state::{Acceptance, Exception, FailingUser, StepPhase};

use super::{CommandError, Format, Output, Session};

#[derive(Serialize)]
struct Status {
    format_version: u32,
    plan: String,
    state: &'static str,
    next: Action,
    steps: Vec<StepLine>,
    failing: Vec<FailingUser>,
    /// Members the mailbox pre-check left out of their step (by step id), with its verdict:
    /// they stay on `from` and hold up the disconnect.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    skipped: std::collections::BTreeMap<String, Vec<crate::state::SkippedUser>>,
    /// Open exceptions: members their gate passed without, syncing over both configurations.
    exceptions: Vec<Exception>,
    /// Users the board accepted moving without a clean OAuth sync.
    accepted: Vec<Acceptance>,
    hold: Option<String>,
}

#[derive(Serialize)]
struct StepLine {
    id: String,
    status: String,
    phase: Option<StepPhase>,
    users: usize,
}

pub(crate) fn run(
    session: &Session<'_>,
    format: Format,
    out: &Output,
) -> Result<Exit, CommandError> {
    let (plan, path) = (&session.plan, session.path.as_path());
    let target = session.open_target()?;
    let state = session.read_state()?;
    let now = session.clock.now();
    let observed = session.observe(&target)?;
    let schedule = planner::plan(&Inputs {
        plan,
        observed: &observed,
        state: &state,
        now,
        run_started: None,
        reauthorize: false,
        // `status` does not ask Graph (monitoring polls it often): it shows what the last run's
        // pre-check saw.
        mailboxes: plan.precheck.as_ref().map(|_| &state.mailboxes),
        confirmed: false,
        memo: None,
    });
    // A halted step stays halted until a re-run re-opens its gate; a rolled-back one until it
    // is approved again (then it is waiting to start again, or starting).
    let halted = state.steps.values().find(|s| match s.phase {
        StepPhase::Halted => true,
        StepPhase::RolledBack => {
            !planner::approved(plan, &state, &s.id, &s.batch, Some(s.phase_at))
        }
        _ => false,
    });
    let (label, exit) = match (&schedule.next, halted) {
        (Action::Finish, _) => ("done", Exit::Done),
        (Action::Stop { .. }, _) => ("halted", Exit::Halted),
        (Action::Wait { reason, .. }, _) if reason.needs_person() => ("waiting", Exit::NeedsPerson),
        (_, Some(_)) => ("halted", Exit::Halted),
        (_, None) if state.started_at.is_none() => ("not_started", Exit::Waiting),
        (Action::Wait { .. }, None) => ("waiting", Exit::Waiting),
        (_, None) => ("in_progress", Exit::Waiting),
    };
    let failing: Vec<FailingUser> =
        halted
            .map(|s| s.failures.clone())
            .unwrap_or_else(|| match &schedule.next {
                Action::Stop { failures, .. } => failures.clone(),
                _ => schedule
                    .steps
                    .iter()
                    .filter_map(|s| s.reading.as_ref())
                    .flat_map(|r| r.failing.clone())
                    .collect(),
            });
    let steps: Vec<StepLine> = schedule
        .steps
        .iter()
        .map(|s| StepLine {
            id: s.id.clone(),
            status: match &s.status {
                StepStatus::Done => "done".to_owned(),
                StepStatus::Due => "due".to_owned(),
                StepStatus::Later => "later".to_owned(),
                StepStatus::Blocked { .. } => "blocked".to_owned(),
                StepStatus::Waiting { reason, .. } => format!("waiting ({})", reason.as_str()),
            },
            phase: s.phase,
            users: match &s.detail {
                StepDetail::Move(d) => d.members.len(),
                _ => 0,
            },
        })
        .collect();
    let status = Status {
        format_version: 1,
        plan: plan.name.to_string(),
        state: label,
        next: schedule.next.clone(),
        steps,
        failing,
        skipped: state.skipped.clone(),
        exceptions: state.open_exceptions().cloned().collect(),
        accepted: state.acceptances.clone(),
        hold: state
            .hold
            .as_ref()
            .map(|h| format!("{} (by {} at {})", h.reason, h.by, h.at)),
    };
    match format {
        Format::Json => out.stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        )),
        Format::Text => out.stdout(&text(&status, plan, path)),
    }
    Ok(exit)
}

fn text(status: &Status, plan: &crate::plan::Plan, path: &Path) -> String {
    let accepted = if status.state == "done" && !status.accepted.is_empty() {
        format!(
            ", with {} accepted user(s) on {:?} alone who will not sync until fixed",
            status.accepted.len(),
            plan.to.display_name
        )
    } else {
        String::new()
    };
    let mut text = format!(
        "plan {}: {}{accepted}\n",
        status.plan,
        status.state.replace('_', " ")
    );
    if let Some(hold) = &status.hold {
        text.push_str(&format!("hold: {hold}\n"));
    }
    for step in &status.steps {
        let phase = step
            .phase
            .map(|p| format!(" [{}]", p.as_str()))
            .unwrap_or_default();
        let users = if step.users > 0 {
            format!(" {} user(s)", step.users)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "  {:<20} {}{phase}{users}\n",
            step.id, step.status
        ));
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
        for (step, users) in &status.skipped {
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
        for a in &status.accepted {
            text.push_str(&format!(
                "  {:<40} by {} at {}: {}\n",
                a.email.to_string(),
                a.by,
                plan.time(a.at),
                a.reason
            ));
        }
    }
    let next = match &status.next {
        Action::Wait {
            reason,
            step,
            until,
            detail,
        } => {
            let until = until
                .map(|u| format!(" until {}", plan.time(u)))
                .unwrap_or_default();
            format!("waiting: {} {step}{until} {detail}", reason.as_str())
        }
        Action::Stop { step, reason, .. } => format!("halted: {step}: {reason}"),
        Action::Finish => "done".to_owned(),
        other => format!(
            "next: {} (run `cutover apply {}`)",
            action_name(other),
            path.display()
        ),
    };
    text.push_str(&format!("{}\n", next.trim_end()));
    text
}

fn action_name(action: &Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| {
            v.get("action")
                .and_then(|a| a.as_str())
                .map(|s| s.replace('_', " "))
        })
        .unwrap_or_default()
}
