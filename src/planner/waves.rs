//! A pilot or batch as the steps that run it: one step, or gated waves of at most `max_size`
//! users named `<batch>#<n>`, each member with where the platform shows them now.

use super::membership::ResolvedStep;
use super::preflight::{self, describe_selector};
use super::schedule::{Member, MemberState, MoveDetail, PlannedStep, StepDetail, StepStatus};
use crate::plan::grammar::Email;
use crate::state::RunState;
use crate::target::{Observed, PlatformUser};

/// The step (or its waves) with each member's state as the platform shows it.
pub(super) fn move_steps(
    resolved: &ResolvedStep<'_>,
    observed: &Observed,
    state: &RunState,
    from_id: Option<&str>,
    to_id: Option<&str>,
) -> Vec<PlannedStep> {
    let step = resolved.step;
    let state_of = |user: Option<&PlatformUser>| {
        let on_from = user.is_some_and(|u| from_id.is_some_and(|f| u.is_enabled_on(f)));
        let on_to = user.is_some_and(|u| to_id.is_some_and(|t| u.is_enabled_on(t)));
        match (on_from, on_to) {
            (true, false) => MemberState::Move,
            (true, true) => MemberState::FinishMove,
            (false, true) => MemberState::OnTo,
            (false, false) => MemberState::Neither,
        }
    };
    let failing = |user: Option<&PlatformUser>| {
        user.is_some_and(|u| from_id.is_some_and(|f| preflight::already_failing(u, f)))
    };
    // Members and where each is on the platform, a chunk per wave.
    let chunks: Vec<(&[Email], &[Option<usize>])> = match step.max_size {
        Some(size) if !resolved.members.is_empty() => resolved
            .members
            .chunks(size.get() as usize)
            .zip(resolved.at.chunks(size.get() as usize))
            .collect(),
        _ => vec![(resolved.members.as_slice(), resolved.at.as_slice())],
    };
    let waves = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, (chunk, at))| {
            // A batch with `max_size` runs in waves named `<batch>#<n>`, even when one suffices,
            // so a wave keeps its name as the tenant grows.
            let id = if step.max_size.is_some() {
                format!("{}#{}", step.name, i + 1)
            } else {
                step.name.to_string()
            };
            let record = state.steps.get(&id);
            let exceptions = state
                .exceptions
                .iter()
                .filter(|e| e.step == id)
                .cloned()
                .collect();
            let (members, preexisting): (Vec<Member>, Vec<Email>) = match record {
                // A wave that started keeps its recorded members. They are nearly always the
                // chunk resolved from the same frozen list, whose places on the platform are
                // known already: looking each up again by email cost a hash per member of
                // every started wave on every decision.
                Some(r) if r.members.as_slice() == chunk => (
                    chunk
                        .iter()
                        .zip(at)
                        .map(|(email, i)| Member {
                            email: email.clone(),
                            state: state_of(i.map(|i| &observed.users[i])),
                        })
                        .collect(),
                    r.preexisting.iter().cloned().collect(),
                ),
                // Otherwise (the recorded members differ) they are looked up by email.
                Some(r) => (
                    r.members
                        .iter()
                        .map(|email| Member {
                            email: email.clone(),
                            state: state_of(observed.user(email)),
                        })
                        .collect(),
                    r.preexisting.iter().cloned().collect(),
                ),
                None => {
                    let users: Vec<Option<&PlatformUser>> =
                        at.iter().map(|i| i.map(|i| &observed.users[i])).collect();
                    (
                        chunk
                            .iter()
                            .zip(&users)
                            .map(|(email, user)| Member {
                                email: email.clone(),
                                state: state_of(*user),
                            })
                            .collect(),
                        chunk
                            .iter()
                            .zip(&users)
                            .filter(|(_, user)| failing(**user))
                            .map(|(email, _)| email.clone())
                            .collect(),
                    )
                }
            };
            let movable = members
                .iter()
                .filter(|m| m.state != MemberState::Neither)
                .count() as u64;
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
                    exceptions,
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
