//! What a run reads of the platform: the whole tenant when a batch starts and before the
//! disconnect; while a gate is polled, only its step's members (and the open exceptions).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Run, TestEnv};

const PLAN: &str = r#"version = 1
name = "reading"

[target]
kind = "sandbox"
sandbox = "tenant.db"

[from]
display_name = "Basic Auth"

[to]
display_name = "OAuth"
tenant_id = "contoso.onmicrosoft.com"

[gate]
soak = "SOAK"
timeout = "1m"

[pilot]
users = ["ana@contoso.example", "ben@contoso.example"]

[[batch]]
name = "rest"
users = "remaining"
gate = { soak = "0s" }

[disconnect]
approval = false
"#;

/// The platform calls of a run, by operation, from its `run_ended` event.
fn calls(run: &Run) -> BTreeMap<String, u64> {
    let ended = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "run_ended")
        .unwrap_or_else(|| panic!("no run_ended event: {}", run.transcript()));
    serde_json::from_value(ended["calls"].clone()).expect("calls by operation")
}

/// The members of `step` as the run started it.
fn members(run: &Run, step: &str) -> Vec<String> {
    run.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "step_started" && e["step"] == step)
        .and_then(|e| serde_json::from_value(e["members"].clone()).ok())
        .unwrap_or_else(|| panic!("{step} did not start: {}", run.transcript()))
}

/// 12,000 users are three pages of the embedded sandbox. The pilot's two users sync every
/// second, so its gate is polled dozens of times: each poll is one bulk read of two users (and
/// the configurations), never a page of the tenant. The pages read are three full reads, polls
/// or not: the run's start (which the pilot starts from), the start of `rest`, the disconnect.
#[test]
fn a_gate_poll_reads_its_step_not_the_tenant() {
    let env = TestEnv::new()
        .sandbox("demo", 12_000, "1s")
        .file("plan.toml", &PLAN.replace("SOAK", "0s"));
    let run = env.run([
        "apply",
        "plan.toml",
        "--poll-interval",
        "10ms",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let calls = calls(&run);
    let polls = calls.get("users_query").copied().unwrap_or(0);
    assert!(polls >= 2, "the gates were polled: {calls:?}");
    assert_eq!(calls.get("users"), Some(&9), "three full reads: {calls:?}");
}

/// A user another admin moved while the pilot's gate soaked is seen when the next batch starts:
/// `remaining` is resolved from a full read made then, not from what the run read before.
#[test]
fn a_user_moved_by_someone_else_during_a_gate_is_seen_when_the_next_batch_starts() {
    let env = TestEnv::new()
        .sandbox("demo", 40, "40ms")
        .file("plan.toml", &PLAN.replace("SOAK", "4s"));
    let inspect = env.inspect();
    let moved = inspect["users"][5]["email"]
        .as_str()
        .expect("an email")
        .to_owned();
    // Another plan on the same tenant (its own state), moving one user of `rest` by itself.
    let env = env.file(
        "other.toml",
        &PLAN
            .replace("name = \"reading\"", "name = \"other\"")
            .replace("SOAK", "0s")
            .replace(
                "[pilot]\nusers = [\"ana@contoso.example\", \"ben@contoso.example\"]\n\n",
                "",
            )
            .replace("users = \"remaining\"", &format!("users = [\"{moved}\"]")),
    );
    let first = env.spawn([
        "apply",
        "plan.toml",
        "--poll-interval",
        "20ms",
        "--format",
        "json",
    ]);
    std::thread::sleep(Duration::from_millis(1_500));
    // It moves that user, then stops at its own disconnect: everyone else is still on Basic.
    let other = env.run(["apply", "other.toml", "--poll-interval", "20ms"]);
    assert_eq!(other.code, 3, "{}", other.transcript());
    let output = first.wait_with_output().expect("the first run ends");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(run.code, 0, "{}", run.transcript());
    let rest = members(&run, "rest");
    assert!(
        !rest.contains(&moved),
        "{moved} was already moved: {rest:?}"
    );
    let inspect = env.inspect();
    for user in inspect["users"].as_array().expect("users") {
        assert_eq!(user["enabled"], serde_json::json!(["OAuth"]), "{user}");
    }
}
