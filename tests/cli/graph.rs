//! The mailbox pre-check against a loopback Microsoft Graph that answers as Graph really does,
//! with Microsoft's documented codes and bodies: 403 `ErrorAccessDenied`, 404
//! `MailboxNotEnabledForRESTAPI`, `ErrorInvalidUser` and `ResourceNotFound`, 429 with
//! `Retry-After`, a 500. Every mailbox that is not `ok` is named by `plan` with Graph's words and
//! blocks `apply` before anyone is switched; with `"skip"` they are left out, recorded, listed by
//! `status` and held up at the disconnect.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::idp::{GRAPH_CLIENT, GRAPH_SECRET, Idp, free_port};
use crate::support::{TestEnv, fixture_plan};

/// One answer: status, extra headers, body.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    Answer {
        status,
        headers: Vec::new(),
        body: serde_json::json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": { "date": "2026-12-01T10:00:00", "request-id": "7f3c", "client-request-id": "7f3c" }
            }
        })
        .to_string(),
    }
}

fn calendar() -> Answer {
    Answer {
        status: 200,
        headers: Vec::new(),
        body: r#"{"id":"AAMkAGI2","name":"Calendar","canEdit":false}"#.to_owned(),
    }
}

fn throttled() -> Answer {
    Answer {
        headers: vec![("Retry-After", "1")],
        ..error(
            429,
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
        )
    }
}

/// A loopback Graph answering each user's calendar from a script (its last answer repeats;
/// unscripted users get their calendar), and remembering every request's path and bearer.
struct LoopbackGraph {
    url: String,
    requests: Arc<Mutex<Vec<(String, bool)>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for LoopbackGraph {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl LoopbackGraph {
    fn start(scripts: BTreeMap<&str, Vec<Answer>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}/v1.0", listener.local_addr().expect("address"));
        listener.set_nonblocking(true).expect("nonblocking");
        let scripts: BTreeMap<String, VecDeque<Answer>> = scripts
            .into_iter()
            .map(|(user, answers)| (format!("/v1.0/users/{user}/calendar"), answers.into()))
            .collect();
        let scripts = Arc::new(Mutex::new(scripts));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, done) = (Arc::clone(&requests), Arc::clone(&stop));
        std::thread::spawn(move || {
            // Bounded: it stops when dropped, and after two minutes whatever happens.
            let deadline = Instant::now() + Duration::from_secs(120);
            while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (scripts, seen) = (Arc::clone(&scripts), Arc::clone(&seen));
                        std::thread::spawn(move || serve(stream, &scripts, &seen));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            requests,
            stop,
        }
    }

    /// How many requests asked for `user`'s calendar, and whether all carried a bearer token.
    fn asked(&self, user: &str) -> (usize, bool) {
        let path = format!("/v1.0/users/{user}/calendar");
        let requests = self.requests.lock().expect("requests");
        let mine: Vec<&(String, bool)> = requests.iter().filter(|(p, _)| *p == path).collect();
        (mine.len(), mine.iter().all(|(_, bearer)| *bearer))
    }
}

fn serve(
    mut stream: TcpStream,
    scripts: &Mutex<BTreeMap<String, VecDeque<Answer>>>,
    seen: &Mutex<Vec<(String, bool)>>,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16_384 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("")
        .to_owned();
    let bearer = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("authorization: bearer "));
    if let Ok(mut seen) = seen.lock() {
        seen.push((path.clone(), bearer));
    }
    let answer = match scripts.lock() {
        Ok(mut scripts) => match scripts.get_mut(&path) {
            Some(script) if script.len() > 1 => script.pop_front(),
            Some(script) => script.front().cloned(),
            None => Some(calendar()),
        },
        Err(_) => None,
    }
    .unwrap_or_else(calendar);
    let mut response = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&answer.body);
    let _ = stream.write_all(response.as_bytes());
}

/// Each user's answers, in order.
type Scripts = BTreeMap<&'static str, Vec<Answer>>;

/// The users Graph does not clear, with the code `plan` must name for each, and one (`grace`)
/// throttled once and then answered.
fn scripted() -> (Scripts, Vec<(&'static str, &'static str)>) {
    let scripts = BTreeMap::from([
        (
            "ana@contoso.example",
            vec![error(
                403,
                "ErrorAccessDenied",
                "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
            )],
        ),
        (
            "ben@contoso.example",
            vec![error(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )],
        ),
        (
            "carl.adams@contoso.example",
            vec![error(
                404,
                "ErrorInvalidUser",
                "The requested user 'carl.adams@contoso.example' is invalid.",
            )],
        ),
        (
            "dina.haddad@contoso.example",
            vec![error(
                404,
                "ResourceNotFound",
                "Resource could not be discovered.",
            )],
        ),
        ("erik.olsen@contoso.example", vec![throttled()]),
        (
            "fatima.vargas@contoso.example",
            vec![error(
                500,
                "InternalServerError",
                "An internal server error occurred. The operation failed.",
            )],
        ),
        (
            "grace.castillo@contoso.example",
            vec![throttled(), calendar()],
        ),
    ]);
    let expected = vec![
        ("ana@contoso.example", "403 ErrorAccessDenied"),
        ("ben@contoso.example", "404 MailboxNotEnabledForRESTAPI"),
        ("carl.adams@contoso.example", "404 ErrorInvalidUser"),
        ("dina.haddad@contoso.example", "404 ResourceNotFound"),
        ("erik.olsen@contoso.example", "429 ApplicationThrottled"),
        ("fatima.vargas@contoso.example", "500 InternalServerError"),
    ];
    (scripts, expected)
}

/// A demo tenant whose pilot holds every scripted user, checked against `graph`.
fn graph_env(graph: &LoopbackGraph, policy: &str) -> (TestEnv, Idp) {
    let mut env = TestEnv::new().sandbox("demo", 12, "50ms");
    env.set_env("CUTOVER_GRAPH_SECRET", GRAPH_SECRET);
    let idp = Idp::start(env.path(), free_port(), &[]);
    let pilot = "users = [\"ana@contoso.example\", \"ben@contoso.example\", \"carl.adams@contoso.example\", \
                 \"dina.haddad@contoso.example\", \"erik.olsen@contoso.example\", \"fatima.vargas@contoso.example\", \
                 \"grace.castillo@contoso.example\"]";
    let plan = fixture_plan(
        "precheck",
        &[
            ("url", "unused"),
            ("token_url", &idp.token_url()),
            ("graph_client", GRAPH_CLIENT),
            ("on_denied", policy),
        ],
    )
    .replace(
        "graph_url = \"unused/graph/v1.0\"",
        &format!("graph_url = \"{}\"", graph.url),
    )
    .replace(
        "users = [\"ana@contoso.example\", \"ben@contoso.example\"]",
        pilot,
    )
    .replace(
        "on_denied = ",
        &format!("on_not_found = \"{policy}\"\non_denied = "),
    );
    (env.file("plan.toml", &plan), idp)
}

fn enabled(inspect: &Value, email: &str) -> Value {
    inspect["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == email)
        .map(|u| u["enabled"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn every_mailbox_graph_does_not_clear_is_named_in_its_words_and_blocks_the_switch() {
    let (scripts, expected) = scripted();
    let graph = LoopbackGraph::start(scripts);
    let (env, _idp) = graph_env(&graph, "block");

    let dry = env.run(["plan", "plan.toml", "--format", "json"]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    let findings = dry.json()["findings"].as_array().expect("findings").clone();
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    for f in findings.iter().filter(|f| {
        f["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("mailbox-"))
    }) {
        for user in f["users"].as_array().expect("users") {
            named.insert(
                user.as_str().expect("email").to_owned(),
                f["message"].as_str().expect("message").to_owned(),
            );
        }
    }
    let names: BTreeSet<&str> = named.keys().map(String::as_str).collect();
    let wanted: BTreeSet<&str> = expected.iter().map(|(e, _)| *e).collect();
    assert_eq!(names, wanted, "{}", dry.stdout);
    for (email, words) in &expected {
        assert!(
            named[*email].contains(words),
            "{email}: {words} in {}",
            named[*email]
        );
    }
    // Graph's messages are quoted, and each kind has its own remedy.
    let text = env.run(["plan", "plan.toml"]);
    for part in [
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        "Blocked by tenant configured AppOnly AccessPolicy settings.",
        "still so after 5 attempts",
        "RBAC for Applications",
        "Do not widen the app's Entra ID permissions",
        "resolve_by_mail",
    ] {
        assert!(text.stdout.contains(part), "{part}:\n{}", text.stdout);
    }
    let md = env.run(["plan", "plan.toml", "--format", "markdown"]);
    assert!(md.stdout.contains("404 ResourceNotFound"), "{}", md.stdout);
    // Throttled once, then answered: retried after Retry-After, and cleared.
    assert!(graph.asked("grace.castillo@contoso.example").0 >= 2);
    let (erik, bearer) = graph.asked("erik.olsen@contoso.example");
    assert!(erik >= 5 && bearer, "{erik} requests");

    // `apply` halts at the pilot before switching anyone, naming each of them.
    let run = env.run(["apply", "plan.toml", "--poll-interval", "20ms"]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(run.stdout.contains("HALTED at pilot"), "{}", run.stdout);
    for (email, words) in &expected {
        assert!(run.stdout.contains(email), "{email}:\n{}", run.stdout);
        assert!(run.stdout.contains(words), "{words}:\n{}", run.stdout);
    }
    let inspect = env.inspect();
    let enables = inspect["writes"]
        .as_array()
        .expect("writes")
        .iter()
        .filter(|w| w["op"] == "enable")
        .count();
    assert_eq!(enables, 0, "nobody switched: {}", inspect["writes"]);
}

#[test]
fn skipped_mailboxes_are_recorded_with_their_verdict_and_hold_up_the_disconnect() {
    let (scripts, expected) = scripted();
    let graph = LoopbackGraph::start(scripts);
    let (env, _idp) = graph_env(&graph, "skip");
    let run = env.run(["apply", "plan.toml", "--poll-interval", "20ms"]);
    // Everyone else moved; the skipped stay on Basic, so the disconnect refuses.
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(
        run.stdout.contains("left out by the mailbox pre-check"),
        "{}",
        run.stdout
    );
    let inspect = env.inspect();
    for (email, _) in &expected {
        assert_eq!(
            enabled(&inspect, email),
            serde_json::json!(["Basic Auth"]),
            "{email}"
        );
    }
    assert_eq!(
        enabled(&inspect, "grace.castillo@contoso.example"),
        serde_json::json!(["OAuth"])
    );
    assert_eq!(inspect["violations"], Value::Array(vec![]));

    // `status` reads them from the state database, with Graph's verdict.
    let status = env.run(["status", "plan.toml", "--format", "json"]);
    let skipped = &status.json()["skipped"]["pilot"];
    let listed: BTreeMap<String, String> = skipped
        .as_array()
        .expect("skipped users")
        .iter()
        .map(|u| {
            (
                u["email"].as_str().expect("email").to_owned(),
                format!(
                    "{} {}",
                    u["verdict"]["status"],
                    u["verdict"]["code"].as_str().unwrap_or("")
                ),
            )
        })
        .collect();
    assert_eq!(listed.len(), expected.len(), "{}", status.stdout);
    for (email, words) in &expected {
        assert_eq!(listed[*email], *words, "{email}");
    }
    let text = env.run(["status", "plan.toml"]);
    assert!(
        text.stdout.contains("left out by the mailbox pre-check"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("MailboxNotEnabledForRESTAPI"),
        "{}",
        text.stdout
    );
    // And `plan` names them as what holds up the disconnect.
    let dry = env.run(["plan", "plan.toml"]);
    assert!(
        dry.stdout
            .contains("left out by the mailbox pre-check stay on"),
        "{}",
        dry.stdout
    );
}
