//! Change control: the approved digest, and edits to a plan whose rollout already started.

use crate::support::{Run, TestEnv, fixture_plan};

/// A fast plan whose batch `east` waits for `cutover approve`.
fn controlled() -> String {
    fixture_plan("controlled", &[])
}

fn apply(env: &TestEnv, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "plan.toml", "--poll-interval", "20ms"];
    args.extend_from_slice(extra);
    env.run(args)
}

fn digest(env: &TestEnv) -> String {
    env.run(["plan", "plan.toml", "--format", "json"]).json()["digest"]
        .as_str()
        .expect("digest")
        .to_owned()
}

#[test]
fn a_mismatched_digest_says_what_changed_since_the_reviewed_dry_run() {
    let env = TestEnv::new()
        .sandbox("demo", 20, "40ms")
        .fixture("controlled");
    let reviewed = digest(&env);
    // After the review, someone edits the plan.
    let env = env.file(
        "plan.toml",
        &controlled()
            .replace("max_size = 12", "max_size = 8")
            .replace("soak = \"0s\"", "soak = \"1s\""),
    );
    let run = apply(&env, &["--approved", &reviewed]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("what changed since that dry-run"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("plan.batches[rest].max_size: 12 -> 8"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("plan.gate.soak: \"0s\" -> \"1s\""),
        "{}",
        run.stderr
    );
    assert!(
        env.inspect()["writes"]
            .as_array()
            .expect("writes")
            .is_empty(),
        "nothing was changed"
    );

    // The digest of the plan as it is now is accepted, and recorded.
    let current = digest(&env);
    let run = apply(&env, &["--approved", &current]);
    assert_eq!(
        run.code,
        6,
        "east waits for its approval: {}",
        run.transcript()
    );
    let log = env.run(["log", "plan.toml", "--format", "json"]).stdout;
    assert!(
        log.contains(&format!("\"approved_digest\":\"{current}\"")),
        "{log}"
    );
    // Later runs need not repeat it.
    assert_eq!(env.run(["approve", "plan.toml", "east"]).code, 0);
    assert_eq!(apply(&env, &[]).code, 0);
}

#[test]
fn edits_to_future_steps_are_accepted_and_edits_to_finished_ones_refused() {
    let env = TestEnv::new()
        .sandbox("demo", 20, "40ms")
        .fixture("controlled");
    let waiting = apply(&env, &[]);
    assert_eq!(
        waiting.code,
        6,
        "the pilot ran; east waits for approval:\n{}",
        waiting.transcript()
    );

    // The finished pilot cannot change.
    let env = env.file(
        "plan.toml",
        &controlled().replace(
            "users = [\"ana@contoso.example\", \"ben@contoso.example\"]",
            "users = [\"ana@contoso.example\"]",
        ),
    );
    let refused = apply(&env, &[]);
    assert_eq!(refused.code, 2, "{}", refused.transcript());
    assert!(
        refused
            .stderr
            .contains("step pilot.users.emails: removed ben@contoso.example"),
        "{}",
        refused.stderr
    );
    let plan = env.run(["plan", "plan.toml"]);
    assert_eq!(plan.code, 3, "{}", plan.transcript());
    assert!(
        plan.stdout
            .contains("the plan was edited where the rollout already ran"),
        "{}",
        plan.stdout
    );

    // A batch that has not started can be edited, but the edit waits for an approval of the
    // plan as edited (by its digest), so a scheduler needs no new command line.
    let env = env.file(
        "plan.toml",
        &controlled().replace("max_size = 12", "max_size = 5"),
    );
    let held = apply(&env, &["--until-blocked"]);
    assert_eq!(held.code, 6, "{}", held.transcript());
    let line = held.stdout.lines().last().unwrap_or_default().to_owned();
    assert!(
        line.starts_with("waiting: approval plan sha256:")
            && line.contains("plan.batches[rest].max_size: 12 -> 5")
            && line.contains("run `cutover approve plan.toml --digest sha256:"),
        "{line}"
    );
    let dry = env.run(["plan", "plan.toml"]).stdout;
    assert!(
        dry.contains("edited since the version approved, in steps that have not run: plan.batches[rest].max_size: 12 -> 5"),
        "the dry-run shows the edit against the approved version:\n{dry}"
    );
    let edited = env.run(["plan", "plan.toml", "--format", "json"]).json()["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    assert!(
        line.contains(&edited),
        "plan prints the digest to approve: {edited} vs {line}"
    );
    let wrong = env.run(["approve", "plan.toml", "--digest", "sha256:0000000000"]);
    assert_eq!(wrong.code, 2, "{}", wrong.transcript());
    let approved = env.run(["approve", "plan.toml", "--digest", &edited]);
    assert_eq!(approved.code, 0, "{}", approved.transcript());
    let accepted = apply(&env, &["--until-blocked"]);
    assert_eq!(
        accepted.code,
        6,
        "east waits for its approval: {}",
        accepted.transcript()
    );
    assert!(
        accepted
            .stdout
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("waiting: approval east"),
        "{}",
        accepted.stdout
    );
    let log = env.run(["log", "plan.toml"]).stdout;
    assert!(
        log.contains("plan_changed") && log.contains("plan.batches[rest].max_size: 12 -> 5"),
        "{log}"
    );
    let plan = env.run(["plan", "plan.toml"]).stdout;
    assert!(plan.contains("edited since the rollout started, in steps that have not run (approved): plan.batches[rest].max_size: 12 -> 5"), "{plan}");
    let json = env.run(["plan", "plan.toml", "--format", "json"]).json();
    let waves: Vec<usize> = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["id"].as_str().is_some_and(|id| id.starts_with("rest#")))
        .map(|s| s["detail"]["members"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(
        waves.len() >= 2 && waves.iter().all(|n| *n <= 5),
        "waves of at most 5 now: {waves:?}"
    );
    assert_eq!(env.run(["approve", "plan.toml", "east"]).code, 0);
    let done = apply(&env, &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
}

#[test]
fn a_later_run_may_repeat_the_approved_digest_but_not_name_another() {
    let env = TestEnv::new()
        .sandbox("demo", 20, "40ms")
        .fixture("controlled");
    let approved = digest(&env);
    let run = apply(&env, &["--approved", &approved]);
    assert_eq!(
        run.code,
        6,
        "east waits for its approval: {}",
        run.transcript()
    );

    // The pilot moved: a dry-run now gives another digest, which is not what was approved.
    let now = digest(&env);
    assert_ne!(now, approved);
    let writes = env.inspect()["writes"].as_array().expect("writes").len();
    let run = apply(&env, &["--approved", &now]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains(&format!(
            "does not match the digest this rollout started with ({approved})"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        env.inspect()["writes"].as_array().expect("writes").len(),
        writes,
        "nothing was changed"
    );

    assert_eq!(env.run(["approve", "plan.toml", "east"]).code, 0);
    let run = apply(&env, &["--approved", &approved]);
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// An approval binds the step it approved: edited afterwards, the step needs a new one; and an
/// approval not yet acted on can be withdrawn.
#[test]
fn an_edited_step_loses_its_approval_and_an_approval_can_be_revoked() {
    let env = TestEnv::new()
        .sandbox("demo", 20, "40ms")
        .fixture("controlled");
    let first = apply(&env, &[]);
    assert_eq!(first.code, 6, "east waits: {}", first.transcript());
    assert_eq!(env.run(["approve", "plan.toml", "east"]).code, 0);

    // East is edited after its approval: the edit of the running plan is approved as a whole,
    // and east itself must be approved again.
    let env = env.file(
        "plan.toml",
        &controlled().replace(
            "name = \"east\"\napproval = true\n",
            "name = \"east\"\napproval = true\ngate = { soak = \"1s\" }\n",
        ),
    );
    let edited = env.run(["plan", "plan.toml", "--format", "json"]).json()["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    assert_eq!(
        env.run(["approve", "plan.toml", "--digest", &edited]).code,
        0
    );
    let waiting = apply(&env, &["--until-blocked"]);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    let line = waiting.stdout.lines().last().unwrap_or_default().to_owned();
    assert!(
        line.starts_with("waiting: approval east approved as sha256:")
            && line.contains("but the step was edited since"),
        "{line}"
    );
    let dry = env.run(["plan", "plan.toml"]).stdout;
    assert!(dry.contains("but the step was edited since"), "{dry}");

    // Approved again, then withdrawn before it was acted on: east still waits.
    assert_eq!(env.run(["approve", "plan.toml", "east"]).code, 0);
    let revoked = env.run(["approve", "plan.toml", "east", "--revoke"]);
    assert_eq!(revoked.code, 0, "{}", revoked.transcript());
    assert!(
        revoked.stdout.starts_with("revoked 2 approval(s) of east"),
        "{}",
        revoked.stdout
    );
    let still = apply(&env, &["--until-blocked"]);
    assert_eq!(still.code, 6, "{}", still.transcript());
    assert!(
        env.run(["log", "plan.toml"])
            .stdout
            .contains("approval_revoked"),
        "the revocation is in the audit trail"
    );

    // Approved once more: east runs; its approval, acted on, can no longer be withdrawn.
    assert_eq!(env.run(["approve", "plan.toml", "east"]).code, 0);
    let done = apply(&env, &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    let late = env.run(["approve", "plan.toml", "east", "--revoke"]);
    assert_eq!(late.code, 2, "{}", late.transcript());
}
