//! Gates that tolerate what the plan tolerates: a step passes with its failing members as named
//! exceptions (within `max_errors`), they heal on a later run, the disconnect waits for them to
//! be fixed or accepted, and `cutover accept` moves them regardless. Also: edits before the
//! first write, holds that hold, and the disconnect naming pre-existing failures.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{Run, TestEnv, fixture_plan};

fn plan(max_errors: &str, disconnect_approval: bool) -> String {
    fixture_plan(
        "exceptions",
        &[
            ("max_errors", max_errors),
            ("from", "Basic Auth"),
            ("soak", "0s"),
            ("disconnect_approval", &disconnect_approval.to_string()),
        ],
    )
}

fn tenant(scenario: &str, users: usize, plan: &str) -> TestEnv {
    TestEnv::new()
        .sandbox(scenario, users, "40ms")
        .file("plan.toml", plan)
}

fn apply(env: &TestEnv, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "plan.toml", "--poll-interval", "20ms"];
    args.extend_from_slice(extra);
    env.run(args)
}

fn last_line(run: &Run) -> &str {
    run.stdout.lines().last().unwrap_or("")
}

/// Each user's enabled configurations, from `sandbox inspect`.
fn enabled(inspect: &Value) -> BTreeMap<String, Vec<String>> {
    inspect["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            let on = u["enabled"]
                .as_array()
                .expect("enabled")
                .iter()
                .map(|c| c.as_str().expect("name").to_owned())
                .collect();
            (u["email"].as_str().expect("email").to_owned(), on)
        })
        .collect()
}

/// The members of `step` as the dry-run shows them.
fn members(env: &TestEnv, step: &str) -> Vec<String> {
    let run = env.run(["plan", "plan.toml", "--format", "json"]);
    assert!(run.code == 0 || run.code == 3, "{}", run.transcript());
    run.json()["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == step)
        .expect("the step")["detail"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["email"].as_str().expect("email").to_owned())
        .collect()
}

/// No invariant broken, and OAuth enabled (with effect) once per user: nobody moved twice.
fn assert_no_move_repeated(inspect: &Value) {
    assert_eq!(inspect["violations"], Value::Array(vec![]), "violations");
    let mut enables: BTreeMap<String, usize> = BTreeMap::new();
    for write in inspect["writes"].as_array().expect("writes") {
        if write["changed"] == true && write["op"] == "enable" && write["configuration"] == "OAuth"
        {
            *enables
                .entry(write["user"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    let twice: Vec<_> = enables.into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "OAuth enabled twice: {twice:?}");
}

fn rechecks(inspect: &Value) -> usize {
    inspect["writes"]
        .as_array()
        .expect("writes")
        .iter()
        .filter(|w| w["op"] == "recheck")
        .count()
}

/// A denied East mailbox under `max_errors`: East passes with it as its exception, it keeps
/// both configurations, and the rest of the rollout goes on until the disconnect, which halts
/// naming it. Returns the environment and the user.
fn rollout_with_one_exception(max_errors: &str, disconnect_approval: bool) -> (TestEnv, String) {
    let env = tenant("demo", 30, &plan(max_errors, disconnect_approval));
    let east = members(&env, "east");
    let denied = east[1].clone();
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", &denied])
            .code,
        0
    );
    let run = apply(&env, &[]);
    if disconnect_approval {
        assert_eq!(run.code, 6, "{}", run.transcript());
        assert!(
            last_line(&run).starts_with("waiting: approval disconnect"),
            "{}",
            run.transcript()
        );
        assert_eq!(
            env.run(["approve", "plan.toml", "disconnect"]).code,
            0,
            "approved"
        );
    } else {
        assert_eq!(run.code, 3, "{}", run.transcript());
    }
    assert!(
        run.stdout
            .contains("east: gate passed with 1 exception(s), within max_errors"),
        "{}",
        run.stdout
    );
    let named = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&denied))
        .unwrap_or_else(|| panic!("{denied} not named:\n{}", run.stdout));
    assert!(named.contains("Access is denied"), "{named}");
    // The later batch ran: everyone but the exception is on OAuth alone.
    let on = enabled(&env.inspect());
    assert_eq!(
        on[&denied],
        ["Basic Auth", "OAuth"],
        "the exception keeps both"
    );
    for (email, configurations) in &on {
        if *email != denied {
            assert_eq!(configurations, &["OAuth"], "{email}");
        }
    }
    let halted = if disconnect_approval {
        apply(&env, &[])
    } else {
        run
    };
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert_eq!(last_line(&halted), "halted: disconnect");
    assert!(
        halted
            .stdout
            .contains("exceptions: asked the platform to re-check 1 user(s)"),
        "each run re-checks the open exceptions:\n{}",
        halted.stdout
    );
    assert!(
        halted.stdout.contains("whose OAuth sync still fails")
            && halted.stdout.contains("or `cutover accept` them"),
        "the remedy is named:\n{}",
        halted.stdout
    );
    let report = halted
        .stdout
        .split("HALTED at disconnect")
        .nth(1)
        .unwrap_or_default();
    let stragglers: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains('@'))
        .collect();
    assert_eq!(stragglers.len(), 1, "{}", halted.stdout);
    assert!(stragglers[0].contains(&denied), "{}", halted.stdout);
    (env, denied)
}

#[test]
fn an_exception_passes_its_gate_keeps_both_and_heals_on_a_later_run() {
    let (env, denied) = rollout_with_one_exception("1", false);

    let status = env.run(["status", "plan.toml", "--format", "json"]);
    assert_eq!(status.code, 3, "{}", status.transcript());
    let exceptions = status.json()["exceptions"].clone();
    assert_eq!(exceptions[0]["user"]["email"], denied.as_str());
    assert_eq!(exceptions[0]["step"], "east");
    let text = env.run(["status", "plan.toml"]);
    assert!(text.stdout.contains("exceptions"), "{}", text.stdout);
    let dry = env.run(["plan", "plan.toml"]);
    assert!(
        dry.stdout
            .lines()
            .any(|l| l.contains("exception:") && l.contains(&denied)),
        "{}",
        dry.stdout
    );
    let log = env.run(["log", "plan.toml", "--format", "json"]);
    assert!(
        log.stdout
            .lines()
            .any(|l| l.contains("step_passed") && l.contains(&denied)),
        "the pass names its exception in the audit trail:\n{}",
        log.stdout
    );

    assert!(
        rechecks(&env.inspect()) > 0,
        "the platform was asked to re-check"
    );
    assert_eq!(
        env.run(["sandbox", "allow-access", "tenant.db", &denied])
            .code,
        0
    );
    // Once the platform shows a clean OAuth sync, Basic goes off for them and the exception
    // closes (asking for a re-check first only while it is not clean yet).
    let healed = apply(&env, &[]);
    assert_eq!(healed.code, 0, "{}", healed.transcript());
    assert!(
        healed
            .stdout
            .contains(&format!("east: exception(s) healed, OAuth now syncs cleanly; \"Basic Auth\" is off for them: {denied}")),
        "{}",
        healed.stdout
    );
    assert_eq!(last_line(&healed), "done: the rollout is complete");
    let inspect = env.inspect();
    for (email, on) in enabled(&inspect) {
        assert_eq!(on, ["OAuth"], "{email}");
    }
    assert_no_move_repeated(&inspect);
    let log = env.run(["log", "plan.toml"]);
    assert!(log.stdout.contains("exception_closed"), "{}", log.stdout);
}

#[test]
fn an_accepted_exception_moves_at_the_disconnect_once_approved_again() {
    let (env, denied) = rollout_with_one_exception("1", true);

    let accepted = env.run([
        "accept",
        "plan.toml",
        &denied,
        "--reason",
        "mailbox due for deletion",
        "--by",
        "cab-chair",
    ]);
    assert_eq!(accepted.code, 0, "{}", accepted.transcript());
    assert!(
        accepted
            .stdout
            .contains("approve it again with `cutover approve plan.toml disconnect`"),
        "{}",
        accepted.stdout
    );
    let dry = env.run(["plan", "plan.toml"]);
    assert!(
        dry.stdout
            .contains("accepted: 1 user(s) will stop syncing until fixed")
            && dry.stdout.contains("mailbox due for deletion"),
        "{}",
        dry.stdout
    );
    // The accept voided the disconnect's approval: its digest covers the accepted users.
    let waiting = apply(&env, &["--until-blocked"]);
    assert_eq!(waiting.code, 6, "{}", waiting.transcript());
    assert!(
        last_line(&waiting).starts_with("waiting: approval disconnect")
            && last_line(&waiting).contains("changed since it was approved"),
        "{}",
        waiting.transcript()
    );
    assert_eq!(
        env.run(["approve", "plan.toml", "disconnect"]).code,
        0,
        "approved again"
    );
    let done = apply(&env, &[]);
    assert_eq!(done.code, 0, "{}", done.transcript());
    assert!(
        done.stdout.contains(&format!(
            "accepted, on \"OAuth\" alone and not syncing until fixed: {denied}"
        )),
        "{}",
        done.stdout
    );
    let inspect = env.inspect();
    assert_eq!(enabled(&inspect)[&denied], ["OAuth"]);
    assert_no_move_repeated(&inspect);

    let status = env.run(["status", "plan.toml"]);
    assert_eq!(status.code, 0, "{}", status.transcript());
    assert!(
        status
            .stdout
            .starts_with("plan exceptions: done, with 1 accepted user(s)"),
        "{}",
        status.stdout
    );
    let json = env.run(["status", "plan.toml", "--format", "json"]).json();
    assert_eq!(json["accepted"][0]["email"], denied.as_str());
    assert_eq!(json["accepted"][0]["reason"], "mailbox due for deletion");
    assert_eq!(json["accepted"][0]["by"], "cab-chair");
}

#[test]
fn a_revoked_acceptance_no_longer_moves_anyone() {
    let (env, denied) = rollout_with_one_exception("1", false);
    let accept = |extra: &[&str]| {
        let mut args = vec!["accept", "plan.toml", denied.as_str()];
        args.extend_from_slice(extra);
        env.run(args)
    };
    assert_eq!(accept(&["--reason", "leaver"]).code, 0);
    let revoked = accept(&["--revoke"]);
    assert_eq!(revoked.code, 0, "{}", revoked.transcript());
    assert!(
        revoked
            .stdout
            .starts_with("revoked the acceptance of 1 of 1"),
        "{}",
        revoked.stdout
    );
    let halted = apply(&env, &[]);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert_eq!(last_line(&halted), "halted: disconnect");
    assert_eq!(enabled(&env.inspect())[&denied], ["Basic Auth", "OAuth"]);
    let without_reason = accept(&[]);
    assert_eq!(without_reason.code, 2, "{}", without_reason.transcript());
}

#[test]
fn a_share_threshold_tolerates_its_count_and_plan_shows_it() {
    let env = tenant("demo", 30, &plan("\"10%\"", false));
    let east = members(&env, "east");
    assert!(east.len() >= 10, "10% of East must allow one: {east:?}");
    let allowed = east.len() / 10;
    let dry = env.run(["plan", "plan.toml"]);
    assert!(
        dry.stdout.contains(&format!(
            "max errors 10% ({allowed} of {} users)",
            east.len()
        )),
        "{}",
        dry.stdout
    );
    let json = env.run(["plan", "plan.toml", "--format", "json"]).json();
    let east_step = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "east")
        .cloned()
        .expect("east");
    assert_eq!(east_step["detail"]["allowed_errors"], allowed);

    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", &east[0]])
            .code,
        0
    );
    let run = apply(&env, &[]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(
        run.stdout.contains("east: gate passed with 1 exception(s)"),
        "{}",
        run.stdout
    );
    assert_eq!(last_line(&run), "halted: disconnect");
}

#[test]
fn over_the_threshold_the_gate_still_fails() {
    let env = tenant("demo", 30, &plan("1", false));
    let east = members(&env, "east");
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", &east[0], &east[1]])
            .code,
        0
    );
    let run = apply(&env, &[]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert_eq!(last_line(&run), "halted: east");
    assert!(
        run.stdout.contains("GATE FAILED for 2 user(s)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_plan_halted_in_preflight_before_any_write_can_be_corrected() {
    let wrong = fixture_plan(
        "exceptions",
        &[
            ("max_errors", "0"),
            ("from", "Basic"),
            ("soak", "0s"),
            ("disconnect_approval", "false"),
        ],
    );
    let env = tenant("demo", 12, &wrong);
    let digest = |env: &TestEnv| {
        env.run(["plan", "plan.toml", "--format", "json"]).json()["digest"]
            .as_str()
            .expect("digest")
            .to_owned()
    };
    let reviewed = digest(&env);
    let halted = apply(&env, &["--approved", &reviewed]);
    assert_eq!(halted.code, 3, "{}", halted.transcript());
    assert!(
        halted.stdout.contains("HALTED at preflight"),
        "{}",
        halted.stdout
    );

    let env = env.file("plan.toml", &plan("0", false));
    let corrected = digest(&env);
    assert_ne!(corrected, reviewed);
    let dry = env.run(["plan", "plan.toml"]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    assert!(
        dry.stdout
            .contains("edited before the rollout's first change to the platform"),
        "{}",
        dry.stdout
    );
    // The approval of the wrong plan does not carry over to the corrected one.
    let stale = apply(&env, &["--approved", &reviewed]);
    assert_eq!(stale.code, 2, "{}", stale.transcript());
    let run = apply(&env, &["--approved", &corrected]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let log = env.run(["log", "plan.toml", "--format", "json"]);
    assert!(
        log.stdout
            .lines()
            .any(|l| l.contains("plan_changed") && l.contains("before_the_first_write")),
        "{}",
        log.stdout
    );
}

#[test]
fn under_a_hold_nothing_is_rechecked_but_a_failing_user_gets_basic_back() {
    let env = tenant(
        "demo",
        12,
        &fixture_plan(
            "exceptions",
            &[
                ("max_errors", "0"),
                ("from", "Basic Auth"),
                ("soak", "30s"),
                ("disconnect_approval", "false"),
            ],
        ),
    );
    let pilot = "ben@contoso.example";
    // The pilot is switched and soaking.
    let soaking = apply(&env, &["--until-blocked"]);
    assert_eq!(soaking.code, 4, "{}", soaking.transcript());
    assert!(
        last_line(&soaking).starts_with("waiting: soak pilot"),
        "{}",
        soaking.transcript()
    );
    assert_eq!(enabled(&env.inspect())[pilot], ["OAuth"]);

    // Its OAuth sync starts failing, and a change freeze begins.
    assert_eq!(
        env.run(["sandbox", "deny-access", "tenant.db", pilot]).code,
        0
    );
    assert_eq!(env.run(["hold", "plan.toml", "--reason", "freeze"]).code, 0);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let held = apply(&env, &["--until-blocked"]);
    // The open gate is judged and fails; Basic comes back for the failing user even so.
    assert_eq!(held.code, 3, "{}", held.transcript());
    assert!(held.stdout.contains("GATE FAILED"), "{}", held.stdout);
    assert_eq!(enabled(&env.inspect())[pilot], ["Basic Auth", "OAuth"]);

    // A later run under the hold does not re-open the gate or ask for a re-check.
    let before = rechecks(&env.inspect());
    let still = apply(&env, &["--until-blocked"]);
    assert_eq!(still.code, 4, "{}", still.transcript());
    assert!(
        last_line(&still).starts_with("waiting: hold pilot"),
        "{}",
        still.transcript()
    );
    assert!(!still.stdout.contains("re-opened"), "{}", still.stdout);
    assert_eq!(rechecks(&env.inspect()), before, "no re-check under a hold");
}

#[test]
fn the_disconnect_names_the_pre_existing_failures_it_leaves_behind() {
    let env = tenant(
        "messy",
        45,
        &fixture_plan(
            "exceptions",
            &[
                ("max_errors", "0"),
                ("from", "Basic Auth"),
                ("soak", "0s"),
                ("disconnect_approval", "false"),
            ],
        ),
    );
    let run = apply(&env, &[]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let at = run
        .stdout
        .find("disconnect: \"Basic Auth\" is disconnected")
        .unwrap_or_else(|| panic!("no disconnect:\n{}", run.stdout));
    let report = &run.stdout[at..];
    assert!(
        report
            .contains("3 user(s) whose \"Basic Auth\" sync was already failing before their step"),
        "{report}"
    );
    let named = report.lines().filter(|l| l.starts_with("    ")).count();
    assert_eq!(named, 3, "{report}");
    let log = env.run(["log", "plan.toml", "--format", "json"]);
    let disconnected = log
        .stdout
        .lines()
        .find(|l| l.contains("\"disconnected\""))
        .expect("the disconnect is in the audit trail");
    let entry: Value = serde_json::from_str(disconnected).expect("json");
    assert_eq!(
        entry["detail"]["preexisting"].as_array().map(Vec::len),
        Some(3)
    );
}
