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
use crate::state::{FailingUser, MailboxAccess, RunState, StepPhase};
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
    if state.disconnected_at.is_some() {
        // The rollout disconnected `from` itself: its absence is the finished state, not a
        // finding.
        findings.retain(|f| !matches!(f.code, "from-missing" | "from-not-connected"));
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
            preexisting: Vec::new(),
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
        // `from` shows disconnected: this rollout's own disconnect whose answer was lost, but
        // only if cutover ever sent one. Anything else is a person's doing and needs a person.
        if from_id.is_none()
            && state.disconnect_sent.is_some()
            && preflight::disconnected_from(plan, observed).is_some()
        {
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
            StepDetail::Disconnect { .. } => disconnect(inputs, step, ids),
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
            // Without `--reauthorize`, preflight stops on a wrong or unknown account
            // (`wrong-service-account`).
            let confirmed = |expected: &String| {
                to.authorized_account
                    .as_ref()
                    .is_some_and(|actual| actual.eq_ignore_ascii_case(expected))
            };
            match &expected {
                Some(expected) if inputs.reauthorize && !confirmed(expected) => {
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
                            from_id.is_some_and(|f| preflight::already_failing(u, f))
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
                    // A step passes only once nobody in it is on both configurations: a passed
                    // step is never looked at again, so they could never be finished. A hold
                    // defers the finishing writes, and with them the pass.
                    let on_both: Vec<Email> = record
                        .members
                        .iter()
                        .filter(|e| on(e, from) && on(e, to))
                        .cloned()
                        .collect();
                    if !finish.is_empty() {
                        hold(inputs, &id).unwrap_or_else(|| Action::Disable {
                            step: id.clone(),
                            side: Side::From,
                            users: chunk(finish),
                        })
                    } else if reading.verdict == Verdict::Pass && on_both.is_empty() {
                        Action::Pass { step: id.clone() }
                    } else if reading.verdict == Verdict::Pass {
                        // Everyone the gate counts is clean, so these are users it does not count
                        // (already failing over `from` when the step started), enabled on `from`
                        // again by hand. cutover will not move a user it cannot verify.
                        let (from_name, to_name) =
                            (&inputs.plan.from.display_name, &inputs.plan.to.display_name);
                        Action::Stop {
                            step: id.clone(),
                            reason: format!(
                                "{} user(s) whose {from_name:?} sync was failing before the step are enabled on both {from_name:?} and {to_name:?}, and the gate cannot verify them; disable {from_name:?} for them on the platform, then apply again",
                                on_both.len(),
                            ),
                            failures: still_on_from(on_both),
                        }
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
                // Starting again is a start: its hold, `not_before` and window apply.
                return not_yet(inputs, &id, detail)
                    .or_else(|| mailbox_check(inputs, &id, &record.members, true))
                    .or(Some(Action::Restart { step: id }));
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
    if detail.approval && !inputs.state.approved(id, &detail.step, None) {
        return wait(WaitReason::Approval, id, None, "needs `cutover approve`");
    }
    not_yet(inputs, id, detail)
        .or_else(|| {
            let members: Vec<Email> = detail.members.iter().map(|m| m.email.clone()).collect();
            mailbox_check(inputs, id, &members, false)
        })
        .or_else(|| {
            Some(Action::Start {
                step: id.to_owned(),
            })
        })
}

/// Why an approved step may not start (or start again) now: the hold, `not_before`, the window.
fn not_yet(inputs: &Inputs<'_>, id: &str, detail: &MoveDetail) -> Option<Action> {
    let now = inputs.now;
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
    None
}

/// The mailbox pre-check before a step starts, or starts again after a rollback: `None` when
/// every member's mailbox is open to the OAuth app (or the plan does not check, or the reading
/// does not run the check).
fn mailbox_check(
    inputs: &Inputs<'_>,
    id: &str,
    members: &[Email],
    restart: bool,
) -> Option<Action> {
    let (Some(precheck), Some(mailboxes)) = (&inputs.plan.precheck, inputs.mailboxes) else {
        return None;
    };
    let unchecked = mailboxes.unchecked(members);
    if !unchecked.is_empty() {
        return Some(Action::CheckMailboxes {
            step: id.to_owned(),
            users: unchecked,
        });
    }
    let denied = mailboxes.denied(members);
    let count = denied.len();
    let reason = if count == 0 {
        return None;
    } else if count == members.len() {
        // Graph answers ErrorAccessDenied for every mailbox when the app lacks the permission
        // itself: skipping them all would quietly move nobody.
        format!(
            "every one of its {count} users' mailboxes denies the OAuth app access (Microsoft Graph: 403 \
             ErrorAccessDenied); the app probably lacks the Calendars.Read application permission, or its \
             access policy leaves them all out"
        )
    } else if restart {
        // A restart switches every recorded member again; none can be left out any more.
        format!(
            "{count} of its users' mailboxes deny the OAuth app access (Microsoft Graph: 403 ErrorAccessDenied) \
             and starting it again would switch them; widen the application access policy or RBAC scope to \
             include them and run again once it has applied (it can take an hour)"
        )
    } else if precheck.on_denied == OnDenied::Skip {
        return None;
    } else {
        format!(
            "{count} of its users' mailboxes deny the OAuth app access (Microsoft Graph: 403 ErrorAccessDenied); \
             widen the application access policy or RBAC scope to include them and run again once it has \
             applied (it can take an hour), or move them to a later step, or set `[precheck] on_denied = \"skip\"`"
        )
    };
    Some(Action::Stop {
        step: id.to_owned(),
        reason,
        failures: denied_users(denied),
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

/// Users listed because they are still enabled on `from`.
fn still_on_from(users: Vec<Email>) -> Vec<FailingUser> {
    users
        .into_iter()
        .map(|email| FailingUser {
            email,
            outcome: "still_on_from".to_owned(),
            error: None,
            at: None,
        })
        .collect()
}

/// The final disconnect; `None` once done. Lists in `planned` the pre-existing failures it
/// excepts.
fn disconnect(inputs: &Inputs<'_>, planned: &mut PlannedStep, ids: Ids<'_>) -> Option<Action> {
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
    // Every `to` user's latest attempt must be clean, except users whose `from` sync was already
    // failing when their step started: as in a gate, they are listed and hold nothing up,
    // whether their attempt failed, is transient or has not come yet.
    let preexisting: BTreeSet<Email> = state.preexisting();
    let mut excepted = Vec::new();
    let mut unclean = Vec::new();
    let mut pending = 0;
    for user in observed
        .users
        .iter()
        .filter(|u| ids.to.is_some_and(|to| u.is_enabled_on(to)))
    {
        let latest = ids.to.and_then(|to| user.sync.get(to));
        let failure = || crate::state::FailingUser {
            email: user.email.clone(),
            outcome: latest.map_or("pending", |s| s.outcome.as_str()).to_owned(),
            error: latest.and_then(|s| s.error.clone()),
            at: latest.map(|s| s.at),
        };
        match latest {
            Some(s) if s.outcome == SyncOutcome::Ok => {}
            _ if preexisting.contains(&user.email) => excepted.push(failure()),
            Some(s) if s.is_transient() => pending += 1,
            None => pending += 1,
            Some(_) => unclean.push(failure()),
        }
    }
    if let StepDetail::Disconnect {
        preexisting: listed,
        ..
    } = &mut planned.detail
    {
        *listed = excepted;
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
    let (Some(from), Some(_)) = (ids.from, ids.to) else {
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
            reason: stragglers_reason(plan, state, &stragglers),
            failures: still_on_from(stragglers),
        });
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

/// Why users still on `from` block the disconnect, with the remedy for each kind of straggler:
/// a user in no step needs a step; a member of a step that already ran was put back on `from`
/// since, and cutover does not move a user twice.
fn stragglers_reason(plan: &Plan, state: &RunState, stragglers: &[Email]) -> String {
    let from = &plan.from.display_name;
    let to = &plan.to.display_name;
    let mut ran: BTreeSet<&str> = BTreeSet::new();
    let mut in_steps = 0;
    for email in stragglers {
        if let Some(record) = state.steps.values().find(|r| r.members.contains(email)) {
            ran.insert(record.id.as_str());
            in_steps += 1;
        }
    }
    let unclaimed = stragglers.len() - in_steps;
    let mut remedies = Vec::new();
    if unclaimed > 0 {
        let remaining = plan
            .batches
            .iter()
            .find(|b| matches!(b.users, Selector::Remaining));
        remedies.push(match remaining {
            Some(batch) => format!(
                "{unclaimed} in no step (they came after `{}` took the remaining users): add them to a new batch before it",
                batch.name
            ),
            None => format!(
                "{unclaimed} in no step: add them to a batch (or end the plan with `users = \"remaining\"`)"
            ),
        });
    }
    if in_steps > 0 {
        let steps: Vec<String> = ran.iter().map(|s| format!("`{s}`")).collect();
        remedies.push(format!(
            "{in_steps} in {}, which already ran, enabled on {from:?} again since: move them by hand (enable {to:?}, then disable {from:?})",
            steps.join(", ")
        ));
    }
    format!(
        "{} user(s) are still enabled on {from:?}: {}; then apply again",
        stragglers.len(),
        remedies.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::plan::load_text;
    use crate::state::{Approval, Hold, StepRecord};
    use crate::target::{AuthType, Configuration, PlatformUser, SyncResult};

    /// `from` ("Basic Auth") is configuration "1", `to` ("OAuth") is "2".
    const PLAN: &str = r#"version = 1
name = "p"

[target]
kind = "sandbox"
sandbox = "demo"

[from]
display_name = "Basic Auth"

[to]
display_name = "OAuth"
tenant_id = "t.example"

[gate]
soak = "0s"
timeout = "1h"

[pilot]
users = ["a@x.io", "b@x.io"]

[[batch]]
name = "rest"
users = "remaining"

[disconnect]
approval = false
"#;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    fn email(name: &str) -> Email {
        Email::parse(&format!("{name}@x.io")).expect("email")
    }

    fn load(text: &str) -> Plan {
        load_text(Path::new("plans/p.toml"), text)
            .expect("the plan validates")
            .plan
    }

    fn configuration(id: &str, name: &str, state: ConfigurationState) -> Configuration {
        let oauth = id == "2";
        Configuration {
            id: id.to_owned(),
            display_name: name.to_owned(),
            auth_type: if oauth {
                AuthType::Oauth
            } else {
                AuthType::Basic
            },
            state,
            tenant_id: oauth.then(|| "t.example".to_owned()),
            exchange_version: None,
            service_address: None,
            authorized_account: None,
            error: None,
        }
    }

    /// A user enabled on `enabled`, with its latest attempt per configuration:
    /// `(configuration, at, outcome, error code)`.
    fn user(
        name: &str,
        enabled: &[&str],
        sync: &[(&str, i64, SyncOutcome, Option<&str>)],
    ) -> PlatformUser {
        PlatformUser {
            email: email(name),
            location: "East".to_owned(),
            groups: vec![],
            enabled: enabled.iter().map(|c| (*c).to_owned()).collect(),
            sync: sync
                .iter()
                .map(|(c, at, outcome, code)| {
                    let result = SyncResult {
                        at: t(*at),
                        outcome: *outcome,
                        error: code.map(|c| format!("{c}: text")),
                        code: code.map(str::to_owned),
                    };
                    ((*c).to_owned(), result)
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn observed(from: ConfigurationState, mut users: Vec<PlatformUser>) -> Observed {
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Observed {
            configurations: vec![
                configuration("1", "Basic Auth", from),
                configuration("2", "OAuth", ConfigurationState::Connected),
            ],
            free_slots: 0,
            users,
        }
    }

    fn record(id: &str, batch: &str, members: &[&str], phase: StepPhase, at: i64) -> StepRecord {
        StepRecord {
            id: id.to_owned(),
            batch: batch.to_owned(),
            members: members.iter().map(|m| email(m)).collect(),
            preexisting: BTreeSet::new(),
            phase,
            phase_at: t(at),
            started_at: t(0),
            judged_after: (phase == StepPhase::Verifying).then(|| t(at)),
            passed_at: (phase == StepPhase::Passed).then(|| t(at)),
            failures: Vec::new(),
            definition: None,
        }
    }

    /// A rollout started at t(0) with these step records.
    fn state(records: Vec<StepRecord>) -> RunState {
        let mut state = RunState {
            started_at: Some(t(0)),
            ..RunState::default()
        };
        for r in records {
            state
                .batches
                .entry(r.batch.clone())
                .or_default()
                .extend(r.members.iter().cloned());
            state.steps.insert(r.id.clone(), r);
        }
        state
    }

    fn schedule(plan: &Plan, observed: &Observed, state: &RunState, now: i64) -> Schedule {
        super::plan(&Inputs {
            plan,
            observed,
            state,
            now: t(now),
            run_started: Some(t(now)),
            reauthorize: false,
            mailboxes: None,
        })
    }

    /// Everyone on OAuth alone with a clean attempt, both steps passed: only the disconnect is left.
    fn migrated(from: ConfigurationState) -> (Observed, RunState) {
        let users = ["a", "b", "c"]
            .iter()
            .map(|n| user(n, &["2"], &[("2", 50, SyncOutcome::Ok, None)]))
            .collect();
        let state = state(vec![
            record("pilot", "pilot", &["a", "b"], StepPhase::Passed, 10),
            record("rest", "rest", &["c"], StepPhase::Passed, 20),
        ]);
        (observed(from, users), state)
    }

    /// The pilot re-opened after a halt: `a` got `from` back and now syncs cleanly over OAuth.
    fn reopened_pilot(a_attempt: SyncOutcome) -> (Observed, RunState) {
        let users = vec![
            user(
                "a",
                &["1", "2"],
                &[
                    ("1", 150, SyncOutcome::Ok, None),
                    ("2", 150, a_attempt, None),
                ],
            ),
            user("b", &["2"], &[("2", 150, SyncOutcome::Ok, None)]),
            user("c", &["1"], &[("1", 150, SyncOutcome::Ok, None)]),
        ];
        let pilot = record("pilot", "pilot", &["a", "b"], StepPhase::Verifying, 100);
        (
            observed(ConfigurationState::Connected, users),
            state(vec![pilot]),
        )
    }

    #[test]
    fn a_gate_never_passes_with_a_member_on_both_configurations() {
        let plan = load(PLAN);
        let (observed, mut state) = reopened_pilot(SyncOutcome::Ok);
        let s = schedule(&plan, &observed, &state, 200);
        assert_eq!(
            s.next,
            Action::Disable {
                step: "pilot".to_owned(),
                side: Side::From,
                users: vec![email("a")],
            }
        );

        // A hold defers the finishing write, and so the pass.
        state.hold = Some(Hold {
            reason: "freeze".to_owned(),
            by: "cab".to_owned(),
            at: t(120),
        });
        let s = schedule(&plan, &observed, &state, 200);
        assert!(
            matches!(&s.next, Action::Wait { reason: WaitReason::Hold, step, .. } if step == "pilot"),
            "{:?}",
            s.next
        );

        // Still on both and not verified yet: the gate waits for them.
        let (observed, state) = reopened_pilot(SyncOutcome::Throttled);
        let s = schedule(&plan, &observed, &state, 200);
        assert!(
            matches!(
                &s.next,
                Action::Wait {
                    reason: WaitReason::Verification,
                    ..
                }
            ),
            "{:?}",
            s.next
        );
    }

    #[test]
    fn an_uncounted_user_back_on_both_configurations_stops_the_gate() {
        let plan = load(PLAN);
        let (observed, mut state) = reopened_pilot(SyncOutcome::Error);
        if let Some(pilot) = state.steps.get_mut("pilot") {
            pilot.preexisting.insert(email("a"));
        }
        let s = schedule(&plan, &observed, &state, 200);
        let Action::Stop { step, failures, .. } = &s.next else {
            panic!("{:?}", s.next)
        };
        assert_eq!(step, "pilot");
        assert_eq!(
            failures.iter().map(|f| f.email.clone()).collect::<Vec<_>>(),
            [email("a")]
        );
    }

    #[test]
    fn a_transient_from_error_is_not_a_pre_existing_failure() {
        let plan = load(PLAN);
        let from = |outcome, code| [("1", 50, outcome, code)];
        let users = vec![
            user(
                "a",
                &["1"],
                &from(SyncOutcome::Error, Some("ErrorServerBusy")),
            ),
            user(
                "b",
                &["1"],
                &from(SyncOutcome::Error, Some("ErrorNonExistentMailbox")),
            ),
            user("c", &["1"], &from(SyncOutcome::Throttled, None)),
            user("d", &["1"], &from(SyncOutcome::Warning, None)),
        ];
        let observed = observed(ConfigurationState::Connected, users);
        let s = schedule(&plan, &observed, &RunState::default(), 100);
        let preexisting: Vec<Vec<Email>> = s
            .steps
            .iter()
            .filter_map(|step| match &step.detail {
                StepDetail::Move(d) => Some(d.preexisting.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(preexisting, [vec![email("b")], vec![email("d")]]);
        let failing_before = s.findings.iter().find(|f| f.code == "failing-before");
        assert_eq!(
            failing_before.map(|f| f.users.clone()),
            Some(vec![email("b"), email("d")])
        );
    }

    #[test]
    fn a_rolled_back_step_restarts_only_inside_its_window() {
        // t(0) is Friday 2027-01-15 08:00 UTC.
        let plan = load(&PLAN.replace(
            "users = \"remaining\"\n",
            "users = \"remaining\"\nwindow = \"Sat,Sun 09:00-10:00 UTC\"\n",
        ));
        let users = vec![
            user("a", &["2"], &[("2", 50, SyncOutcome::Ok, None)]),
            user("b", &["2"], &[("2", 50, SyncOutcome::Ok, None)]),
            user("c", &["1"], &[("1", 50, SyncOutcome::Ok, None)]),
        ];
        let observed = observed(ConfigurationState::Connected, users);
        let mut state = state(vec![
            record("pilot", "pilot", &["a", "b"], StepPhase::Passed, 10),
            record("rest", "rest", &["c"], StepPhase::RolledBack, 100),
        ]);
        state.approvals.push(Approval {
            step: "rest".to_owned(),
            at: t(200),
        });
        let saturday_nine = 25 * 3600;
        let s = schedule(&plan, &observed, &state, 300);
        assert_eq!(
            s.next,
            Action::Wait {
                reason: WaitReason::Window,
                step: "rest".to_owned(),
                until: Some(t(saturday_nine)),
                detail: "Sat,Sun 09:00-10:00 UTC".to_owned(),
            }
        );
        let s = schedule(&plan, &observed, &state, saturday_nine + 60);
        assert_eq!(
            s.next,
            Action::Restart {
                step: "rest".to_owned()
            }
        );
        state.hold = Some(Hold {
            reason: "freeze".to_owned(),
            by: "cab".to_owned(),
            at: t(250),
        });
        let s = schedule(&plan, &observed, &state, saturday_nine + 60);
        assert!(
            matches!(
                &s.next,
                Action::Wait {
                    reason: WaitReason::Hold,
                    ..
                }
            ),
            "{:?}",
            s.next
        );
    }

    fn disconnect_stop(s: &Schedule) -> (&str, Vec<Email>) {
        match &s.next {
            Action::Stop {
                step,
                reason,
                failures,
            } if step == "disconnect" => {
                (reason, failures.iter().map(|f| f.email.clone()).collect())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_straggler_remedy_fits_the_case() {
        // `c`, of the passed `rest`, was put back on Basic; `d` appeared after `rest` started.
        let plan = load(PLAN);
        let (mut observed, state) = migrated(ConfigurationState::Connected);
        observed.users[2].enabled = vec!["1".to_owned(), "2".to_owned()];
        observed.users.push(user("d", &["1"], &[]));
        let s = schedule(&plan, &observed, &state, 100);
        let (reason, users) = disconnect_stop(&s);
        assert_eq!(users, [email("c"), email("d")]);
        assert_eq!(
            reason,
            "2 user(s) are still enabled on \"Basic Auth\": 1 in no step (they came after `rest` took the remaining users): add them to a new batch before it; \
             1 in `rest`, which already ran, enabled on \"Basic Auth\" again since: move them by hand (enable \"OAuth\", then disable \"Basic Auth\"); then apply again"
        );

        // Without a `remaining` batch, a user in no step needs a batch.
        let plan = load(&PLAN.replace("users = \"remaining\"", "users = [\"c@x.io\"]"));
        observed.users[2].enabled = vec!["2".to_owned()];
        let s = schedule(&plan, &observed, &state, 100);
        let (reason, users) = disconnect_stop(&s);
        assert_eq!(users, [email("d")]);
        assert_eq!(
            reason,
            "1 user(s) are still enabled on \"Basic Auth\": 1 in no step: add them to a batch (or end the plan with `users = \"remaining\"`); then apply again"
        );
    }

    #[test]
    fn pre_existing_failures_are_listed_and_do_not_hold_the_disconnect() {
        let plan = load(PLAN);
        let (mut observed, mut state) = migrated(ConfigurationState::Connected);
        // `a` never synced over OAuth, `b` got a transient error, `c` a hard one: all three were
        // failing over Basic when their step started.
        observed.users[0].sync.clear();
        observed.users[1] = user(
            "b",
            &["2"],
            &[("2", 50, SyncOutcome::Error, Some("ErrorServerBusy"))],
        );
        observed.users[2] = user(
            "c",
            &["2"],
            &[("2", 50, SyncOutcome::Error, Some("ErrorNonExistentMailbox"))],
        );
        for record in state.steps.values_mut() {
            record.preexisting = record.members.iter().cloned().collect();
        }
        let s = schedule(&plan, &observed, &state, 100);
        assert_eq!(s.next, Action::Disconnect);
        let listed = s.steps.iter().find_map(|step| match &step.detail {
            StepDetail::Disconnect { preexisting, .. } => Some(preexisting.clone()),
            _ => None,
        });
        let listed: Vec<(Email, String)> = listed
            .unwrap_or_default()
            .into_iter()
            .map(|f| (f.email, f.outcome))
            .collect();
        assert_eq!(
            listed,
            [
                (email("a"), "pending".to_owned()),
                (email("b"), "error".to_owned()),
                (email("c"), "error".to_owned()),
            ]
        );

        // Anyone else not yet clean still holds it.
        state.steps.values_mut().for_each(|r| r.preexisting.clear());
        let s = schedule(&plan, &observed, &state, 100);
        assert!(
            matches!(&s.next, Action::Stop { step, .. } if step == "disconnect"),
            "{:?}",
            s.next
        );
    }

    #[test]
    fn from_disconnected_by_someone_else_is_not_our_disconnect() {
        let plan = load(PLAN);
        let (observed, state) = migrated(ConfigurationState::Disconnected);
        let s = schedule(&plan, &observed, &state, 100);
        assert!(
            matches!(&s.next, Action::Stop { step, .. } if step == "preflight"),
            "{:?}",
            s.next
        );
        assert!(
            s.findings.iter().any(|f| f.code == "from-not-connected"),
            "{:?}",
            s.findings
        );

        // Never started at all: the same.
        let s = schedule(&plan, &observed, &RunState::default(), 100);
        assert!(matches!(&s.next, Action::Stop { .. }), "{:?}", s.next);
    }

    #[test]
    fn from_disconnected_after_cutover_sent_the_disconnect_is_recorded() {
        let plan = load(PLAN);
        let (observed, mut state) = migrated(ConfigurationState::Disconnected);
        state.disconnect_sent = Some(t(90));
        let s = schedule(&plan, &observed, &state, 100);
        assert_eq!(s.next, Action::RecordDisconnected);
    }

    fn with_precheck(on_denied: &str) -> Plan {
        load(&format!(
            "{PLAN}\n[precheck]\nmailbox_access = true\ntoken_url = \"https://login.example/token\"\n\
             client_id = \"app\"\nclient_secret = {{ env = \"GRAPH_SECRET\" }}\non_denied = \"{on_denied}\"\n"
        ))
    }

    fn on_basic(names: &[&str]) -> Observed {
        observed(
            ConfigurationState::Connected,
            names.iter().map(|n| user(n, &["1"], &[])).collect(),
        )
    }

    fn next_with(plan: &Plan, observed: &Observed, mailboxes: Option<&MailboxAccess>) -> Action {
        super::plan(&Inputs {
            plan,
            observed,
            state: &state(vec![]),
            now: t(10),
            run_started: Some(t(10)),
            reauthorize: false,
            mailboxes,
        })
        .next
    }

    #[test]
    fn a_step_starts_only_once_its_mailboxes_were_checked_and_none_is_denied() {
        use crate::state::Access;
        let plan = with_precheck("block");
        let observed = on_basic(&["a", "b", "c"]);
        let mut mailboxes = MailboxAccess::default();
        // Nothing checked yet: check the pilot's members (only theirs).
        assert_eq!(
            next_with(&plan, &observed, Some(&mailboxes)),
            Action::CheckMailboxes {
                step: "pilot".to_owned(),
                users: vec![email("a"), email("b")],
            }
        );
        mailboxes.record(email("a"), Access::Allowed, t(5));
        mailboxes.record(email("b"), Access::Denied, t(6));
        match next_with(&plan, &observed, Some(&mailboxes)) {
            Action::Stop { step, failures, .. } => {
                assert_eq!(step, "pilot");
                assert_eq!(failures.len(), 1);
                assert_eq!(failures[0].email, email("b"));
                assert_eq!(failures[0].at, Some(t(6)), "when the denial was seen");
            }
            other => panic!("expected a stop, got {other:?}"),
        }
        // `skip` starts the step (the engine leaves b out); a reading without the check
        // (`status`) starts as before.
        let skip = with_precheck("skip");
        assert!(matches!(
            next_with(&skip, &observed, Some(&mailboxes)),
            Action::Start { .. }
        ));
        assert!(matches!(
            next_with(&plan, &observed, None),
            Action::Start { .. }
        ));
        // Every mailbox denied: the app lacks the permission; even `skip` stops.
        let mut all_denied = mailboxes.clone();
        all_denied.record(email("a"), Access::Denied, t(7));
        assert!(matches!(
            next_with(&skip, &observed, Some(&all_denied)),
            Action::Stop { .. }
        ));
        // A rolled-back pilot approved again is checked again, and a denial stops the restart
        // even with `skip` (a restart switches every recorded member).
        let mut rolled_back = state(vec![record(
            "pilot",
            "pilot",
            &["a", "b"],
            StepPhase::RolledBack,
            5,
        )]);
        rolled_back.approvals.push(Approval {
            step: "pilot".to_owned(),
            at: t(8),
        });
        let restart = |mailboxes: &MailboxAccess| {
            super::plan(&Inputs {
                plan: &skip,
                observed: &observed,
                state: &rolled_back,
                now: t(10),
                run_started: Some(t(10)),
                reauthorize: false,
                mailboxes: Some(mailboxes),
            })
            .next
        };
        assert!(matches!(
            restart(&MailboxAccess::default()),
            Action::CheckMailboxes { .. }
        ));
        assert!(matches!(restart(&mailboxes), Action::Stop { .. }));
        let mut fixed = mailboxes.clone();
        fixed.record(email("b"), Access::Allowed, t(9));
        assert_eq!(
            restart(&fixed),
            Action::Restart {
                step: "pilot".to_owned()
            }
        );
        // The dry-run names the denied user in a finding.
        let schedule = super::plan(&Inputs {
            plan: &plan,
            observed: &observed,
            state: &state(vec![]),
            now: t(10),
            run_started: None,
            reauthorize: false,
            mailboxes: Some(&mailboxes),
        });
        let finding = schedule
            .findings
            .iter()
            .find(|f| f.code == "mailbox-access-denied")
            .expect("a finding");
        assert_eq!(finding.users, vec![email("b")]);
    }

    #[test]
    fn a_wrong_account_or_failed_authorization_stops_unless_reauthorizing() {
        let plan = load(&PLAN.replace(
            "tenant_id = \"t.example\"",
            "tenant_id = \"t.example\"\nservice_account = \"svc@x.io\"",
        ));
        let mut wrong = on_basic(&["a", "b"]);
        wrong.configurations[1].authorized_account = Some("admin@x.io".to_owned());
        let mut failed = on_basic(&["a", "b"]);
        failed.configurations[1].state = ConfigurationState::Error;
        failed.configurations[1].error = Some("access_denied: declined".to_owned());
        // Connected, but the platform does not say by whom: not confirmed either.
        let unknown = on_basic(&["a", "b"]);
        let empty = RunState::default();
        for observed in [&wrong, &failed, &unknown] {
            let inputs = |reauthorize| Inputs {
                plan: &plan,
                observed,
                state: &empty,
                now: t(10),
                run_started: Some(t(10)),
                reauthorize,
                mailboxes: None,
            };
            match super::plan(&inputs(false)).next {
                Action::Stop { reason, .. } => {
                    assert!(reason.contains("--reauthorize"), "{reason}")
                }
                other => panic!("expected a stop, got {other:?}"),
            }
            assert_eq!(
                super::plan(&inputs(true)).next,
                Action::Authorize { restart: true }
            );
        }
    }
}
