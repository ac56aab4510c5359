//! A pilot or batch as the steps that run it: one step, or gated waves of at most `max_size`
//! users named `<batch>#<n>`, each member with where the platform shows them now.

use super::membership::ResolvedStep;
use super::preflight::describe_selector;
use super::schedule::{MemberState, Members, MoveDetail, PlannedStep, StepDetail, StepStatus};
use crate::plan::grammar::Email;
use crate::state::RunState;
use crate::target::{Observed, Placement};

/// The step (or its waves) with each member's state as the platform shows it.
pub(super) fn move_steps(
    resolved: &ResolvedStep<'_>,
    observed: &Observed,
    state: &RunState,
    placement: &Placement,
    to_adopted: bool,
) -> Vec<PlannedStep> {
    let step = resolved.step;
    // By the member's position on the platform (`None`: not on it).
    let state_of = |at: &Option<usize>| {
        let on_from = at.is_some_and(|i| placement.on_from(i));
        let on_to = to_adopted && at.is_some_and(|i| placement.on_to(i));
        match (on_from, on_to) {
            (true, false) => MemberState::Move,
            (true, true) => MemberState::FinishMove,
            (false, true) => MemberState::OnTo,
            (false, false) => MemberState::Neither,
        }
    };
    let failing = |at: &Option<usize>| at.is_some_and(|i| placement.failing_on_from(i));
    // Where each wave's members start in the step's list, and how many it has.
    let chunks: Vec<(usize, usize)> = match step.max_size {
        Some(size) if !resolved.members.is_empty() => {
            let size = size.get() as usize;
            (0..resolved.members.len())
                .step_by(size)
                .map(|start| (start, size.min(resolved.members.len() - start)))
                .collect()
        }
        _ => vec![(0, resolved.members.len())],
    };
    let waves = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, (first, count))| {
            let chunk = &resolved.members[first..first + count];
            let at = &resolved.at[first..first + count];
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
            let (members, preexisting) = match record {
                // A wave that started keeps its recorded members. They are nearly always the
                // chunk resolved from the same frozen list (the state shares their emails, so
                // this compares addresses), whose places on the platform are known already.
                Some(r) if *r.members == *chunk => (
                    Members::new(
                        resolved.members.clone(),
                        first,
                        at.iter().map(state_of).collect(),
                    ),
                    r.preexisting.iter().cloned().collect(),
                ),
                // Otherwise (the recorded members differ) they are looked up by email.
                Some(r) => (
                    Members::new(
                        r.members.clone(),
                        0,
                        r.members
                            .iter()
                            .map(|email| state_of(&observed.position(email)))
                            .collect(),
                    ),
                    r.preexisting.iter().cloned().collect(),
                ),
                None => (
                    Members::new(
                        resolved.members.clone(),
                        first,
                        at.iter().map(state_of).collect(),
                    ),
                    chunk
                        .iter()
                        .zip(at)
                        .filter(|(_, at)| failing(at))
                        .map(|(email, _)| email.clone())
                        .collect::<Vec<Email>>(),
                ),
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
