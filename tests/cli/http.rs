//! The engine over the `http` target, against `cutover sandbox serve` on real sockets: the same
//! rollouts as over the embedded sandbox, plus a hostile server.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Run, TOKEN, TestEnv, fixture_plan};

fn plan(url: &str, rest_size: usize) -> String {
    fixture_plan(
        "over-http",
        &[("url", url), ("rest_size", &rest_size.to_string())],
    )
}

fn env_with_token(users: usize, interval: &str) -> TestEnv {
    let mut env = TestEnv::new().sandbox("demo", users, interval);
    env.set_env("CUTOVER_API_TOKEN", TOKEN);
    env
}

fn apply(env: &TestEnv) -> Run {
    env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"])
}

/// Everyone on OAuth alone, no invariant ever broken.
fn assert_on_oauth(inspect: &Value, users: usize) {
    let on: Vec<&Value> = inspect["users"].as_array().expect("users").iter().collect();
    assert_eq!(on.len(), users);
    for user in on {
        assert_eq!(
            user["enabled"],
            serde_json::json!(["OAuth"]),
            "{}",
            user["email"]
        );
    }
    assert_eq!(inspect["violations"], Value::Array(vec![]));
}

/// And, for a rollout without halts, nobody got the same change twice.
fn assert_migrated(inspect: &Value, users: usize) {
    assert_on_oauth(inspect, users);
    let mut changes: BTreeMap<String, usize> = BTreeMap::new();
    for w in inspect["writes"].as_array().expect("writes") {
        if w["changed"] == true && w["user"].is_string() {
            *changes
                .entry(format!("{} {} {}", w["user"], w["op"], w["configuration"]))
                .or_default() += 1;
        }
    }
    let twice: Vec<_> = changes.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "moved twice: {twice:?}");
}

#[test]
fn a_clean_run_over_http_does_what_the_dry_run_showed() {
    let env = env_with_token(30, "40ms");
    let served = env.serve(&["--max-bulk", "7"]);
    let env = env.file("plan.toml", &plan(&served.url, 12));
    let planned = env.run(["plan", "plan.toml", "--format", "json"]);
    assert_eq!(planned.code, 0, "{}", planned.transcript());
    let steps: Vec<String> = planned.json()["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["id"].as_str().unwrap_or("").to_owned())
        .collect();
    let run = env.run([
        "apply",
        "plan.toml",
        "--yes",
        "--poll-interval",
        "20ms",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let started: Vec<String> = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "step_started")
        .map(|e| e["step"].as_str().unwrap_or("").to_owned())
        .collect();
    let planned_moves: Vec<String> = steps
        .into_iter()
        .filter(|s| s != "connect" && s != "disconnect")
        .collect();
    assert_eq!(started, planned_moves);
    assert_migrated(&env.inspect(), 30);
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the token is never printed"
    );
}

/// A platform whose contract has no `POST /users/query` (an older one): the gates read their
/// members by paging instead, and the rollout is the same.
#[test]
fn a_platform_without_the_bulk_read_is_paged_instead() {
    let env = env_with_token(30, "40ms");
    let served = env.serve(&["--max-bulk", "7", "--without-users-query"]);
    let env = env.file("plan.toml", &plan(&served.url, 12));
    let run = apply(&env);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_migrated(&env.inspect(), 30);
    drop(served);
}

#[test]
fn a_halt_over_http_names_the_failing_users_and_a_rerun_finishes() {
    let env = env_with_token(20, "40ms");
    let served = env.serve(&[]);
    let env = env.file("plan.toml", &plan(&served.url, 50));
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", "ben@contoso.example"])
            .code,
        0
    );
    let halted = apply(&env);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert!(
        halted
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("ben@contoso.example")
                && l.contains("Access is denied")),
        "{}",
        halted.stdout
    );
    assert_eq!(
        env.run([
            "sandbox",
            "allow-access",
            "tenant.db",
            "ben@contoso.example"
        ])
        .code,
        0
    );
    let done = apply(&env);
    assert_eq!(done.code, 0, "{}", done.transcript());
    // Ben's Basic was given back by the halt and taken away again: twice, by design.
    assert_on_oauth(&env.inspect(), 20);
}

#[test]
fn a_wrong_token_and_an_unreachable_platform_are_clear_errors() {
    let env = env_with_token(10, "40ms");
    let served = env.serve(&[]);
    let mut env = env.file("plan.toml", &plan(&served.url, 50));
    env.set_env("CUTOVER_API_TOKEN", "wrong-token-value");
    let refused = apply(&env);
    assert_eq!(refused.code, 1, "{}", refused.transcript());
    assert!(
        refused
            .stderr
            .contains("the API token from environment variable CUTOVER_API_TOKEN was refused"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("wrong-token-value"));
    drop(served);
    env.set_env("CUTOVER_API_TOKEN", TOKEN);
    let gone = env.run(["status", "plan.toml", "--live"]);
    assert_eq!(gone.code, 1, "{}", gone.transcript());
    assert!(gone.stderr.contains("did not answer"), "{}", gone.stderr);
    // Without --live, status reads the state alone: the platform being gone changes nothing,
    // and the last run's refused token is what it reports.
    let recorded = env.run(["status", "plan.toml"]);
    assert_eq!(recorded.code, 1, "{}", recorded.transcript());
    assert!(
        recorded.stdout.contains("was refused") && !recorded.stderr.contains("did not answer"),
        "{}",
        recorded.transcript()
    );
}

/// 10% of requests answered 5xx and 5% of connections dropped (half of them after the write
/// took effect): a 2,000-user rollout still ends correct, with no user moved twice.
#[test]
fn a_hostile_server_cannot_break_a_two_thousand_user_rollout() {
    let env = env_with_token(2000, "100ms");
    let served = env.serve(&[
        "--error-rate",
        "0.1",
        "--drop-rate",
        "0.05",
        "--max-bulk",
        "200",
        "--seed",
        "42",
    ]);
    let env = env.file("plan.toml", &plan(&served.url, 700));
    let run = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "100ms"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_migrated(&env.inspect(), 2000);
}

/// A rate-limited platform that says what each window has left is spent to the last request
/// and never past it: the rollout's bulk writes go in bursts as each window allows, wherever
/// its windows fall, and not one is answered 429.
#[test]
fn a_platform_saying_what_is_left_is_never_asked_past_it() {
    let env = env_with_token(300, "40ms");
    let served = env.serve(&["--rate-limit", "40", "--max-bulk", "5", "--latency", "5ms"]);
    let env = env.file("plan.toml", &plan(&served.url, 100));
    let run = apply(&env);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let summary = served.stop();
    assert!(summary.contains(" 0 throttled (429)"), "{summary}");
    let requests: u64 = summary
        .split_once("served ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(requests > 80, "more than two windows' worth: {summary}");
    assert_migrated(&env.inspect(), 300);
}

/// SIGKILL at random moments over http, with the server running throughout.
#[test]
fn crash_test_over_http() {
    let mut seed: u64 = 0x00c0_ffee_1234_5678;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut kills = 0;
    while kills < 20 {
        let env = env_with_token(24, "40ms");
        let served = env.serve(&["--max-bulk", "5"]);
        let env = env.file("plan.toml", &plan(&served.url, 8));
        let mut finished = false;
        for _ in 0..12 {
            let mut child = env.spawn(["apply", "plan.toml", "--yes", "--poll-interval", "10ms"]);
            std::thread::sleep(Duration::from_millis(random(300)));
            match child.try_wait().expect("try_wait") {
                Some(status) => {
                    assert_eq!(status.code(), Some(0));
                    finished = true;
                    break;
                }
                None => {
                    child.kill().expect("SIGKILL");
                    let _ = child.wait();
                    kills += 1;
                }
            }
        }
        if !finished {
            let last = apply(&env);
            assert_eq!(last.code, 0, "{}", last.transcript());
        }
        assert_migrated(&env.inspect(), 24);
    }
}

/// With nobody at the keyboard, a real target's disconnect that the plan does not have approved
/// waits for `--yes` (exit 6), and `status` says the same; `--yes` confirms it.
#[test]
fn a_real_targets_unapproved_disconnect_waits_for_yes() {
    let env = env_with_token(12, "40ms");
    let served = env.serve(&[]);
    let env = env.file("plan.toml", &plan(&served.url, 50));
    let waiting = env.run(["apply", "plan.toml", "--poll-interval", "20ms"]);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    let last = waiting.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("waiting: confirmation disconnect ") && last.contains("--yes"),
        "{last}"
    );
    let basic_connected = |env: &TestEnv| {
        env.inspect()["configurations"]
            .as_array()
            .expect("configurations")
            .iter()
            .any(|c| c["display_name"] == "Basic Auth" && c["state"] == "connected")
    };
    assert!(basic_connected(&env), "nothing irreversible happened");
    assert_eq!(env.run(["status", "plan.toml"]).code, 6);
    let done = apply(&env);
    assert_eq!(done.code, 0, "{}", done.transcript());
    assert!(!basic_connected(&env));
    drop(served);
}

/// The whole HTTP/1.1 answer, status line and headers included, of one authenticated `GET path`
/// on its own connection: what a test of the wire itself needs, which a client library hides.
fn raw_get(url: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
}

/// A rate-limited `sandbox serve` states its quota on every answer (`RateLimit-Policy`, as the
/// IETF httpapi draft writes it) and what is left of it once that request was counted
/// (`RateLimit`'s `r`): what lets the http target keep under the limit instead of finding it by
/// being throttled, and spend what a window has left instead of pacing.
#[test]
fn a_rate_limited_server_states_its_quota_and_what_is_left_on_every_answer() {
    let env = env_with_token(3, "40ms");
    let served = env.serve(&["--rate-limit", "2"]);
    // Two a second: the first two are served, the third (within the same second) throttled.
    for (status, left) in [("200", 1), ("200", 0), ("429", 0)] {
        let answer = raw_get(&served.url, "/whoami").to_ascii_lowercase();
        assert!(
            answer.starts_with(&format!("http/1.1 {status}")),
            "{answer}"
        );
        assert!(
            answer.contains("\r\nratelimit-policy: \"default\";q=2;w=1\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains(&format!("\r\nratelimit: \"default\";r={left};t=1\r\n")),
            "{answer}"
        );
    }
    drop(served);
}

/// `sandbox serve` says, with a first page asked for `cursors`, where each later page begins:
/// the `after` a client paging one page after another would ask with, every one.
#[test]
fn a_first_page_asked_for_cursors_says_where_every_later_page_begins() {
    let env = env_with_token(25, "40ms");
    let served = env.serve(&[]);
    let get = |query: &str| -> Value {
        let answer = raw_get(&served.url, &format!("/users?{query}"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let body = answer.split_once("\r\n\r\n").expect("body").1;
        serde_json::from_str(body).expect("json")
    };
    let first = get("limit=10&cursors=true");
    let cursors: Vec<String> = first["cursors"]
        .as_array()
        .expect("cursors")
        .iter()
        .map(|c| c.as_str().expect("cursor").to_owned())
        .collect();
    let mut afters = Vec::new();
    let mut page = first;
    while page["more"] == true {
        let last = page["users"]
            .as_array()
            .and_then(|u| u.last())
            .expect("a user");
        let after = last["email"].as_str().expect("email").to_owned();
        page = get(&format!("limit=10&after={after}"));
        assert!(page.get("cursors").is_none(), "only asked for: {page}");
        afters.push(after);
    }
    assert_eq!(cursors, afters);
    assert_eq!(cursors.len(), 2, "25 users in pages of 10");
    drop(served);
}
