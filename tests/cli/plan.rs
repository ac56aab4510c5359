//! `cutover plan`: the dry-run a change board reviews — its three formats, its determinism, its
//! preflight findings, and that it changes nothing anywhere.

use serde_json::Value;

use crate::support::{TestEnv, fixture_plan, repo};

const NOW: &str = "2026-12-01T15:00:00Z";

fn quickstart() -> TestEnv {
    let plan = std::fs::read_to_string(repo().join("plans/quickstart.toml")).expect("quickstart");
    TestEnv::new().file("plans/quickstart.toml", &plan)
}

#[test]
fn three_formats_on_the_demo_tenant() {
    let env = quickstart();
    for format in ["text", "markdown", "json"] {
        let run = env.run([
            "plan",
            "plans/quickstart.toml",
            "--format",
            format,
            "--now",
            NOW,
        ]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        insta::with_settings!({ prepend_module_to_snapshot => false, snapshot_suffix => format }, {
            insta::assert_snapshot!("plan_demo", run.stdout);
        });
    }
    let full = env.run(["plan", "plans/quickstart.toml", "--full", "--now", NOW]);
    assert!(
        !full.stdout.contains("more (--full lists them all)"),
        "--full unfolds every list"
    );
}

#[test]
fn text_and_markdown_start_and_end_with_the_banner_and_json_says_dry_run() {
    let env = quickstart();
    for (format, banner) in [("text", "DRY RUN"), ("markdown", "> **DRY RUN**")] {
        let out = env
            .run(["plan", "plans/quickstart.toml", "--format", format])
            .stdout;
        let first = out.lines().next().unwrap_or("");
        let last = out.lines().last().unwrap_or("");
        assert!(
            first.starts_with(banner) && last.starts_with(banner),
            "{format}:\n{out}"
        );
        assert!(
            out.contains("IRREVERSIBLE"),
            "{format}: the disconnect is marked"
        );
    }
    let json = env
        .run(["plan", "plans/quickstart.toml", "--format", "json"])
        .json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["format_version"], 1);
    // Markdown and JSON never fold: every user of every step is there.
    let markdown = env
        .run(["plan", "plans/quickstart.toml", "--format", "markdown"])
        .stdout;
    for step in json["steps"].as_array().expect("steps") {
        for member in step["detail"]["members"].as_array().into_iter().flatten() {
            let email = member["email"].as_str().expect("email");
            assert!(
                markdown.contains(&format!("`{email}`")),
                "{email} missing from the markdown"
            );
        }
    }
}

#[test]
fn same_inputs_same_bytes() {
    let env = quickstart();
    let args = [
        "plan",
        "plans/quickstart.toml",
        "--format",
        "json",
        "--now",
        NOW,
    ];
    let first = env.run(args);
    let second = env.run(args);
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn plan_reads_and_never_writes() {
    let env = quickstart();
    let before = std::fs::read(env.path().join("plans/quickstart.toml")).expect("plan");
    assert_eq!(env.run(["plan", "plans/quickstart.toml"]).code, 0);
    assert_eq!(
        env.run(["status", "plans/quickstart.toml"]).code,
        4,
        "not started: waiting for apply"
    );
    let after = std::fs::read(env.path().join("plans/quickstart.toml")).expect("plan");
    assert_eq!(before, after, "the plan file is untouched");
    let inspect = env
        .run([
            "sandbox",
            "inspect",
            "plans/quickstart.toml",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(
        inspect["writes"],
        Value::Array(vec![]),
        "zero writes on the platform"
    );
    assert!(
        !env.path()
            .join("plans/.cutover/quickstart.state.db")
            .exists(),
        "no state is created"
    );
    let gitignore =
        std::fs::read_to_string(env.path().join("plans/.cutover/.gitignore")).expect(".gitignore");
    assert!(gitignore.lines().any(|l| l == "*"), "{gitignore}");
}

/// `(severity, code, users)` of a preflight finding.
type Found = (String, String, Vec<String>);

/// A plan over a scenario's sandbox file, checked for the findings it must produce.
fn findings(scenario: &str, plan_tail: &str) -> (i32, Vec<Found>, String) {
    let env = TestEnv::new().sandbox(scenario, 48, "1s").file(
        "plan.toml",
        &fixture_plan("preflight", &[("steps", plan_tail)]),
    );
    let run = env.run(["plan", "plan.toml", "--format", "json"]);
    let json = run.json();
    let found = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let users = f["users"]
                .as_array()
                .expect("users")
                .iter()
                .map(|u| u.as_str().expect("email").to_owned())
                .collect();
            (
                f["severity"].as_str().expect("severity").to_owned(),
                f["code"].as_str().expect("code").to_owned(),
                users,
            )
        })
        .collect();
    let text = env.run(["plan", "plan.toml"]).stdout;
    (run.code, found, text)
}

fn codes(found: &[Found]) -> Vec<String> {
    found
        .iter()
        .map(|(severity, code, _)| format!("{severity} {code}"))
        .collect()
}

#[test]
fn preflight_finds_a_missing_second_slot() {
    let (code, found, text) = findings(
        "single-slot",
        "[[batch]]\nname = \"all\"\nusers = \"remaining\"",
    );
    assert_eq!(code, 3, "a blocking finding makes plan exit 3");
    assert_eq!(codes(&found), ["blocking no-free-slot"]);
    assert!(
        text.contains("ask your platform's support to add a second service account slot"),
        "{text}"
    );
    assert!(text.contains("status: blocked"), "{text}");
}

#[test]
fn preflight_adopts_a_hand_made_configuration_and_classifies_users() {
    let (code, found, text) = findings(
        "part-migrated",
        "[[batch]]\nname = \"all\"\nusers = \"remaining\"",
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        codes(&found),
        ["warning on-neither", "info to-adopted"],
        "most severe first"
    );
    let neither = &found
        .iter()
        .find(|f| f.1 == "on-neither")
        .expect("on-neither")
        .2;
    assert_eq!(neither.len(), 2);
    assert!(text.contains("Adopt the existing \"OAuth\""), "{text}");
    assert!(
        text.contains("3 already on both (finish the move)"),
        "{text}"
    );
    assert!(
        text.contains("status: done"),
        "the adopted configuration is already connected:\n{text}"
    );
}

#[test]
fn preflight_refuses_a_configuration_for_another_tenant() {
    let (code, found, _) = findings(
        "wrong-tenant",
        "[[batch]]\nname = \"all\"\nusers = \"remaining\"",
    );
    assert_eq!(code, 3);
    assert_eq!(codes(&found), ["blocking to-mismatch"]);
}

#[test]
fn preflight_reports_pre_existing_failures_stragglers_unknown_users_and_empty_selectors() {
    let tail = "[pilot]\nusers = [\"ana@contoso.example\", \"nobody@contoso.example\"]\n\
                [[batch]]\nname = \"east\"\nusers = { location = \"East\" }\n\
                [[batch]]\nname = \"typo\"\nusers = { location = \"Esat\" }";
    let (code, found, text) = findings("messy", tail);
    assert_eq!(code, 3, "an unknown user blocks:\n{text}");
    let codes = codes(&found);
    for expected in [
        "blocking unknown-users",
        "warning stragglers",
        "warning on-neither",
        "info failing-before",
        "warning empty-step",
    ] {
        assert!(
            codes.iter().any(|c| c == expected),
            "{expected} missing from {codes:?}"
        );
    }
    let unknown = &found
        .iter()
        .find(|f| f.1 == "unknown-users")
        .expect("unknown")
        .2;
    assert_eq!(unknown, &["nobody@contoso.example"]);
    let failing = &found
        .iter()
        .find(|f| f.1 == "failing-before")
        .expect("failing")
        .2;
    assert_eq!(
        failing.len(),
        3,
        "two mailboxes gone and one non-primary email"
    );
    assert!(
        text.contains("locations on the platform: Central, East, North, Remote, West"),
        "{text}"
    );
    assert!(
        text.contains("blocked by"),
        "the disconnect lists its stragglers:\n{text}"
    );
}

#[test]
fn sandbox_init_refuses_fewer_users_than_its_scenario_needs() {
    let env = TestEnv::new();
    let run = env.run([
        "sandbox",
        "init",
        "m.db",
        "--scenario",
        "messy",
        "--users",
        "10",
    ]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_eq!(
        run.stderr,
        "error: the `messy` scenario needs at least 45 users (--users 10 was given)\n"
    );
    assert!(!env.path().join("m.db").exists());
    let run = env.run([
        "sandbox",
        "init",
        "m.db",
        "--scenario",
        "messy",
        "--users",
        "45",
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// A `[from]` or `[to]` display name the platform does not have lists the names it has.
#[test]
fn preflight_lists_the_configuration_names_the_platform_has() {
    let tail = "[[batch]]\nname = \"all\"\nusers = \"remaining\"";
    let plan = fixture_plan("preflight", &[("steps", tail)]);
    for (scenario, from, to, code, listed) in [
        (
            "demo",
            "Basic Authentication",
            "OAuth",
            "from-missing",
            "the platform has \"Basic Auth\" (basic, connected)",
        ),
        (
            "part-migrated",
            "Basic Auth",
            "OAuth (new)",
            "no-free-slot",
            "the platform has \"Basic Auth\" (basic, connected), \"OAuth\" (oauth, connected)",
        ),
    ] {
        let plan = plan
            .replace(
                "display_name = \"Basic Auth\"",
                &format!("display_name = \"{from}\""),
            )
            .replace(
                "display_name = \"OAuth\"",
                &format!("display_name = \"{to}\""),
            );
        let env = TestEnv::new()
            .sandbox(scenario, 48, "1s")
            .file("plan.toml", &plan);
        let json = env.run(["plan", "plan.toml", "--format", "json"]).json();
        let finding = json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("{scenario}: no {code}: {json}"));
        let remedy = finding["remedy"].as_str().unwrap_or_default();
        assert!(remedy.contains(listed), "{scenario}: {remedy}");
    }
}

/// A real platform's plan that disconnects without sign-off: the warning `validate` gives is in
/// every format of the dry-run, not only on standard error, beside the summary and the back-out.
#[test]
fn a_real_platforms_warnings_are_inside_the_dry_run() {
    let mut env = TestEnv::new().sandbox("demo", 12, "1s");
    env.set_env("CUTOVER_API_TOKEN", crate::support::TOKEN);
    let served = env.serve(&[]);
    let plan = fixture_plan("over-http", &[("url", &served.url), ("rest_size", "50")]);
    let env = env.file("plan.toml", &plan);
    let run = |format: &str| {
        let run = env.run(["plan", "plan.toml", "--format", format, "--now", NOW]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        run
    };
    let markdown = run("markdown").stdout;
    insta::with_settings!({
        prepend_module_to_snapshot => false,
        snapshot_suffix => "markdown",
        filters => vec![
            (r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:PORT"),
            (r"sha256:[0-9a-f]+", "sha256:DIGEST"),
        ],
    }, {
        insta::assert_snapshot!("plan_over_http", markdown);
    });
    let text = run("text").stdout;
    let json = run("json").json();
    for document in [&markdown, &text] {
        assert!(
            document.contains(
                "the final disconnect of a real platform will run without `cutover approve`"
            ),
            "{document}"
        );
        assert!(
            document.contains("plan.toml:33:12"),
            "the place is named:\n{document}"
        );
        assert!(document.contains("Back-out"), "{document}");
        assert!(document.contains("Summary"), "{document}");
    }
    let warnings = json["warnings"].as_array().expect("warnings");
    let codes: Vec<_> = warnings.iter().map(|w| w["code"].as_str()).collect();
    assert_eq!(
        codes,
        [
            Some("plan::unapproved-start"),
            Some("plan::unapproved-disconnect")
        ],
        "{warnings:?}"
    );
    assert!(
        warnings.iter().all(|w| w["origin"] == "plan"),
        "{warnings:?}"
    );
    assert_eq!(json["format_version"], 1, "fields were only added");
    let back_out = json["back_out"].as_array().expect("back_out");
    let disconnect = back_out.last().expect("the disconnect's");
    assert_eq!(disconnect["reversible"], false);
    assert_eq!(
        json["summary"].as_array().map(Vec::len),
        json["steps"].as_array().map(Vec::len)
    );
    for fact in json["facts"].as_array().expect("facts") {
        assert!(
            [
                "read from the platform",
                "resolved when the step starts",
                "assumed",
                "read from the state file",
                "read from the plan's files"
            ]
            .contains(&fact["label"].as_str().unwrap_or("")),
            "{fact}"
        );
    }
}

/// A user a later step's selector matches but an earlier step claimed is named in its note.
#[test]
fn the_note_on_users_claimed_earlier_names_them() {
    let env = quickstart();
    let json = env
        .run([
            "plan",
            "plans/quickstart.toml",
            "--format",
            "json",
            "--now",
            NOW,
        ])
        .json();
    let east = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "east")
        .cloned()
        .expect("east");
    let note = east["detail"]["notes"][0].as_str().expect("a note");
    assert!(note.contains("in `pilot`, an earlier step"), "{note}");
    assert!(
        note.ends_with("@contoso.example"),
        "the user is named: {note}"
    );
}

/// Two attribute batches overlapping by more than fifty users: text names the first fifty and
/// counts the rest (`--full` and JSON name them all), as a long diagnostic list does.
#[test]
fn a_long_overlap_note_is_folded_in_text_and_whole_in_json() {
    let plan = "version = 1\nname = \"overlap\"\n[target]\nkind = \"sandbox\"\nsandbox = \"tenant.db\"\n\
        [from]\ndisplay_name = \"Basic Auth\"\n[to]\ndisplay_name = \"OAuth\"\n\
        tenant_id = \"contoso.onmicrosoft.com\"\n[gate]\nsoak = \"30m\"\ntimeout = \"3h\"\n\
        max_errors = \"1%\"\n[pilot]\nusers = [\"ana@contoso.example\", \"ben@contoso.example\"]\n\
        [[batch]]\nname = \"east\"\nusers = { location = \"East\" }\n[[batch]]\nname = \"sales\"\nusers = { group = \"Sales\" }\n\
        [[batch]]\nname = \"everyone-else\"\nusers = \"remaining\"\n[disconnect]\nafter = \"24h\"\n";
    let env = TestEnv::new()
        .sandbox("demo", 600, "2s")
        .file("plan.toml", plan);
    let prefix = "users it matches are in `east`, an earlier step: a user belongs to the first step in file order: ";
    let json = env
        .run(["plan", "plan.toml", "--format", "json", "--now", NOW])
        .json();
    let sales = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "sales")
        .cloned()
        .expect("sales");
    let notes = sales["detail"]["notes"].as_array().expect("notes");
    let note = notes
        .iter()
        .filter_map(Value::as_str)
        .find(|n| n.contains("in `east`"))
        .expect("a note on `east`");
    let (count, names) = note.split_once(' ').expect("a count");
    let count: usize = count.parse().expect("a count first");
    let names = names.strip_prefix(prefix).expect("the note's words");
    let names: Vec<&str> = names.split(", ").collect();
    assert!(count > 60, "the tenant is large enough to overlap: {note}");
    assert_eq!(names.len(), count, "JSON names every user");
    assert!(names.iter().all(|n| n.contains('@')), "{note}");

    let text = env.run(["plan", "plan.toml", "--now", NOW]).stdout;
    let line = text
        .lines()
        .find(|l| l.contains(prefix))
        .expect("the note in text");
    let shown = format!(
        "{}, and {} more (--full lists them all)",
        names[..50].join(", "),
        count - 50
    );
    assert!(
        line.ends_with(&format!("note: {count} {prefix}{shown}")),
        "text names the first fifty:\n{line}"
    );
    let full = env
        .run(["plan", "plan.toml", "--full", "--now", NOW])
        .stdout;
    assert!(
        full.lines().any(|l| l.ends_with(&format!("note: {note}"))),
        "--full names them all"
    );
}
