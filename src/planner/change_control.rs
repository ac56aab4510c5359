//! Which approvals and acceptances count under the plan's `[change_control]`.
//!
//! With `allowed_signers`, only signed ones count (their signatures are checked against the
//! file by `signing::Signatures` before this runs, which sets aside any that no longer verify).
//! With `four_eyes`, none counts from the identity who started the rollout or approved its
//! current digest: the signer's principal when signatures are required, else the OS user.
//! What does not count is set aside in `RunState::discounted` with the reason, so the rest of
//! the planner sees only what counts and reports can say why an approval was not enough.

use std::collections::BTreeSet;

use super::approvals::{PLAN_STEP, plan_digest};
use crate::plan::Plan;
use crate::state::{Countable, Discounted, RunState};

/// Sets aside the approvals and acceptances `plan`'s rules do not count.
pub(crate) fn enforce(plan: &Plan, state: &mut RunState) {
    let rules = &plan.change_control;
    if rules.signed() {
        let (signed, unsigned) = std::mem::take(&mut state.approvals)
            .into_iter()
            .partition(|a| a.principal.is_some());
        state.approvals = signed;
        for approval in unsigned {
            state.discounted.push(Discounted {
                what: Countable::Approval(approval),
                why: UNSIGNED.to_owned(),
            });
        }
        let (signed, unsigned) = std::mem::take(&mut state.acceptances)
            .into_iter()
            .partition(|a| a.principal.is_some());
        state.acceptances = signed;
        for acceptance in unsigned {
            state.discounted.push(Discounted {
                what: Countable::Acceptance(acceptance),
                why: UNSIGNED.to_owned(),
            });
        }
    }
    if rules.four_eyes {
        let requesters = requesters(plan, state);
        let (counted, own) = std::mem::take(&mut state.approvals)
            .into_iter()
            .partition(|a| a.step == PLAN_STEP || !requesters.contains(a.identity()));
        state.approvals = counted;
        for approval in own {
            let why = own_request(approval.identity(), state);
            state.discounted.push(Discounted {
                what: Countable::Approval(approval),
                why,
            });
        }
        let (counted, own) = std::mem::take(&mut state.acceptances)
            .into_iter()
            .partition(|a| !requesters.contains(a.identity()));
        state.acceptances = counted;
        for acceptance in own {
            let why = own_request(acceptance.identity(), state);
            state.discounted.push(Discounted {
                what: Countable::Acceptance(acceptance),
                why,
            });
        }
    }
    // A user accepted twice (unsigned, then signed) counts once.
    let mut seen = BTreeSet::new();
    state.acceptances.retain(|a| seen.insert(a.email.clone()));
}

const UNSIGNED: &str =
    "it is not signed, and [change_control] allowed_signers counts only signed approvals";

/// Who asked for the change, under four eyes: who started the rollout, and who approved the
/// plan's current digest (the one it started with, or the edit it runs now).
pub(crate) fn requesters(plan: &Plan, state: &RunState) -> BTreeSet<String> {
    let current = plan_digest(plan);
    let mut requesters: BTreeSet<String> = state.started_by.iter().cloned().collect();
    requesters.extend(
        state
            .approvals
            .iter()
            .filter(|a| a.step == PLAN_STEP)
            .filter(|a| {
                a.digest.as_deref() == Some(current.as_str())
                    || a.digest.is_some() && a.digest == state.approved_digest
            })
            .map(|a| a.identity().to_owned()),
    );
    requesters
}

/// Why an approval by `identity` does not count under four eyes.
fn own_request(identity: &str, state: &RunState) -> String {
    let role = if state.started_by.as_deref() == Some(identity) {
        "started the rollout"
    } else {
        "approved the plan's digest"
    };
    format!("[change_control] four_eyes: {identity} {role}, so another person must approve")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Approval;

    fn approval(id: i64, step: &str, os_user: &str, principal: Option<&str>) -> Approval {
        Approval {
            id,
            step: step.to_owned(),
            by: os_user.to_owned(),
            os_user: os_user.to_owned(),
            host: "h".to_owned(),
            at: jiff::Timestamp::UNIX_EPOCH,
            digest: Some("sha256:1".to_owned()),
            principal: principal.map(str::to_owned),
            signature: principal.map(|_| "sig".to_owned()),
        }
    }

    fn plan(rules: &str) -> Plan {
        let text = format!(
            "version = 1\nname = \"p\"\n[target]\nkind = \"sandbox\"\nsandbox = \"demo\"\n\
             [from]\ndisplay_name = \"A\"\n[to]\ndisplay_name = \"B\"\ntenant_id = \"t.example\"\n\
             [[batch]]\nname = \"all\"\nusers = \"remaining\"\n[disconnect]\nafter = \"1h\"\n\
             [change_control]\n{rules}\n"
        );
        crate::plan::load_text(std::path::Path::new("p.toml"), &text)
            .map(|l| l.plan)
            .expect("a valid plan")
    }

    #[test]
    fn four_eyes_sets_aside_the_starters_own_approval_and_no_one_elses() {
        let plan = plan("four_eyes = true");
        let mut state = RunState {
            started_by: Some("alice".to_owned()),
            approvals: vec![
                approval(1, "all", "alice", None),
                approval(2, "all", "bob", None),
            ],
            ..RunState::default()
        };
        enforce(&plan, &mut state);
        let counted: Vec<i64> = state.approvals.iter().map(|a| a.id).collect();
        assert_eq!(counted, [2]);
        assert_eq!(state.discounted.len(), 1);
        assert!(
            state.discounted[0]
                .why
                .contains("alice started the rollout")
        );
    }

    #[test]
    fn the_approver_of_the_digest_may_not_approve_a_step_either() {
        let plan = plan("four_eyes = true");
        let mut edit = approval(1, PLAN_STEP, "carol", None);
        edit.digest = Some(plan_digest(&plan));
        let mut state = RunState {
            started_by: Some("alice".to_owned()),
            approvals: vec![edit, approval(2, "all", "carol", None)],
            ..RunState::default()
        };
        enforce(&plan, &mut state);
        let counted: Vec<i64> = state.approvals.iter().map(|a| a.id).collect();
        assert_eq!(
            counted,
            [1],
            "the digest's approval stands; carol's step approval not"
        );
    }

    #[test]
    fn with_allowed_signers_only_signed_approvals_count_and_identity_is_the_principal() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(
            dir.path().join("signers"),
            "alice@contoso.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA\n",
        )
        .expect("written");
        let mut plan = plan("four_eyes = true");
        plan.change_control.allowed_signers = Some(crate::plan::AllowedSigners {
            written: "signers".to_owned(),
            path: dir.path().join("signers"),
        });
        let mut state = RunState {
            // The OS user who started it is not the principal who signed.
            started_by: Some("root".to_owned()),
            approvals: vec![
                approval(1, "all", "root", None),
                approval(2, "all", "root", Some("alice@contoso.example")),
            ],
            ..RunState::default()
        };
        enforce(&plan, &mut state);
        let counted: Vec<i64> = state.approvals.iter().map(|a| a.id).collect();
        assert_eq!(counted, [2]);
        assert!(state.discounted[0].why.contains("not signed"));
    }
}
