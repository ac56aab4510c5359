//! The notifier end to end, against real receivers on loopback: each webhook format's shape
//! (the JSON against its published schema), the ledger across scheduled runs (once per state,
//! reminders, retries after a receiver that hangs), the command channel's input, environment
//! and limit, and no secret in any payload, reason or state file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::post;
use jiff::Timestamp;
use serde_json::Value;

use super::{Decision, Notification, NotifiedUser, Notifier};
use crate::plan::{NotifyEvent, Plan};
use crate::state::Store;

/// The secret part of every test webhook URL: it must appear nowhere cutover writes.
const HOOK_SECRET: &str = "T0SECRET/B0SECRET/xoxb-notify-8c1e55d2a9f3";

/// What a receiver got: the path posted to, and the body.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A webhook receiver on loopback answering `status`, recording every POST.
async fn receiver(status: StatusCode) -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/{*path}",
            post(
                move |State(r): State<Received>, uri: Uri, body: axum::body::Bytes| async move {
                    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    r.lock().expect("lock").push((uri.path().to_owned(), json));
                    status
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, received)
}

/// A host that accepts connections and never answers: a receiver that is "down" the slow way.
async fn black_hole() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/services/{HOOK_SECRET}")
}

/// A plan (the quick start's steps) with `notify` appended, in `dir`.
fn plan(dir: &Path, notify: &str) -> Plan {
    let text = format!(
        "version = 1\nname = \"p\"\n[target]\nkind = \"sandbox\"\nsandbox = \"demo\"\n\
         [from]\ndisplay_name = \"Basic Auth\"\n[to]\ndisplay_name = \"OAuth\"\n\
         tenant_id = \"contoso.onmicrosoft.com\"\n[[batch]]\nname = \"east\"\n\
         users = {{ location = \"East\" }}\n[disconnect]\n{notify}"
    );
    match crate::plan::load_text(&dir.join("plan.toml"), &text) {
        Ok(loaded) => loaded.plan,
        Err(e) => panic!("the test plan is valid: {e:?}"),
    }
}

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("time")
}

/// A halt naming `users` failing users.
fn halt(plan: &Plan, users: usize, at: Timestamp) -> Notification {
    Notification::event(
        plan,
        NotifyEvent::Halted,
        "east:1800000000000",
        format!("the gate failed: {users} users have OAuth sync errors (max_errors 0)"),
        at,
    )
    .step("east")
    .users(
        (0..users)
            .map(|i| NotifiedUser {
                email: format!("user{i:02}@contoso.example"),
                error: Some(
                    "ErrorAccessDenied: the mailbox is outside the app's access policy".into(),
                ),
            })
            .collect(),
    )
    .next_command("cutover status plans/p.toml")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(HOOK_SECRET),
        "{what} holds the webhook's secret:\n{text}"
    );
    assert!(
        !text.contains("T0SECRET"),
        "{what} holds part of the webhook's secret:\n{text}"
    );
}

#[tokio::test]
async fn each_webhook_format_has_its_shape_and_folds_only_for_people() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (addr, received) = receiver(StatusCode::OK).await;
    write(dir.path(), "hook-url", &url(addr));
    let plan = plan(
        dir.path(),
        "[[notify]]\nwebhook = { file = \"hook-url\" }\n\
         [[notify]]\nwebhook = { file = \"hook-url\" }\nformat = \"slack\"\n\
         [[notify]]\nwebhook = { file = \"hook-url\" }\nformat = \"teams\"\n",
    );
    let notifier = Notifier::new(&plan, dir.path());
    let results = notifier.deliver(&halt(&plan, 25, t(0))).await;
    assert_eq!(results.len(), 3);
    for result in &results {
        assert_eq!(result.outcome, Ok(()), "{}", result.channel);
        assert_no_secret("a channel label", &result.channel);
    }
    let received = received.lock().expect("lock").clone();
    assert_eq!(received.len(), 3, "one POST per channel");
    let body = |pred: &dyn Fn(&Value) -> bool| {
        received
            .iter()
            .map(|(_, b)| b)
            .find(|b| pred(b))
            .cloned()
            .expect("a body of that shape")
    };

    // json: every user, valid against the committed schema.
    let json = body(&|b| b.get("format_version").is_some());
    let schema: Value =
        serde_json::from_str(include_str!("../../schemas/notification.schema.json"))
            .expect("the schema is JSON");
    let validator = jsonschema::draft7::new(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{json:#}");
    assert_eq!(json["kind"], "halted");
    assert_eq!(json["step"], "east");
    assert_eq!(json["users"].as_array().map(Vec::len), Some(25));
    assert_eq!(json["users_count"], 25);
    assert_eq!(json["next_command"], "cutover status plans/p.toml");
    assert_eq!(json["event_key"], "halted:east:1800000000000");
    assert!(
        json["users"][0]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("ErrorAccessDenied"))
    );

    // slack: a fallback text and blocks; 20 users and a count of the rest.
    let slack = body(&|b| b.get("blocks").is_some());
    assert!(slack["text"].as_str().is_some_and(|t| t.contains("HALTED")));
    let blocks = slack["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    let sections: Vec<&str> = blocks
        .iter()
        .filter(|b| b["type"] == "section")
        .filter_map(|b| b["text"]["text"].as_str())
        .collect();
    let users = sections
        .iter()
        .find(|s| s.starts_with("*Users (25)*"))
        .expect("a users section");
    assert_eq!(users.matches("• ").count(), 20, "{users}");
    assert!(users.contains("… and 5 more"), "{users}");
    assert!(
        sections
            .iter()
            .any(|s| s.contains("`cutover status plans/p.toml`"))
    );
    assert_eq!(
        blocks.last().map(|b| &b["type"]),
        Some(&Value::from("context"))
    );

    // teams: a Workflows message with one Adaptive Card.
    let teams = body(&|b| b.get("attachments").is_some());
    assert_eq!(teams["type"], "message");
    let attachment = &teams["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    let body = card["body"].as_array().expect("a card body");
    assert_eq!(body[0]["type"], "TextBlock");
    assert_eq!(body[0]["color"], "Attention");
    let facts = body
        .iter()
        .find(|b| b["type"] == "FactSet")
        .and_then(|b| b["facts"].as_array())
        .expect("facts");
    assert_eq!(facts.len(), 20);
    assert!(body.iter().any(|b| b["text"] == "… and 5 more"));

    for (path, body) in &received {
        assert_eq!(
            path,
            &format!("/services/{HOOK_SECRET}"),
            "posted to the plan's URL"
        );
        assert_no_secret("a payload", &body.to_string());
    }
}

/// Five scheduled runs that find the same halt send it once; `repeat` reminds; a new state is
/// sent at once; and the ledger holds no secret.
#[tokio::test]
async fn the_same_state_is_sent_once_per_channel_and_reminded_on_repeat() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (addr, received) = receiver(StatusCode::OK).await;
    write(dir.path(), "hook-url", &url(addr));
    let plan = plan(
        dir.path(),
        "[[notify]]\nwebhook = { file = \"hook-url\" }\n\
         [[notify]]\nwebhook = { file = \"hook-url\" }\nformat = \"slack\"\nrepeat = \"1h\"\n\
         [[notify]]\nwebhook = { file = \"hook-url\" }\nformat = \"teams\"\nevents = [\"done\"]\n",
    );
    let notifier = Notifier::new(&plan, dir.path());
    let state = dir.path().join("p.state.db");
    let mut store = Store::open_or_create(&state, "p").expect("a state file");
    let count = || received.lock().expect("lock").len();

    for run in 0..5 {
        let now = t(run * 300);
        let report = notifier
            .notify(&mut store, &[halt(&plan, 3, now)], now)
            .await;
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let sent: Vec<Decision> = report.results.iter().map(|r| r.decision).collect();
        let expected: &[Decision] = if run == 0 {
            &[Decision::Send, Decision::Send]
        } else {
            &[]
        };
        assert_eq!(sent, expected, "run {run}");
    }
    assert_eq!(count(), 2, "one halt message per channel that wants halts");

    // An hour after it was sent, the channel with `repeat` is reminded, the other is not.
    let report = notifier
        .notify(&mut store, &[halt(&plan, 3, t(3600))], t(3600))
        .await;
    let reminded: Vec<(Decision, &str)> = report
        .results
        .iter()
        .map(|r| (r.decision, r.channel.as_str()))
        .collect();
    assert_eq!(reminded.len(), 1, "{reminded:?}");
    assert_eq!(reminded[0].0, Decision::Remind);
    assert!(
        reminded[0].1.starts_with("#2 slack webhook"),
        "{reminded:?}"
    );
    assert_eq!(count(), 3);

    // The rollout finished: every channel that wants `done` hears it once.
    for run in 0..5 {
        let now = t(4000 + run * 300);
        let done = Notification::event(
            &plan,
            NotifyEvent::Done,
            "rollout",
            "the rollout is complete",
            now,
        );
        notifier.notify(&mut store, &[done], now).await;
    }
    assert_eq!(count(), 6, "three `done` messages, once each");

    let ledger = store.notification_ledger().expect("the ledger");
    assert!(
        ledger
            .iter()
            .all(|r| r.failures == 0 && r.last_error.is_none()),
        "{ledger:?}"
    );
    drop(store);
    let bytes = std::fs::read(&state).expect("the state file");
    assert_no_secret("the state file", &String::from_utf8_lossy(&bytes));
}

/// A receiver that accepts and never answers delays the run by the 10 s limit at most; the
/// failure is recorded, waits for its backoff, and is retried on a later run as it was.
#[tokio::test]
async fn a_receiver_that_hangs_costs_ten_seconds_and_is_retried_later() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let hole = black_hole().await;
    let (good, received) = receiver(StatusCode::OK).await;
    let hook = write(dir.path(), "hook-url", &url(hole));
    let plan = plan(
        dir.path(),
        "[[notify]]\nwebhook = { file = \"hook-url\" }\n",
    );
    let notifier = Notifier::new(&plan, dir.path());
    let mut store = Store::open_or_create(&dir.path().join("p.state.db"), "p").expect("state");

    let started = std::time::Instant::now();
    let report = notifier
        .notify(&mut store, &[halt(&plan, 2, t(0))], t(0))
        .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_millis(11_500),
        "{took:?}"
    );
    let reason = report.results[0].outcome.clone().expect_err("failed").0;
    assert!(
        reason.contains("timed out") || reason.contains("10 s"),
        "{reason}"
    );
    assert_no_secret("the reason", &reason);
    let row = store.notification_ledger().expect("ledger").remove(0);
    assert_eq!((row.failures, row.delivered_at), (1, None));
    assert_eq!(row.next_retry, Some(t(60)));
    assert_no_secret(
        "the recorded reason",
        row.last_error.as_deref().unwrap_or(""),
    );

    // The receiver is back. A run within the backoff does not try; the next one retries the
    // halt as it was, even though the rollout has moved on to a wait since.
    std::fs::write(&hook, url(good)).expect("write");
    let wait = |at| {
        Notification::event(
            &plan,
            NotifyEvent::NeedsPerson,
            "approval:west",
            "west awaits its approval",
            at,
        )
    };
    let early = notifier.notify(&mut store, &[], t(30)).await;
    assert!(early.results.is_empty(), "{:?}", early.results);
    let report = notifier.notify(&mut store, &[wait(t(90))], t(90)).await;
    let mut decisions: Vec<(Decision, String)> = report
        .results
        .iter()
        .map(|r| (r.decision, r.event_key.clone()))
        .collect();
    decisions.sort_by_key(|(_, key)| key.clone());
    assert_eq!(
        decisions,
        [
            (Decision::Retry, "halted:east:1800000000000".to_owned()),
            (Decision::Send, "needs_person:approval:west".to_owned()),
        ]
    );
    assert!(report.results.iter().all(|r| r.outcome.is_ok()));
    let kinds: Vec<String> = received
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, b)| b["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"halted".to_owned()) && kinds.contains(&"needs_person".to_owned()));
    let halted = store
        .notification_ledger()
        .expect("ledger")
        .into_iter()
        .find(|r| r.kind == "halted")
        .expect("the halt's row");
    assert_eq!((halted.failures, halted.attempts), (0, 2));
}

/// A receiver that refuses fails at once, and a later notification delivered to the channel
/// supersedes it (no retry of old news); the answer's status is in the reason, the URL is not.
#[tokio::test]
async fn a_refusing_receiver_fails_fast_and_newer_news_supersedes_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (bad, _) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let (good, received) = receiver(StatusCode::OK).await;
    let hook = write(dir.path(), "hook-url", &url(bad));
    let plan = plan(
        dir.path(),
        "[[notify]]\nwebhook = { file = \"hook-url\" }\n",
    );
    let notifier = Notifier::new(&plan, dir.path());
    let mut store = Store::open_or_create(&dir.path().join("p.state.db"), "p").expect("state");

    let started = std::time::Instant::now();
    let report = notifier
        .notify(&mut store, &[halt(&plan, 1, t(0))], t(0))
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let reason = report.results[0].outcome.clone().expect_err("failed").0;
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert_no_secret("the reason", &reason);

    std::fs::write(&hook, url(good)).expect("write");
    let done = Notification::event(&plan, NotifyEvent::Done, "rollout", "done", t(30));
    let report = notifier.notify(&mut store, &[done], t(30)).await;
    assert_eq!(report.results.len(), 1, "the halt waits for its backoff");
    let report = notifier.notify(&mut store, &[], t(200)).await;
    assert!(
        report.results.is_empty(),
        "the delivered `done` superseded the failed halt"
    );
    let ledger = store.notification_ledger().expect("ledger");
    assert!(
        ledger.iter().any(|r| r.kind == "halted" && r.abandoned),
        "{ledger:?}"
    );
    assert_eq!(received.lock().expect("lock").len(), 1);
}

/// The command channel: the event's JSON on stdin, nothing of cutover's environment but a fixed
/// PATH, the plan's folder as working folder; a command that outlives 10 s is killed.
#[tokio::test]
async fn a_command_gets_the_json_and_no_environment_and_is_killed_at_ten_seconds() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("got");
    let plan = plan(
        dir.path(),
        &format!(
            "[[notify]]\ncommand = [\"/bin/sh\", \"-c\", \"cat > \\\"$0.json\\\"; env > \\\"$0.env\\\"; pwd > \\\"$0.pwd\\\"\", \"{}\"]\n\
             [[notify]]\ncommand = [\"/bin/sleep\", \"30\"]\n\
             [[notify]]\ncommand = [\"/bin/sh\", \"-c\", \"echo no such queue >&2; exit 3\"]\n",
            out.display()
        ),
    );
    let notifier = Notifier::new(&plan, dir.path());
    let started = std::time::Instant::now();
    let results = notifier.deliver(&halt(&plan, 2, t(0))).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_millis(11_500),
        "{took:?}"
    );
    assert_eq!(results[0].outcome, Ok(()));
    let killed = results[1].outcome.clone().expect_err("killed").0;
    assert!(
        killed.contains("did not finish within 10 s and was killed"),
        "{killed}"
    );
    let exited = results[2].outcome.clone().expect_err("failed").0;
    assert!(
        exited.contains("exit status: 3") && exited.contains("no such queue"),
        "{exited}"
    );

    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out.with_extension("json")).expect("stdin was written"),
    )
    .expect("JSON on stdin");
    assert_eq!(json["kind"], "halted");
    assert_eq!(json["users_count"], 2);
    let env = std::fs::read_to_string(out.with_extension("env")).expect("env");
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    for name in &names {
        assert!(
            ["PATH", "PWD", "SHLVL", "_", "OLDPWD"].contains(name),
            "the command inherited {name}:\n{env}"
        );
    }
    assert!(names.contains(&"PATH"));
    let pwd = std::fs::read_to_string(out.with_extension("pwd")).expect("pwd");
    let canonical = dir.path().canonicalize().expect("canonical");
    assert_eq!(Path::new(pwd.trim()), canonical);
}
