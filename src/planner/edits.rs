//! Edits to a plan after its rollout started.
//!
//! A plan is reviewed, approved, and then runs for days; people will edit it meanwhile. An edit
//! to a step that has not started is fine (it is accepted and recorded); an edit to what already
//! ran — a started or finished step, the target, the configurations — would make the state
//! database describe a different rollout, so it is refused with a diff. Until the rollout's
//! first platform write nothing has run, whatever the state file says (a preflight halt, say):
//! then any edit is fine, and the rollout starts over from the edited plan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::digest::json_changes;
use crate::plan::Plan;
use crate::state::RunState;

#[derive(Debug, Default, Clone)]
pub(crate) struct PlanEdits {
    /// Changes to what already ran: `apply` refuses them.
    pub(crate) refused: Vec<String>,
    /// Changes since the rollout started to steps that have not started: accepted.
    pub(crate) accepted: Vec<String>,
    /// The plan differs from the one last accepted: the change is still to be recorded.
    pub(crate) unrecorded: bool,
    /// Nothing was written to the platform yet: the rollout starts over from this plan.
    pub(crate) before_first_write: bool,
    /// Changes since the version last approved (the rollout's start, or the last
    /// `approve --digest`): what an approval of the edit must cover.
    pub(crate) since_approved: Vec<String>,
}

/// The plan's steps (pilot and batches) in canonical form, by name.
pub(crate) fn step_definitions(plan: &Plan) -> BTreeMap<String, serde_json::Value> {
    plan.pilot
        .iter()
        .chain(&plan.batches)
        .map(|s| {
            (
                s.name.to_string(),
                serde_json::to_value(s).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

/// The plan in canonical form, whole and by step: what its edits are found by comparing. A run
/// keeps it (see `Memo`): a plan listing a whole tenant's emails is large to serialize.
pub(crate) struct PlanJson {
    whole: serde_json::Value,
    definitions: BTreeMap<String, serde_json::Value>,
}

impl PlanJson {
    pub(crate) fn of(plan: &Plan) -> Self {
        Self {
            whole: serde_json::to_value(plan).unwrap_or(serde_json::Value::Null),
            definitions: step_definitions(plan),
        }
    }
}

pub(crate) fn edits(plan: &Plan, state: &RunState) -> PlanEdits {
    if state.plan_at_start.is_none() {
        return PlanEdits::default();
    }
    edits_of(&PlanJson::of(plan), state)
}

/// [`edits`] of the plan `json` is of.
pub(crate) fn edits_of(json: &PlanJson, state: &RunState) -> PlanEdits {
    edits_with(json, state, |start, accepted| {
        WholeChanges::of(start, accepted, json)
    })
}

/// What comparing the whole plan with the state's two copies of it finds: it depends on those
/// three alone, so a run works it out once per pair of copies (see `Memo`).
#[derive(Debug, Clone)]
pub(crate) struct WholeChanges {
    /// The plan differs from the copy last accepted.
    unrecorded: bool,
    /// Since the rollout started, by path.
    since_start: Vec<String>,
    /// Since it was last accepted, by path.
    since_accepted: Vec<String>,
}

impl WholeChanges {
    pub(crate) fn of(
        start: &serde_json::Value,
        accepted: &serde_json::Value,
        plan: &PlanJson,
    ) -> Self {
        let current = &plan.whole;
        let mut since_start = Vec::new();
        json_changes("plan", start, current, &mut since_start);
        let mut since_accepted = Vec::new();
        json_changes("plan", accepted, current, &mut since_accepted);
        Self {
            unrecorded: accepted != current,
            since_start,
            since_accepted,
        }
    }
}

/// [`edits_of`], with the whole plan's changes from `whole(start, accepted)`.
pub(crate) fn edits_with(
    json: &PlanJson,
    state: &RunState,
    whole: impl FnOnce(&Arc<serde_json::Value>, &Arc<serde_json::Value>) -> WholeChanges,
) -> PlanEdits {
    let Some(start) = &state.plan_at_start else {
        return PlanEdits::default();
    };
    let current = &json.whole;
    let WholeChanges {
        unrecorded,
        since_start,
        since_accepted,
    } = whole(start, state.plan_accepted.as_ref().unwrap_or(start));
    if state.first_write_at.is_none() {
        return PlanEdits {
            refused: Vec::new(),
            since_approved: since_start.clone(),
            accepted: since_start,
            unrecorded,
            before_first_write: true,
        };
    }
    let mut refused = Vec::new();
    for key in ["name", "target", "from", "to"] {
        json_changes(
            &format!("plan.{key}"),
            &start[key],
            &current[key],
            &mut refused,
        );
    }
    let definitions = &json.definitions;
    let mut started = BTreeSet::new();
    for record in state.steps.values() {
        if !started.insert(record.batch.clone()) {
            continue;
        }
        match (&record.definition, definitions.get(&record.batch)) {
            (Some(before), Some(now)) => {
                json_changes(&format!("step {}", record.batch), before, now, &mut refused)
            }
            (_, None) => refused.push(format!(
                "step {}: it has started but is no longer in the plan",
                record.batch
            )),
            (None, Some(_)) => {}
        }
    }
    let mut accepted = since_start;
    let touches_started = |change: &String| {
        ["plan.name", "plan.target", "plan.from", "plan.to"]
            .iter()
            .any(|p| change.starts_with(p))
            || started.iter().any(|b| {
                change.starts_with(&format!("plan.batches[{b}]"))
                    || (b == "pilot" && change.starts_with("plan.pilot"))
            })
    };
    accepted.retain(|c| !touches_started(c));
    PlanEdits {
        refused,
        accepted,
        unrecorded,
        before_first_write: false,
        since_approved: since_accepted,
    }
}
