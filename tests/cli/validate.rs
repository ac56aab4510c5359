//! `cutover validate`: the fixture corpus of mistakes, valid plans, formats and exit codes.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::{TestEnv, case_dirs, repo, run_in};

/// `(file name, line, column, code)` of a diagnostic.
type Finding = (String, u64, u64, String);

/// Every invalid fixture exits 2 and reports exactly the mistakes its header names, at the
/// line and column the header names; the text rendering is snapshotted.
#[test]
fn invalid_plans_report_every_mistake_where_it_is() {
    let root = repo().join("tests/fixtures/plans/invalid");
    let cases = case_dirs(&root);
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .expect("case name")
            .to_owned();
        let plan = format!("tests/fixtures/plans/invalid/{name}/plan.toml");
        let expected = expectations(&case.join("plan.toml"));
        assert!(!expected.is_empty(), "{name}: no `# expect:` lines");

        let json = run_in(repo(), ["validate", "--format", "json", &plan], &[]);
        assert_eq!(json.code, 2, "{name}:\n{}", json.transcript());
        let found = findings(
            &json.json(),
            &format!("tests/fixtures/plans/invalid/{name}/"),
        );
        if found != expected {
            failures.push(format!(
                "{name}:\n  expected {expected:?}\n  found    {found:?}"
            ));
        }

        let text = run_in(repo(), ["validate", &plan], &[]);
        assert_eq!(text.code, 2, "{name}");
        // Text shows the first 50 findings, in file order, and counts the rest.
        for (file, line, column, _) in expected.iter().take(TEXT_LIMIT) {
            let place = format!("tests/fixtures/plans/invalid/{name}/{file}:{line}:{column}");
            assert!(
                text.stderr.contains(&place),
                "{name}: text output does not name {place}:\n{}",
                text.stderr
            );
        }
        if expected.len() > TEXT_LIMIT {
            let more = format!("… and {} more", expected.len() - TEXT_LIMIT);
            assert!(text.stderr.contains(&more), "{name}: no `{more}`");
            let shown = text.stderr.matches("\n  × ").count();
            assert_eq!(shown, TEXT_LIMIT, "{name}: {shown} findings shown");
        }
        insta::with_settings!({ prepend_module_to_snapshot => false, snapshot_suffix => name.clone() }, {
            insta::assert_snapshot!("invalid", text.transcript());
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// How many findings a text report shows (the rest are counted).
const TEXT_LIMIT: usize = 50;

fn expectations(plan: &Path) -> BTreeSet<Finding> {
    // Lossy: a fixture may be a plan that is not UTF-8; its header is.
    let text = String::from_utf8_lossy(&std::fs::read(plan).expect("read fixture")).into_owned();
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|l| {
            let (place, code) = l
                .split_once(' ')
                .expect("`# expect: FILE:LINE:COLUMN CODE`");
            let mut parts = place.rsplitn(3, ':');
            let column = parts.next().and_then(|c| c.parse().ok()).expect("column");
            let line = parts.next().and_then(|c| c.parse().ok()).expect("line");
            let file = parts.next().expect("file").to_owned();
            (file, line, column, code.to_owned())
        })
        .collect()
}

fn findings(json: &serde_json::Value, prefix: &str) -> BTreeSet<Finding> {
    json["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .flat_map(|p| p["diagnostics"].as_array().expect("diagnostics"))
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            let file = d["file"].as_str().expect("file");
            (
                file.strip_prefix(prefix).unwrap_or(file).to_owned(),
                d["line"].as_u64().expect("line"),
                d["column"].as_u64().expect("column"),
                d["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

/// The example plans (`plans/`, `examples/`) and the valid fixtures pass, one summary line each.
#[test]
fn valid_plans_pass() {
    let mut plans: Vec<String> = std::fs::read_dir(repo().join("plans"))
        .expect("plans/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            format!(
                "plans/{}",
                p.file_name().and_then(|n| n.to_str()).expect("name")
            )
        })
        .collect();
    for case in case_dirs(&repo().join("tests/fixtures/plans/valid")) {
        let name = case.file_name().and_then(|n| n.to_str()).expect("name");
        plans.push(format!("tests/fixtures/plans/valid/{name}/plan.toml"));
    }
    // The plan the scheduler examples run.
    plans.push("examples/contoso.toml".to_owned());
    plans.sort();
    assert!(plans.len() >= 4, "{plans:?}");
    let mut args = vec!["validate".to_owned()];
    args.extend(plans.iter().cloned());
    let run = run_in(repo(), &args, &[]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    for plan in &plans {
        assert!(
            run.stdout.contains(&format!("valid: {plan}: plan \"")),
            "{plan}:\n{}",
            run.stdout
        );
    }
    assert_eq!(run.stdout.lines().count(), plans.len(), "{}", run.stdout);
    insta::assert_snapshot!("valid_plans", run.transcript());
}

/// Several plans at once: one bad plan makes the run exit 2, and the good ones still pass.
#[test]
fn several_plans_one_invalid() {
    let env = TestEnv::new()
        .file(
            "good.toml",
            &std::fs::read_to_string(repo().join("plans/quickstart.toml")).expect("quickstart"),
        )
        .file("bad.toml", "version = 1\n");
    let run = env.run(["validate", "good.toml", "bad.toml", "missing.toml"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stdout.contains("valid: good.toml: plan \"quickstart\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("invalid: bad.toml: 6 errors"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("cannot read the plan file missing.toml"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("invalid: missing.toml: not read"),
        "{}",
        run.stderr
    );

    let json = env
        .run(["validate", "--format", "json", "good.toml", "missing.toml"])
        .json();
    assert_eq!(json["valid"], false);
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["plans"][0]["valid"], true);
    assert_eq!(
        json["plans"][1]["diagnostics"][0]["code"],
        "plan::unreadable"
    );
}

/// A literal secret is masked in every rendering: text, JSON, terminal or not.
#[test]
fn literal_secrets_never_appear_in_output() {
    let secret = "eyJhbGciOiJIUzI1NiJ9-do-not-print";
    let plan = std::fs::read_to_string(repo().join("plans/quickstart.toml"))
        .expect("quickstart")
        .replace(
            "[target]\nkind = \"sandbox\"\nsandbox = \"demo\"",
            &format!("[target]\nkind = \"http\"\nurl = \"https://u:{secret}@x.example/api\"\ntoken = \"{secret}\"\nclient_secret = {{ value = \"{secret}\" }}"),
        );
    assert!(plan.contains(secret));
    let env = TestEnv::new().file("plan.toml", &plan);
    for args in [
        vec!["validate", "plan.toml"],
        vec!["validate", "--format", "json", "plan.toml"],
    ] {
        let run = env.run(&args);
        assert_eq!(run.code, 2, "{}", run.transcript());
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{}",
            run.transcript()
        );
        assert!(!run.stderr.contains("do-not-print") && !run.stdout.contains("do-not-print"));
    }
    let run = env.run(["validate", "plan.toml"]);
    assert!(
        run.stderr.contains("plan::literal-secret"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("plan.toml:11:1"), "{}", run.stderr);
}

/// A warning does not fail validation, and is shown with its place.
#[test]
fn unapproved_disconnect_of_a_real_platform_is_a_warning() {
    let plan = std::fs::read_to_string(repo().join("plans/quickstart.toml"))
        .expect("quickstart")
        .replace(
            "[target]\nkind = \"sandbox\"\nsandbox = \"demo\"",
            "[target]\nkind = \"http\"\nurl = \"https://scheduling.example.org/api\"\ntoken = { env = \"CUTOVER_API_TOKEN\" }",
        );
    let env = TestEnv::new().file("plan.toml", &plan);
    let run = env.run(["validate", "plan.toml"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stderr.contains("plan::unapproved-disconnect"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("plan::unapproved-start"),
        "a real platform without an approved digest is warned of too: {}",
        run.stderr
    );
    assert!(
        run.stdout.contains("WITHOUT approval (2 warnings)"),
        "{}",
        run.stdout
    );
    let json = env
        .run(["validate", "--format", "json", "plan.toml"])
        .json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["plans"][0]["diagnostics"][0]["severity"], "warning");
}

/// `validate` never reads the environment, secret files or the clock: a plan whose token
/// variable is unset and whose secret file is missing is still valid, and so is a `not_before`
/// long past.
#[test]
fn validate_is_static() {
    let plan = std::fs::read_to_string(repo().join("plans/quickstart.toml"))
        .expect("quickstart")
        .replace(
            "[target]\nkind = \"sandbox\"\nsandbox = \"demo\"",
            "[target]\nkind = \"http\"\nurl = \"https://scheduling.example.org/api\"\ntoken = { file = \"/nonexistent/token\" }",
        )
        .replace("name = \"east\"", "name = \"east\"\nnot_before = \"2001-01-01T00:00:00Z\"");
    let run = TestEnv::new()
        .file("plan.toml", &plan)
        .run(["validate", "plan.toml"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// Usage errors exit 2, help exits 0.
#[test]
fn usage() {
    let env = TestEnv::new();
    assert_eq!(env.run(["validate"]).code, 2);
    assert_eq!(env.run(["frobnicate"]).code, 2);
    let help = env.run(["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("validate"), "{}", help.stdout);
}
