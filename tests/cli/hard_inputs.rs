//! Inputs that must never crash, hang or mislead: users files that are not files, plans that
//! never end, and every plan the fuzzer (`fuzz/fuzz_plans.rs`) kept or found failing.
//!
//! Each run here is bounded by construction, not by a clock: the kernel limits its address space
//! and CPU time (`ulimit -v`, `ulimit -t`), so a run that would grow without end or spin is
//! killed and fails its test; and any FIFO a plan names has a writer waiting on its other end, so
//! a cutover that wrongly opened one would read an empty file instead of blocking.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{Run, TestEnv, binary, repo};

/// 1 GiB of address space and 30 s of CPU for one run.
const LIMITS: &str = "ulimit -v 1048576; ulimit -t 30";

/// Runs cutover in `dir` under [`LIMITS`].
fn bounded(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{LIMITS}; exec \"$0\" \"$@\""))
        .arg(binary())
        .args(args)
        .current_dir(dir)
        .env("COLUMNS", "100")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("sh runs cutover");
    Run {
        // Killed by a limit or a signal: no code.
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Makes a FIFO at `path` with a writer that opens it (and closes it at once) as soon as a reader
/// does — so nothing that opens it can block.
fn fifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
    let path = path.to_path_buf();
    // Never joined: if nobody opens the FIFO, the thread waits until the test binary exits.
    std::thread::spawn(move || {
        if let Ok(mut writer) = std::fs::OpenOptions::new().write(true).open(&path) {
            let _ = writer.flush();
        }
    });
}

fn plan_naming(file: &str) -> String {
    std::fs::read_to_string(repo().join("plans/quickstart.toml"))
        .expect("quickstart")
        .replacen(
            "[[batch]]",
            &format!(
                "[[batch]]\nname = \"from-file\"\nusers = {{ file = \"{file}\" }}\n\n[[batch]]"
            ),
            1,
        )
}

/// A users file that is a FIFO, a folder or a device is refused at the plan's `file` key, by
/// what it is, without being opened; one over the limit is refused by its size.
#[test]
fn users_files_that_are_not_files_are_refused_unread() {
    let env = TestEnv::new()
        .file("fifo.toml", &plan_naming("pipe.csv"))
        .file("folder.toml", &plan_naming("folder.csv"))
        .file("folder.csv/README", "a folder\n")
        .file("zero.toml", &plan_naming("/dev/zero"))
        .file("large.toml", &plan_naming("large.csv"));
    fifo(&env.path().join("pipe.csv"));
    // Sparse: 65 MiB long, nothing written.
    std::fs::File::create(env.path().join("large.csv"))
        .and_then(|f| f.set_len(65 << 20))
        .expect("a large file");
    for (plan, message) in [
        (
            "fifo.toml",
            "the user file `pipe.csv` is not a regular file: it is a named pipe (FIFO)",
        ),
        (
            "folder.toml",
            "the user file `folder.csv` is not a regular file: it is a folder",
        ),
        (
            "zero.toml",
            "the user file `/dev/zero` is not a regular file: it is a device",
        ),
        (
            "large.toml",
            "the user file `large.csv` is 65 MiB, more than the 64 MiB a user file may be",
        ),
    ] {
        for format in ["text", "json"] {
            let run = bounded(env.path(), &["validate", "--format", format, plan]);
            assert_eq!(run.code, 2, "{plan}:\n{}", run.transcript());
            let out = if format == "json" {
                &run.stdout
            } else {
                &run.stderr
            };
            assert!(
                out.contains(message),
                "{plan} ({format}):\n{}",
                run.transcript()
            );
            assert!(
                out.contains(&format!("{plan}:")) || format == "json",
                "{plan}: no place"
            );
        }
        let json = bounded(env.path(), &["validate", "--format", "json", plan]).json();
        let diagnostic = &json["plans"][0]["diagnostics"][0];
        assert_eq!(diagnostic["code"], "plan::bad-user-file", "{plan}");
        assert_eq!(diagnostic["file"], plan, "{plan}");
        assert!(
            diagnostic["line"].as_u64() > Some(1),
            "{plan}: {diagnostic}"
        );
    }
}

/// A plan path that never ends (a device) is read no further than the plan size limit.
#[test]
fn a_plan_that_never_ends_is_refused() {
    let env = TestEnv::new();
    let run = bounded(env.path(), &["validate", "/dev/zero"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("larger than 4 MiB"),
        "{}",
        run.transcript()
    );
}

/// A CRLF CSV file and a PowerShell export name the same place in text and JSON.
#[test]
fn crlf_and_exchange_exports() {
    let plan = plan_naming("mailboxes.csv").replace(
        "users = { file = \"mailboxes.csv\" }",
        "users = { file = \"mailboxes.csv\", column = \"PrimarySmtpAddress\" }",
    );
    let csv = "#TYPE Selected.Microsoft.Exchange.Data.Directory.Management.Mailbox\r\n\
               \"DisplayName\",\"UserPrincipalName\",\"PrimarySmtpAddress\"\r\n\
               \"Carl\",\"carl.upn@contoso.example\",\"carl@contoso.example\"\r\n\
               \"Dina\",\"dina.upn@contoso.example\",\"dina.contoso.example\"\r\n";
    let env = TestEnv::new()
        .file("plan.toml", &plan)
        .file("mailboxes.csv", csv);
    let text = bounded(env.path(), &["validate", "plan.toml"]);
    let json = bounded(env.path(), &["validate", "--format", "json", "plan.toml"]).json();
    let d = &json["plans"][0]["diagnostics"][0];
    assert_eq!(d["code"], "plan::bad-email", "{json}");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(4), Some(36)),
        "{d}"
    );
    assert!(
        text.stderr.contains("mailboxes.csv:4:36"),
        "{}",
        text.transcript()
    );
    // Without `column`, the PrimarySmtpAddress column is the default, never UserPrincipalName.
    let env = TestEnv::new()
        .file("plan.toml", &plan_naming("mailboxes.csv"))
        .file(
            "mailboxes.csv",
            &csv.replace("dina.contoso", "dina@contoso"),
        );
    let run = bounded(env.path(), &["validate", "plan.toml"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// The fuzz environment: `fuzz/env/`'s files and a FIFO, in a fresh folder.
fn fuzz_environment() -> TestEnv {
    let env = TestEnv::new();
    copy_tree(&repo().join("fuzz/env"), env.path());
    fifo(&env.path().join("pipe.csv"));
    env
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(from)
        .expect("fuzz/env")
        .filter_map(Result::ok)
    {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn files_in(dir: &Path, name: Option<&str>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    if let Some(name) = name {
        files = files
            .into_iter()
            .map(|d| d.join(name))
            .filter(|p| p.exists())
            .collect();
    }
    files.sort();
    files
}

/// Every plan the fuzzer kept (`fuzz/corpus/`) validates or is refused — exit 0 or 2, never a
/// panic (101) or a limit — and every failure it found (`fuzz/regressions/`) is now refused with
/// a located diagnostic, in text and in JSON.
#[test]
fn fuzz_corpus_and_regressions_replay() {
    let env = fuzz_environment();
    let corpus = files_in(&repo().join("fuzz/corpus"), None);
    let regressions = files_in(&repo().join("fuzz/regressions"), Some("plan.toml"));
    let mut failures = Vec::new();
    for (input, must_be_refused) in corpus
        .iter()
        .map(|p| (p, false))
        .chain(regressions.iter().map(|p| (p, true)))
    {
        std::fs::copy(input, env.path().join("plan.toml")).expect("copy input");
        let formats: &[&str] = if must_be_refused {
            &["text", "json"]
        } else {
            &["text"]
        };
        for format in formats {
            let run = bounded(env.path(), &["validate", "--format", format, "plan.toml"]);
            let refused = run.code == 2
                && if *format == "json" {
                    run.stdout.contains("\"severity\": \"error\"")
                } else {
                    run.stderr.contains("invalid: plan.toml")
                };
            let fine = if must_be_refused {
                refused
            } else {
                run.code == 0 || refused
            };
            if !fine {
                failures.push(format!(
                    "{} ({format}): exit {}\n{}",
                    input.display(),
                    run.code,
                    run.stderr.chars().take(400).collect::<String>()
                ));
            }
        }
    }
    assert!(corpus.len() + regressions.len() > 0, "no fuzz inputs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
