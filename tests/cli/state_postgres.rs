//! The state on PostgreSQL (`--state postgres://…` / `CUTOVER_STATE`), end to end against a
//! throwaway PostgreSQL 15 server: a halted rollout resumes, a run killed with SIGKILL at random
//! moments resumes, a run whose lock session is killed from outside stops before its next
//! platform write, `state migrate` moves a state file's rollout and the old file points at the
//! new place, and a password never comes from (nor appears in) the URL.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pg_server::{OPS_PASSWORD, server};
use crate::support::{Run, TestEnv, fixture_plan};

fn rollout() -> String {
    fixture_plan("rollout", &[])
}

/// A 24-user tenant and the rollout plan, its state on a fresh schema of the test server.
fn on_postgres(plan: &str) -> (TestEnv, String) {
    let server = server();
    let url = server.ops_url(&server.fresh_schema("cli"));
    let mut env = TestEnv::new()
        .sandbox("demo", 24, "40ms")
        .file("plan.toml", plan);
    env.set_env("CUTOVER_STATE", &url);
    env.set_env("PGPASSWORD", OPS_PASSWORD);
    (env, url)
}

fn apply(env: &TestEnv, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "plan.toml", "--poll-interval", "20ms"];
    args.extend_from_slice(extra);
    env.run(args)
}

fn enabled(inspect: &Value) -> BTreeMap<String, Vec<String>> {
    inspect["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            let on = u["enabled"]
                .as_array()
                .expect("enabled")
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            (u["email"].as_str().unwrap_or("").to_owned(), on)
        })
        .collect()
}

fn changed_writes(inspect: &Value) -> usize {
    inspect["writes"]
        .as_array()
        .expect("writes")
        .iter()
        .filter(|w| w["changed"] == true)
        .count()
}

/// Everyone on OAuth alone, no invariant broken, the trail intact.
fn assert_migrated(env: &TestEnv) {
    let inspect = env.inspect();
    for (email, on) in enabled(&inspect) {
        assert_eq!(on, ["OAuth"], "{email}");
    }
    assert_eq!(inspect["violations"], Value::Array(vec![]), "violations");
    let verify = env.run(["log", "plan.toml", "--verify"]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
}

/// No user got the same change twice (a halt's re-enabled users aside, none was expected to).
fn assert_nobody_moved_twice(inspect: &Value) {
    let mut changes: BTreeMap<(String, String, String), usize> = BTreeMap::new();
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
    let twice: Vec<_> = changes.into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "users moved twice: {twice:?}");
}

fn east(env: &TestEnv) -> Vec<String> {
    let plan = env.run(["plan", "plan.toml", "--format", "json"]).json();
    plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "east")
        .and_then(|s| s["detail"]["members"].as_array())
        .map(|m| {
            m.iter()
                .filter_map(|e| e["email"].as_str().map(str::to_owned))
                .collect()
        })
        .expect("east's members")
}

#[test]
fn a_halted_rollout_on_postgres_resumes_where_it_stopped_and_writes_no_state_file() {
    let (env, _) = on_postgres(&rollout());
    let east = east(&env);
    let denied = [east[0].as_str(), east[1].as_str()];
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", denied[0], denied[1]])
            .code,
        0
    );
    let halted = apply(&env, &[]);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    // The gate fails as soon as one denied user is seen: at least one is named.
    assert!(
        denied.iter().any(|d| halted.stdout.contains(d)),
        "{}",
        halted.stdout
    );
    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 3, "{}", status.transcript());

    assert_eq!(
        env.run(["sandbox", "allow-access", "tenant.db", denied[0], denied[1]])
            .code,
        0
    );
    let fixed = apply(&env, &[]);
    assert_eq!(fixed.code, 0, "{}", fixed.transcript());
    assert_migrated(&env);
    assert!(
        !env.path().join(".cutover/rollout.state.db").exists(),
        "the state is on PostgreSQL only"
    );
}

/// `apply` killed with SIGKILL at random moments, then run again: with the state on
/// PostgreSQL, too, the rollout ends migrated and nobody is moved twice.
#[test]
fn crash_test_sigkill_at_random_moments_with_the_state_on_postgres() {
    let mut seed: u64 = 0x5eed_0000_0000_0017;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut kills = 0;
    // Kills that found the rollout under way: some users moved, not all.
    let mut mid_rollout = 0;
    // A rollout may finish before any kill lands in it (a fast machine): then another, on a
    // fresh schema and tenant, until one was killed mid-way.
    let mut rollouts = 0;
    while mid_rollout == 0 && rollouts < 6 {
        rollouts += 1;
        let (env, _) = on_postgres(&rollout());
        let mut finished = false;
        for _ in 0..10 {
            let mut child = env.spawn(["apply", "plan.toml", "--poll-interval", "10ms"]);
            std::thread::sleep(Duration::from_millis(100 + random(500)));
            match child.try_wait().expect("try_wait") {
                Some(status) => {
                    assert_eq!(
                        status.code(),
                        Some(0),
                        "a run that ends on its own ends done"
                    );
                    finished = true;
                    break;
                }
                None => {
                    child.kill().expect("SIGKILL");
                    let _ = child.wait();
                    kills += 1;
                    let inspect = env.inspect();
                    assert_eq!(inspect["violations"], Value::Array(vec![]));
                    let on = enabled(&inspect);
                    let started = on.values().any(|v| v.iter().any(|c| c == "OAuth"));
                    let done = on.values().all(|v| v.as_slice() == ["OAuth"]);
                    if started && !done {
                        mid_rollout += 1;
                    }
                }
            }
        }
        if !finished {
            let last = apply(&env, &[]);
            assert_eq!(last.code, 0, "{}", last.transcript());
        }
        assert_migrated(&env);
        assert_nobody_moved_twice(&env.inspect());
    }
    assert!(
        mid_rollout >= 1,
        "{rollouts} rollouts, {kills} kills, none mid-rollout"
    );
}

#[test]
fn a_run_whose_lock_session_is_killed_mid_step_stops_before_its_next_write() {
    // The pilot soaks for a few seconds with the run waiting in-process: the moment to pull
    // its session away.
    let plan = rollout().replace(
        "users = [\"ana@contoso.example\", \"ben@contoso.example\"]",
        "users = [\"ana@contoso.example\", \"ben@contoso.example\"]\ngate = { soak = \"4s\" }",
    );
    let (env, url) = on_postgres(&plan);
    let schema = url.rsplit("schema=").next().expect("a schema").to_owned();
    let mut run = env.spawn(["apply", "plan.toml", "--poll-interval", "50ms"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let on = enabled(&env.inspect());
        if on["ana@contoso.example"] == ["OAuth"] && on["ben@contoso.example"] == ["OAuth"] {
            break;
        }
        assert!(Instant::now() < deadline, "the pilot never moved");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = changed_writes(&env.inspect());
    let pid = server().psql(&format!("SELECT backend_pid FROM {schema}.fences"));
    assert_eq!(
        server().psql(&format!("SELECT pg_terminate_backend({pid})")),
        "t",
        "the lock session ({pid}) is ended"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = run.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the run kept going without its lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = run.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lost its lock"), "{stderr}");
    assert_eq!(
        changed_writes(&env.inspect()),
        before,
        "no platform write after the lock was lost"
    );

    let next = apply(&env, &[]);
    assert_eq!(next.code, 0, "{}", next.transcript());
    assert_migrated(&env);
}

#[test]
fn state_migrate_moves_a_rollout_and_the_old_file_names_its_new_place() {
    let server = server();
    let url = server.ops_url(&server.fresh_schema("migrate"));
    let mut env = TestEnv::new()
        .sandbox("demo", 24, "40ms")
        .file("plan.toml", &rollout());
    env.set_env("PGPASSWORD", OPS_PASSWORD);
    let east = east(&env);
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", &east[0]])
            .code,
        0
    );
    let halted = apply(&env, &[]);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    let file_log = env.run(["log", "plan.toml", "--format", "json"]).stdout;

    let moved = env.run(["state", "migrate", "plan.toml", "--to", &url]);
    assert_eq!(moved.code, 0, "{}", moved.transcript());
    assert!(
        moved.stdout.contains("the audit trail verifies"),
        "{}",
        moved.stdout
    );

    // A scheduler still pointing at the file is told where the rollout went.
    let stale = apply(&env, &[]);
    assert_eq!(stale.code, 2, "{}", stale.transcript());
    assert!(
        stale.stderr.contains(&format!("moved to {}", url)),
        "{}",
        stale.stderr
    );
    let again = env.run(["state", "migrate", "plan.toml", "--to", &url]);
    assert_eq!(
        again.code,
        2,
        "a moved file is not moved twice:\n{}",
        again.transcript()
    );

    let on_pg = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--state", url.as_str()]);
        env.run(all)
    };
    let log = on_pg(&["log", "plan.toml", "--format", "json"]).stdout;
    assert!(
        log.starts_with(file_log.trim_end()),
        "the trail arrived as it was"
    );
    assert!(log.contains("state_migrated"), "{log}");
    assert_eq!(on_pg(&["log", "plan.toml", "--verify"]).code, 0);
    assert_eq!(on_pg(&["status", "plan.toml"]).code, 3);

    assert_eq!(
        env.run(["sandbox", "allow-access", "tenant.db", &east[0]])
            .code,
        0
    );
    let resumed = on_pg(&["apply", "plan.toml", "--poll-interval", "20ms"]);
    assert_eq!(resumed.code, 0, "{}", resumed.transcript());
    env.set_env("CUTOVER_STATE", &url);
    assert_migrated(&env);
}

#[test]
fn a_password_is_never_taken_from_the_url_nor_printed() {
    let server = server();
    let (env, url) = on_postgres(&rollout());
    let with_password = format!(
        "postgres://cutover_ops:hunter2-in-url@127.0.0.1:{}/postgres",
        server.port
    );
    for args in [
        vec!["status", "plan.toml", "--state", with_password.as_str()],
        vec!["apply", "plan.toml", "--state", with_password.as_str()],
    ] {
        let run = env.run(&args);
        assert_eq!(run.code, 2, "{}", run.transcript());
        assert!(run.stderr.contains("holds a password"), "{}", run.stderr);
        assert!(
            !run.transcript().contains("hunter2"),
            "{}",
            run.transcript()
        );
    }
    let mut wrong = TestEnv::new()
        .sandbox("demo", 4, "40ms")
        .file("plan.toml", &rollout());
    wrong.set_env("CUTOVER_STATE", &url);
    wrong.set_env("PGPASSWORD", "wrong-secret-value");
    let refused = wrong.run(["status", "plan.toml"]);
    assert_eq!(refused.code, 1, "{}", refused.transcript());
    assert!(
        refused.stderr.contains("cannot connect"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.transcript().contains("wrong-secret-value"),
        "{}",
        refused.transcript()
    );
}
