//! Whether an approval counts. An approval binds what it approved: the digest of the step as
//! the plan had it — its users selector, its gate with defaults applied, its schedule — with
//! `[from]`, `[to]` and the target (the disconnect's covers the users accepted too). A step
//! edited since it was approved needs a new approval, and `plan` says so.
//!
//! Once a rollout has made its first write, an edit of a step that has not run is approved as a
//! whole: `cutover approve PLAN --digest D`, `D` being [`plan_digest`] of the edited plan.

use jiff::Timestamp;
use sha2::{Digest as _, Sha256};

use super::edits::step_definitions;
use crate::plan::Plan;
use crate::state::{Approval, Countable, RunState};

/// The approval step name under which an edited plan's digest is approved.
pub(crate) const PLAN_STEP: &str = "plan";

/// Where a step's approval stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    Approved,
    /// No approval of it (since the time asked about).
    Missing,
    /// Approved, but as another version of the step: it was edited since.
    Edited {
        approved: String,
        now: String,
    },
    /// Approved, but not in a way the plan's `[change_control]` counts.
    Discounted {
        by: String,
        why: String,
    },
}

/// `sha256:` and the first 20 hex digits of `tag` and the canonical JSON of `value`.
fn hash(tag: &str, value: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(tag.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(value).unwrap_or_default());
    let hex: String = hasher
        .finalize()
        .iter()
        .take(10)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The plan's canonical form alone (not the platform, whose assignments change with every
/// move): the digest an edit to a running rollout is approved by.
pub(crate) fn plan_digest(plan: &Plan) -> String {
    hash(
        "cutover-plan-v1",
        &serde_json::to_value(plan).unwrap_or(serde_json::Value::Null),
    )
}

/// What an approval of `step` (a pilot or batch name, or `disconnect`) covers.
pub(crate) fn step_digest(plan: &Plan, step: &str, state: &RunState) -> String {
    let plan_json = serde_json::to_value(plan).unwrap_or(serde_json::Value::Null);
    let around = serde_json::json!({
        "target": plan_json["target"],
        "from": plan_json["from"],
        "to": plan_json["to"],
    });
    let what = if step == "disconnect" {
        let mut accepted: Vec<String> = state
            .acceptances
            .iter()
            .map(|a| a.email.to_string())
            .collect();
        accepted.sort();
        serde_json::json!({
            "disconnect": plan_json["disconnect"],
            "accepted": accepted,
            "around": around,
        })
    } else {
        serde_json::json!({
            "step": step_definitions(plan).remove(step).unwrap_or(serde_json::Value::Null),
            "around": around,
        })
    };
    hash("cutover-step-v1", &what)
}

/// Whether `step` (a step id; `batch` is the pilot or batch it belongs to, whose approval covers
/// its waves) is approved as the plan has it now, by an approval given after `since`.
pub(crate) fn standing(
    plan: &Plan,
    state: &RunState,
    step: &str,
    batch: &str,
    since: Option<Timestamp>,
) -> Standing {
    let now = step_digest(plan, batch, state);
    let mut edited = None;
    for approval in state.approvals_of(step, batch, since) {
        match &approval.digest {
            // Recorded before approvals were bound: it counts as it did then.
            None => return Standing::Approved,
            Some(digest) if *digest == now => return Standing::Approved,
            Some(digest) => edited = Some(digest.clone()),
        }
    }
    if let Some(approved) = edited {
        return Standing::Edited { approved, now };
    }
    let discounted = state.discounted.iter().rev().find_map(|d| match &d.what {
        Countable::Approval(a)
            if (a.step == step || a.step == batch) && since.is_none_or(|s| a.at > s) =>
        {
            Some((a, &d.why))
        }
        _ => None,
    });
    match discounted {
        Some((approval, why)) => Standing::Discounted {
            by: approval.by.clone(),
            why: why.clone(),
        },
        None => Standing::Missing,
    }
}

pub(crate) fn approved(
    plan: &Plan,
    state: &RunState,
    step: &str,
    batch: &str,
    since: Option<Timestamp>,
) -> bool {
    standing(plan, state, step, batch, since) == Standing::Approved
}

/// The approval of the plan as it is now, as a whole (`approve PLAN --digest`), if any.
pub(crate) fn plan_approval<'a>(plan: &Plan, state: &'a RunState) -> Option<&'a Approval> {
    digest_approval(state, &plan_digest(plan))
}

/// The approval of the plan by `digest` (`approve --digest`), if one counts: before the first
/// write, `digest` is the dry-run's (the plan and the platform).
pub(crate) fn digest_approval<'a>(state: &'a RunState, digest: &str) -> Option<&'a Approval> {
    state
        .approvals
        .iter()
        .rev()
        .find(|a| a.step == PLAN_STEP && a.digest.as_deref() == Some(digest))
}

/// The words of a wait for `standing` (not approved).
pub(crate) fn wait_detail(standing: &Standing) -> String {
    match standing {
        Standing::Edited { approved, now } => format!(
            "approved as {approved}, but the step was edited since (it is {now} now): needs `cutover approve` again"
        ),
        Standing::Discounted { by, why } => format!(
            "approved by {by}, but that does not count: {why}; needs `cutover approve` again"
        ),
        Standing::Approved | Standing::Missing => "needs `cutover approve`".to_owned(),
    }
}
