//! `plan()`: the rollout's steps, their members, gates and statuses, and the one action due next.
//!
//! Every decision is made from three things: the plan, what the platform shows now, and what the
//! state database remembers. The engine executes `next` (at most one platform call), stores what
//! changed, and asks again; so a run killed anywhere resumes by asking again, and a user already
//! switched is never switched twice — the platform shows them switched.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::action::{Action, Side};
use super::gate::{self, GateInput, Verdict};
use super::membership::{self, ResolvedStep};
use super::preflight::{self, describe_selector};
use super::schedule::{
    Member, MemberState, MoveDetail, PlannedStep, Schedule, StepDetail, StepStatus, WaitReason,
};
use super::timeline;
use crate::plan::grammar::Email;
use crate::plan::{OnDenied, Plan, Selector};
use crate::precheck::MailboxAccess;
use crate::state::{FailingUser, RunState, StepPhase};
use crate::target::{ConfigurationState, Observed, SyncOutcome};

/// The most users one write action carries. Targets split it further as their API requires;
/// larger actions mean fewer full re-reads of the platform between writes.
const MAX_WRITE_USERS: usize = 10_000;

/// What the planner plans from.
pub(crate) struct Inputs<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) observed: &'a Observed,
    pub(crate) state: &'a RunState,
    pub(crate) now: Timestamp,
    /// When the current `apply` began. `None` for a dry-run, which shows what the next `apply`
    /// would do.
    pub(crate) run_started: Option<Timestamp>,
    /// `apply --reauthorize`: start the authorization of `to` over if it failed or was given
    /// by the wrong account, instead of stopping.
    pub(crate) reauthorize: bool,
    /// What the mailbox pre-check has seen, when the plan enables it and it ran (`None` for a
    /// reading that does not run it, such as `status`).
    pub(crate) mailboxes: Option<&'a MailboxAccess>,
}

pub(crate) fn plan(inputs: &Inputs<'_>) -> Schedule {
    let Inputs {
        plan,
        observed,
        state,
        now,
        ..
    } = *inputs;
    let from_id = observed
        .configuration(&plan.from.display_name)
        .map(|c| c.id.clone());
    let resolution = membership::resolve(plan, observed, from_id.as_deref(), &state.batches);
    let preflight = preflight::check(plan, observed, &resolution);
    let to_id = preflight.to.map(|c| c.id.clone());
    let mut findings = preflight.findings;
    if inputs.reauthorize {
        // `--reauthorize` starts the authorization over: the account will be asked again.
        findings.retain(|f| f.code != "wrong-service-account");
    }
    let edits = super::edits(plan, state);
    if !edits.refused.is_empty() {
        findings.insert(
            0,
            super::Finding::new(
                super::Severity::Blocking,
                "plan-edited",
                "the plan was edited where the rollout already ran",
            )
            .remedy(format!("undo these edits: {}", edits.refused.join("; "))),
        );
    }
    if let (Some(precheck), Some(mailboxes)) = (&plan.precheck, inputs.mailboxes) {
        findings.extend(preflight::denied_mailboxes(
            precheck.on_denied,
            mailboxes,
            &resolution,
            state,
        ));
    }
    if !edits.accepted.is_empty() {
        findings.push(super::Finding::new(
            super::Severity::Info,
            "plan-changed",
            format!(
                "edited since the rollout started, in steps that have not run: {}",
                edits.accepted.join("; ")
            ),
        ));
    }

    let mut steps = vec![PlannedStep {
        id: "connect".to_owned(),
        detail: StepDetail::Connect {
            display_name: plan.to.display_name.clone(),
            tenant_id: plan.to.tenant_id.clone(),
            service_account: plan.to.service_account.as_ref().map(ToString::to_string),
            adopt: to_id.is_some(),
        },
        status: StepStatus::Later,
        start: None,
        pass: None,
        phase: None,
        reading: None,
    }];
    for resolved in &resolution.steps {
        steps.extend(move_steps(
            resolved,
            observed,
            state,
            from_id.as_deref(),
            to_id.as_deref(),
        ));
    }
    let has_remaining = plan
        .batches
        .iter()
        .any(|b| matches!(b.users, Selector::Remaining));
    steps.push(PlannedStep {
        id: "disconnect".to_owned(),
        detail: StepDetail::Disconnect {
            display_name: plan.from.display_name.clone(),
            after: plan.disconnect.after,
            approval: plan.disconnect.approval,
            stragglers: if has_remaining {
                Vec::new()
            } else {
                resolution.unclaimed_on_from.clone()
            },
        },
        status: StepStatus::Later,
        start: None,
        pass: None,
        phase: None,
        reading: None,
    });

    let ids = Ids {
        from: from_id.as_deref(),
        to: to_id.as_deref(),
    };
    let blocking: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == super::Severity::Blocking)
        .map(|f| f.message.as_str())
        .collect();
    let next = if state.disconnected_at.is_some() {
        mark_done(&mut steps, usize::MAX);
        Action::Finish
    } else if !blocking.is_empty() {
        if from_id.is_none() && was_disconnected(plan, observed) {
            Action::RecordDisconnected
        } else {
            Action::Stop {
                step: "preflight".to_owned(),
                reason: format!("preflight needs a person: {}", blocking.join("; ")),
                failures: Vec::new(),
            }
        }
    } else {
        decide(inputs, &mut steps, ids)
    };
    if let Action::Stop { reason, .. } = &next {
        if let Some(step) = steps.iter_mut().find(|s| s.status != StepStatus::Done) {
            step.status = StepStatus::Blocked {
                reason: reason.clone(),
            };
        }
    }
    timeline::project(&mut steps, now);
    Schedule {
        now,
        from: plan.from.display_name.clone(),
        to: plan.to.display_name.clone(),
        findings,
        steps,
        next,
    }
}

#[derive(Clone, Copy)]
struct Ids<'a> {
    from: Option<&'a str>,
    to: Option<&'a str>,
}

/// The configuration `from` names exists only disconnected: a disconnect whose outcome was lost.
fn was_disconnected(plan: &Plan, observed: &Observed) -> bool {
    observed.configurations.iter().any(|c| {
        c.state == ConfigurationState::Disconnected
            && c.display_name
                .trim()
                .eq_ignore_ascii_case(plan.from.display_name.trim())
    })
}

fn mark_done(steps: &mut [PlannedStep], before: usize) {
    for step in steps.iter_mut().take(before) {
        step.status = StepStatus::Done;
    }
}

/// Walks the steps in order; the first that is not done decides the next action.
fn decide(inputs: &Inputs<'_>, steps: &mut [PlannedStep], ids: Ids<'_>) -> Action {
    // Every rolled-back step is moved back first, wherever it is in the plan: a rollback of a
    // batch's waves must not stop at the first wave's approval.
    if let (Some(from), Some(to)) = (ids.from, ids.to) {
        let rolled_back = inputs
            .state
            .steps
            .values()
            .filter(|r| r.phase == StepPhase::RolledBack);
        if let Some(action) = rolled_back
            .filter_map(|r| undo(r, inputs.observed, from, to))
            .next()
        {
            if let Some(step) = steps
                .iter_mut()
                .find(|s| Some(s.id.as_str()) == action_step(&action))
            {
                step.status = StepStatus::Due;
            }
            return action;
        }
    }
    for step in steps.iter_mut() {
        let action = match &step.detail {
            StepDetail::Connect { .. } => connect(inputs),
            StepDetail::Move(_) => move_step(inputs, step, ids),
            StepDetail::Disconnect { .. } => disconnect(inputs, ids),
        };
        let Some(action) = action else {
            step.status = StepStatus::Done;
            continue;
        };
        step.status = match &action {
            Action::Wait { reason, until, .. } => StepStatus::Waiting {
                reason: *reason,
                until: *until,
            },
            Action::Stop { reason, .. } => StepStatus::Blocked {
                reason: reason.clone(),
            },
            Action::Finish => StepStatus::Done,
            _ => StepStatus::Due,
        };
        return action;
    }
    Action::Finish
}

fn action_step(action: &Action) -> Option<&str> {
    match action {
        Action::Enable { step, .. } | Action::Disable { step, .. } => Some(step),
        _ => None,
    }
}

fn wait(
    reason: WaitReason,
    step: &str,
    until: Option<Timestamp>,
    detail: impl Into<String>,
) -> Option<Action> {
    Some(Action::Wait {
        reason,
        step: step.to_owned(),
        until,
        detail: detail.into(),
    })
}

fn hold(inputs: &Inputs<'_>, step: &str) -> Option<Action> {
    inputs.state.hold.as_ref().and_then(|h| {
        wait(
            WaitReason::Hold,
            step,
            None,
            format!("change freeze by {}: {}", h.by, h.reason),
        )
    })
}

/// `None` when the `to` configuration is connected, as the right account.
fn connect(inputs: &Inputs<'_>) -> Option<Action> {
    let plan = inputs.plan;
    let Some(to) = inputs.observed.configuration(&plan.to.display_name) else {
        return hold(inputs, "connect").or(Some(Action::CreateConfiguration));
    };
    let again = "then run `cutover apply PLAN --reauthorize` to start a new authorization";
    match to.state {
        ConfigurationState::Connected => {
            let expected = plan.to.service_account.as_ref().map(ToString::to_string);
            // Without `--reauthorize`, preflight stops on the wrong account (`wrong-service-account`).
            match (&expected, &to.authorized_account) {
                (Some(expected), Some(actual))
                    if inputs.reauthorize && !actual.eq_ignore_ascii_case(expected) =>
                {
                    hold(inputs, "connect").or(Some(Action::Authorize { restart: true }))
                }
                _ => None,
            }
        }
        ConfigurationState::PendingAuthorization => {
            hold(inputs, "connect").or(Some(Action::Authorize { restart: false }))
        }
        ConfigurationState::Error if inputs.reauthorize => {
            hold(inputs, "connect").or(Some(Action::Authorize { restart: true }))
        }
        ConfigurationState::Error => Some(Action::Stop {
            step: "connect".to_owned(),
            reason: format!(
                "authorizing {:?} failed: {}; fix the cause, {again}",
                to.display_name,
                to.error.as_deref().unwrap_or("the platform gave no reason")
            ),
            failures: Vec::new(),
        }),
        ConfigurationState::Disconnected => Some(Action::CreateConfiguration),
    }
}

/// The step (or its waves) with each member's state as the platform shows it.
fn move_steps(
    resolved: &ResolvedStep<'_>,
    observed: &Observed,
    state: &RunState,
    from_id: Option<&str>,
    to_id: Option<&str>,
) -> Vec<PlannedStep> {
    let step = resolved.step;
    let member = |email: &Email| {
        let user = observed.user(email);
        let on_from = user.is_some_and(|u| from_id.is_some_and(|f| u.is_enabled_on(f)));
        let on_to = user.is_some_and(|u| to_id.is_some_and(|t| u.is_enabled_on(t)));
        let state = match (on_from, on_to) {
            (true, false) => MemberState::Move,
            (true, true) => MemberState::FinishMove,
            (false, true) => MemberState::OnTo,
            (false, false) => MemberState::Neither,
        };
        Member {
            email: email.clone(),
            state,
        }
    };
    let chunks: Vec<&[Email]> = match step.max_size {
        Some(size) if !resolved.members.is_empty() => {
            resolved.members.chunks(size.get() as usize).collect()
        }
        _ => vec![resolved.members.as_slice()],
    };
    let waves = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            // A batch with `max_size` runs in waves named `<batch>#<n>`, even when one suffices,
            // so a wave keeps its name as the tenant grows.
            let id = if step.max_size.is_some() {
                format!("{}#{}", step.name, i + 1)
            } else {
                step.name.to_string()
            };
            let record = state.steps.get(&id);
            let emails: Vec<Email> = record.map_or_else(|| chunk.to_vec(), |r| r.members.clone());
            let members: Vec<Member> = emails.iter().map(member).collect();
            let movable = members
                .iter()
                .filter(|m| m.state != MemberState::Neither)
                .count() as u64;
            let preexisting = match record {
                Some(r) => r.preexisting.iter().cloned().collect(),
                None => emails
                    .iter()
                    .filter(|e| {
                        observed.user(e).is_some_and(|u| {
                            from_id.is_some_and(|f| {
                                u.sync.get(f).is_some_and(|s| {
                                    matches!(s.outcome, SyncOutcome::Error | SyncOutcome::Warning)
                                })
                            })
                        })
                    })
                    .cloned()
                    .collect(),
            };
            PlannedStep {
                id,
                detail: StepDetail::Move(Box::new(MoveDetail {
                    step: step.name.to_string(),
                    kind: step.kind,
                    wave: step.max_size.is_some().then_some((i + 1, waves)),
                    selector: describe_selector(&step.users),
                    allowed_errors: step.gate.max_errors.allowed(movable),
                    members,
                    gate: step.gate,
                    approval: step.approval,
                    not_before: step.not_before,
                    window: step.window.clone(),
                    notes: if i == 0 {
                        resolved.notes.clone()
                    } else {
                        Vec::new()
                    },
                    preexisting,
                })),
                status: StepStatus::Later,
                start: None,
                pass: None,
                phase: record.map(|r| r.phase),
                reading: None,
            }
        })
        .collect()
}

/// The next action of a pilot, batch or wave; `None` once its gate passed.
fn move_step(inputs: &Inputs<'_>, planned: &mut PlannedStep, ids: Ids<'_>) -> Option<Action> {
    let Inputs {
        observed,
        state,
        now,
        ..
    } = *inputs;
    let StepDetail::Move(detail) = &planned.detail else {
        return None;
    };
    let id = planned.id.clone();
    let (Some(from), Some(to)) = (ids.from, ids.to) else {
        return Some(Action::Stop {
            step: id,
            reason: "the configurations are not both available".to_owned(),
            failures: Vec::new(),
        });
    };
    let Some(record) = state.steps.get(&id) else {
        return start(inputs, &id, detail);
    };
    let on = |email: &Email, configuration: &str| {
        observed
            .user(email)
            .is_some_and(|u| u.is_enabled_on(configuration))
    };
    let chunk = |users: Vec<Email>| users.into_iter().take(MAX_WRITE_USERS).collect::<Vec<_>>();
    match record.phase {
        StepPhase::Passed => None,
        StepPhase::Moving => {
            if let Some(h) = hold(inputs, &id) {
                return Some(h);
            }
            // Enable `to` for everyone still only on `from`; then disable `from` for those on
            // both. Never the other way round: no user is ever left with neither.
            let enable: Vec<Email> = record
                .members
                .iter()
                .filter(|e| on(e, from) && !on(e, to))
                .cloned()
                .collect();
            if !enable.is_empty() {
                return Some(Action::Enable {
                    step: id,
                    side: Side::To,
                    users: chunk(enable),
                });
            }
            let disable: Vec<Email> = record
                .members
                .iter()
                .filter(|e| on(e, from) && on(e, to))
                .cloned()
                .collect();
            if !disable.is_empty() {
                return Some(Action::Disable {
                    step: id,
                    side: Side::From,
                    users: chunk(disable),
                });
            }
            Some(Action::Switched { step: id })
        }
        StepPhase::Verifying => {
            let opened = record.judged_after.unwrap_or(record.phase_at);
            let reading = gate::evaluate(&GateInput {
                members: &record.members,
                observed,
                to_id: to,
                opened,
                preexisting: &record.preexisting,
                gate: &detail.gate,
                allowed: detail.allowed_errors,
                now,
            });
            let action = match reading.verdict {
                Verdict::Fail => Action::Fail {
                    step: id.clone(),
                    on_failure: detail.gate.on_failure,
                    failures: reading.failures(),
                },
                _ => {
                    // A user given `from` back by a halt, now syncing cleanly over OAuth, finishes
                    // the move.
                    let finish: Vec<Email> = reading
                        .clean
                        .iter()
                        .filter(|e| on(e, from) && on(e, to))
                        .cloned()
                        .collect();
                    if !finish.is_empty() && inputs.state.hold.is_none() {
                        Action::Disable {
                            step: id.clone(),
                            side: Side::From,
                            users: chunk(finish),
                        }
                    } else if reading.verdict == Verdict::Pass {
                        Action::Pass { step: id.clone() }
                    } else {
                        let counted =
                            reading.clean.len() + reading.pending.len() + reading.failing.len();
                        let detail = format!("{} of {counted} users verified", reading.clean.len());
                        if now < reading.soak_until {
                            Action::Wait {
                                reason: WaitReason::Soak,
                                step: id.clone(),
                                until: Some(reading.soak_until),
                                detail,
                            }
                        } else {
                            let detail = format!(
                                "{detail}; the gate times out at {}",
                                inputs.plan.time(reading.timeout_at)
                            );
                            Action::Wait {
                                reason: WaitReason::Verification,
                                step: id.clone(),
                                until: None,
                                detail,
                            }
                        }
                    }
                }
            };
            planned.reading = Some(reading);
            Some(action)
        }
        StepPhase::Halted => {
            // Failing users keep syncing over `from` while the OAuth problem is fixed.
            let restore: Vec<Email> = record
                .failures
                .iter()
                .map(|f| f.email.clone())
                .filter(|e| on(e, to) && !on(e, from))
                .collect();
            if !restore.is_empty() {
                return Some(Action::Enable {
                    step: id,
                    side: Side::From,
                    users: chunk(restore),
                });
            }
            if inputs
                .run_started
                .is_some_and(|started| started <= record.phase_at)
            {
                return Some(Action::Stop {
                    step: id,
                    reason: "the gate failed".to_owned(),
                    failures: record.failures.clone(),
                });
            }
            let recheck = record.failures.iter().map(|f| f.email.clone()).collect();
            Some(Action::Reopen { step: id, recheck })
        }
        StepPhase::RolledBack => {
            if let Some(action) = undo(record, observed, from, to) {
                return Some(action);
            }
            if state.approved(&id, &record.batch, Some(record.phase_at)) {
                return hold(inputs, &id).or(Some(Action::Restart { step: id }));
            }
            if inputs
                .run_started
                .is_some_and(|started| started <= record.phase_at)
            {
                return Some(Action::Stop {
                    step: id,
                    reason: "the step was rolled back".to_owned(),
                    failures: record.failures.clone(),
                });
            }
            wait(
                WaitReason::Approval,
                &id,
                None,
                format!(
                    "rolled back at {}; it starts again only once approved",
                    record.phase_at
                ),
            )
        }
    }
}

/// The write that moves a rolled-back step's members back to `from` alone: `from` first, then
/// `to` off, so nobody is ever on neither. `None` once they all are.
fn undo(
    record: &crate::state::StepRecord,
    observed: &Observed,
    from: &str,
    to: &str,
) -> Option<Action> {
    let on = |email: &Email, configuration: &str| {
        observed
            .user(email)
            .is_some_and(|u| u.is_enabled_on(configuration))
    };
    let users = |keep: &dyn Fn(&Email) -> bool| -> Vec<Email> {
        record
            .members
            .iter()
            .filter(|e| keep(e))
            .take(MAX_WRITE_USERS)
            .cloned()
            .collect()
    };
    let restore = users(&|e| on(e, to) && !on(e, from));
    if !restore.is_empty() {
        return Some(Action::Enable {
            step: record.id.clone(),
            side: Side::From,
            users: restore,
        });
    }
    let remove = users(&|e| on(e, to) && on(e, from));
    if !remove.is_empty() {
        return Some(Action::Disable {
            step: record.id.clone(),
            side: Side::To,
            users: remove,
        });
    }
    None
}

/// A step not started yet: its approval, the hold, `not_before` and the window decide when.
fn start(inputs: &Inputs<'_>, id: &str, detail: &MoveDetail) -> Option<Action> {
    let now = inputs.now;
    if detail.approval && !inputs.state.approved(id, &detail.step, None) {
        return wait(WaitReason::Approval, id, None, "needs `cutover approve`");
    }
    if let Some(h) = hold(inputs, id) {
        return Some(h);
    }
    if let Some(at) = detail
        .not_before
        .map(|t| t.timestamp())
        .filter(|t| *t > now)
    {
        return wait(WaitReason::NotBefore, id, Some(at), "");
    }
    if let Some(window) = &detail.window {
        match window.next_open(now) {
            Some(open) if open > now => {
                return wait(WaitReason::Window, id, Some(open), format!("{window}"));
            }
            None => {
                return wait(
                    WaitReason::Window,
                    id,
                    None,
                    format!("{window} never opens"),
                );
            }
            _ => {}
        }
    }
    if let (Some(precheck), Some(mailboxes)) = (&inputs.plan.precheck, inputs.mailboxes) {
        let members = detail.members.iter().map(|m| &m.email);
        let unchecked = mailboxes.unchecked(members.clone());
        if !unchecked.is_empty() {
            return Some(Action::CheckMailboxes {
                step: id.to_owned(),
                users: unchecked,
            });
        }
        let denied = mailboxes.denied(members);
        if !denied.is_empty() && precheck.on_denied == OnDenied::Block {
            return Some(Action::Stop {
                step: id.to_owned(),
                reason: format!(
                    "{} of its users' mailboxes deny the OAuth app access (Microsoft Graph: 403 ErrorAccessDenied); \
                     widen the application access policy or RBAC scope to include them and run again once it has \
                     applied (it can take an hour), or move them to a later step, or set `[precheck] on_denied = \"skip\"`",
                    denied.len()
                ),
                failures: denied_users(denied),
            });
        }
    }
    Some(Action::Start {
        step: id.to_owned(),
    })
}

/// Every member of the steps that have not started, in step order: who the mailbox pre-check
/// has yet to clear.
pub(crate) fn unstarted_members(plan: &Plan, observed: &Observed, state: &RunState) -> Vec<Email> {
    let from_id = observed
        .configuration(&plan.from.display_name)
        .map(|c| c.id.clone());
    membership::resolve(plan, observed, from_id.as_deref(), &state.batches)
        .steps
        .into_iter()
        .filter(|r| !state.batches.contains_key(r.step.name.as_str()))
        .flat_map(|r| r.members)
        .collect()
}

/// Denied mailboxes as failing users, each with the moment Graph denied it (a denial can be
/// stale: policy changes take time to apply).
pub(crate) fn denied_users(denied: Vec<(Email, Timestamp)>) -> Vec<FailingUser> {
    denied
        .into_iter()
        .map(|(email, seen_at)| FailingUser {
            email,
            outcome: "access_denied".to_owned(),
            error: Some("ErrorAccessDenied: the OAuth app may not open this mailbox".to_owned()),
            at: Some(seen_at),
        })
        .collect()
}

/// The final disconnect; `None` once done.
fn disconnect(inputs: &Inputs<'_>, ids: Ids<'_>) -> Option<Action> {
    let Inputs {
        plan,
        observed,
        state,
        now,
        ..
    } = *inputs;
    if state.disconnected_at.is_some() {
        return None;
    }
    if plan.disconnect.approval && !state.approved("disconnect", "disconnect", None) {
        return wait(
            WaitReason::Approval,
            "disconnect",
            None,
            "needs `cutover approve`",
        );
    }
    if let Some(h) = hold(inputs, "disconnect") {
        return Some(h);
    }
    if let Some(quiet_until) = state
        .last_pass()
        .map(|t| gate::add(t, plan.disconnect.after))
        .filter(|t| *t > now)
    {
        return wait(WaitReason::After, "disconnect", Some(quiet_until), "");
    }
    let (Some(from), Some(to)) = (ids.from, ids.to) else {
        return Some(Action::Finish);
    };
    let stragglers: Vec<Email> = observed
        .users
        .iter()
        .filter(|u| u.is_enabled_on(from))
        .map(|u| u.email.clone())
        .collect();
    if !stragglers.is_empty() {
        return Some(Action::Stop {
            step: "disconnect".to_owned(),
            reason: format!(
                "{} user(s) are still enabled on {:?}; add them to a batch (or end the plan with `users = \"remaining\"`) and apply again",
                stragglers.len(),
                plan.from.display_name
            ),
            failures: stragglers
                .into_iter()
                .map(|email| crate::state::FailingUser {
                    email,
                    outcome: "still_on_from".to_owned(),
                    error: None,
                    at: None,
                })
                .collect(),
        });
    }
    let preexisting: BTreeSet<Email> = state.preexisting();
    let mut unclean = Vec::new();
    let mut pending = 0;
    for user in observed.users.iter().filter(|u| u.is_enabled_on(to)) {
        match user.sync.get(to) {
            Some(s) if s.outcome == SyncOutcome::Ok => {}
            Some(s) if s.is_transient() => pending += 1,
            None => pending += 1,
            Some(_) if preexisting.contains(&user.email) => {}
            Some(s) => unclean.push(crate::state::FailingUser {
                email: user.email.clone(),
                outcome: s.outcome.as_str().to_owned(),
                error: s.error.clone(),
                at: Some(s.at),
            }),
        }
    }
    if !unclean.is_empty() {
        return Some(Action::Stop {
            step: "disconnect".to_owned(),
            reason: format!("{} OAuth user(s) are not syncing cleanly", unclean.len()),
            failures: unclean,
        });
    }
    if pending > 0 {
        return wait(
            WaitReason::Verification,
            "disconnect",
            None,
            format!("{pending} OAuth user(s) have no clean sync yet"),
        );
    }
    Some(Action::Disconnect)
}
