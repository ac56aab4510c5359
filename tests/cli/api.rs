//! The admin API contract: `schemas/platform-api.openapi.json` is generated from the code, is a
//! valid OpenAPI 3.1 document by a standard validator, and `sandbox serve` honours it under a
//! real HTTP API fuzzer. The Python tools are installed from `tests/python/requirements.lock`.

use std::process::Command;

use crate::support::{TOKEN, TestEnv, python_tools, repo};

#[test]
fn committed_openapi_is_up_to_date() {
    let run = TestEnv::new().run(["schema", "--openapi"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let committed =
        std::fs::read_to_string(repo().join("schemas/platform-api.openapi.json")).expect("openapi");
    assert!(
        run.stdout == committed,
        "schemas/platform-api.openapi.json is stale: run `cargo run -- schema --openapi > schemas/platform-api.openapi.json`"
    );
}

#[test]
fn openapi_is_valid_by_a_standard_validator() {
    let output = Command::new(python_tools().join("openapi-spec-validator"))
        .arg(repo().join("schemas/platform-api.openapi.json"))
        .output()
        .expect("openapi-spec-validator runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && text.contains("OK"), "{text}");
}

/// schemathesis generates requests from the OpenAPI file — valid ones, invalid ones, and
/// sequences — and checks every answer against the contract, with every check on. Capped in
/// cases per operation as well as in time: with schemathesis' default of 100 cases each, a
/// loaded machine spent the whole time budget before it reached the later operations, which it
/// then warned were never answered but with 401/403. A fixed seed makes a failure reproducible.
/// One worker: with two, hypothesis parses source in both threads at once, and CPython 3.11.7
/// then fails now and then with "AST constructor recursion depth mismatch" (a runtime error of
/// the fuzzer's own, not an answer of the server's); one worker still runs every phase in time.
#[test]
fn sandbox_serve_survives_the_api_fuzzer() {
    let env = TestEnv::new().sandbox("demo", 30, "40ms");
    let served = env.serve(&["--max-bulk", "50"]);
    let output = Command::new(python_tools().join("st"))
        .current_dir(env.path())
        .arg("run")
        .arg(repo().join("schemas/platform-api.openapi.json"))
        .args(["--url", &served.url])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--max-time",
            "55",
            "--workers",
            "1",
            "--seed",
            "20261129",
        ])
        .args(["--generation-database", "none"])
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("No issues found"), "{text}");
    // The fuzzer is a careless client (it disconnects configurations with users on them): the
    // sandbox must record what it did, not fall over.
    let inspect = env.inspect();
    assert!(
        inspect["writes"].as_array().is_some_and(|w| !w.is_empty()),
        "the fuzzer's writes are recorded"
    );
}
