//! `cutover notify test` end to end: a webhook receiver and real SMTP servers on loopback
//! (aiosmtpd, from `tests/python/requirements.lock`) — STARTTLS offered and required, implicit
//! TLS, plain to loopback — and a command; `{ credential = "NAME" }` secrets as systemd gives
//! them; and no secret in anything cutover printed, wrote or sent.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Receiver, TOKEN, TestEnv, fixture_plan, python_tools, repo};

/// The webhook URL's secret path, the SMTP password, and the API token (via credentials).
const HOOK_SECRET: &str = "hooks/T0NOTIFY/B0NOTIFY/5e0c1a77b2d94f3a";
const SMTP_PASSWORD: &str = "smtp-pass-4f9d2b7e6a1c";

/// An SMTP server (tests/python/smtp_server.py) in `dir`; stopped when dropped.
struct Smtp {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Smtp {
    fn start(dir: &Path, mode: &str, user: Option<&str>) -> Self {
        std::fs::create_dir_all(dir).expect("smtp folder");
        let mut command = Command::new(python_tools().join("python"));
        command
            .arg(repo().join("tests/python/smtp_server.py"))
            .arg(dir)
            .arg(mode)
            .env("SMTP_TEST_PASSWORD", SMTP_PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(user) = user {
            command.arg(user);
        }
        let child = command.spawn().expect("python runs the SMTP server");
        let started = Instant::now();
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(dir.join("port")) {
                break text.trim().parse().expect("a port");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the SMTP server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            dir: dir.to_path_buf(),
            port,
        }
    }

    /// Each message received: its text, and the server's notes (`encrypted`, `login`).
    fn mail(&self) -> Vec<(String, serde_json::Value)> {
        (1..)
            .map(|n| self.dir.join(format!("mail-{n}")))
            .take_while(|base| base.with_extension("json").exists())
            .map(|base| {
                let text = std::fs::read_to_string(base.with_extension("eml")).expect("eml");
                let notes = std::fs::read_to_string(base.with_extension("json")).expect("json");
                (text, serde_json::from_str(&notes).expect("notes"))
            })
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn plan(notify: &str) -> String {
    let base = std::fs::read_to_string(repo().join("plans/quickstart.toml")).expect("quickstart");
    format!("{base}\n{notify}")
}

fn email(port: u16, tls: &str, login: bool) -> String {
    let login = if login {
        ", username = \"cutover\", password = { credential = \"smtp-password\" }"
    } else {
        ""
    };
    format!(
        "[[notify]]\nemail = {{ host = \"127.0.0.1\", port = {port}, tls = \"{tls}\", from = \"cutover@contoso.example\", to = [\"ops@contoso.example\", \"cab@contoso.example\"]{login} }}\n"
    )
}

/// Every byte in the test folder, and every text given, is free of every secret.
fn assert_no_secrets(dir: &Path, texts: &[(&str, &str)]) {
    let secrets = [HOOK_SECRET, "T0NOTIFY", SMTP_PASSWORD, TOKEN];
    let mut haystacks: Vec<(String, Vec<u8>)> = texts
        .iter()
        .map(|(name, text)| ((*name).to_owned(), text.as_bytes().to_vec()))
        .collect();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.ends_with("creds/smtp-password") && !path.ends_with("creds/api-token") {
                haystacks.push((
                    path.display().to_string(),
                    std::fs::read(&path).expect("read"),
                ));
            }
        }
    }
    for (name, bytes) in &haystacks {
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} holds a secret ({}…)",
                &secret[..4]
            );
        }
    }
}

/// Every kind of channel at once: each gets the test message, in its shape; a STARTTLS channel
/// whose server offers no STARTTLS fails rather than sending in the clear; nothing leaks.
#[test]
fn notify_test_reaches_every_channel_and_reports_each() {
    let mut env = TestEnv::new();
    let hook = Receiver::start();
    let starttls = Smtp::start(
        &env.path().join("smtp-starttls"),
        "starttls",
        Some("cutover"),
    );
    let plain = Smtp::start(&env.path().join("smtp-plain"), "plain", None);
    let implicit = Smtp::start(&env.path().join("smtp-tls"), "tls", None);
    let mut bundle = String::new();
    for server in [&starttls, &implicit] {
        bundle.push_str(&std::fs::read_to_string(server.dir.join("ca.pem")).expect("ca"));
    }
    let env_dir = env.path().to_path_buf();
    std::fs::write(env_dir.join("cas.pem"), bundle).expect("bundle");
    std::fs::create_dir_all(env_dir.join("creds")).expect("creds");
    std::fs::write(env_dir.join("creds/smtp-password"), SMTP_PASSWORD).expect("password");
    env.set_env(
        "SSL_CERT_FILE",
        &env_dir.join("cas.pem").display().to_string(),
    );
    env.set_env(
        "CREDENTIALS_DIRECTORY",
        &env_dir.join("creds").display().to_string(),
    );
    env.set_env("CUTOVER_WEBHOOK", &hook.url(HOOK_SECRET));
    // A secret of cutover's own, which the command must not inherit.
    env.set_env("CUTOVER_API_TOKEN", TOKEN);

    let notify = [
        "[[notify]]\nwebhook = { env = \"CUTOVER_WEBHOOK\" }\nformat = \"slack\"\nevents = [\"halted\"]\n".to_owned(),
        email(starttls.port, "starttls", true),
        email(plain.port, "none", false),
        email(plain.port, "starttls", false),
        email(implicit.port, "tls", false),
        "[[notify]]\ncommand = [\"./hook.sh\", \"got\"]\n".to_owned(),
    ]
    .concat();
    let env = env.file("plan.toml", &plan(&notify)).file(
        "hook.sh",
        "#!/bin/sh\ncat > \"$1.json\"\nenv > \"$1.env\"\n",
    );
    let script = env.path().join("hook.sh");
    let mut permissions = std::fs::metadata(&script).expect("hook.sh").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).expect("chmod");

    let run = env.run(["notify", "test", "plan.toml"]);
    assert_eq!(run.code, 1, "one channel fails:\n{}", run.transcript());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0], "notify test: plan quickstart, 6 channel(s)",
        "{}",
        run.stdout
    );
    for (i, line) in lines[1..7].iter().enumerate() {
        let delivered = line.starts_with("  delivered  ");
        assert_eq!(delivered, i != 3, "channel {}: {line}", i + 1);
    }
    assert!(
        lines[4].contains("STARTTLS"),
        "a server without STARTTLS is refused, not used in the clear: {}",
        lines[4]
    );
    assert_eq!(lines[7], "5 of 6 delivered");

    // The webhook: one POST of Slack blocks to the plan's URL (a test goes to every channel,
    // whatever its `events`).
    let requests = hook.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].starts_with(&format!("POST /{HOOK_SECRET} HTTP/1.1")));
    let body = requests[0].split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let slack: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(slack["blocks"][0]["type"], "header");
    assert!(slack["text"].as_str().is_some_and(|t| t.contains("TEST")));

    // The emails: over STARTTLS with a login, plain on loopback, over implicit TLS.
    for (server, encrypted, login) in [
        (&starttls, true, true),
        (&plain, false, false),
        (&implicit, true, false),
    ] {
        let mail = server.mail();
        assert_eq!(mail.len(), 1, "{}", server.dir.display());
        let (text, notes) = &mail[0];
        assert_eq!(notes["encrypted"], encrypted, "{text}");
        assert_eq!(notes["login"], login);
        assert_eq!(
            notes["rcpt_tos"],
            serde_json::json!(["ops@contoso.example", "cab@contoso.example"])
        );
        assert!(text.contains("Subject: cutover: TEST"), "{text}");
        assert!(text.contains("cutover status plan.toml"), "{text}");
    }

    // The command: the JSON on stdin (valid against the schema), no inherited environment.
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("got.json")).expect("the command ran"),
    )
    .expect("JSON");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/notification.schema.json")).expect("schema"),
    )
    .expect("JSON");
    assert!(jsonschema::draft7::is_valid(&schema, &json), "{json:#}");
    assert_eq!(json["kind"], "test");
    let inherited = std::fs::read_to_string(env.path().join("got.env")).expect("env");
    for name in [
        "CUTOVER_API_TOKEN",
        "CUTOVER_WEBHOOK",
        "CREDENTIALS_DIRECTORY",
        "USER",
        "HOME",
    ] {
        assert!(
            !inherited
                .lines()
                .any(|l| l.starts_with(&format!("{name}="))),
            "{name} reached the command:\n{inherited}"
        );
    }

    let json_run = env.run(["notify", "test", "plan.toml", "--format", "json"]);
    assert_eq!(json_run.code, 1);
    let report = json_run.json();
    assert_eq!(
        (report["delivered"].as_u64(), report["failed"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(report["channels"][3]["delivered"], false);

    let mut texts = vec![
        ("stdout", run.stdout.as_str()),
        ("stderr", run.stderr.as_str()),
    ];
    texts.extend([
        ("json stdout", json_run.stdout.as_str()),
        ("json stderr", json_run.stderr.as_str()),
    ]);
    let requests = hook.requests();
    texts.extend(requests.iter().map(|r| {
        (
            "a webhook request body",
            r.split_once("\r\n\r\n").map_or("", |(_, b)| b),
        )
    }));
    assert_no_secrets(env.path(), &texts);
}

/// All delivered: exit 0. A plan without channels: exit 1, said so. A secret not set: the
/// channel fails naming the variable, and the others still deliver.
#[test]
fn notify_test_exit_codes() {
    let hook = Receiver::start();
    let mut env = TestEnv::new().file(
        "plan.toml",
        &plan("[[notify]]\nwebhook = { env = \"CUTOVER_WEBHOOK\" }\n\n[[notify]]\nwebhook = { env = \"CUTOVER_TEAMS_WEBHOOK\" }\nformat = \"teams\"\n"),
    );
    env.set_env("CUTOVER_WEBHOOK", &hook.url(HOOK_SECRET));
    env.set_env("CUTOVER_TEAMS_WEBHOOK", &hook.url(HOOK_SECRET));
    let run = env.run(["notify", "test", "plan.toml"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.ends_with("2 of 2 delivered\n"), "{}", run.stdout);
    let bodies: Vec<serde_json::Value> = hook
        .requests()
        .iter()
        .filter_map(|r| serde_json::from_str(r.split_once("\r\n\r\n")?.1).ok())
        .collect();
    assert!(bodies.iter().any(|b| b["format_version"] == 1));
    assert!(
        bodies
            .iter()
            .any(|b| b["attachments"][0]["content"]["type"] == "AdaptiveCard")
    );

    env.set_env("CUTOVER_TEAMS_WEBHOOK", "");
    let run = env.run(["notify", "test", "plan.toml"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains("FAILED     #2 teams webhook (environment variable CUTOVER_TEAMS_WEBHOOK): the webhook URL's environment variable CUTOVER_TEAMS_WEBHOOK is empty"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  delivered  #1 json webhook"),
        "{}",
        run.stdout
    );

    let none = TestEnv::new()
        .file("plan.toml", &plan(""))
        .run(["notify", "test", "plan.toml"]);
    assert_eq!(none.code, 1, "{}", none.transcript());
    assert!(
        none.stderr.contains("has no `[[notify]]` channel"),
        "{}",
        none.stderr
    );
}

/// `token = { credential = "NAME" }`: read from `$CREDENTIALS_DIRECTORY/NAME` as systemd's
/// `LoadCredential=` leaves it; without the variable, the run stops naming the credential.
#[test]
fn a_systemd_credential_is_a_secret_reference() {
    let mut env = TestEnv::new().sandbox("demo", 12, "50ms");
    let served = env.serve(&[]);
    let plan = fixture_plan("over-http", &[("url", &served.url), ("rest_size", "50")]).replace(
        "token = { env = \"CUTOVER_API_TOKEN\" }",
        "token = { credential = \"api-token\" }",
    );
    let env_dir = env.path().to_path_buf();
    std::fs::create_dir_all(env_dir.join("creds")).expect("creds");
    std::fs::write(env_dir.join("creds/api-token"), format!("{TOKEN}\n")).expect("token");
    env = env.file("plan.toml", &plan);

    let missing = env.run(["plan", "plan.toml"]);
    assert_eq!(missing.code, 1, "{}", missing.transcript());
    assert!(
        missing.stderr.contains("systemd credential api-token")
            && missing.stderr.contains("CREDENTIALS_DIRECTORY is not set"),
        "{}",
        missing.stderr
    );

    env.set_env(
        "CREDENTIALS_DIRECTORY",
        &env_dir.join("creds").display().to_string(),
    );
    let run = env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    drop(served);
    assert_no_secrets(
        env.path(),
        &[
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("stderr", &missing.stderr),
        ],
    );
}

#[test]
fn committed_notification_schema_is_up_to_date() {
    let run = TestEnv::new().run(["schema", "--notification"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let committed = std::fs::read_to_string(repo().join("schemas/notification.schema.json"))
        .expect("schemas/notification.schema.json");
    assert!(
        run.stdout == committed,
        "schemas/notification.schema.json is stale: run `cargo run -- schema --notification > schemas/notification.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).expect("JSON");
    assert!(jsonschema::meta::is_valid(&schema), "not a valid schema");
}

/// A webhook's JSON payloads received so far, in order.
fn payloads(hook: &Receiver) -> Vec<serde_json::Value> {
    hook.requests()
        .iter()
        .filter_map(|r| r.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()))
        .filter_map(|body| serde_json::from_str(&body).ok())
        .collect()
}

fn kinds(hook: &Receiver) -> Vec<String> {
    payloads(hook)
        .iter()
        .map(|p| p["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `apply --until-blocked` as a scheduler runs it.
fn scheduled(env: &TestEnv) -> crate::support::Run {
    env.run([
        "apply",
        "plan.toml",
        "--until-blocked",
        "--poll-interval",
        "20ms",
    ])
}

/// A halt, an approval wait and the finished rollout each reach every channel exactly once,
/// however many scheduled runs see them; the messages name the plan, the step, the users with
/// the platform's words, and the next command.
#[test]
fn scheduled_runs_send_each_event_once_per_channel() {
    let mut env = TestEnv::new().sandbox("demo", 20, "40ms");
    let hook = Receiver::start();
    let smtp = Smtp::start(&env.path().join("smtp"), "plain", None);
    env.set_env("CUTOVER_WEBHOOK", &hook.url(HOOK_SECRET));
    let notify = format!(
        "[[notify]]\nwebhook = {{ env = \"CUTOVER_WEBHOOK\" }}\n{}",
        email(smtp.port, "none", false)
    );
    let plan = format!("{}\n{notify}", fixture_plan("controlled", &[]));
    let env = env.file("plan.toml", &plan);
    let ben = "ben@contoso.example";
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", ben]).code,
        0
    );

    // The pilot halts (and halts again on every re-run while ben's mailbox stays denied). A
    // re-run re-checks ben and may end waiting for that re-check's sync: the last run before
    // the fix must be one that halted, or the next would still see the sync made while denied.
    let mut codes = Vec::new();
    while codes.len() < 5 || codes.last() != Some(&3) {
        assert!(codes.len() < 20, "{codes:?}");
        codes.push(scheduled(&env).code);
        std::thread::sleep(Duration::from_millis(120));
    }
    assert_eq!(kinds(&hook), ["halted"], "{codes:?}");
    let halted = &payloads(&hook)[0];
    assert_eq!(halted["plan"], "controlled");
    assert_eq!(halted["step"], "pilot");
    assert_eq!(halted["users"][0]["email"], ben);
    assert!(
        halted["users"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("Access is denied")),
        "{halted}"
    );
    assert!(
        halted["next_command"]
            .as_str()
            .is_some_and(|c| c.starts_with("cutover ")),
        "{halted}"
    );

    // Fixed: the run goes on to east, which waits for its approval — once, however often.
    assert_eq!(
        env.run(["sandbox", "allow-access", "tenant.db", ben]).code,
        0
    );
    for _ in 0..5 {
        let run = scheduled(&env);
        assert!([4, 6].contains(&run.code), "{}", run.transcript());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(kinds(&hook), ["halted", "needs_person"]);
    let waiting = &payloads(&hook)[1];
    assert_eq!(waiting["step"], "east");
    assert_eq!(
        waiting["next_command"], "cutover approve plan.toml east",
        "{waiting}"
    );

    // Approved: it finishes, and later runs say nothing more.
    assert_eq!(env.run(["approve", "plan.toml", "east"]).code, 0);
    let mut done = 0;
    for _ in 0..5 {
        let run = scheduled(&env);
        if run.code == 0 {
            done += 1;
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    assert!(done >= 1, "the rollout finished");
    assert_eq!(kinds(&hook), ["halted", "needs_person", "done"]);
    let subjects: Vec<String> = smtp
        .mail()
        .iter()
        .filter_map(|(text, _)| {
            text.lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
        })
        .collect();
    assert_eq!(subjects.len(), 3, "one email per event: {subjects:?}");
    assert!(subjects[0].contains("HALTED"), "{subjects:?}");
    assert!(subjects[2].contains("DONE"), "{subjects:?}");
}

/// `repeat` reminds while the same wait lasts; a receiver that is down is retried on a later
/// run, and `status` shows what has not been delivered — without the URL.
#[test]
fn repeat_reminds_and_a_receiver_that_was_down_gets_it_later() {
    let mut env = TestEnv::new().sandbox("demo", 20, "40ms");
    let hook = Receiver::start();
    // Nothing listens here: every delivery to it fails at once.
    let down = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        port
    };
    env.set_env("CUTOVER_WEBHOOK", &hook.url(HOOK_SECRET));
    env.set_env(
        "CUTOVER_DOWN_WEBHOOK",
        &format!("http://127.0.0.1:{down}/{HOOK_SECRET}"),
    );
    let notify = "[[notify]]\nwebhook = { env = \"CUTOVER_WEBHOOK\" }\nrepeat = \"4h\"\n\
                  [[notify]]\nwebhook = { env = \"CUTOVER_DOWN_WEBHOOK\" }\n";
    let plan = format!("{}\n{notify}", fixture_plan("controlled", &[]));
    let mut env = env.file("plan.toml", &plan);

    let mut first = scheduled(&env);
    for _ in 0..50 {
        if first.code != 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        first = scheduled(&env);
    }
    assert_eq!(
        first.code,
        6,
        "east waits for approval: {}",
        first.transcript()
    );
    assert!(
        first.stderr.contains("not delivered") && !first.stderr.contains(HOOK_SECRET),
        "{}",
        first.transcript()
    );
    assert_eq!(kinds(&hook), ["needs_person"]);
    let status = env.run(["status", "plan.toml"]);
    assert!(
        status
            .stdout
            .contains("notification not delivered: needs_person"),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains(HOOK_SECRET), "{}", status.stdout);

    // The same wait an hour later: quiet. Five hours later: a reminder, and the receiver that
    // was down (now up, at the first one's address) gets its retry.
    env.set_env("CUTOVER_TEST_CLOCK_SHIFT", "1h");
    assert_eq!(scheduled(&env).code, 6);
    assert_eq!(kinds(&hook), ["needs_person"]);
    env.set_env("CUTOVER_DOWN_WEBHOOK", &hook.url(HOOK_SECRET));
    env.set_env("CUTOVER_TEST_CLOCK_SHIFT", "5h");
    let later = scheduled(&env);
    assert_eq!(later.code, 6, "{}", later.transcript());
    assert_eq!(
        kinds(&hook),
        ["needs_person", "needs_person", "needs_person"],
        "a reminder on the first channel and the retry on the second"
    );
    let status = env.run(["status", "plan.toml"]);
    assert!(
        !status.stdout.contains("not delivered"),
        "{}",
        status.stdout
    );
}
