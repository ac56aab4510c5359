//! Schedules with the test clock shifted (`CUTOVER_TEST_CLOCK_SHIFT`): windows (across DST),
//! `not_before` and the disconnect's quiet time — waited for, not slept through.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::{Run, TestEnv, fixture_plan};

/// Shifts the clock of every later run so that "now" is `at` (RFC 3339).
fn stand_at(env: &mut TestEnv, at: &str) {
    let target: i128 = jiff_millis(at);
    let now = i128::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    env.set_env("CUTOVER_TEST_CLOCK_SHIFT", &format!("{}ms", target - now));
}

/// Milliseconds since the epoch of an RFC 3339 UTC time such as `2026-12-07T22:59:00Z`.
fn jiff_millis(at: &str) -> i128 {
    let run = std::process::Command::new("date")
        .args(["-u", "-d", at, "+%s"])
        .output()
        .expect("date");
    let seconds: i128 = String::from_utf8_lossy(&run.stdout)
        .trim()
        .parse()
        .expect("seconds");
    seconds * 1000
}

/// The `timed` plan, with extra lines for batch `east` and for the disconnect.
fn plan(batch: &str, disconnect: &str) -> String {
    fixture_plan(
        "timed",
        &[("east_schedule", batch), ("disconnect_after", disconnect)],
    )
}

/// `apply --until-blocked` as a scheduler runs it: again and again while it only waits for
/// syncs, until it is done or waits for something else.
fn apply(env: &TestEnv) -> Run {
    for _ in 0..200 {
        let run = env.run([
            "apply",
            "plan.toml",
            "--until-blocked",
            "--poll-interval",
            "20ms",
        ]);
        let line = last_line(&run);
        if !(line.starts_with("waiting: verification") || line.starts_with("waiting: soak")) {
            agrees_with_status_and_plan(env, &run);
            return run;
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    panic!("the rollout kept waiting for syncs");
}

/// `status` and `plan`, asked right after an `apply` stopped, say what it said: the same exit
/// code, and for a wait the same reason, step and time.
fn agrees_with_status_and_plan(env: &TestEnv, run: &Run) {
    let status = env.run(["status", "plan.toml", "--format", "json"]);
    assert_eq!(
        status.code,
        run.code,
        "status disagrees:\n{}\n{}",
        status.stdout,
        run.transcript()
    );
    let dry = env.run(["plan", "plan.toml", "--format", "json"]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    for next in [&status.json()["next"], &dry.json()["next"]] {
        match next["action"].as_str() {
            Some("wait") => {
                let line = last_line(run);
                let expected = format!(
                    "waiting: {} {}",
                    next["reason"].as_str().unwrap_or_default(),
                    next["step"].as_str().unwrap_or_default()
                );
                assert!(line.starts_with(&expected), "{expected:?} vs {line:?}");
            }
            Some("finish") => assert_eq!(run.code, 0, "{}", run.transcript()),
            other => panic!(
                "after apply stopped, the next action is {other:?}:\n{}",
                run.transcript()
            ),
        }
    }
}

fn last_line(run: &Run) -> String {
    run.stdout.lines().last().unwrap_or("").to_owned()
}

#[test]
fn a_batch_waits_for_its_window_then_runs_inside_it() {
    let mut env = TestEnv::new().sandbox("demo", 20, "40ms").file(
        "plan.toml",
        &plan("window = \"Mon-Fri 18:00-22:00 America/New_York\"", ""),
    );
    // Monday 2026-12-07, 17:58 in New York.
    stand_at(&mut env, "2026-12-07T22:58:00Z");
    let plan_text = env.run(["plan", "plan.toml"]).stdout;
    assert!(
        plan_text.contains("earliest start 2026-12-07T18:00:00-05:00 America/New_York"),
        "{plan_text}"
    );

    // --until-blocked does what is due (connect, the pilot) and stops at the window.
    let waiting = apply(&env);
    assert_eq!(waiting.code, 4, "{}", waiting.transcript());
    assert_eq!(
        last_line(&waiting),
        "waiting: window east until 2026-12-07T18:00:00-05:00; Mon-Fri 18:00-22:00 America/New_York"
    );
    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 4);
    assert!(
        status
            .stdout
            .contains("waiting: window east until 2026-12-07T18:00:00-05:00"),
        "{}",
        status.stdout
    );

    stand_at(&mut env, "2026-12-07T23:01:00Z");
    let done = apply(&env);
    assert_eq!(done.code, 0, "{}", done.transcript());
}

#[test]
fn a_window_across_a_dst_change_opens_at_the_later_instant() {
    // 2027-03-14: New York skips 02:00-03:00; a 02:30 opening happens at 03:30 EDT.
    let mut env = TestEnv::new().sandbox("demo", 12, "40ms").file(
        "plan.toml",
        &plan("window = \"Sun 02:30-04:00 America/New_York\"", ""),
    );
    stand_at(&mut env, "2027-03-14T05:00:00Z");
    let waiting = apply(&env);
    assert_eq!(waiting.code, 4, "{}", waiting.transcript());
    assert!(
        last_line(&waiting).starts_with("waiting: window east until 2027-03-14T03:30:00-04:00"),
        "{}",
        last_line(&waiting)
    );
    // Inside the window: 03:45 EDT.
    stand_at(&mut env, "2027-03-14T07:45:00Z");
    assert_eq!(apply(&env).code, 0);
}

#[test]
fn not_before_and_the_quiet_time_before_the_disconnect() {
    let mut env = TestEnv::new().sandbox("demo", 12, "40ms").file(
        "plan.toml",
        &plan(
            "not_before = \"2026-12-07T18:00:00-05:00\"",
            "after = \"2h\"",
        ),
    );
    stand_at(&mut env, "2026-12-07T20:00:00Z");
    let waiting = apply(&env);
    assert_eq!(waiting.code, 4, "{}", waiting.transcript());
    assert_eq!(
        last_line(&waiting),
        "waiting: not_before east until 2026-12-07T18:00:00-05:00"
    );

    stand_at(&mut env, "2026-12-07T23:00:05Z");
    let quiet = apply(&env);
    assert_eq!(quiet.code, 4, "{}", quiet.transcript());
    let line = last_line(&quiet);
    assert!(
        line.starts_with("waiting: after disconnect until 2026-12-07T20:00:"),
        "two hours after the last pass, in the plan's zone: {line}"
    );

    stand_at(&mut env, "2026-12-08T01:30:00Z");
    let done = apply(&env);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let log = env.run(["log", "plan.toml"]).stdout;
    assert!(log.contains("disconnected"), "{log}");
}

#[test]
fn a_window_closing_mid_batch_lets_the_running_wave_finish_and_starts_no_new_one() {
    let plan = plan("", "").replace(
        "users = \"remaining\"\n",
        "users = \"remaining\"\nmax_size = 4\nwindow = \"Mon-Fri 18:00-22:00 America/New_York\"\n",
    );
    let mut env = TestEnv::new()
        .sandbox("demo", 20, "40ms")
        .file("plan.toml", &plan);
    // Monday 21:58 in New York: the window is open.
    stand_at(&mut env, "2026-12-08T02:58:00Z");
    let mut started = false;
    for _ in 0..200 {
        let run = env.run([
            "apply",
            "plan.toml",
            "--until-blocked",
            "--poll-interval",
            "20ms",
        ]);
        assert!(run.code == 4 || run.code == 0, "{}", run.transcript());
        let status = env.run(["status", "plan.toml", "--format", "json"]).json();
        let first_wave = status["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s["id"] == "rest#1")
            .cloned();
        if first_wave.is_some_and(|s| s["phase"].is_string()) {
            started = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    assert!(started, "the first wave started inside the window");

    // 22:05: the window has closed. The running wave finishes its gate; the next one waits.
    stand_at(&mut env, "2026-12-08T03:05:00Z");
    let waiting = apply(&env);
    assert_eq!(waiting.code, 4, "{}", waiting.transcript());
    assert_eq!(
        last_line(&waiting),
        "waiting: window rest#2 until 2026-12-08T18:00:00-05:00; Mon-Fri 18:00-22:00 America/New_York"
    );
    let status = env.run(["status", "plan.toml", "--format", "json"]).json();
    let phase = |id: &str| {
        status["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["phase"].clone())
    };
    assert_eq!(phase("rest#1"), Some(serde_json::Value::from("passed")));
    assert_eq!(
        phase("rest#2"),
        Some(serde_json::Value::from("not_started"))
    );
}

#[test]
fn a_gate_waits_out_its_soak() {
    let plan = plan("", "")
        .replace("soak = \"0s\"", "soak = \"30m\"")
        .replace("timeout = \"1m\"", "timeout = \"2h\"");
    let mut env = TestEnv::new()
        .sandbox("demo", 12, "40ms")
        .file("plan.toml", &plan);
    stand_at(&mut env, "2026-12-07T20:00:00Z");
    let until_soak = |env: &TestEnv| {
        for _ in 0..200 {
            let run = env.run([
                "apply",
                "plan.toml",
                "--until-blocked",
                "--poll-interval",
                "20ms",
            ]);
            if !last_line(&run).starts_with("waiting: verification") {
                return run;
            }
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
        panic!("no clean sync");
    };
    let waiting = until_soak(&env);
    assert_eq!(waiting.code, 4, "{}", waiting.transcript());
    let line = last_line(&waiting);
    assert!(
        line.starts_with("waiting: soak pilot until 2026-12-07T20:30:"),
        "{line}"
    );
    assert!(line.ends_with("of 1 users verified"), "{line}");
    stand_at(&mut env, "2026-12-07T20:31:00Z");
    let next = until_soak(&env);
    assert!(
        last_line(&next).starts_with("waiting: soak east until 2026-12-07T21:01:"),
        "{}",
        last_line(&next)
    );
}
