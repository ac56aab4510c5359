//! One conformance suite for both state backends: a state file, and a rollout on a real
//! PostgreSQL server (a throwaway cluster, `tests/cli/pg_server.rs`). The same script of writes
//! runs against each; what each reads back — the run state, the journal's in-doubt intents,
//! the notification ledger, the audit chain and its head — must be the same, and the lock must
//! refuse a second holder on both. PostgreSQL-only guarantees (the fencing epoch, a second
//! handle seeing the first's writes) follow.

use jiff::Timestamp;

use super::{
    Access, DeliveryAttempt, FailingUser, JournalAction, MailboxAccess, NewApproval, StateLocation,
    StepPhase, StepRecord, Store, StoreError,
};
use crate::plan::grammar::Email;

#[path = "../../tests/cli/pg_server.rs"]
mod pg_server;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).expect("a time")
}

fn email(text: &str) -> Email {
    Email::parse(text).unwrap_or_else(|e| panic!("{text}: {}", e.message))
}

/// A fresh store of plan `p` on each backend; the temporary folder lives as long as the store.
fn backends() -> Vec<(
    &'static str,
    Store,
    StateLocation,
    Option<tempfile::TempDir>,
)> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = StateLocation::File(dir.path().join("p.state.db"));
    let server = pg_server::server();
    let url = server.superuser_url(&server.fresh_schema("conformance"));
    let pg = StateLocation::parse(std::path::Path::new(&url)).expect("a URL");
    let open = |location: &StateLocation| {
        Store::open_or_create_at(location, "p", "sandbox:demo").expect("a store")
    };
    vec![
        ("sqlite", open(&file), file, Some(dir)),
        ("postgres", open(&pg), pg, None),
    ]
}

/// Everything a rollout's store records, once each, in the order a rollout does it.
fn script(store: &mut Store) -> Result<(), StoreError> {
    let (ana, ben) = (email("ana@contoso.example"), email("ben@contoso.example"));
    store.approve(&NewApproval {
        step: "pilot",
        by: "cab",
        os_user: "ops",
        host: "h1",
        at: at(1),
        digest: "d1",
        signed: None,
    })?;
    store.hold("freeze", "ops", at(2))?;
    assert_eq!(store.release("ops", at(3))?, 1);
    store.start_rollout(at(4), "d1", Some("d1"), "{\"plan\":1}", "ops")?;
    let mut access = MailboxAccess::default();
    access.record(ana.clone(), Access::Ok, at(5));
    access.record(ben.clone(), Access::Denied, at(5));
    store.record_mailboxes(&access, &[ana.clone(), ben.clone()])?;
    let record = StepRecord {
        id: "pilot".to_owned(),
        batch: "pilot".to_owned(),
        members: vec![ana.clone(), ben.clone()].into(),
        preexisting: Default::default(),
        phase: StepPhase::Moving,
        phase_at: at(6),
        started_at: at(6),
        judged_after: None,
        passed_at: None,
        failures: Vec::new(),
        definition: None,
    };
    store.start_step(&record, Some(&[ana.clone(), ben.clone()]), "ops", "d1")?;
    let intent = store.intent(
        at(7),
        Some("pilot"),
        JournalAction::Enable,
        Some("OAuth"),
        &[ana.clone(), ben.clone()],
    )?;
    store.outcome(intent, at(8), &serde_json::json!({"changed": 2}))?;
    store.intent(
        at(9),
        Some("pilot"),
        JournalAction::Disable,
        Some("Basic Auth"),
        std::slice::from_ref(&ana),
    )?;
    store.set_phase(
        "pilot",
        StepPhase::Verifying,
        at(10),
        Some(at(10)),
        None,
        "ops",
        "d1",
        &serde_json::json!({}),
    )?;
    let failing = FailingUser {
        email: ben.clone(),
        outcome: "error".to_owned(),
        error: Some("access denied".to_owned()),
        at: Some(at(11)),
    };
    store.pass_step("pilot", at(12), std::slice::from_ref(&failing), "ops", "d1")?;
    store.recheck_exceptions(std::slice::from_ref(&ben), at(13))?;
    store.close_exceptions("pilot", std::slice::from_ref(&ben), at(14), "ops", "d1")?;
    store.record_delivery(&DeliveryAttempt {
        channel: "c1",
        event_key: "halted:pilot",
        kind: "halted",
        label: "webhook",
        notification: "{}",
        at: at(15),
        outcome: Err(("503".to_owned(), at(75))),
    })?;
    store.record_delivery(&DeliveryAttempt {
        channel: "c1",
        event_key: "halted:pilot",
        kind: "halted",
        label: "webhook",
        notification: "{}",
        at: at(80),
        outcome: Ok(()),
    })?;
    assert_eq!(store.revoke_approvals("pilot", None, "cab", at(16))?, 1);
    Ok(())
}

/// What the store reads back, in a form two backends can be compared by.
fn readback(store: &Store) -> Vec<String> {
    let mut state = store.load().expect("loaded");
    // Who holds the lock differs by design (nobody here); the rest must not.
    state.lock_holder = None;
    let verdict = store.verify_audit_chain(None).expect("verified");
    assert!(verdict.is_intact(), "{verdict:?}");
    vec![
        format!("{state:?}"),
        format!("{:?}", store.in_doubt().expect("in doubt")),
        format!("{:?}", store.notification_ledger().expect("ledger")),
        format!("{:?}", store.audit_trail().expect("trail")),
        format!("{:?}", store.audit_head().expect("head")),
        format!("{:?}", store.user_moves().expect("moves")),
    ]
}

#[test]
fn both_backends_record_and_read_back_the_same_rollout_with_the_same_audit_chain() {
    let mut seen = Vec::new();
    for (name, mut store, _, _dir) in backends() {
        script(&mut store).unwrap_or_else(|e| panic!("{name}: {e}"));
        let state = store.load().expect("loaded");
        assert_eq!(state.steps.len(), 1, "{name}");
        assert_eq!(
            store.in_doubt().expect("in doubt").len(),
            1,
            "{name}: the unanswered intent"
        );
        seen.push((name, readback(&store)));
    }
    let (first, second) = (&seen[0], &seen[1]);
    for (a, b) in first.1.iter().zip(&second.1) {
        assert_eq!(a, b, "{} and {} differ", first.0, second.0);
    }
}

#[test]
fn what_a_handle_keeps_of_the_steps_it_started_is_what_a_new_handle_reads() {
    let [ana, ben, cy, dan] =
        ["ana", "ben", "cy", "dan"].map(|n| email(&format!("{n}@contoso.example")));
    for (name, mut store, location, _dir) in backends() {
        store
            .start_rollout(at(1), "d1", None, "{}", "ops")
            .expect("started");
        // Kept from here on: the starts below must update what is kept, not go around it.
        store.load().expect("loaded");
        let wave = |id: &str, members: Vec<Email>, preexisting: &[&Email]| StepRecord {
            id: id.to_owned(),
            batch: "east".to_owned(),
            members: members.into(),
            preexisting: std::sync::Arc::new(preexisting.iter().map(|e| (*e).clone()).collect()),
            phase: StepPhase::Moving,
            phase_at: at(2),
            started_at: at(2),
            judged_after: None,
            passed_at: None,
            failures: Vec::new(),
            definition: None,
        };
        // The batch given out of order and with a duplicate, a pre-existing failure that is not
        // a member, and a second wave that offers the batch again with one more user.
        let batch = [cy.clone(), ana.clone(), ben.clone(), ana.clone()];
        let first = wave("east#1", vec![ana.clone(), ben.clone()], &[&ben, &cy]);
        store
            .start_step(&first, Some(&batch), "ops", "d1")
            .expect("first wave");
        let second = wave("east#2", vec![cy.clone()], &[]);
        store
            .start_step(&second, Some(&[cy.clone(), dan.clone()]), "ops", "d1")
            .expect("second wave");
        let kept = store.load().expect("loaded");
        let again = Store::open_or_create_at(&location, "p", "sandbox:demo").expect("reopened");
        let read = again.load().expect("loaded");
        assert_eq!(
            format!("{:?}", kept.batches),
            format!("{:?}", read.batches),
            "{name}"
        );
        assert_eq!(
            format!("{:?}", kept.steps),
            format!("{:?}", read.steps),
            "{name}"
        );
        assert_eq!(kept.batches["east"].len(), 4, "{name}");
        assert_eq!(
            kept.steps["east#1"].preexisting.iter().collect::<Vec<_>>(),
            [&ben],
            "{name}"
        );
    }
}

/// The plan's copies are kept between loads (see `parsed_plans.rs`): every write of them, this
/// handle's or another's, is what the next load reads.
#[test]
fn the_plan_as_started_and_accepted_is_what_was_last_written_by_any_handle() {
    let copies = |store: &Store| {
        let state = store.load().expect("loaded");
        let text = |copy: Option<std::sync::Arc<serde_json::Value>>| copy.map(|c| c.to_string());
        (text(state.plan_at_start), text(state.plan_accepted))
    };
    let both =
        |started: &str, accepted: &str| (Some(started.to_owned()), Some(accepted.to_owned()));
    for (name, mut store, location, _dir) in backends() {
        store
            .start_rollout(at(1), "d1", None, r#"{"v":1}"#, "ops")
            .expect("started");
        assert_eq!(copies(&store), both(r#"{"v":1}"#, r#"{"v":1}"#), "{name}");
        store
            .accept_plan_change(at(2), r#"{"v":2}"#, &[], "ops", "d2")
            .expect("accepted");
        assert_eq!(copies(&store), both(r#"{"v":1}"#, r#"{"v":2}"#), "{name}");
        // Unchanged, the same parse is handed out again.
        let (a, b) = (store.load().expect("loaded"), store.load().expect("loaded"));
        let same = |x: &Option<std::sync::Arc<serde_json::Value>>,
                    y: &Option<std::sync::Arc<serde_json::Value>>| {
            matches!((x, y), (Some(x), Some(y)) if std::sync::Arc::ptr_eq(x, y))
        };
        assert!(same(&a.plan_accepted, &b.plan_accepted), "{name}");
        assert!(same(&a.plan_at_start, &b.plan_at_start), "{name}");

        let mut other =
            Store::open_or_create_at(&location, "p", "sandbox:demo").expect("a second handle");
        other
            .accept_plan_change(at(3), r#"{"v":3}"#, &[], "ops", "d3")
            .expect("accepted elsewhere");
        assert_eq!(copies(&store), both(r#"{"v":1}"#, r#"{"v":3}"#), "{name}");
        store
            .restart_rollout(at(4), "d4", None, r#"{"v":4}"#, &[], "ops")
            .expect("restarted");
        assert_eq!(copies(&store), both(r#"{"v":4}"#, r#"{"v":4}"#), "{name}");
        assert_eq!(copies(&other), both(r#"{"v":4}"#, r#"{"v":4}"#), "{name}");
    }
}

#[test]
fn a_restarted_rollout_forgets_its_steps_on_both_backends() {
    for (name, mut store, location, _dir) in backends() {
        script(&mut store).unwrap_or_else(|e| panic!("{name}: {e}"));
        store
            .restart_rollout(at(100), "d2", None, "{}", &["edited".to_owned()], "ops")
            .expect("restarted");
        // A second handle reads what PostgreSQL (or the file) holds, not this one's memory.
        let again = Store::open_or_create_at(&location, "p", "sandbox:demo").expect("reopened");
        let state = again.load().expect("loaded");
        assert!(
            state.steps.is_empty() && state.batches.is_empty(),
            "{name}: {state:?}"
        );
    }
}

#[test]
fn the_lock_is_held_once_and_released_or_forced_on_both_backends() {
    for (name, mut store, location, _dir) in backends() {
        store
            .lock("apply", "ops", at(1))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut second =
            Store::open_or_create_at(&location, "p", "sandbox:demo").expect("a second handle");
        match second.lock("apply", "ops", at(2)) {
            Err(StoreError::Locked { holder, .. }) => {
                assert_eq!(
                    holder.pid,
                    std::process::id(),
                    "{name}: the holder is named"
                );
            }
            other => panic!("{name}: a second lock was {other:?}"),
        }
        assert!(
            second.load().expect("loaded").lock_holder.is_some(),
            "{name}"
        );
        store.unlock().expect("unlocked");
        second
            .lock("apply", "ops", at(3))
            .unwrap_or_else(|e| panic!("{name}: after unlock: {e}"));
        let mut third =
            Store::open_or_create_at(&location, "p", "sandbox:demo").expect("a third handle");
        let forced = third.force_unlock("ops", at(4)).expect("forced");
        assert!(forced.is_some(), "{name}: the forced holder is returned");
        assert!(
            third.load().expect("loaded").lock_holder.is_none(),
            "{name}"
        );
    }
}

#[test]
fn a_run_whose_lock_was_forced_away_or_whose_session_died_stops_at_its_next_write() {
    let server = pg_server::server();
    let url = server.superuser_url(&server.fresh_schema("fence"));
    let location = StateLocation::parse(std::path::Path::new(&url)).expect("a URL");
    let open = || Store::open_or_create_at(&location, "p", "sandbox:demo").expect("a store");
    let ana = [email("ana@contoso.example")];

    // Forced away: the epoch moved on, so the old holder's next intent is refused.
    let mut run = open();
    run.lock("apply", "ops", at(1)).expect("locked");
    run.intent(at(2), None, JournalAction::Enable, Some("OAuth"), &ana)
        .expect("fenced write");
    open().force_unlock("ops", at(3)).expect("forced");
    let refused = run.intent(at(4), None, JournalAction::Enable, Some("OAuth"), &ana);
    assert!(
        matches!(refused, Err(StoreError::LockLost { .. })),
        "{refused:?}"
    );

    // The session ended under a run: the lock went with it, and the run cannot write again
    // even after another run took the lock.
    let mut run = open();
    run.lock("apply", "ops", at(5)).expect("locked again");
    let schema = match &location {
        StateLocation::Postgres(pg) => pg.schema.clone(),
        StateLocation::File(_) => unreachable!("a PostgreSQL location"),
    };
    let pid = server.psql(&format!("SELECT backend_pid FROM {schema}.fences"));
    assert!(!pid.is_empty(), "the fence names the holder's session");
    server.psql(&format!("SELECT pg_terminate_backend({pid})"));
    let mut next = open();
    next.lock("apply", "ops", at(6))
        .expect("the lock is free once the session ended");
    let refused = run.intent(at(7), None, JournalAction::Enable, Some("OAuth"), &ana);
    match refused {
        Err(StoreError::LockLost { why, .. }) => assert!(why.contains("session"), "{why}"),
        other => panic!("the dead session's write was {other:?}"),
    }
    assert!(
        next.load().expect("loaded").lock_holder.is_some(),
        "the new holder is the one recorded"
    );
    next.intent(at(8), None, JournalAction::Enable, Some("OAuth"), &ana)
        .expect("the new holder writes");
    let epochs = server.psql(&format!(
        "SELECT string_agg(coalesce(epoch::text, '-'), ',' ORDER BY row_id) FROM {schema}.journal"
    ));
    // Taken (1), forced away (2), taken (3), its session ended, taken by the next run (4).
    assert_eq!(
        epochs, "1,4",
        "each journal row carries the epoch it was written under"
    );
}

#[test]
fn a_rollout_never_recorded_is_not_created_by_reading_it() {
    let server = pg_server::server();
    let url = server.superuser_url(&server.fresh_schema("absent"));
    let location = StateLocation::parse(std::path::Path::new(&url)).expect("a URL");
    let none = Store::open_existing_at(&location, "p", "sandbox:demo").expect("opened");
    assert!(none.is_none());
    Store::open_or_create_at(&location, "p", "sandbox:demo").expect("created");
    let other_target =
        Store::open_existing_at(&location, "p", "http:https://x.example").expect("opened");
    assert!(
        other_target.is_none(),
        "a rollout is keyed by plan name and target"
    );
}

#[test]
fn a_schema_a_newer_cutover_upgraded_is_refused_not_downgraded() {
    let server = pg_server::server();
    let schema = server.fresh_schema("newer");
    let url = server.superuser_url(&schema);
    let location = StateLocation::parse(std::path::Path::new(&url)).expect("a URL");
    Store::open_or_create_at(&location, "p", "sandbox:demo").expect("created");
    server.psql(&format!(
        "UPDATE {schema}.schema_meta SET value = '99' WHERE key = 'state_format'"
    ));
    let refused = Store::open_or_create_at(&location, "p", "sandbox:demo");
    match refused {
        Err(e @ StoreError::Schema { .. }) => {
            assert!(e.to_string().contains("newer cutover"), "{e}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
    assert_eq!(
        server.psql(&format!(
            "SELECT value FROM {schema}.schema_meta WHERE key = 'state_format'"
        )),
        "99",
        "left as the newer cutover made it"
    );
}

#[test]
fn tls_is_negotiated_and_the_certificate_checked_as_sslmode_says() {
    let server = pg_server::server();
    let schema = server.fresh_schema("tls");
    let url = |host: &str, params: &str| {
        format!(
            "postgres://postgres@{host}:{}/postgres?schema={schema}&{params}",
            server.port
        )
    };
    let open = |text: String| {
        StateLocation::parse(std::path::Path::new(&text))
            .and_then(|l| Store::open_or_create_at(&l, "p", "sandbox:demo"))
    };
    let ca = server.ca_file().display().to_string();
    let wrong = server.server_certificate().display().to_string();
    // Every other test connects with sslmode=disable: an encrypted cutover session is this one.
    let encrypted = || {
        server.psql(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
             WHERE application_name = 'cutover' AND ssl",
        )
    };
    let cases: &[(&str, String, bool)] = &[
        ("127.0.0.1", "sslmode=require".to_owned(), true),
        ("127.0.0.1", "sslmode=prefer".to_owned(), true),
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            true,
        ),
        (
            "localhost",
            format!("sslmode=verify-ca&sslrootcert={ca}"),
            true,
        ),
        // The certificate names 127.0.0.1, not localhost.
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            false,
        ),
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={wrong}"),
            false,
        ),
        // `require` with a CA checks the chain, as libpq does.
        (
            "127.0.0.1",
            format!("sslmode=require&sslrootcert={wrong}"),
            false,
        ),
    ];
    for (host, params, connects) in cases {
        match open(url(host, params)) {
            Ok(store) => {
                assert!(connects, "{host} {params}: connected");
                assert_ne!(
                    encrypted(),
                    "0",
                    "{host} {params}: the session is encrypted"
                );
                drop(store);
            }
            Err(e) => assert!(!connects, "{host} {params}: {e}"),
        }
    }
}
