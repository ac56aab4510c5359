//! EWS in Exchange Online is ending: a plan whose `[to] service_address` is Exchange Online's
//! EWS is warned in every dry-run format, and a step or disconnect that can only run after
//! 2027-04-01 is refused by preflight before any write. On-premises EWS is not affected.

use crate::support::{TestEnv, fixture_plan};

const EXCHANGE_ONLINE: &str = "https://outlook.office365.com/EWS/Exchange.asmx";
const ON_PREMISES: &str = "https://mail.contoso.example/EWS/Exchange.asmx";

/// The `timed` plan with `service_address` and `east`'s schedule line.
fn env(service_address: &str, east: &str) -> TestEnv {
    let plan = fixture_plan(
        "timed",
        &[("east_schedule", east), ("disconnect_after", "")],
    )
    .replace(
        "tenant_id = \"contoso.onmicrosoft.com\"",
        &format!(
            "tenant_id = \"contoso.onmicrosoft.com\"\nservice_address = \"{service_address}\""
        ),
    );
    TestEnv::new()
        .sandbox("demo", 12, "50ms")
        .file("plan.toml", &plan)
}

fn codes(env: &TestEnv, extra: &[&str]) -> (i32, Vec<String>) {
    let mut args = vec!["plan", "plan.toml", "--format", "json"];
    args.extend_from_slice(extra);
    let run = env.run(&args);
    let codes = run.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .filter(|c| c.starts_with("ews-"))
        .map(str::to_owned)
        .collect();
    (run.code, codes)
}

#[test]
fn exchange_online_ews_is_warned_of_in_text_markdown_and_json() {
    let env = env(EXCHANGE_ONLINE, "");
    let now = ["--now", "2026-12-01T12:00:00Z"];
    assert_eq!(codes(&env, &now), (0, vec!["ews-retirement".to_owned()]));
    for format in ["text", "markdown"] {
        let run = env.run([
            "plan",
            "plan.toml",
            "--format",
            format,
            "--now",
            "2026-12-01T12:00:00Z",
        ]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        for part in [
            "Exchange Online's EWS",
            "2026-10-01",
            "EWSEnabled",
            "2027-04-01",
            "Get-OrganizationConfig",
            "Graph-based",
        ] {
            assert!(
                run.stdout.contains(part),
                "{format}: {part}:\n{}",
                run.stdout
            );
        }
    }
    // On premises, nothing is said.
    assert_eq!(codes(&self::env(ON_PREMISES, ""), &now), (0, vec![]));
}

#[test]
fn a_batch_that_can_only_start_after_the_end_is_refused_before_any_write() {
    let late = "not_before = \"2027-05-03T18:00:00-04:00\"";
    let env = env(EXCHANGE_ONLINE, late);
    let now = ["--now", "2026-12-01T12:00:00Z"];
    let (code, found) = codes(&env, &now);
    assert_eq!(code, 3);
    // `east`, `rest` after it, and the disconnect.
    assert_eq!(
        found,
        ["ews-ended", "ews-ended", "ews-ended", "ews-retirement"]
    );
    let text = env.run(["plan", "plan.toml", "--now", "2026-12-01T12:00:00Z"]);
    assert!(
        text.stdout
            .contains("`east` can start no earlier than 2027-05-03T18:00:00-04:00"),
        "{}",
        text.stdout
    );

    let run = env.run(["apply", "plan.toml", "--until-blocked"]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert!(
        run.transcript().contains("EWS in Exchange Online ends"),
        "{}",
        run.transcript()
    );
    assert_eq!(env.inspect()["writes"], serde_json::json!([]), "no write");

    // The same schedule against on-premises Exchange runs.
    assert_eq!(codes(&self::env(ON_PREMISES, late), &now), (0, vec![]));
}

#[test]
fn after_the_end_every_step_is_refused_by_the_test_clock_and_by_plan_now() {
    let mut env = env(EXCHANGE_ONLINE, "");
    let (code, found) = codes(&env, &["--now", "2027-04-02T00:00:00Z"]);
    assert_eq!(code, 3);
    assert!(
        found.iter().filter(|c| *c == "ews-ended").count() >= 3,
        "{found:?}"
    );
    // `apply` reads the clock, shifted as the test clock allows.
    let now = jiff::Timestamp::now().as_second();
    let then: i64 = 1_806_537_600; // 2027-04-02T00:00:00Z
    env.set_env("CUTOVER_TEST_CLOCK_SHIFT", &format!("{}s", then - now));
    let run = env.run(["apply", "plan.toml", "--until-blocked"]);
    assert_eq!(run.code, 3, "{}", run.transcript());
    assert_eq!(env.inspect()["writes"], serde_json::json!([]), "no write");
}
