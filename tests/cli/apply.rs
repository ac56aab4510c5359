//! `cutover apply` against the sandbox: clean runs, halts, rollbacks, approvals, locks, resume
//! after failures at every step boundary, and a crash test with SIGKILL.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Run, TestEnv, fixture_plan};

/// A fast plan: the sandbox syncs every 40 ms and gates have no soak.
fn rollout() -> String {
    fixture_plan("rollout", &[])
}

fn tenant(users: usize, plan: &str) -> TestEnv {
    TestEnv::new()
        .sandbox("demo", users, "40ms")
        .file("plan.toml", plan)
}

fn apply(env: &TestEnv, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "plan.toml", "--poll-interval", "20ms"];
    args.extend_from_slice(extra);
    env.run(args)
}

/// The members of each step as `cutover plan --format json` shows them, in order.
fn planned_steps(env: &TestEnv) -> Vec<(String, Vec<String>)> {
    let run = env.run(["plan", "plan.toml", "--format", "json"]);
    assert!(run.code == 0 || run.code == 3, "{}", run.transcript());
    run.json()["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["detail"]["type"] == "move")
        .map(|s| {
            let members = s["detail"]["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| m["email"].as_str().expect("email").to_owned())
                .collect();
            (s["id"].as_str().expect("id").to_owned(), members)
        })
        .collect()
}

/// The steps `apply --format json` started, with their members, in order.
fn started_steps(run: &Run) -> Vec<(String, Vec<String>)> {
    run.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "step_started")
        .map(|e| {
            let members = e["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| m.as_str().expect("email").to_owned())
                .collect();
            (e["step"].as_str().expect("step").to_owned(), members)
        })
        .collect()
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
                .map(|c| c.as_str().expect("name").to_owned())
                .collect();
            (u["email"].as_str().expect("email").to_owned(), on)
        })
        .collect()
}

/// Every user on OAuth alone, Basic disconnected, no invariant broken, nobody moved twice.
fn assert_migrated(env: &TestEnv) {
    let inspect = env.inspect();
    for (email, on) in enabled(&inspect) {
        assert_eq!(on, ["OAuth"], "{email}");
    }
    let basic = inspect["configurations"]
        .as_array()
        .expect("configurations")
        .iter()
        .find(|c| c["display_name"] == "Basic Auth");
    assert_eq!(
        basic.map(|c| c["state"].clone()),
        Some(Value::from("disconnected"))
    );
    assert_clean_history(&inspect);
}

/// No violation recorded, and no user got the same change twice.
fn assert_clean_history(inspect: &Value) {
    assert_eq!(inspect["violations"], Value::Array(vec![]), "violations");
    let mut changes: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for write in inspect["writes"].as_array().expect("writes") {
        if write["changed"] == true {
            if let Some(user) = write["user"].as_str() {
                let key = (
                    user.to_owned(),
                    write["op"].as_str().unwrap_or("").to_owned(),
                    write["configuration"].as_str().unwrap_or("").to_owned(),
                );
                *changes.entry(key).or_default() += 1;
            }
        }
    }
    let twice: Vec<_> = changes.into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "users moved twice: {twice:?}");
}

fn last_line(run: &Run) -> &str {
    run.stdout.lines().last().unwrap_or("")
}

#[test]
fn clean_run_does_what_the_dry_run_showed() {
    let env = tenant(30, &rollout());
    let planned = planned_steps(&env);
    assert_eq!(
        planned
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["pilot", "east", "rest#1", "rest#2"]
    );
    let run = apply(&env, &["--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(started_steps(&run), planned, "apply ran what plan showed");
    assert_migrated(&env);

    let again = apply(&env, &[]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert_eq!(last_line(&again), "done: the rollout is complete");
    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    assert!(
        status.stdout.starts_with("plan rollout: done"),
        "{}",
        status.stdout
    );
}

#[test]
fn text_output_is_plain_lines_without_a_terminal() {
    let env = tenant(12, &rollout());
    let run = apply(&env, &[]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        !run.stdout.contains('\u{1b}'),
        "no escape codes without a terminal"
    );
    for needle in [
        "pilot: started with 2 user(s)",
        "pilot: gate passed",
        "disconnect: \"Basic Auth\" is disconnected",
    ] {
        assert!(run.stdout.contains(needle), "{needle}:\n{}", run.stdout);
    }
    assert!(
        env.path().join(".cutover/.gitignore").exists(),
        "the state folder is kept out of git"
    );
    assert!(env.path().join(".cutover/rollout.state.db").exists());
}

#[test]
fn halt_names_every_failing_user_and_a_rerun_finishes_once_fixed() {
    let env = tenant(30, &rollout());
    let east = planned_steps(&env)
        .into_iter()
        .find(|(id, _)| id == "east")
        .map(|(_, m)| m)
        .expect("east");
    let denied = [east[0].clone(), east[2].clone()];
    let run = env.run([
        "sandbox",
        "deny-access",
        "tenant.db",
        &denied[0],
        &denied[1],
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());

    let halted = apply(&env, &[]);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert_eq!(last_line(&halted), "halted: east");
    for email in &denied {
        let line = halted
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(email.as_str()))
            .unwrap_or_else(|| panic!("{email} not named:\n{}", halted.stdout));
        assert!(line.contains("Access is denied"), "{line}");
    }
    // The failing users sync over Basic again; the rest of east stays moved; rest never started.
    let on = enabled(&env.inspect());
    for email in &denied {
        assert_eq!(on[email], ["Basic Auth", "OAuth"], "{email}");
    }
    for email in east.iter().filter(|e| !denied.contains(e)) {
        assert_eq!(on[email], ["OAuth"], "{email}");
    }
    assert_eq!(
        on.values()
            .filter(|v| v.as_slice() == ["Basic Auth"])
            .count(),
        30 - 2 - east.len()
    );
    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 3, "{}", status.transcript());
    assert!(status.stdout.contains(&denied[0]), "{}", status.stdout);

    // Still denied: the re-run re-checks, fails again, and halts again.
    let again = apply(&env, &[]);
    assert_eq!(again.code, 3, "{}", again.transcript());

    let run = env.run([
        "sandbox",
        "allow-access",
        "tenant.db",
        &denied[0],
        &denied[1],
    ]);
    assert_eq!(run.code, 0);
    let fixed = apply(&env, &[]);
    assert_eq!(fixed.code, 0, "{}", fixed.transcript());
    assert!(
        fixed
            .stdout
            .contains("east: re-opened the gate after asking the platform to re-check 2 user(s)"),
        "{}",
        fixed.stdout
    );
    let inspect = env.inspect();
    for (email, on) in enabled(&inspect) {
        assert_eq!(on, ["OAuth"], "{email}");
    }
    assert_eq!(inspect["violations"], Value::Array(vec![]));
}

#[test]
fn rollback_moves_the_step_back_and_waits_for_a_new_approval() {
    let plan = rollout().replace(
        "name = \"east\"\nusers = { location = \"East\" }",
        "name = \"east\"\nusers = { location = \"East\" }\ngate = { on_failure = \"rollback\" }",
    );
    let env = tenant(30, &plan);
    let east = planned_steps(&env)
        .into_iter()
        .find(|(id, _)| id == "east")
        .map(|(_, m)| m)
        .expect("east");
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", &east[1]])
            .code,
        0
    );

    let halted = apply(&env, &[]);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert!(
        halted
            .stdout
            .contains("HALTED at east: the step was rolled back"),
        "{}",
        halted.stdout
    );
    let on = enabled(&env.inspect());
    for email in &east {
        assert_eq!(on[email], ["Basic Auth"], "{email} is back on Basic alone");
    }
    assert_eq!(
        on["ana@contoso.example"],
        ["OAuth"],
        "the pilot stays moved"
    );

    // A scheduler re-running apply does not loop: the step waits for a person.
    let waiting = apply(&env, &["--until-blocked"]);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    assert!(
        last_line(&waiting).starts_with("waiting: approval east "),
        "{}",
        last_line(&waiting)
    );
    let without_flag = apply(&env, &[]);
    assert_eq!(
        without_flag.code, 6,
        "a wait for a person exits 6 even without --until-blocked"
    );

    assert_eq!(
        env.run(["sandbox", "allow-access", "tenant.db", &east[1]])
            .code,
        0
    );
    // status agrees with the apply that would run now: a person must approve it again.
    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 6, "{}", status.transcript());
    let approve = env.run(["approve", "plan.toml", "east", "--by", "cab-chair"]);
    assert_eq!(approve.code, 0, "{}", approve.transcript());
    let status = env.run(["status", "plan.toml"]);
    assert_eq!(
        status.code,
        4,
        "approved again, the step is no longer halted:\n{}",
        status.transcript()
    );
    assert!(
        status.stdout.starts_with("plan rollout: in progress"),
        "{}",
        status.stdout
    );
    let done = apply(&env, &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let log = env.run(["log", "plan.toml"]);
    assert!(
        log.stdout.contains("approved") && log.stdout.contains("cab-chair"),
        "{}",
        log.stdout
    );
    let inspect = env.inspect();
    assert_eq!(inspect["violations"], Value::Array(vec![]));
    for (email, on) in enabled(&inspect) {
        assert_eq!(on, ["OAuth"], "{email}");
    }
}

#[test]
fn rollback_command_and_approvals() {
    let plan = rollout().replace("name = \"east\"\n", "name = \"east\"\napproval = true\n");
    let env = tenant(20, &plan);
    let waiting = apply(&env, &[]);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    assert_eq!(
        last_line(&waiting),
        "waiting: approval east needs `cutover approve`; run `cutover approve plan.toml east`"
    );
    assert_eq!(
        enabled(&env.inspect())["ana@contoso.example"],
        ["OAuth"],
        "the pilot ran"
    );

    let rollback = env.run(["rollback", "plan.toml", "--batch", "pilot"]);
    assert_eq!(rollback.code, 0, "{}", rollback.transcript());
    let on = enabled(&env.inspect());
    assert_eq!(on["ana@contoso.example"], ["Basic Auth"]);
    assert_eq!(on["ben@contoso.example"], ["Basic Auth"]);

    let unknown = env.run(["approve", "plan.toml", "west"]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    assert!(
        unknown
            .stderr
            .contains("steps: pilot, east, rest, disconnect"),
        "{}",
        unknown.stderr
    );

    // Approvals given in advance count.
    for step in ["pilot", "east"] {
        assert_eq!(env.run(["approve", "plan.toml", step]).code, 0);
    }
    let done = apply(&env, &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let inspect = env.inspect();
    assert_eq!(inspect["violations"], Value::Array(vec![]));
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_lock() {
    // A long soak keeps the first run waiting in-process, holding the lock.
    let plan = rollout()
        .replace("soak = \"0s\"", "soak = \"10m\"")
        .replace("timeout = \"1m\"", "timeout = \"1h\"");
    let env = tenant(12, &plan);
    let mut first = env.spawn(["apply", "plan.toml", "--poll-interval", "50ms"]);
    let state = env.path().join(".cutover/rollout.state.db");
    let mut locked = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let second = apply(&env, &["--until-blocked"]);
        if second.code == 5 {
            locked = Some(second);
            break;
        }
    }
    let locked = locked.expect("the second run was refused with exit 5");
    assert!(
        locked.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        locked.stderr
    );
    assert!(state.exists());
    // approve, status and log never take the lock.
    assert_eq!(env.run(["approve", "plan.toml", "disconnect"]).code, 0);
    assert_eq!(env.run(["status", "plan.toml"]).code, 4);
    assert_eq!(env.run(["log", "plan.toml"]).code, 0);

    // SIGTERM stops the first run at a safe point; its lock is released.
    let pid = first.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = first.wait().expect("first run ends");
    // It ends by the signal it stopped for (a shell sees 143, systemd a clean stop).
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15),
        "interrupted: {status:?}"
    );
    let next = apply(&env, &["--until-blocked"]);
    assert_eq!(next.code, 4, "{}", next.transcript());
    assert!(
        last_line(&next).starts_with("waiting: soak pilot until "),
        "{}",
        last_line(&next)
    );
}

#[test]
fn a_lock_left_by_a_killed_run_is_taken_over_and_unlock_is_recorded() {
    let plan = rollout()
        .replace("soak = \"0s\"", "soak = \"10m\"")
        .replace("timeout = \"1m\"", "timeout = \"1h\"");
    let env = tenant(12, &plan);
    let mut first = env.spawn(["apply", "plan.toml", "--poll-interval", "50ms"]);
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        if apply(&env, &["--until-blocked"]).code == 5 {
            break;
        }
    }
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let next = apply(&env, &["--until-blocked"]);
    assert_eq!(
        next.code,
        4,
        "the dead holder's lock is taken over:\n{}",
        next.transcript()
    );
    let log = env.run(["log", "plan.toml"]);
    assert!(
        log.stdout.contains("stale_lock_taken_over"),
        "{}",
        log.stdout
    );

    let refused = env.run(["unlock", "plan.toml"]);
    assert_eq!(refused.code, 2);
    let forced = env.run(["unlock", "plan.toml", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.transcript());
    assert!(
        env.run(["log", "plan.toml"])
            .stdout
            .contains("unlock_forced")
    );
}

/// A platform call fails at every write of the rollout in turn — before taking effect, and
/// after taking effect with its answer lost — and the next run finishes correctly.
#[test]
fn resume_after_a_failure_at_every_step_boundary() {
    let reference = tenant(14, &rollout());
    assert_eq!(apply(&reference, &[]).code, 0);
    let calls = reference.inspect()["writes"]
        .as_array()
        .expect("writes")
        .len();
    // Bulk writes are one call each, so count calls rather than rows: one row per user.
    let mut distinct_calls = 0;
    let mut last = None;
    for w in reference.inspect()["writes"].as_array().expect("writes") {
        let key = (w["at"].clone(), w["op"].clone(), w["configuration"].clone());
        if last.as_ref() != Some(&key) {
            distinct_calls += 1;
            last = Some(key);
        }
    }
    assert!(
        distinct_calls >= 8 && calls > distinct_calls,
        "{distinct_calls} calls, {calls} rows"
    );

    for at in 1..=distinct_calls {
        for after_commit in [false, true] {
            let env = tenant(14, &rollout());
            let mut args = vec![
                "sandbox".to_owned(),
                "fail-call".to_owned(),
                "tenant.db".to_owned(),
                "--at".to_owned(),
                at.to_string(),
            ];
            if after_commit {
                args.push("--after-commit".to_owned());
            }
            assert_eq!(env.run(&args).code, 0);
            let failed = apply(&env, &[]);
            assert_eq!(
                failed.code,
                1,
                "call {at} (after commit: {after_commit}):\n{}",
                failed.transcript()
            );
            assert!(
                failed.stderr.contains("the platform did not answer"),
                "{}",
                failed.stderr
            );
            let resumed = apply(&env, &[]);
            assert_eq!(
                resumed.code,
                0,
                "call {at} (after commit: {after_commit}):\n{}",
                resumed.transcript()
            );
            assert_migrated(&env);
        }
    }
}

/// `apply` killed with SIGKILL at random moments, then run again, over and over: the rollout
/// always ends migrated, nobody is moved twice, no invariant is ever broken.
#[test]
fn crash_test_sigkill_at_random_moments() {
    let mut seed: u64 = 0x5eed_c0ff_ee00_0001;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut kills = 0;
    let mut rollouts = 0;
    while kills < 24 {
        rollouts += 1;
        let env = tenant(24, &rollout());
        let mut finished = false;
        for _ in 0..12 {
            let mut child = env.spawn(["apply", "plan.toml", "--poll-interval", "10ms"]);
            std::thread::sleep(Duration::from_millis(random(250)));
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
                    // Invariants hold at every moment, not just at the end.
                    assert_clean_history(&env.inspect());
                }
            }
        }
        if !finished {
            let last = apply(&env, &[]);
            assert_eq!(last.code, 0, "{}", last.transcript());
        }
        assert_migrated(&env);
        let resumed: BTreeSet<String> = env
            .run(["log", "plan.toml", "--format", "json"])
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|e| e["kind"].as_str().map(str::to_owned))
            .collect();
        assert!(resumed.contains("disconnected"), "{resumed:?}");
    }
    assert!(rollouts >= 2, "{rollouts} rollouts, {kills} kills");
}

#[test]
fn approved_digest_is_checked_when_the_rollout_starts() {
    let env = tenant(12, &rollout());
    let digest = env.run(["plan", "plan.toml", "--format", "json"]).json()["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let wrong = apply(&env, &["--approved", "sha256:00000000000000000000"]);
    assert_eq!(wrong.code, 2, "{}", wrong.transcript());
    assert!(wrong.stderr.contains("does not match"), "{}", wrong.stderr);
    assert!(
        env.inspect()["writes"]
            .as_array()
            .expect("writes")
            .is_empty(),
        "nothing changed"
    );
    let right = apply(&env, &["--approved", &digest]);
    assert_eq!(right.code, 0, "{}", right.transcript());
}

#[test]
fn a_hold_freezes_the_rollout_until_released() {
    let env = tenant(12, &rollout());
    assert_eq!(
        env.run(["hold", "plan.toml", "--reason", "CAB freeze for payroll"])
            .code,
        0
    );
    let held = apply(&env, &[]);
    assert_eq!(held.code, 4, "{}", held.transcript());
    assert!(
        last_line(&held)
            .starts_with("waiting: hold connect change freeze by tester: CAB freeze for payroll"),
        "{}",
        last_line(&held)
    );
    assert!(
        env.inspect()["writes"]
            .as_array()
            .expect("writes")
            .is_empty()
    );
    assert_eq!(env.run(["release", "plan.toml"]).code, 0);
    assert_eq!(apply(&env, &[]).code, 0);
}

#[test]
fn a_from_disconnected_by_someone_else_halts_instead_of_finishing() {
    let env = tenant(12, &rollout());
    let sandbox = rusqlite::Connection::open(env.path().join("tenant.db")).expect("sandbox");
    sandbox
        .execute(
            "UPDATE configurations SET state = 'disconnected' WHERE display_name = 'Basic Auth'",
            [],
        )
        .expect("disconnect Basic by hand");
    drop(sandbox);

    let run = apply(&env, &[]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(
        run.stdout.contains("HALTED at preflight")
            && run
                .stdout
                .contains("\"Basic Auth\" is disconnected, not connected"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("done"), "{}", run.stdout);
    let inspect = env.inspect();
    assert!(inspect["writes"].as_array().expect("writes").is_empty());
    assert_eq!(env.run(["status", "plan.toml"]).code, 3);
}

#[test]
fn a_hold_while_a_halted_gate_reopens_defers_its_pass_until_released() {
    let env = tenant(12, &rollout());
    let pilot = "ben@contoso.example";
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", pilot]).code,
        0
    );
    let halted = apply(&env, &[]);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert_eq!(enabled(&env.inspect())[pilot], ["Basic Auth", "OAuth"]);

    assert_eq!(
        env.run(["sandbox", "allow-access", "tenant.db", pilot])
            .code,
        0
    );
    assert_eq!(env.run(["hold", "plan.toml", "--reason", "freeze"]).code, 0);
    let held = apply(&env, &[]);
    assert_eq!(held.code, 4, "{}", held.transcript());
    assert!(
        last_line(&held).starts_with("waiting: hold pilot "),
        "{}",
        held.transcript()
    );
    assert!(!held.stdout.contains("gate passed"), "{}", held.stdout);
    assert_eq!(
        enabled(&env.inspect())[pilot],
        ["Basic Auth", "OAuth"],
        "nothing is written during the hold"
    );

    assert_eq!(env.run(["release", "plan.toml"]).code, 0);
    let done = apply(&env, &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    // (Not `assert_migrated`: the halt gave the pilot user Basic back, so it is disabled twice.)
    let inspect = env.inspect();
    for (email, on) in enabled(&inspect) {
        assert_eq!(on, ["OAuth"], "{email}");
    }
    assert_eq!(inspect["violations"], Value::Array(vec![]));
}

#[test]
fn approve_records_a_wave_as_the_planner_names_it_and_only_if_it_exists() {
    let plan = rollout().replace("max_size = 12\n", "max_size = 12\napproval = true\n");
    let env = tenant(30, &plan);
    let padded = env.run(["approve", "plan.toml", "rest#01"]);
    assert_eq!(padded.code, 0, "{}", padded.transcript());
    assert!(
        padded.stdout.starts_with("approved rest#1 as sha256:") && padded.stdout.contains(" by "),
        "{}",
        padded.stdout
    );
    let past = env.run(["approve", "plan.toml", "rest#3"]);
    assert_eq!(past.code, 2, "{}", past.transcript());
    assert!(
        past.stderr
            .contains("no step `rest#3`: `rest` runs in 2 wave(s) (rest#1 to rest#2)"),
        "{}",
        past.stderr
    );
    for bad in ["rest#0", "rest#x", "east#1", "pilot#1"] {
        assert_eq!(env.run(["approve", "plan.toml", bad]).code, 2, "{bad}");
    }
    assert!(
        !env.run(["log", "plan.toml"]).stdout.contains("rest#3"),
        "a refused approval is not recorded"
    );

    // The approval of `rest#01` counts for rest#1; rest#2 still waits for its own.
    let run = apply(&env, &[]);
    assert_eq!(run.code, 6, "{}", run.transcript());
    assert!(
        last_line(&run).starts_with("waiting: approval rest#2 "),
        "{}",
        run.transcript()
    );
}
