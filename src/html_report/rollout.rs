//! The report of a started rollout, from the state file alone (no credentials, no network):
//! what each step did and when, against what the dry-run projected.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::timeline::{self, Row};
use super::{
    AcceptView, ApprovalView, AuditRow, AuditView, ChainVerification, DisconnectView,
    ExceptionView, Page, Precondition, ReportError, StepView, UserError, pair,
};
use crate::dry_run::{day_time, zone_label};
use crate::plan::{Plan, TargetSpec};
use crate::state::{
    Acceptance, Approval, AuditEntry, AuditKind, Countable, Exception, FailingUser, RunEnd,
    RunState, StepPhase,
};

/// How many of the audit trail's last records the report lists.
const LAST_RECORDS: usize = 30;

/// What the report of a started rollout is made from.
pub(crate) struct Inputs<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) plan_file: String,
    pub(crate) state: &'a RunState,
    pub(crate) audit: &'a [AuditEntry],
    pub(crate) chain: ChainVerification,
    pub(crate) now: Timestamp,
}

/// The platform the plan names, in words, without opening it.
pub(crate) fn target_words(plan: &Plan) -> String {
    match &plan.target {
        TargetSpec::Sandbox {
            sandbox: crate::plan::SandboxRef::Scenario(name),
        } => format!("sandbox {name:?}"),
        TargetSpec::Sandbox {
            sandbox: crate::plan::SandboxRef::File { written, .. },
        } => format!("sandbox file {written}"),
        TargetSpec::Http { url, .. } => format!("the platform API at {url}"),
    }
}

pub(crate) fn rollout(inputs: &Inputs<'_>) -> Result<String, ReportError> {
    let (plan, state) = (inputs.plan, inputs.state);
    let zone = plan.display_zone();
    let when = |at: Timestamp| day_time(at, &zone);
    let commit = super::plan_commit(inputs.audit);
    let approved = state
        .approved_digest
        .clone()
        .unwrap_or_else(|| "none: the rollout started without `--approved`".to_owned());
    let header = vec![
        pair("Plan", format!("{} ({})", plan.name, inputs.plan_file)),
        pair("Target", target_words(plan)),
        pair(
            "Change",
            format!(
                "{:?} (Basic/NTLM) to {:?} (OAuth, tenant {})",
                plan.from.display_name, plan.to.display_name, plan.to.tenant_id
            ),
        ),
        pair("Digest approved", approved),
        pair(
            "Digest at start",
            state.started_digest.clone().unwrap_or_default(),
        ),
        pair("Git commit", commit.words()),
        pair("Started", state.started_at.map(when).unwrap_or_default()),
        pair("Generated at", when(inputs.now)),
    ];
    let marks = timeline::marks(inputs.audit);
    let start = state.started_at.unwrap_or(inputs.now);
    let projected = timeline::projected_at_start(plan, state, start);
    let zone_of = |id: &str| -> TimeZone {
        let batch = id.split('#').next().unwrap_or(id);
        plan.pilot
            .iter()
            .chain(&plan.batches)
            .find(|s| s.name.as_str() == batch)
            .and_then(|s| s.window.as_ref().map(|w| w.zone().clone()))
            .unwrap_or_else(|| zone.clone())
    };
    let rows: Vec<Row> = projected
        .iter()
        .map(|(id, a, b)| Row {
            step: id.clone(),
            projected: Some((*a, *b)),
            marks: marks
                .iter()
                .filter(|(step, _)| step == id)
                .map(|(_, m)| *m)
                .collect(),
            zone: zone_of(id),
        })
        .collect();
    let zone_words = zone_label(&zone, inputs.now);
    let steps = timeline::step_ids(plan, state)
        .into_iter()
        .map(|(id, batch)| step_view(inputs, &id, &batch))
        .collect();
    let page = Page {
        title: format!("cutover report: {}", plan.name),
        kind: "Rollout report",
        header,
        standing: standing(state, &zone),
        timeline_svg: timeline::svg(&rows, &zone, &zone_words),
        timeline_rows: timeline::text_rows(&rows),
        zone: zone_words,
        dry: None,
        steps,
        disconnect: Some(disconnect_view(inputs)),
        audit: Some(audit_view(inputs)),
        css: super::CSS,
    };
    page.html()
}

/// One line on where the rollout stands.
fn standing(state: &RunState, zone: &TimeZone) -> String {
    if let Some(at) = state.disconnected_at {
        return format!(
            "Complete: the old configuration was disconnected at {}.",
            day_time(at, zone)
        );
    }
    let halted: Vec<&str> = state
        .steps
        .values()
        .filter(|s| s.phase == StepPhase::Halted)
        .map(|s| s.id.as_str())
        .collect();
    if !halted.is_empty() {
        return format!("Halted at {}.", halted.join(", "));
    }
    match state.last_run.as_ref().map(|r| &r.end) {
        Some(RunEnd::Waiting { reason, step, .. }) => {
            format!("In progress: waiting ({reason}) at {step}.")
        }
        Some(RunEnd::Halted { step, reason, .. }) => format!("Halted at {step}: {reason}."),
        Some(RunEnd::Error { message }) => format!("In progress; the last run failed: {message}."),
        _ => "In progress.".to_owned(),
    }
}

/// The approvals `wanted` picks, those that count and those the plan's rules set aside (with
/// why), in time order: an auditor sees an approval that was given but not counted.
fn approval_views(
    state: &RunState,
    wanted: impl Fn(&Approval) -> bool,
    zone: &TimeZone,
) -> Vec<ApprovalView> {
    let counted = state
        .approvals
        .iter()
        .filter(|a| wanted(a))
        .map(|a| (a, "counts".to_owned()));
    let discounted = state.discounted.iter().filter_map(|d| match &d.what {
        Countable::Approval(a) if wanted(a) => Some((a, format!("does not count: {}", d.why))),
        _ => None,
    });
    let mut all: Vec<_> = counted.chain(discounted).collect();
    all.sort_by_key(|(a, _)| (a.at, a.id));
    all.into_iter()
        .map(|(record, counts)| ApprovalView {
            step: record.step.clone(),
            by: record.by.clone(),
            from: format!("{} on {}", record.os_user, record.host),
            at: day_time(record.at, zone),
            signed: super::approval_signature(record).words(),
            counts,
        })
        .collect()
}

fn accept_view(a: &Acceptance, zone: &TimeZone) -> AcceptView {
    AcceptView {
        email: a.email.to_string(),
        reason: a.reason.clone(),
        by: a.by.clone(),
        at: day_time(a.at, zone),
    }
}

fn exception_view(e: &Exception, zone: &TimeZone) -> ExceptionView {
    ExceptionView {
        email: e.user.email.to_string(),
        outcome: e.user.outcome.clone(),
        error: e.user.error.clone().unwrap_or_default(),
        opened: day_time(e.opened_at, zone),
        state: match e.closed_at {
            Some(at) => format!("healed at {}", day_time(at, zone)),
            None => "open: keeps both configurations until its OAuth sync is clean".to_owned(),
        },
    }
}

fn failing(detail: &serde_json::Value, key: &str) -> Vec<FailingUser> {
    detail
        .get(key)
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn step_view(inputs: &Inputs<'_>, id: &str, batch: &str) -> StepView {
    let (plan, state) = (inputs.plan, inputs.state);
    let zone = plan.display_zone();
    let record = state.steps.get(id);
    let definition = plan
        .pilot
        .iter()
        .chain(&plan.batches)
        .find(|s| s.name.as_str() == batch);
    let (users, users_note) = match (record, state.batches.get(batch)) {
        (Some(r), _) => (
            r.members.iter().map(ToString::to_string).collect(),
            "frozen when the step started (read from the state file)".to_owned(),
        ),
        (None, Some(frozen)) => (
            frozen.iter().map(ToString::to_string).collect::<Vec<_>>(),
            format!("frozen with batch `{batch}`; this wave has not started"),
        ),
        (None, None) => (
            Vec::new(),
            "resolved when the step starts: it has not started".to_owned(),
        ),
    };
    let members = users.len();
    let mut times = Vec::new();
    let mut verdicts = Vec::new();
    let mut failures = Vec::new();
    let allowed = definition.map(|d| d.gate.max_errors.to_string());
    for entry in inputs
        .audit
        .iter()
        .filter(|e| e.step.as_deref() == Some(id))
    {
        let at = day_time(entry.at, &zone);
        match entry.kind {
            AuditKind::StepStarted => times.push(pair("started", at)),
            AuditKind::Step(StepPhase::Verifying) => times.push(pair("switched", at)),
            AuditKind::Step(StepPhase::Moving) => times.push(pair("started again", at)),
            AuditKind::Step(StepPhase::Passed) => {
                let exceptions = failing(&entry.detail, "exceptions");
                times.push(pair("gate passed", at.clone()));
                verdicts.push(format!(
                    "gate passed at {at}: {} of {members} user(s) clean, {} exception(s) within max_errors {}",
                    members.saturating_sub(exceptions.len()),
                    exceptions.len(),
                    allowed.as_deref().unwrap_or("?")
                ));
            }
            AuditKind::Step(phase @ (StepPhase::Halted | StepPhase::RolledBack)) => {
                let failed = failing(&entry.detail, "failures");
                let what = if phase == StepPhase::Halted {
                    "halted"
                } else {
                    "rolled back"
                };
                times.push(pair(what, at.clone()));
                let manual = entry.detail.get("manual").is_some_and(|m| m == true);
                verdicts.push(if manual {
                    format!("rolled back by hand at {at} (by {})", entry.operator)
                } else {
                    format!(
                        "GATE FAILED at {at}: {} of {members} user(s) failing, more than max_errors {}; {what}",
                        failed.len(),
                        allowed.as_deref().unwrap_or("?")
                    )
                });
                failures.extend(failed.into_iter().map(|f| UserError {
                    email: f.email.to_string(),
                    outcome: f.outcome,
                    error: f.error.unwrap_or_default(),
                    context: format!("{what} at {at}"),
                }));
            }
            _ => {}
        }
    }
    let exceptions = state
        .exceptions
        .iter()
        .filter(|e| e.step == id)
        .map(|e| exception_view(e, &zone))
        .collect();
    let accepted = state
        .acceptances
        .iter()
        .filter(|a| users.iter().any(|u| *u == a.email.to_string()))
        .map(|a| accept_view(a, &zone))
        .collect();
    let approvals = approval_views(state, |a| a.step == id || a.step == batch, &zone);
    StepView {
        id: id.to_owned(),
        phase: record
            .map_or("not started", |r| r.phase.as_str())
            .replace('_', " "),
        users,
        users_note,
        times,
        verdicts,
        failures,
        exceptions,
        accepted,
        approval: match definition {
            Some(d) if d.approval => "required (`cutover approve`)".to_owned(),
            _ => "not required by the plan".to_owned(),
        },
        approvals,
    }
}

fn disconnect_view(inputs: &Inputs<'_>) -> DisconnectView {
    let (plan, state) = (inputs.plan, inputs.state);
    let zone = plan.display_zone();
    let done = state.disconnected_at.is_some();
    let held = |ok: bool| if ok { "held" } else { "not yet" }.to_owned();
    let ids = timeline::step_ids(plan, state);
    let all_passed = ids.iter().all(|(id, _)| {
        state
            .steps
            .get(id)
            .is_some_and(|s| s.phase == StepPhase::Passed)
    });
    let mut preconditions = vec![Precondition {
        what: "every step's gate passed".to_owned(),
        held: held(all_passed),
        detail: format!(
            "{} of {} step(s) passed",
            ids.iter()
                .filter(|(id, _)| state
                    .steps
                    .get(id)
                    .is_some_and(|s| s.phase == StepPhase::Passed))
                .count(),
            ids.len()
        ),
    }];
    let approved = crate::planner::approved(
        plan,
        state,
        "disconnect",
        "disconnect",
        state.acceptances_changed,
    );
    preconditions.push(Precondition {
        what: "an approval of the disconnect".to_owned(),
        held: if plan.disconnect.approval {
            held(approved || done)
        } else {
            "not required".to_owned()
        },
        detail: if plan.disconnect.approval {
            "`cutover approve PLAN disconnect`, recorded after the last acceptance".to_owned()
        } else {
            "the plan says `approval = false`".to_owned()
        },
    });
    let open: Vec<String> = state
        .open_exceptions()
        .filter(|e| !state.acceptances.iter().any(|a| a.email == e.user.email))
        .map(|e| e.user.email.to_string())
        .collect();
    preconditions.push(Precondition {
        what: "no open exception that is not accepted".to_owned(),
        held: held(open.is_empty()),
        detail: if open.is_empty() {
            "none open".to_owned()
        } else {
            format!("open: {}", open.join(", "))
        },
    });
    preconditions.push(Precondition {
        what: format!("quiet time after the last pass ({})", plan.disconnect.after),
        held: held(done || state.last_pass().is_some_and(|_| all_passed)),
        detail: state
            .last_pass()
            .map(|t| format!("last pass {}", day_time(t, &zone)))
            .unwrap_or_default(),
    });
    preconditions.push(Precondition {
        what: format!(
            "no user left on {:?}, every OAuth user syncing cleanly",
            plan.from.display_name
        ),
        held: if done {
            "held".to_owned()
        } else {
            "checked when it runs".to_owned()
        },
        detail: "as the platform shows them when the disconnect runs".to_owned(),
    });
    preconditions.push(Precondition {
        what: "no hold".to_owned(),
        held: held(state.hold.is_none() || done),
        detail: state
            .hold
            .as_ref()
            .map(|h| format!("held by {}: {}", h.by, h.reason))
            .unwrap_or_else(|| "none".to_owned()),
    });
    let preexisting = inputs
        .audit
        .iter()
        .rev()
        .find(|e| e.kind == AuditKind::Disconnected)
        .map(|e| failing(&e.detail, "preexisting"))
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            format!(
                "{} ({}: {})",
                f.email,
                f.outcome,
                f.error.unwrap_or_default()
            )
        })
        .collect();
    let halts = inputs
        .audit
        .iter()
        .filter(|e| e.kind == AuditKind::Halted && e.step.as_deref() == Some("disconnect"))
        .map(|e| {
            let reason = e
                .detail
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("");
            let users: Vec<String> = failing(&e.detail, "failures")
                .into_iter()
                .map(|f| {
                    format!(
                        "{} ({}: {})",
                        f.email,
                        f.outcome,
                        f.error.unwrap_or_default()
                    )
                })
                .collect();
            let users = if users.is_empty() {
                String::new()
            } else {
                format!("; held up by {}", users.join(", "))
            };
            format!("halted at {}: {reason}{users}", day_time(e.at, &zone))
        })
        .collect();
    DisconnectView {
        halts,
        state: match state.disconnected_at {
            Some(at) => format!(
                "{:?} was disconnected at {}. Nothing undoes this.",
                plan.from.display_name,
                day_time(at, &zone)
            ),
            None => format!(
                "{:?} is not disconnected yet. The disconnect is irreversible.",
                plan.from.display_name
            ),
        },
        preconditions,
        approvals: approval_views(state, |a| a.step == "disconnect", &zone),
        accepted: state
            .acceptances
            .iter()
            .map(|a| accept_view(a, &zone))
            .collect(),
        preexisting,
    }
}

fn audit_view(inputs: &Inputs<'_>) -> AuditView {
    let zone = inputs.plan.display_zone();
    let skip = inputs.audit.len().saturating_sub(LAST_RECORDS);
    AuditView {
        verification: inputs.chain.words(),
        head: inputs.chain.head().map(str::to_owned),
        total: inputs.audit.len(),
        records: inputs.audit[skip..]
            .iter()
            .map(|e| AuditRow {
                at: day_time(e.at, &zone),
                kind: e.kind.to_string(),
                step: e.step.clone().unwrap_or_default(),
                operator: e.operator.clone(),
                detail: match &e.detail {
                    serde_json::Value::Object(map) if map.is_empty() => String::new(),
                    other => other.to_string(),
                },
            })
            .collect(),
    }
}
