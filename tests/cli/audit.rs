//! The audit trail as evidence: its hash chain (`log --verify`, `--head`), the chain's head at
//! the end of every run (apply's last lines, `status`, notifications), the plan's git
//! provenance and `--require-clean-git`, and `log`'s per-user records, filters and exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{Receiver, Run, TestEnv, fixture_plan};

fn apply(env: &TestEnv, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "plan.toml", "--poll-interval", "20ms"];
    args.extend_from_slice(extra);
    env.run(args)
}

/// A finished rollout of the `rollout` case on a 24-user sandbox: the pilot, east, and the
/// rest in two waves.
fn rolled_out() -> (TestEnv, Run) {
    let env = TestEnv::new()
        .sandbox("demo", 24, "40ms")
        .file("plan.toml", &fixture_plan("rollout", &[]));
    let done = apply(&env, &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    (env, done)
}

/// The head `apply` printed: its `audit chain head: sha256:… (record N)` line, which comes just
/// before the final report (whose last line says why the run stopped).
fn printed_head(run: &Run) -> String {
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("audit chain head: "))
        .unwrap_or_else(|| panic!("no chain head:\n{}", run.stdout));
    assert!(
        lines.len() - at <= 2,
        "the head is on the last lines:\n{}",
        run.stdout
    );
    let rest = &lines[at]["audit chain head: ".len()..];
    let head = rest.split(' ').next().unwrap_or_default().to_owned();
    assert!(
        head.starts_with("sha256:") && head.len() == 71,
        "{}",
        lines[at]
    );
    head
}

fn state(env: &TestEnv, plan_name: &str) -> rusqlite::Connection {
    rusqlite::Connection::open(env.path().join(format!(".cutover/{plan_name}.state.db")))
        .expect("the state file")
}

/// The documented encoding, written again here from the module documentation of
/// `src/state/audit_chain.rs`: a tamperer who knows it can rewrite the chain.
fn record_hash(prev: Option<&str>, columns: &[rusqlite::types::Value]) -> String {
    use rusqlite::types::Value;
    use sha2::{Digest, Sha256};
    let mut bytes = b"cutover audit record v1\n".to_vec();
    let mut put = |value: &Value| match value {
        Value::Null => bytes.push(0),
        Value::Integer(i) => {
            bytes.push(1);
            bytes.extend_from_slice(&i.to_be_bytes());
        }
        Value::Text(t) => {
            bytes.push(2);
            bytes.extend_from_slice(&(t.len() as u64).to_be_bytes());
            bytes.extend_from_slice(t.as_bytes());
        }
        other => panic!("unexpected {other:?}"),
    };
    put(&prev.map_or(Value::Null, |p| Value::Text(p.to_owned())));
    for value in columns {
        put(value);
    }
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{digest}")
}

/// Recomputes every record's link and hash, in order, as cutover would have written them.
fn rewrite_chain(db: &rusqlite::Connection) {
    let rows: Vec<(i64, Vec<rusqlite::types::Value>)> = db
        .prepare("SELECT id, at_ms, kind, step, operator, digest, detail FROM audit ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| {
                let columns = (0..7).map(|i| r.get(i)).collect::<Result<Vec<_>, _>>()?;
                Ok((r.get(0)?, columns))
            })?
            .collect()
        })
        .expect("read the trail");
    let mut prev: Option<String> = None;
    for (id, columns) in rows {
        let hash = record_hash(prev.as_deref(), &columns);
        db.execute(
            "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
            rusqlite::params![id, prev, hash],
        )
        .expect("rewritten");
        prev = Some(hash);
    }
}

#[test]
fn a_changed_byte_breaks_the_chain_there_and_a_rewritten_chain_misses_the_kept_head() {
    let (env, done) = rolled_out();
    let kept = printed_head(&done);
    let verify = env.run(["log", "plan.toml", "--verify"]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
    assert!(
        verify.stdout.starts_with("audit chain: intact, ")
            && verify.stdout.contains(&format!("head {kept}")),
        "{}",
        verify.stdout
    );
    let with_head = env.run(["log", "plan.toml", "--verify", "--head", &kept]);
    assert_eq!(with_head.code, 0, "{}", with_head.transcript());

    // One byte of one record: the east step's user count, a digit in its stored JSON.
    let db = state(&env, "rollout");
    let (id, detail): (i64, String) = db
        .query_row(
            "SELECT id, detail FROM audit WHERE kind = 'step_started' AND step = 'east'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("east's start");
    let at = detail.rfind(|c: char| c.is_ascii_digit()).expect("a digit");
    let mut bytes = detail.clone().into_bytes();
    bytes[at] = if bytes[at] == b'9' {
        b'8'
    } else {
        bytes[at] + 1
    };
    let tampered = String::from_utf8(bytes).expect("text");
    db.execute(
        "UPDATE audit SET detail = ?2 WHERE id = ?1",
        rusqlite::params![id, tampered],
    )
    .expect("tampered");

    let broken = env.run(["log", "plan.toml", "--verify"]);
    assert_eq!(broken.code, 1, "{}", broken.transcript());
    assert!(
        broken
            .stdout
            .starts_with(&format!("audit chain: BROKEN at record {id} (")),
        "{}",
        broken.stdout
    );
    assert!(
        broken.stdout.contains("step_started east)")
            && broken.stdout.contains(&format!(
                "record {id} does not match its hash: it was changed after it was written"
            )),
        "{}",
        broken.stdout
    );
    let json = env.run(["log", "plan.toml", "--verify", "--format", "json"]);
    assert_eq!(json.code, 1, "{}", json.transcript());
    let verdict = json.json();
    assert_eq!(verdict["intact"], false);
    assert_eq!(verdict["broken"]["record"], id);
    assert_eq!(verdict["broken"]["reason"]["kind"], "altered");
    // The trail itself still reads, tampered line and all.
    let log = env.run(["log", "plan.toml"]);
    assert_eq!(log.code, 0, "{}", log.transcript());

    // Whoever changed it rewrites every hash from there on: the chain alone is fooled ...
    rewrite_chain(&db);
    let fooled = env.run(["log", "plan.toml", "--verify"]);
    assert_eq!(fooled.code, 0, "{}", fooled.transcript());
    assert!(!fooled.stdout.contains(&kept), "{}", fooled.stdout);
    // ... the head the earlier run printed is not.
    let caught = env.run(["log", "plan.toml", "--verify", "--head", &kept]);
    assert_eq!(caught.code, 1, "{}", caught.transcript());
    assert!(
        caught.stdout.starts_with(&format!(
            "audit chain: REWRITTEN: it does not pass through {kept}\n"
        )),
        "{}",
        caught.stdout
    );
    let caught = env.run([
        "log",
        "plan.toml",
        "--verify",
        "--head",
        &kept,
        "--format",
        "json",
    ]);
    assert_eq!(caught.json()["expected_head"]["found"], false);

    // A head that is not one is a usage error, and `--head` needs `--verify`.
    assert_eq!(
        env.run(["log", "plan.toml", "--verify", "--head", "sha256:abc"])
            .code,
        2
    );
    assert_eq!(env.run(["log", "plan.toml", "--head", &kept]).code, 2);
}

/// The head a run leaves is what it prints last, what `status` shows, what its JSON end event
/// carries, and what its notifications send.
#[test]
fn the_chain_head_ends_every_run_and_reaches_status_and_notifications() {
    let mut env = TestEnv::new().sandbox("demo", 14, "40ms");
    let hook = Receiver::start();
    env.set_env("CUTOVER_WEBHOOK", &hook.url("hook-path"));
    let plan = format!(
        "{}\n[[notify]]\nwebhook = {{ env = \"CUTOVER_WEBHOOK\" }}\n",
        fixture_plan("controlled", &[])
    );
    let env = env.file("plan.toml", &plan);
    let payloads = || -> Vec<Value> {
        hook.requests()
            .iter()
            .filter_map(|r| r.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()))
            .filter_map(|body| serde_json::from_str(&body).ok())
            .collect()
    };
    let status_head = || {
        let status = env.run(["status", "plan.toml", "--format", "json"]).json();
        status["audit_chain_head"]
            .as_str()
            .expect("a head in status")
            .to_owned()
    };

    // JSON: the end event carries it. The run waits for east's approval (a person: exit 6).
    let waiting = apply(&env, &["--format", "json"]);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    let ended = waiting
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "run_ended")
        .expect("a run_ended event");
    let head = ended["chain_head"].as_str().expect("chain_head").to_owned();
    assert_eq!(status_head(), head);
    let sent = payloads();
    let needs_person = sent
        .iter()
        .find(|p| p["kind"] == "needs_person")
        .expect("a needs_person notification");
    assert_eq!(needs_person["chain_head"], head.as_str());
    let status = env.run(["status", "plan.toml"]);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("audit chain head: {head} ("))),
        "{}",
        status.stdout
    );

    // Text: the head is printed just before the final line, and the approval and the next
    // run moved it on.
    assert_eq!(
        env.run(["approve", "plan.toml", "east", "--by", "cab"])
            .code,
        0
    );
    let done = apply(&env, &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let last: Vec<&str> = done.stdout.lines().rev().take(2).collect();
    assert_eq!(last[0], "done: the rollout is complete", "{}", done.stdout);
    assert!(
        last[1].starts_with("audit chain head: sha256:"),
        "{}",
        done.stdout
    );
    let final_head = printed_head(&done);
    assert_ne!(final_head, head);
    assert_eq!(status_head(), final_head);
    let sent = payloads();
    let finished = sent
        .iter()
        .find(|p| p["kind"] == "done")
        .expect("a done notification");
    assert_eq!(finished["chain_head"], final_head.as_str());
    let verify = env.run(["log", "plan.toml", "--verify", "--head", &head]);
    assert_eq!(verify.code, 0, "{}", verify.transcript());
    assert!(
        verify
            .stdout
            .contains("it passes through the head given (record "),
        "{}",
        verify.stdout
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.org",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git runs (the tests need git)");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `--require-clean-git` and `[change_control] require_clean_git` in a real repository: an
/// uncommitted plan is refused before anything is written; once committed it runs, and its
/// commit is in the log.
#[test]
fn a_plan_that_must_be_committed_runs_only_once_it_is() {
    let env = TestEnv::new()
        .sandbox("demo", 14, "40ms")
        .file("plan.toml", &fixture_plan("rollout", &[]));
    let dir = env.path();
    let untouched = env.inspect()["writes"].clone();

    let outside = apply(&env, &["--require-clean-git"]);
    assert_eq!(outside.code, 2, "{}", outside.transcript());
    assert!(
        outside
            .stderr
            .contains("error: plan.toml is not in a git repository; `--require-clean-git` runs only a committed plan"),
        "{}",
        outside.stderr
    );

    git(dir, &["init", "-q"]);
    std::fs::write(dir.join(".gitignore"), "tenant.db*\n").expect("written");
    git(dir, &["add", "plan.toml", ".gitignore"]);
    git(dir, &["commit", "-q", "-m", "the reviewed plan"]);
    // Edited after the review, not committed.
    let edited = format!(
        "{}\n[change_control]\nrequire_clean_git = true\n",
        fixture_plan("rollout", &[])
    );
    std::fs::write(dir.join("plan.toml"), &edited).expect("written");
    for flags in [&["--require-clean-git"][..], &[]] {
        let refused = apply(&env, flags);
        assert_eq!(refused.code, 2, "{flags:?}: {}", refused.transcript());
        assert!(
            refused
                .stderr
                .contains("error: plan.toml is not as committed to git: plan.toml is modified; "),
            "{}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains("nothing was done"),
            "{}",
            refused.stderr
        );
    }
    assert!(apply(&env, &[]).stderr.contains(
        "the plan's `[change_control] require_clean_git = true` runs only a committed plan"
    ));
    assert!(
        !dir.join(".cutover").exists(),
        "nothing is written, not even the state file"
    );
    assert_eq!(env.inspect()["writes"], untouched, "no platform write");

    git(dir, &["commit", "-q", "-am", "require a committed plan"]);
    let commit = git(dir, &["rev-parse", "HEAD"]);
    let done = apply(&env, &["--require-clean-git"]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    assert_eq!(
        git(dir, &["status", "--porcelain"]),
        "",
        "cutover's files are ignored"
    );

    let log = env.run(["log", "plan.toml"]);
    let started = log
        .stdout
        .lines()
        .find(|l| l.contains("run_started"))
        .unwrap_or_else(|| panic!("{}", log.stdout));
    assert!(
        started.contains(&format!("\"commit\":\"{commit}\""))
            && started.contains("\"state\":\"clean\""),
        "{started}"
    );
    let records = env.run(["log", "plan.toml", "--format", "json"]);
    let run = records
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["kind"] == "run_started")
        .expect("a run_started record");
    assert_eq!(run["detail"]["git"]["commit"], commit.as_str());
    assert_eq!(run["detail"]["git"]["path"], "plan.toml");
    assert_eq!(run["detail"]["command"], "apply");

    // Without the rule, an uncommitted plan runs and is recorded as such.
    std::fs::write(dir.join("plan.toml"), fixture_plan("rollout", &[])).expect("written");
    assert_eq!(apply(&env, &[]).code, 0);
    let last = env
        .run(["log", "plan.toml", "--format", "json"])
        .stdout
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["kind"] == "run_started")
        .expect("the second run");
    assert_eq!(last["detail"]["git"]["state"], "uncommitted");
    assert_eq!(
        last["detail"]["git"]["uncommitted"],
        serde_json::json!([{ "path": "plan.toml", "status": "modified" }])
    );
}

/// Every changed write the sandbox received is a per-user record with its step, configuration
/// and result; the filters keep what they name; CSV and JSON carry the same records.
#[test]
fn per_user_records_filters_and_exports_after_a_real_rollout() {
    let (env, _) = rolled_out();
    let json = env.run(["log", "plan.toml", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.transcript());
    let records: Vec<Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let users: Vec<&Value> = records.iter().filter(|r| r["record"] == "user").collect();
    assert!(records.iter().any(|r| r["record"] == "audit"));

    // Against the platform's own ledger of writes: each changed (user, op, configuration).
    let mut written = BTreeMap::new();
    for write in env.inspect()["writes"].as_array().expect("writes") {
        if write["changed"] == true {
            if let Some(user) = write["user"].as_str() {
                let op = write["op"].as_str().unwrap_or_default().to_owned();
                let configuration = write["configuration"].as_str().unwrap_or_default();
                *written
                    .entry((user.to_owned(), op, configuration.to_owned()))
                    .or_insert(0) += 1;
            }
        }
    }
    let mut logged = BTreeMap::new();
    for r in &users {
        assert_eq!(r["result"], "changed", "{r}");
        let op = r["action"].as_str().expect("action").to_owned();
        let key = (
            r["user"].as_str().expect("user").to_owned(),
            op,
            r["configuration"]
                .as_str()
                .expect("configuration")
                .to_owned(),
        );
        *logged.entry(key).or_insert(0) += 1;
    }
    assert_eq!(
        logged
            .keys()
            .map(|(u, _, c)| (u, c))
            .collect::<BTreeSet<_>>(),
        written
            .keys()
            .map(|(u, _, c)| (u, c))
            .collect::<BTreeSet<_>>(),
        "the same users on the same configurations"
    );
    assert_eq!(
        logged.len(),
        48,
        "24 users, each enabled on OAuth and disabled on Basic"
    );
    let ana: Vec<&&Value> = users
        .iter()
        .filter(|r| r["user"] == "ana@contoso.example")
        .collect();
    assert_eq!(ana.len(), 2);
    assert_eq!(
        (&ana[0]["kind"], &ana[0]["configuration"], &ana[0]["step"]),
        (&"user_enabled".into(), &"OAuth".into(), &"pilot".into())
    );
    assert_eq!(ana[1]["kind"], "user_disabled");
    assert_eq!(ana[1]["configuration"], "Basic Auth");

    // Text keeps the trail's lines as they were, and adds the users' in the same columns.
    let text = env.run(["log", "plan.toml"]).stdout;
    assert!(
        text.lines()
            .any(|l| l.contains("  step_started           pilot              by tester [sha256:")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.ends_with(
            "  user_enabled           pilot              ana@contoso.example on \"OAuth\": changed"
        )),
        "{text}"
    );

    let lines = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["log", "plan.toml", "--format", "json"];
        all.extend_from_slice(args);
        let run = env.run(all);
        assert_eq!(run.code, 0, "{args:?}: {}", run.transcript());
        run.stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect()
    };
    let only_ana = lines(&["--user", "Ana@Contoso.example"]);
    assert_eq!(only_ana.len(), 2, "{only_ana:?}");
    assert!(only_ana.iter().all(|r| r["user"] == "ana@contoso.example"));
    let rest = lines(&["--step", "rest"]);
    let steps: BTreeSet<&str> = rest.iter().filter_map(|r| r["step"].as_str()).collect();
    assert_eq!(
        steps,
        BTreeSet::from(["rest#1", "rest#2"]),
        "a batch and its waves"
    );
    assert_eq!(
        rest.len(),
        records
            .iter()
            .filter(|r| r["step"].as_str().is_some_and(|s| s.starts_with("rest#")))
            .count()
    );
    let wave = lines(&["--step", "rest#2"]);
    assert!(!wave.is_empty() && wave.iter().all(|r| r["step"] == "rest#2"));
    assert_eq!(lines(&["--since", "1h"]).len(), records.len());
    assert!(lines(&["--since", "2999-01-01T00:00:00Z"]).is_empty());
    assert_eq!(
        lines(&["--since", "2000-01-01T00:00:00+01:00"]).len(),
        records.len()
    );
    assert_eq!(
        env.run(["log", "plan.toml", "--since", "last week"]).code,
        2
    );
    assert_eq!(env.run(["log", "plan.toml", "--user", "ana"]).code, 2);

    // CSV: a header, then the same records.
    let csv = env.run(["log", "plan.toml", "--format", "csv"]);
    assert_eq!(csv.code, 0, "{}", csv.transcript());
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "record",
            "id",
            "at",
            "kind",
            "step",
            "user",
            "configuration",
            "result",
            "error",
            "operator",
            "digest",
            "detail",
            "hash"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    assert_eq!(rows.len(), records.len());
    for (row, record) in rows.iter().zip(&records) {
        assert_eq!(&row[0], record["record"].as_str().expect("record"));
        assert_eq!(&row[3], record["kind"].as_str().expect("kind"));
        if record["record"] == "user" {
            assert_eq!(&row[5], record["user"].as_str().expect("user"));
            assert_eq!(&row[7], "changed");
        } else {
            let detail: Value = serde_json::from_str(&row[11]).expect("the detail as JSON");
            assert_eq!(detail, record["detail"]);
            assert_eq!(&row[12], record["hash"].as_str().expect("hash"));
        }
    }
    let filtered = env.run([
        "log",
        "plan.toml",
        "--format",
        "csv",
        "--user",
        "ana@contoso.example",
    ]);
    assert_eq!(filtered.stdout.lines().count(), 3, "{}", filtered.stdout);
}
