//! `cutover report` and `plan --format html`: one self-contained HTML file, checked in a real
//! browser. A rollout over HTTP halts at a gate, passes a batch with an exception, waits for
//! approvals, halts at the disconnect, heals and finishes; its report is opened in the system's
//! headless Chromium (`tests/browser/check_report.js`, pinned playwright-core and axe-core
//! installed from `tests/browser/package-lock.json`), and checked from the rendered DOM, the
//! network log, the printed PDF (`pdftotext`), a screenshot and an axe-core run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{Run, TOKEN, TestEnv, fixture_plan, repo};

/// `npm ci` once per test process: the lockfile pins playwright-core and axe-core.
fn browser_tools() -> &'static Path {
    static ONCE: OnceLock<PathBuf> = OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = repo().join("tests/browser");
        let lock = std::fs::read_to_string(dir.join("package-lock.json")).expect("the lockfile");
        let installed = ["playwright-core", "axe-core"].iter().all(|name| {
            let manifest = dir.join("node_modules").join(name).join("package.json");
            std::fs::read_to_string(manifest).is_ok_and(|text| {
                serde_json::from_str::<Value>(&text).is_ok_and(|m| {
                    m["version"]
                        .as_str()
                        .is_some_and(|v| lock.contains(&format!("\"version\": \"{v}\"")))
                })
            })
        });
        if !installed {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .stdin(Stdio::null())
                .status()
                .expect("npm runs (Node 20 with npm is required for the report tests)");
            assert!(status.success(), "npm ci in tests/browser failed");
        }
        dir
    })
}

/// What the browser saw of a report.
struct Seen {
    text: String,
    requests: Vec<Value>,
    canary_recorded: bool,
    violations: Vec<Value>,
    pixels: Value,
    pdf_text: String,
}

/// Opens `report` in `/usr/bin/chromium` (it must be installed: `.ci/run` installs it) and
/// extracts the printed PDF's text with `pdftotext` (Debian's poppler-utils, likewise).
fn open_in_chromium(report: &Path, out: &Path) -> Seen {
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is missing: `apt-get install -y chromium` (.ci/run does)"
    );
    let dir = browser_tools();
    let output = Command::new("node")
        .arg(dir.join("check_report.js"))
        .arg(report)
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .expect("node runs the browser check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("the browser check's JSON");
    let pdf = Command::new("pdftotext")
        .arg(out.join("report.pdf"))
        .arg("-")
        .output()
        .expect("pdftotext runs (poppler-utils; .ci/run installs it)");
    assert!(pdf.status.success(), "pdftotext failed");
    Seen {
        text: seen["text"].as_str().unwrap_or_default().to_owned(),
        requests: seen["requests"].as_array().cloned().unwrap_or_default(),
        canary_recorded: seen["canary_recorded"] == true,
        violations: seen["violations"].as_array().cloned().unwrap_or_default(),
        pixels: seen["pixels"].clone(),
        pdf_text: String::from_utf8_lossy(&pdf.stdout).into_owned(),
    }
}

fn apply(env: &TestEnv) -> Run {
    env.run(["apply", "plan.toml", "--yes", "--poll-interval", "20ms"])
}

fn last_line(run: &Run) -> &str {
    run.stdout.lines().last().unwrap_or("")
}

/// The over-HTTP plan with a gate that tolerates one failure (the pilot none), `east` and the
/// disconnect needing approval.
fn plan(url: &str) -> String {
    let plan = fixture_plan("over-http", &[("url", url), ("rest_size", "12")])
        .replace("soak = \"0s\"", "soak = \"0s\"\nmax_errors = 1")
        .replace(
            "users = [\"ana@contoso.example\", \"ben@contoso.example\"]",
            "users = [\"ana@contoso.example\", \"ben@contoso.example\"]\ngate = { max_errors = 0 }",
        )
        .replace(
            "users = { location = \"East\" }",
            "users = { location = \"East\" }\napproval = true",
        )
        .replace("approval = false", "approval = true");
    assert!(plan.contains("max_errors = 1") && plan.contains("approval = true\n"));
    plan
}

/// Someone whose name needs escaping approves `east`.
const APPROVER: &str = "Dana <cab-chair> & \"Co\"";

#[test]
fn the_report_of_a_rollout_that_halted_healed_and_finished_in_a_real_browser() {
    let mut env = TestEnv::new().sandbox("demo", 30, "40ms");
    env.set_env("CUTOVER_API_TOKEN", TOKEN);
    let served = env.serve(&[]);
    let env = env.file("plan.toml", &plan(&served.url));

    // Before it starts, the report is the dry-run, with its back-out section.
    let dry = env.run(["plan", "plan.toml", "--format", "html"]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    for part in [
        "<h2 id=\"summary\">Summary",
        "Back-out",
        "Warnings",
        "cannot be backed out",
    ] {
        assert!(dry.stdout.contains(part), "{part} missing from the dry-run");
    }
    let json = env.run(["plan", "plan.toml", "--format", "json"]).json();
    let east: Vec<String> = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "east")
        .expect("east")["detail"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["email"].as_str().expect("email").to_owned())
        .collect();
    // The same content as the Markdown dry-run: every user of every step.
    for step in json["steps"].as_array().expect("steps") {
        for member in step["detail"]["members"].as_array().into_iter().flatten() {
            let email = member["email"].as_str().expect("email");
            assert!(
                dry.stdout.contains(email),
                "{email} missing from the HTML dry-run"
            );
        }
    }
    let (pilot_user, exception) = ("ben@contoso.example", east[1].clone());
    let unstarted = env.run(["report", "plan.toml", "-o", "before.html"]);
    assert_eq!(unstarted.code, 0, "{}", unstarted.transcript());
    let before = std::fs::read_to_string(env.path().join("before.html")).expect("written");
    assert!(before.contains("Back-out") && before.contains(&exception));

    // The pilot's gate fails and halts; the user is fixed and the pilot passes on the rerun.
    let deny = |who: &[&str]| {
        let mut args = vec!["sandbox", "deny-access", "tenant.db"];
        args.extend_from_slice(who);
        assert_eq!(env.run(args).code, 0);
    };
    let allow = |who: &str| {
        assert_eq!(
            env.run(["sandbox", "allow-access", "tenant.db", who]).code,
            0
        );
    };
    deny(&[pilot_user, &exception]);
    let halted = apply(&env);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert_eq!(last_line(&halted), "halted: pilot");
    allow(pilot_user);
    let waiting = apply(&env);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    assert!(
        last_line(&waiting).starts_with("waiting: approval east"),
        "{}",
        waiting.transcript()
    );
    let approved = env.run(["approve", "plan.toml", "east", "--by", APPROVER]);
    assert_eq!(approved.code, 0, "{}", approved.transcript());
    // East passes with its exception; the rest goes on; the disconnect waits for its approval.
    let waiting = apply(&env);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    assert!(
        waiting
            .stdout
            .contains("east: gate passed with 1 exception(s)"),
        "{}",
        waiting.stdout
    );
    let approved = env.run(["approve", "plan.toml", "disconnect", "--by", "change-board"]);
    assert_eq!(approved.code, 0, "{}", approved.transcript());
    let halted = apply(&env);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert_eq!(last_line(&halted), "halted: disconnect");
    // The exception heals; the rollout finishes.
    allow(&exception);
    let done = apply(&env);
    assert_eq!(done.code, 0, "{}", done.transcript());
    assert_eq!(last_line(&done), "done: the rollout is complete");

    let written = env.run(["report", "plan.toml", "-o", "report.html"]);
    assert_eq!(written.code, 0, "{}", written.transcript());
    let html = std::fs::read_to_string(env.path().join("report.html")).expect("the report");
    // Self-contained: no script, nothing to fetch.
    for banned in ["<script", "src=", "href=", "@import", "url(http"] {
        assert!(!html.contains(banned), "the report has {banned}");
    }
    // Everything the state and the platform supplied is escaped.
    assert!(
        html.contains("Dana &lt;cab-chair&gt; &amp; &quot;Co&quot;")
            || html.contains("Dana &#60;cab-chair&#62;")
    );
    assert!(
        !html.contains("<cab-chair>"),
        "an approver's name is escaped"
    );

    let status = env.run(["status", "plan.toml", "--format", "json"]).json();
    let steps: Vec<String> = status["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect();
    let approvals: Vec<(String, String)> = status["approvals"]
        .as_array()
        .expect("approvals")
        .iter()
        .map(|a| {
            (
                a["step"].as_str().unwrap_or("").to_owned(),
                a["by"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(approvals.len(), 2, "{approvals:?}");
    let users: Vec<String> = env.inspect()["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["email"].as_str().expect("email").to_owned())
        .collect();
    assert_eq!(users.len(), 30);

    let out = env.path().join("browser");
    std::fs::create_dir_all(&out).expect("a folder");
    let seen = open_in_chromium(&env.path().join("report.html"), &out);

    // From the rendered DOM: every step, every exception, every approval, every halt.
    for step in &steps {
        assert!(
            seen.text.contains(step.as_str()),
            "step {step} missing from the page"
        );
    }
    assert!(
        seen.text.contains(&exception) && seen.text.contains("Access is denied"),
        "the exception"
    );
    assert!(seen.text.contains("healed at"), "the exception healed");
    assert!(seen.text.contains("GATE FAILED"), "the pilot's halt");
    assert!(seen.text.contains(pilot_user));
    for (step, by) in &approvals {
        let row = seen
            .text
            .lines()
            .find(|l| l.contains(by.as_str()) && l.contains(step.as_str()));
        assert!(
            row.is_some_and(|r| r.contains("signed: no")),
            "approval of {step} by {by}"
        );
    }
    assert!(
        seen.text.contains("chain: verified, "),
        "the audit chain is checked for the report"
    );
    // No request but the page itself, and the recorder does see one when there is one.
    assert!(
        seen.canary_recorded,
        "the network recorder saw the canary's request"
    );
    assert!(
        seen.requests.is_empty(),
        "the page fetched: {:?}",
        seen.requests
    );
    // The printed PDF names every user (a line break may fall inside an address).
    let flat: String = seen.pdf_text.split_whitespace().collect();
    for email in &users {
        assert!(
            flat.contains(email.as_str()),
            "{email} missing from the PDF"
        );
    }
    // A screenshot that is not blank: ink on a few percent of it, in more than a few shades.
    let sampled = seen.pixels["sampled"].as_f64().unwrap_or(0.0);
    let ink = seen.pixels["ink"].as_f64().unwrap_or(0.0);
    assert!(
        sampled > 0.0 && ink / sampled > 0.01,
        "blank screenshot: {}",
        seen.pixels
    );
    assert!(
        seen.pixels["shades"].as_u64().unwrap_or(0) > 4,
        "{}",
        seen.pixels
    );
    // axe-core: nothing serious or critical.
    let serious: Vec<&Value> = seen
        .violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "accessibility: {serious:?}");

    // The secret scan: the token is in no report, no page text, no PDF.
    for (name, text) in [
        ("report.html", html.as_str()),
        ("before.html", before.as_str()),
        ("plan --format html", dry.stdout.as_str()),
        ("the page's text", seen.text.as_str()),
        ("the PDF's text", seen.pdf_text.as_str()),
    ] {
        assert!(!text.contains(TOKEN), "{name} holds the API token");
    }
}
