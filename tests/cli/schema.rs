//! `cutover schema` and `schemas/plan.schema.json`: generated from the code, checked up to date,
//! and as strict as the validator wherever a schema can be.

use crate::support::{TestEnv, case_dirs, repo, toml_as_json};

#[test]
fn committed_schema_is_up_to_date() {
    let run = TestEnv::new().run(["schema"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let committed = std::fs::read_to_string(repo().join("schemas/plan.schema.json"))
        .expect("schemas/plan.schema.json");
    assert!(
        run.stdout == committed,
        "schemas/plan.schema.json is stale: run `cargo run -- schema > schemas/plan.schema.json`"
    );
}

#[test]
fn schema_is_draft_07_and_closed() {
    let schema: serde_json::Value =
        serde_json::from_str(&TestEnv::new().run(["schema"]).stdout).expect("JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(
        jsonschema::meta::is_valid(&schema),
        "not a valid draft-07 schema"
    );
    // Closed objects everywhere, so a language server flags unknown keys as `validate` does.
    let mut open = Vec::new();
    walk(&schema, "#", &mut |path, node| {
        // (An `if` is a condition that matches a shape, not a shape a plan may take.)
        let condition = path.contains("/if");
        if !condition
            && node.get("properties").is_some()
            && node.get("additionalProperties") != Some(&serde_json::Value::Bool(false))
        {
            open.push(path.to_owned());
        }
        // Draft-07 ignores siblings of `$ref`; the generator must have moved them into allOf.
        if node.get("$ref").is_some() && node.as_object().is_some_and(|o| o.len() > 1) {
            open.push(format!("{path} ($ref with siblings)"));
        }
    });
    assert!(open.is_empty(), "{open:?}");
    assert_eq!(schema["properties"]["version"]["const"], 1);
}

fn walk(node: &serde_json::Value, path: &str, visit: &mut dyn FnMut(&str, &serde_json::Value)) {
    visit(path, node);
    match node {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                walk(child, &format!("{path}/{key}"), visit);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, &format!("{path}/{i}"), visit);
            }
        }
        _ => {}
    }
}

/// Example plans and valid fixtures conform; each invalid fixture is rejected by the schema
/// exactly when its header says a schema can express its mistake.
#[test]
fn plans_against_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/plan.schema.json")).expect("schema"),
    )
    .expect("JSON");
    let validator = jsonschema::draft7::new(&schema).expect("schema compiles");

    let mut valid = Vec::new();
    for entry in std::fs::read_dir(repo().join("plans"))
        .expect("plans/")
        .filter_map(Result::ok)
    {
        if entry.path().extension().is_some_and(|x| x == "toml") {
            valid.push(entry.path());
        }
    }
    for case in case_dirs(&repo().join("tests/fixtures/plans/valid")) {
        valid.push(case.join("plan.toml"));
    }
    for plan in &valid {
        let text = std::fs::read_to_string(plan).expect("plan");
        assert!(
            text.starts_with("#:schema "),
            "{} has no `#:schema` line",
            plan.display()
        );
        let errors: Vec<String> = validator
            .iter_errors(&toml_as_json(plan))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", plan.display());
    }

    let mut wrong = Vec::new();
    for case in case_dirs(&repo().join("tests/fixtures/plans/invalid")) {
        let plan = case.join("plan.toml");
        let Ok(text) = String::from_utf8(std::fs::read(&plan).expect("plan")) else {
            // Not UTF-8, so not TOML: there is nothing to check against the schema.
            continue;
        };
        let verdict = text
            .lines()
            .find_map(|l| l.strip_prefix("# schema: "))
            .unwrap_or_else(|| panic!("{}: no `# schema:` line", plan.display()));
        if verdict == "n/a" {
            assert!(
                toml::from_str::<toml::Table>(&text).is_err(),
                "{}: n/a is for TOML syntax errors",
                plan.display()
            );
            continue;
        }
        let rejected = !validator.is_valid(&toml_as_json(&plan));
        let expected = match verdict {
            "rejects" => true,
            "accepts" => false,
            other => panic!("{}: unknown schema verdict {other}", plan.display()),
        };
        if rejected != expected {
            wrong.push(format!(
                "{}: schema {} it",
                case.display(),
                if rejected { "rejects" } else { "accepts" }
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
