//! The planner's scenarios: a plan and a state in, the schedule and next action out.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::plan::grammar::Email;
use crate::plan::load_text;
use crate::planner::Side;
use crate::state::{Approval, Hold, StepRecord};
use crate::target::{
    AuthType, Configuration, ConfigurationState, PlatformUser, SyncOutcome, SyncResult,
};

/// `from` ("Basic Auth") is configuration "1", `to` ("OAuth") is "2".
pub(in crate::planner) const PLAN: &str = r#"version = 1
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

pub(in crate::planner) fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("time")
}

pub(in crate::planner) fn email(name: &str) -> Email {
    Email::parse(&format!("{name}@x.io")).expect("email")
}

pub(in crate::planner) fn load(text: &str) -> Plan {
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
pub(in crate::planner) fn user(
    name: &str,
    enabled: &[&str],
    sync: &[(&str, i64, SyncOutcome, Option<&str>)],
) -> PlatformUser {
    PlatformUser {
        email: email(name),
        location: "East".into(),
        groups: Vec::new().into(),
        enabled: enabled.iter().map(|c| (*c).into()).collect(),
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
            .collect(),
    }
}

pub(in crate::planner) fn observed(from: ConfigurationState, users: Vec<PlatformUser>) -> Observed {
    Observed::new(
        vec![
            configuration("1", "Basic Auth", from),
            configuration("2", "OAuth", ConfigurationState::Connected),
        ],
        0,
        users,
    )
}

fn record(id: &str, batch: &str, members: &[&str], phase: StepPhase, at: i64) -> StepRecord {
    StepRecord {
        id: id.to_owned(),
        batch: batch.to_owned(),
        members: members.iter().map(|m| email(m)).collect(),
        preexisting: Default::default(),
        phase,
        phase_at: t(at),
        started_at: t(0),
        judged_after: (phase == StepPhase::Verifying).then(|| t(at)),
        passed_at: (phase == StepPhase::Passed).then(|| t(at)),
        failures: Vec::new(),
        definition: None,
    }
}

/// An approval of `step` at `t(at)`, unbound (as a release before digests recorded them).
fn approval(step: &str, at: i64) -> Approval {
    Approval {
        id: at,
        step: step.to_owned(),
        by: "cab".to_owned(),
        os_user: "cab".to_owned(),
        host: "host".to_owned(),
        at: t(at),
        digest: None,
        principal: None,
        signature: None,
    }
}

/// A rollout started at t(0) with these step records.
pub(in crate::planner) fn state(records: Vec<StepRecord>) -> RunState {
    let mut state = RunState {
        started_at: Some(t(0)),
        ..RunState::default()
    };
    let mut batches: BTreeMap<String, Vec<Email>> = BTreeMap::new();
    for r in records {
        batches
            .entry(r.batch.clone())
            .or_default()
            .extend(r.members.iter().cloned());
        state.steps.insert(r.id.clone(), r);
    }
    // In email order, as the state keeps them.
    state.batches = batches
        .into_iter()
        .map(|(name, mut members)| {
            members.sort();
            (name, members.into())
        })
        .collect();
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
        confirmed: false,
        memo: None,
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
        std::sync::Arc::make_mut(&mut pilot.preexisting).insert(email("a"));
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
        failing_before.map(|f| f.users.to_vec()),
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
    state.approvals.push(approval("rest", 200));
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
        } if step == "disconnect" => (reason, failures.iter().map(|f| f.email.clone()).collect()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_straggler_remedy_fits_the_case() {
    // `c`, of the passed `rest`, was put back on Basic; `d` appeared after `rest` started.
    let plan = load(PLAN);
    let (mut observed, state) = migrated(ConfigurationState::Connected);
    observed.change_users(|users| {
        users[2].enabled = vec!["1".into(), "2".into()];
        users.push(user("d", &["1"], &[]));
    });
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
    observed.change_users(|users| users[2].enabled = vec!["2".into()]);
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
    observed.change_users(|users| {
        users[0].sync.clear();
        users[1] = user(
            "b",
            &["2"],
            &[("2", 50, SyncOutcome::Error, Some("ErrorServerBusy"))],
        );
        users[2] = user(
            "c",
            &["2"],
            &[("2", 50, SyncOutcome::Error, Some("ErrorNonExistentMailbox"))],
        );
    });
    for record in state.steps.values_mut() {
        record.preexisting = std::sync::Arc::new(record.members.iter().cloned().collect());
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
    state
        .steps
        .values_mut()
        .for_each(|r| r.preexisting = Default::default());
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
        confirmed: false,
        memo: None,
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
    mailboxes.record(email("a"), Access::Ok, t(5));
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
    rolled_back.approvals.push(approval("pilot", 8));
    let restart = |mailboxes: &MailboxAccess| {
        super::plan(&Inputs {
            plan: &skip,
            observed: &observed,
            state: &rolled_back,
            now: t(10),
            run_started: Some(t(10)),
            reauthorize: false,
            mailboxes: Some(mailboxes),
            confirmed: false,
            memo: None,
        })
        .next
    };
    assert!(matches!(
        restart(&MailboxAccess::default()),
        Action::CheckMailboxes { .. }
    ));
    assert!(matches!(restart(&mailboxes), Action::Stop { .. }));
    let mut fixed = mailboxes.clone();
    fixed.record(email("b"), Access::Ok, t(9));
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
        confirmed: false,
        memo: None,
    });
    let finding = schedule
        .findings
        .iter()
        .find(|f| f.code == "mailbox-access-denied")
        .expect("a finding");
    assert_eq!(*finding.users, [email("b")]);
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
            confirmed: false,
            memo: None,
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

/// The users' locations and groups are kept per reading: a change through `change_users` or
/// `change_users_at` (a user read again) is what the next plan selects by.
#[test]
fn a_changed_location_or_group_is_what_the_next_plan_selects_by() {
    let plan = load(&PLAN.replace(
        "[[batch]]\nname = \"rest\"",
        "[[batch]]\nname = \"west\"\nusers = { location = \"West\" }\n\n\
         [[batch]]\nname = \"it\"\nusers = { group = \"IT\" }\n\n[[batch]]\nname = \"rest\"",
    ));
    let users = ["a", "b", "c", "d", "e", "f"].map(|name| user(name, &["1"], &[]));
    let mut observed = observed(ConfigurationState::Connected, users.to_vec());
    observed.change_users(|users| {
        users[2].location = "West".into();
        users[3].groups = vec!["IT".to_owned()].into();
    });
    let members = |observed: &Observed, step: &str| -> Vec<Email> {
        let s = schedule(&plan, observed, &RunState::default(), 0);
        s.steps
            .iter()
            .find_map(|p| match &p.detail {
                StepDetail::Move(d) if d.step == step => Some(d.members.emails().to_vec()),
                _ => None,
            })
            .unwrap_or_default()
    };
    assert_eq!(members(&observed, "west"), [email("c")]);
    assert_eq!(members(&observed, "it"), [email("d")]);

    observed.change_users(|users| {
        users[2].location = "North".into();
        users[3].location = " west".into();
        users[4].groups = vec!["Sales".to_owned(), "it".to_owned()].into();
    });
    assert_eq!(members(&observed, "west"), [email("d")]);
    assert_eq!(members(&observed, "it"), [email("e")]);

    // Read again in place, as a gate poll's answer is: where users are stays known, what they
    // hold does not.
    observed.change_users_at([2, 4, 5], |i, user| match i {
        2 => user.location = "West".into(),
        4 => user.groups = vec!["Sales".to_owned()].into(),
        _ => user.groups = vec!["IT".to_owned()].into(),
    });
    assert_eq!(members(&observed, "west"), [email("c"), email("d")]);
    assert_eq!(members(&observed, "it"), [email("f")]);
}
