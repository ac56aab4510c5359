//! The memo against planning afresh: after any changes between decisions, the same schedule.

use super::Memo;
use crate::plan::grammar::Email;
use crate::planner::planner::tests::{PLAN, load, observed, state, t, user};
use crate::planner::{Inputs, Schedule, StepDetail};
use crate::state::RunState;
use crate::target::{ConfigurationState, Observed, PlatformUser, SyncOutcome};

/// What happens to the platform or the state between two decisions of a run.
#[derive(Debug, Clone)]
enum Between {
    /// A step starts: its members as planned now are frozen.
    Start(usize),
    /// The user at a position is read again in place (a gate poll's answer, or a write's).
    Reread {
        at: usize,
        enabled: u8,
        failing: bool,
    },
    /// The user at a position is read again with another location.
    Relocate(usize),
    /// A user is gone from the platform.
    Gone(usize),
    /// A user appears on `from`.
    Arrive(u8),
    /// The plan as it is now is accepted (or, `false`, the copy as started is accepted again).
    Accept(bool),
}

fn between() -> impl proptest::strategy::Strategy<Value = Between> {
    use proptest::prelude::*;
    prop_oneof![
        1 => (0usize..4).prop_map(Between::Start),
        4 => (0usize..14, 0u8..4, any::<bool>())
            .prop_map(|(at, enabled, failing)| Between::Reread { at, enabled, failing }),
        1 => (0usize..14).prop_map(Between::Relocate),
        1 => (0usize..14).prop_map(Between::Gone),
        1 => (0u8..8).prop_map(Between::Arrive),
        1 => any::<bool>().prop_map(Between::Accept),
    ]
}

/// `enabled`: bit 0 `from` ("1"), bit 1 `to` ("2").
fn placed(name: &str, enabled: u8, failing: bool, west: bool, it: bool) -> PlatformUser {
    let on: Vec<&str> = [(1, "1"), (2, "2")]
        .into_iter()
        .filter(|(bit, _)| enabled & bit != 0)
        .map(|(_, id)| id)
        .collect();
    let sync = if failing {
        vec![("1", 5, SyncOutcome::Error, Some("ErrorAccessDenied"))]
    } else {
        Vec::new()
    };
    let mut user = user(name, &on, &sync);
    if west {
        user.location = "West".into();
    }
    if it {
        user.groups = vec!["IT".to_owned()].into();
    }
    user
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// The memo a run keeps is only ever a shortcut: after any sequence of changes to the
    /// reading and the state, planning with it gives the very schedule planning afresh does.
    #[test]
    fn a_kept_resolution_plans_what_resolving_afresh_does(
        users in proptest::collection::vec((0u8..4, proptest::bool::weighted(0.2),
            proptest::bool::weighted(0.3), proptest::bool::weighted(0.3)), 6..14),
        changes in proptest::collection::vec(between(), 1..16),
    ) {
        let plan = load(&PLAN.replace(
            "[[batch]]\nname = \"rest\"",
            "[[batch]]\nname = \"west\"\nusers = { location = \"West\" }\n\n\
             [[batch]]\nname = \"it\"\nusers = { group = \"IT\" }\n\n[[batch]]\nname = \"rest\"",
        ));
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"];
        let mut observed = observed(
            ConfigurationState::Connected,
            users
                .iter()
                .zip(names)
                .map(|(&(enabled, failing, west, it), name)| placed(name, enabled, failing, west, it))
                .collect(),
        );
        let mut state = state(vec![]);
        state.first_write_at = Some(t(1));
        // Started from a plan whose `it` batch was another group: an edit the plan shows.
        let started = load(&PLAN.replace(
            "[[batch]]\nname = \"rest\"",
            "[[batch]]\nname = \"west\"\nusers = { location = \"West\" }\n\n\
             [[batch]]\nname = \"it\"\nusers = { group = \"Sales\" }\n\n[[batch]]\nname = \"rest\"",
        ));
        state.plan_at_start = serde_json::to_value(&started).ok().map(std::sync::Arc::new);
        let memo = Memo::default();
        // The same users read anew: nothing kept of them from before.
        let afresh = |observed: &Observed| {
            Observed::new(observed.configurations.clone(), observed.free_slots, observed.users().to_vec())
        };
        let plan_of = |observed: &Observed, state: &RunState, memo: Option<&Memo>| {
            let schedule = crate::planner::plan(&Inputs {
                plan: &plan,
                observed,
                state,
                now: t(10),
                run_started: Some(t(0)),
                reauthorize: false,
                mailboxes: None,
                confirmed: false,
                memo,
            });
            serde_json::to_string(&schedule).unwrap_or_else(|e| panic!("{e}"))
        };
        let steps = ["pilot", "west", "it", "rest"];
        for (k, change) in changes.iter().enumerate() {
            let kept = plan_of(&observed, &state, Some(&memo));
            proptest::prop_assert_eq!(&kept, &plan_of(&afresh(&observed), &state, None),
                "before change {} ({:?})", k, change);
            let len = observed.users().len();
            match *change {
                Between::Start(step) => {
                    let name = steps[step];
                    let schedule: Schedule = crate::planner::plan(&Inputs {
                        plan: &plan,
                        observed: &observed,
                        state: &state,
                        now: t(10),
                        run_started: Some(t(0)),
                        reauthorize: false,
                        mailboxes: None,
                        confirmed: false,
                        memo: None,
                    });
                    let members: Vec<Email> = schedule
                        .steps
                        .iter()
                        .find_map(|p| match &p.detail {
                            StepDetail::Move(d) if d.step == name => {
                                Some(d.members.emails().to_vec())
                            }
                            _ => None,
                        })
                        .unwrap_or_default();
                    if !state.batches.contains_key(name) {
                        state.batches.insert(name.to_owned(), members.into());
                    }
                }
                Between::Reread { at, enabled, failing } if at < len => {
                    let name = observed.users()[at].email.to_string();
                    let name = name.trim_end_matches("@x.io").to_owned();
                    let (west, it) = {
                        let u = &observed.users()[at];
                        (u.location.as_ref() == "West", !u.groups.is_empty())
                    };
                    observed.change_users_at([at], |_, user| {
                        *user = placed(&name, enabled, failing, west, it);
                    });
                }
                Between::Relocate(at) if at < len => {
                    observed.change_users_at([at], |_, user| {
                        user.location = if user.location.as_ref() == "West" { "East" } else { "West" }.into();
                    });
                }
                Between::Gone(at) if at < len => {
                    observed.change_users(|users| {
                        users.remove(at);
                    });
                }
                Between::Accept(now) => {
                    let copy = if now { serde_json::to_value(&plan) } else { serde_json::to_value(&started) };
                    state.plan_accepted = copy.ok().map(std::sync::Arc::new);
                }
                Between::Arrive(n) => {
                    let name = format!("new{n}");
                    observed.change_users(|users| users.push(placed(&name, 1, false, n % 2 == 0, n % 3 == 0)));
                }
                _ => {}
            }
        }
        let kept = plan_of(&observed, &state, Some(&memo));
        proptest::prop_assert_eq!(kept, plan_of(&afresh(&observed), &state, None));
    }
}
