//! A rollout that an earlier release left mid-way resumes with this one: its state file is
//! upgraded in place, what already ran is not run again, and the rest completes.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::{TestEnv, repo};

/// The fixture folder, copied into a fresh test folder as a user would have it.
fn format_1_rollout() -> TestEnv {
    let fixture = repo().join("tests/fixtures/state/format-1");
    let env = TestEnv::new();
    let copy = |from: &str, to: &str| {
        let to = env.path().join(to);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).expect("create folder");
        }
        std::fs::copy(fixture.join(from), &to).expect("copy fixture file");
    };
    copy("plan.toml", "plan.toml");
    copy("tenant.db", "tenant.db");
    copy("rollout.state.db", ".cutover/rollout.state.db");
    env
}

/// How many times each (user, op, configuration) write changed something.
fn changes(inspect: &Value) -> BTreeMap<(String, String, String), usize> {
    let mut changes = BTreeMap::new();
    for write in inspect["writes"].as_array().expect("writes") {
        if let (true, Some(user)) = (write["changed"] == true, write["user"].as_str()) {
            let key = (
                user.to_owned(),
                write["op"].as_str().unwrap_or("").to_owned(),
                write["configuration"].as_str().unwrap_or("").to_owned(),
            );
            *changes.entry(key).or_default() += 1;
        }
    }
    changes
}

fn state_format(path: &Path) -> (String, bool) {
    let db = rusqlite::Connection::open(path).expect("open the state file");
    let version = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get(0),
        )
        .expect("format_version");
    let mailbox_checks = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'mailbox_checks'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .expect("schema")
        == 1;
    (version, mailbox_checks)
}

#[test]
fn a_rollout_stopped_by_the_previous_release_resumes_where_it_stopped() {
    let env = format_1_rollout();
    let state = env.path().join(".cutover/rollout.state.db");
    assert_eq!(state_format(&state).0, "1", "the fixture is format 1");
    let before = env.inspect();
    let moved_before = changes(&before);

    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 6, "{}", status.transcript());
    // From the state alone: the file has no record of how its last run ended, so the next
    // step is derived from the plan and the steps the state has.
    for line in [
        "  pilot                passed       2 user(s) (started ",
        "  east                 passed       11 user(s) (started ",
        "  rest#1               passed       12 user(s) (started ",
        "  rest#2               not started  5 user(s)",
        "  rest#1               by cab-chair (",
        "waiting: approval rest#2 needs `cutover approve`; run `cutover approve plan.toml rest`",
    ] {
        assert!(
            status.stdout.lines().any(|l| l.starts_with(line)),
            "{line}:\n{}",
            status.stdout
        );
    }
    assert_eq!(
        state_format(&state),
        ("9".to_owned(), true),
        "opening the file upgraded it"
    );
    // The old trail was chained in order on the upgrade: it verifies, and says it predates
    // the chain.
    let verify = env.run(["log", "plan.toml", "--verify"]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
    assert!(
        verify.stdout.starts_with("audit chain: intact, ")
            && verify
                .stdout
                .contains(" predate the chain (state format 7)"),
        "{}",
        verify.stdout
    );

    let waiting = env.run([
        "apply",
        "plan.toml",
        "--until-blocked",
        "--poll-interval",
        "20ms",
    ]);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    assert!(
        waiting
            .stdout
            .ends_with("waiting: approval rest#2 needs `cutover approve`; run `cutover approve plan.toml rest`\n"),
        "{}",
        waiting.stdout
    );
    assert_eq!(
        env.inspect()["writes"],
        before["writes"],
        "a run that waits writes nothing"
    );

    let approve = env.run(["approve", "plan.toml", "rest#2", "--by", "cab-chair"]);
    assert_eq!(approve.code, 0, "{}", approve.transcript());
    let done = env.run([
        "apply",
        "plan.toml",
        "--poll-interval",
        "20ms",
        "--format",
        "json",
    ]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let started: Vec<String> = done
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "step_started")
        .filter_map(|e| e["step"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(started, ["rest#2"], "only the step that had not run starts");

    let after = env.inspect();
    assert_eq!(after["violations"], Value::Array(vec![]), "violations");
    for user in after["users"].as_array().expect("users") {
        assert_eq!(user["enabled"], serde_json::json!(["OAuth"]), "{user}");
    }
    let twice: Vec<_> = changes(&after)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(twice.is_empty(), "users moved twice: {twice:?}");
    for (key, n) in &moved_before {
        assert_eq!(changes(&after).get(key), Some(n), "{key:?} moved again");
    }

    let log = env.run(["log", "plan.toml"]);
    assert_eq!(log.code, 0, "{}", log.transcript());
    for needle in [
        "approved               rest#1             by cab-chair",
        "disconnected",
    ] {
        assert!(log.stdout.contains(needle), "{needle}:\n{}", log.stdout);
    }
    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    // Records written since extend the upgraded chain.
    let verify = env.run(["log", "plan.toml", "--verify"]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
}

/// The previous release wrote format 8; format 9 adds only the `moved` marker. A format 8 file
/// is what this release's file is without it: made so from the fixture (mid-rollout, waiting for
/// an approval), it resumes, is upgraded, and finishes.
#[test]
fn a_rollout_left_by_the_format_8_release_resumes_and_finishes() {
    let env = format_1_rollout();
    let state = env.path().join(".cutover/rollout.state.db");
    assert_eq!(env.run(["status", "plan.toml"]).code, 6);
    let db = rusqlite::Connection::open(&state).expect("open the state file");
    db.execute_batch("DROP TABLE moved; UPDATE meta SET value = '8' WHERE key = 'format_version';")
        .expect("made format 8");
    drop(db);
    assert_eq!(state_format(&state).0, "8");
    let moved_before = changes(&env.inspect());

    let approve = env.run(["approve", "plan.toml", "rest#2", "--by", "cab-chair"]);
    assert_eq!(approve.code, 0, "{}", approve.transcript());
    assert_eq!(state_format(&state).0, "9", "opening the file upgraded it");
    let done = env.run(["apply", "plan.toml", "--poll-interval", "20ms"]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let after = env.inspect();
    assert_eq!(after["violations"], Value::Array(vec![]), "violations");
    for (key, n) in &moved_before {
        assert_eq!(changes(&after).get(key), Some(n), "{key:?} moved again");
    }
    let verify = env.run(["log", "plan.toml", "--verify"]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
}
