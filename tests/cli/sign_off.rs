//! Who may sign off: four eyes, and approvals signed with real OpenSSH keys.

use std::path::Path;
use std::process::Command;

use crate::support::{Run, TestEnv, fixture_plan};

/// The `controlled` plan (the pilot runs, `east` waits for `cutover approve`) with these
/// `[change_control]` rules.
fn controlled(rules: &str) -> String {
    format!(
        "{}\n[change_control]\n{rules}\n",
        fixture_plan("controlled", &[])
    )
}

fn apply(env: &TestEnv) -> Run {
    env.run(["apply", "plan.toml", "--poll-interval", "20ms"])
}

fn last_line(run: &Run) -> &str {
    run.stdout.lines().last().unwrap_or_default()
}

/// A new ed25519 key pair `dir/name` (and `name.pub`), made by the real `ssh-keygen`.
fn key(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs (OpenSSH is a test requirement)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::read_to_string(path.with_extension("pub"))
        .expect("the public key")
        .trim()
        .to_owned()
}

/// An `allowed_signers` line giving `public` to `principal`, for cutover's namespace only.
fn listed(principal: &str, public: &str) -> String {
    format!("{principal} namespaces=\"cutover\" {public}\n")
}

#[test]
fn four_eyes_refuses_a_self_approval_and_counts_another_persons() {
    let mut env = TestEnv::new()
        .sandbox("demo", 20, "40ms")
        .file("plan.toml", &controlled("four_eyes = true"));
    env.set_env("USER", "alice");
    let started = apply(&env);
    assert_eq!(started.code, 6, "{}", started.transcript());
    assert!(
        last_line(&started).starts_with("waiting: approval east"),
        "{}",
        started.stdout
    );

    // The one who started the rollout cannot approve its steps, nor accept users.
    let own = env.run(["approve", "plan.toml", "east"]);
    assert_eq!(own.code, 2, "{}", own.transcript());
    assert!(
        own.stderr
            .contains("[change_control] four_eyes: alice started this rollout")
            && own.stderr.contains("nothing was recorded"),
        "{}",
        own.stderr
    );
    let accepted = env.run([
        "accept",
        "plan.toml",
        "ana@contoso.example",
        "--reason",
        "mailbox due for deletion",
    ]);
    assert_eq!(accepted.code, 2, "{}", accepted.transcript());
    assert!(
        accepted.stderr.contains("four_eyes: alice"),
        "{}",
        accepted.stderr
    );
    // `--by` names someone else but does not change who is signing off.
    let disguised = env.run(["approve", "plan.toml", "east", "--by", "bob"]);
    assert_eq!(disguised.code, 2, "{}", disguised.transcript());
    let still = apply(&env);
    assert_eq!(still.code, 6, "nothing counted: {}", still.transcript());
    assert!(last_line(&still).starts_with("waiting: approval east"));

    env.set_env("USER", "bob");
    let other = env.run(["approve", "plan.toml", "east"]);
    assert_eq!(other.code, 0, "{}", other.transcript());
    env.set_env("USER", "alice");
    let done = apply(&env);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let log = env.run(["log", "plan.toml"]).stdout;
    assert!(
        log.lines()
            .any(|l| l.contains("approved") && l.contains("east") && l.contains("bob")),
        "{log}"
    );
}

#[test]
fn a_signed_approval_counts_only_by_a_key_allowed_signers_lists() {
    let env = TestEnv::new().sandbox("demo", 20, "40ms");
    let alice = key(env.path(), "alice");
    let mallory = key(env.path(), "mallory");
    let env = env
        .file("allowed_signers", &listed("alice@bank.example", &alice))
        .file(
            "plan.toml",
            &controlled("allowed_signers = \"allowed_signers\""),
        );
    let started = apply(&env);
    assert_eq!(started.code, 6, "{}", started.transcript());

    let unsigned = env.run(["approve", "plan.toml", "east"]);
    assert_eq!(unsigned.code, 2, "{}", unsigned.transcript());
    assert!(
        unsigned.stderr.contains("counts only when signed"),
        "{}",
        unsigned.stderr
    );
    let stranger = env.run(["approve", "plan.toml", "east", "--sign", "mallory"]);
    assert_eq!(stranger.code, 2, "{}", stranger.transcript());
    assert!(
        stranger.stderr.contains("does not list")
            && stranger.stderr.contains("nothing was recorded"),
        "{}",
        stranger.stderr
    );
    assert!(apply(&env).code == 6, "neither counted");

    let signed = env.run(["approve", "plan.toml", "east", "--sign", "alice"]);
    assert_eq!(signed.code, 0, "{}", signed.transcript());

    // The file as it is now decides: with alice's principal given to another key, her
    // signature no longer verifies, and the approval stops counting.
    let swapped = env.file("allowed_signers", &listed("alice@bank.example", &mallory));
    let refused = apply(&swapped);
    assert_eq!(refused.code, 6, "{}", refused.transcript());
    assert!(
        last_line(&refused).contains("approved by tester, but that does not count")
            && last_line(&refused).contains("does not list"),
        "{}",
        refused.stdout
    );
    let status = swapped.run(["status", "plan.toml"]);
    assert!(
        status.stdout.contains("does not count"),
        "status reads the wait the run recorded: {}",
        status.transcript()
    );

    // The report lists the approval that was given, and why it does not count.
    let report = swapped.run(["report", "plan.toml", "-o", "report.html"]);
    assert_eq!(report.code, 0, "{}", report.transcript());
    let page = std::fs::read_to_string(swapped.path().join("report.html")).expect("the report");
    assert!(
        page.contains("does not count: the signature is by a key that"),
        "the set-aside approval is on the page"
    );

    let env = swapped.file("allowed_signers", &listed("alice@bank.example", &alice));
    let acceptance = env.run([
        "accept",
        "plan.toml",
        "ben@contoso.example",
        "--reason",
        "mailbox due for deletion",
        "--sign",
        "alice",
    ]);
    assert_eq!(acceptance.code, 0, "{}", acceptance.transcript());
    let done = apply(&env);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let log = env.run(["log", "plan.toml", "--format", "json"]).stdout;
    let signed_records: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &serde_json::Value| r.to_string().contains("alice@bank.example"))
        .collect();
    assert!(
        signed_records.len() >= 2,
        "the approval and the acceptance name the signing principal: {log}"
    );
}

#[test]
fn the_dry_run_names_the_rules_a_reviewer_relies_on() {
    let env = TestEnv::new().sandbox("demo", 20, "40ms");
    let alice = key(env.path(), "alice");
    let env = env
        .file("allowed_signers", &listed("alice@bank.example", &alice))
        .file(
            "plan.toml",
            &controlled(
                "require_clean_git = true\nrequire_approved_digest = true\nfour_eyes = true\nallowed_signers = \"allowed_signers\"",
            ),
        );
    let markdown = env.run(["plan", "plan.toml", "--format", "markdown"]);
    assert_eq!(markdown.code, 0, "{}", markdown.transcript());
    let json = env.run(["plan", "plan.toml", "--format", "json"]).json();
    let digest = json["digest"].as_str().expect("digest");
    let rules: Vec<&str> = json["change_control"]
        .as_array()
        .expect("change_control")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert_eq!(rules.len(), 4, "{rules:?}");
    let row = markdown
        .stdout
        .lines()
        .find(|l| l.starts_with("| Change control |"))
        .expect("a change-control row");
    for rule in &rules {
        assert!(row.contains(rule), "{row}");
    }
    assert!(row.contains("committed to git") && row.contains("`allowed_signers` lists"));
    // A signed plan cannot be started by `--approved`: the header gives the command that counts.
    assert!(
        markdown.stdout.contains(&format!(
            "`cutover approve plan.toml --digest {digest} --sign KEY`"
        )) && !markdown.stdout.contains("--approved"),
        "{}",
        markdown.stdout
    );
    let text = env.run(["plan", "plan.toml"]).stdout;
    assert!(text.contains("Controls "), "{text}");
}
