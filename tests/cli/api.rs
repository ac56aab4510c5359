//! The admin API contract: `schemas/platform-api.openapi.json` is generated from the code, is a
//! valid OpenAPI 3.1 document by a standard validator, and `sandbox serve` honours it under a
//! real HTTP API fuzzer. The Python tools are installed from `tests/python/requirements.lock`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{TOKEN, TestEnv, repo};

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

/// A Python environment with the pinned tools, made once per test run (under `target/`).
fn python_tools() -> &'static Path {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let lock = repo().join("tests/python/requirements.lock");
        let lock_text = std::fs::read_to_string(&lock).expect("tests/python/requirements.lock");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| repo().join("target"), PathBuf::from);
        let venv = target.join("python-tools");
        let marker = venv.join("installed-from.lock");
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(lock_text.as_str()) {
            let _ = std::fs::remove_dir_all(&venv);
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 runs");
            assert!(status.success(), "python3 -m venv failed");
            let status = Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-r",
                ])
                .arg(&lock)
                .status()
                .expect("pip runs");
            assert!(
                status.success(),
                "installing tests/python/requirements.lock failed"
            );
            std::fs::write(&marker, &lock_text).expect("marker");
        }
        venv.join("bin")
    })
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
/// time; a fixed seed makes a failure reproducible.
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
            "--max-time",
            "45",
            "--workers",
            "2",
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
