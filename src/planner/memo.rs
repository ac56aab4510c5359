//! What the planner worked out from the whole tenant, kept from one decision to the next.
//!
//! Between a batch's start and the next, a run decides again after every gate poll, and a poll
//! reads only its step's members (and the open exceptions') again. Resolving every step from
//! the whole tenant on each of those decisions made a poll cost what the tenant costs: the
//! steps not yet started (`remaining`, attribute selectors), and the users no step claims,
//! copied out of the tenant every time.
//!
//! Those depend on the users outside the started steps, and on the started steps' frozen lists,
//! never on what the platform shows of a started step's own members: a user a frozen list
//! holds is claimed by it wherever they are placed. So what was resolved is kept as long as
//! the reading changed only in place, only at users a frozen list claims, with the same
//! placement and the same frozen lists — which is checked on each recall, never assumed: any
//! other change (a full read, a user added or gone, a location or group changed, a step started,
//! a user outside the started steps read again) resolves everything afresh, as before.
//!
//! The plan's canonical form, which its edits are found by comparing, is kept too, and what
//! comparing it with the state's two copies of it found, for as long as the store hands out the
//! same copies (it shares one parse per text): a plan can list a whole tenant's emails.
//!
//! One memo serves one plan: the engine keeps one for its run (whose plan cannot change under
//! it). Planning with or without it gives the same schedule.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::edits::{PlanEdits, PlanJson, WholeChanges, edits_with};
use super::membership::{Claims, Resolution, ResolvedStep};
use super::overlap_note::OverlapNote;
use super::schedule::PlannedStep;
use crate::plan::Plan;
use crate::plan::grammar::Email;
use crate::state::RunState;
use crate::target::{Mark, Observed, Placement};

/// A resolution kept for the next decision, see the module's documentation.
#[derive(Default)]
pub(crate) struct Memo {
    kept: Mutex<Option<Kept>>,
    plan: OnceLock<PlanJson>,
    /// The copies as started and as accepted, and what comparing the plan with them found.
    changes: Mutex<Option<(Copies, WholeChanges)>>,
}

type Copies = (Arc<serde_json::Value>, Arc<serde_json::Value>);

struct Kept {
    /// The reading as it was resolved (or last recalled) from.
    mark: Mark,
    from: Option<String>,
    to: Option<String>,
    /// Who claimed each user, by position.
    claims: Claims,
    /// By step number in file order: a step not yet started's members.
    steps: Vec<Option<Unstarted>>,
    missing: Vec<(Email, String)>,
    unclaimed_on_from: Arc<[Email]>,
    /// By step number: a step not yet started as planned (its waves, each member with where
    /// the platform shows them), and whether `to` was adopted then.
    waves: Vec<Option<(bool, Vec<PlannedStep>)>>,
}

struct Unstarted {
    members: Arc<[Email]>,
    at: Arc<[Option<usize>]>,
    notes: Vec<OverlapNote>,
}

impl Memo {
    /// The plan's edits since the rollout started, from the plan's canonical form made once.
    pub(super) fn edits(&self, plan: &Plan, state: &RunState) -> PlanEdits {
        let json = self.plan.get_or_init(|| PlanJson::of(plan));
        edits_with(json, state, |start, accepted| {
            let mut kept = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
            match &*kept {
                Some(((s, a), changes)) if Arc::ptr_eq(s, start) && Arc::ptr_eq(a, accepted) => {
                    changes.clone()
                }
                _ => {
                    let changes = WholeChanges::of(start, accepted, json);
                    *kept = Some(((start.clone(), accepted.clone()), changes.clone()));
                    changes
                }
            }
        })
    }

    /// What was resolved before, if it still holds for this reading, placement and state.
    pub(super) fn recall<'p>(
        &self,
        plan: &'p Plan,
        observed: &Observed,
        placement: &Placement,
        frozen: &[Option<&Arc<[Email]>>],
    ) -> Option<Resolution<'p>> {
        let mut guard = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = guard.as_mut()?;
        let (from, to) = placement.ids();
        let holds = kept.from.as_deref() == from
            && kept.to.as_deref() == to
            && kept.claims.frozen_as(frozen)
            && observed
                .changed_since(kept.mark)
                .is_some_and(|changed| changed.iter().all(|&i| kept.claims.by_frozen(i)));
        if !holds {
            *guard = None;
            return None;
        }
        // The changes seen so far are vouched for: the next recall looks only at newer ones.
        kept.mark = observed.mark();
        let steps = plan
            .pilot
            .iter()
            .chain(&plan.batches)
            .zip(&kept.steps)
            .enumerate()
            .map(
                |(number, (step, unstarted))| match (frozen[number], unstarted) {
                    (Some(members), _) => ResolvedStep {
                        step,
                        members: members.clone(),
                        at: observed.positions(members),
                        notes: Vec::new(),
                    },
                    (None, Some(u)) => ResolvedStep {
                        step,
                        members: u.members.clone(),
                        at: u.at.clone(),
                        notes: u.notes.clone(),
                    },
                    // `frozen_as` compared which steps are frozen: each is one or the other.
                    (None, None) => ResolvedStep {
                        step,
                        members: Arc::from([]),
                        at: Arc::from([]),
                        notes: Vec::new(),
                    },
                },
            )
            .collect();
        Some(Resolution {
            steps,
            missing: kept.missing.clone(),
            unclaimed_on_from: kept.unclaimed_on_from.clone(),
        })
    }

    /// Step `number` as planned (`build` plans it): for a step not yet started, kept with the
    /// resolution it was planned from. Its members are users no started step claims, so what
    /// the platform shows of them is unchanged for as long as the resolution holds; the state
    /// has nothing of it (no record, no exception) until it starts, which is checked. Asked
    /// after [`Memo::recall`] or [`Memo::keep`] in the same decision.
    pub(super) fn waves(
        &self,
        number: usize,
        to_adopted: bool,
        state: &RunState,
        build: impl FnOnce() -> Vec<PlannedStep>,
    ) -> Vec<PlannedStep> {
        let mut guard = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(kept) = guard.as_mut().filter(|k| !k.claims.is_frozen(number)) else {
            return build();
        };
        let untouched = |waves: &[PlannedStep]| {
            waves.iter().all(|w| {
                !state.steps.contains_key(&w.id) && !state.exceptions.iter().any(|e| e.step == w.id)
            })
        };
        if let Some(Some((adopted, waves))) = kept.waves.get(number) {
            if *adopted == to_adopted && untouched(waves) {
                return waves.clone();
            }
        }
        let waves = build();
        if let Some(slot) = kept.waves.get_mut(number).filter(|_| untouched(&waves)) {
            *slot = Some((to_adopted, waves.clone()));
        }
        waves
    }

    /// Keeps `resolution`, resolved afresh from this reading, for the next decision.
    pub(super) fn keep(
        &self,
        observed: &Observed,
        placement: &Placement,
        resolution: &Resolution<'_>,
        claims: Claims,
    ) {
        let (from, to) = placement.ids();
        let steps: Vec<Option<Unstarted>> = resolution
            .steps
            .iter()
            .enumerate()
            .map(|(number, r)| {
                (!claims.is_frozen(number)).then(|| Unstarted {
                    members: r.members.clone(),
                    at: r.at.clone(),
                    notes: r.notes.clone(),
                })
            })
            .collect();
        let waves = vec![None; steps.len()];
        let kept = Kept {
            mark: observed.mark(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            claims,
            steps,
            missing: resolution.missing.clone(),
            unclaimed_on_from: resolution.unclaimed_on_from.clone(),
            waves,
        };
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(kept);
    }
}

#[cfg(test)]
#[path = "memo_tests.rs"]
mod tests;
