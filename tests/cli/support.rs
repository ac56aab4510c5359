//! A small builder for running cutover as a user would: a temporary folder with plan files in
//! it, the real binary, captured output.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The repository root, where `plans/`, `schemas/` and `tests/fixtures/` live.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The folder of a test scenario: `plan.toml` and the files it names, beside it.
pub fn fixture_dir(case: &str) -> PathBuf {
    repo().join("tests/fixtures/plans/cases").join(case)
}

/// A scenario's plan with each `{name}` in it replaced by its value (a server's URL, a size).
/// The names given must be exactly the ones the plan has: a test and a fixture that drifted
/// apart would otherwise run some other plan than the one the test means.
pub fn fixture_plan(case: &str, values: &[(&str, &str)]) -> String {
    let path = fixture_dir(case).join("plan.toml");
    let mut plan =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let wanted: BTreeSet<&str> = placeholders(&plan).collect();
    let given: BTreeSet<&str> = values.iter().map(|(name, _)| *name).collect();
    assert_eq!(wanted, given, "{}: placeholders", path.display());
    for (name, value) in values {
        plan = plan.replace(&format!("{{{name}}}"), value);
    }
    plan
}

/// The `{name}` placeholders in a fixture. TOML's own braces hold spaces or `=`, never just a
/// lowercase name, so they are not mistaken for one.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|rest| {
        let (name, _) = rest.split_once('}')?;
        let is_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        is_name.then_some(name)
    })
}

/// What one run of cutover did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn transcript(&self) -> String {
        format!(
            "exit code: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.transcript()))
    }
}

/// A folder to run cutover in.
pub struct TestEnv {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
            env: Vec::new(),
        }
    }

    /// Writes a file (creating folders) relative to the test folder.
    pub fn file(self, name: &str, content: &str) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(&path, content).expect("write file");
        self
    }

    /// Copies a scenario into the test folder: its `plan.toml` (which must have no placeholders)
    /// and every file beside it.
    pub fn fixture(self, case: &str) -> Self {
        let plan = fixture_plan(case, &[]);
        let dir = fixture_dir(case);
        let env = self.file("plan.toml", &plan);
        for entry in std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
        {
            let name = entry.file_name();
            if entry.path().is_file() && name != "plan.toml" {
                std::fs::copy(entry.path(), env.path().join(&name)).expect("copy fixture file");
            }
        }
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets an environment variable for every later run (such as the test clock's shift).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Creates `tenant.db` from a scenario, syncing every `interval` (such as `50ms`).
    pub fn sandbox(self, scenario: &str, users: usize, interval: &str) -> Self {
        let run = self.run([
            "sandbox",
            "init",
            "tenant.db",
            "--scenario",
            scenario,
            "--users",
            &users.to_string(),
            "--sync-interval",
            interval,
        ]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        self
    }

    /// `cutover sandbox inspect tenant.db --format json`.
    pub fn inspect(&self) -> serde_json::Value {
        let run = self.run(["sandbox", "inspect", "tenant.db", "--format", "json"]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        run.json()
    }

    /// Starts cutover without waiting for it.
    pub fn spawn<I, S>(&self, args: I) -> std::process::Child
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        command(self.dir.path(), args, &self.env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cutover starts")
    }

    /// Runs cutover in the test folder.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        run_in(self.dir.path(), args, &self.env)
    }
}

/// Runs cutover with `cwd` as its working folder, no terminal, no colour, 100 columns.
pub fn run_in<I, S>(cwd: &Path, args: I, env: &[(String, String)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = command(cwd, args, env).output().expect("cutover runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn command<I, S>(cwd: &Path, args: I, env: &[(String, String)]) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env_remove("CUTOVER_STATE")
        .env_remove("CUTOVER_TEST_CLOCK_SHIFT")
        .env("COLUMNS", "100")
        .env("USER", "tester")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cutover"))
}

/// The folders directly under `dir`, sorted.
pub fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// A TOML file as JSON, for checking it against the JSON Schema.
pub fn toml_as_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read plan");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `cutover sandbox serve` running in the background; stopped when dropped.
pub struct Served {
    child: std::process::Child,
    pub url: String,
    /// The rest of its output, after the address line: the summary it prints when it stops.
    stdout: Option<std::io::BufReader<std::process::ChildStdout>>,
}

impl Served {
    /// Stops it as an operator would (SIGTERM) and returns the summary it prints: what it
    /// served, throttled, failed and dropped.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let stopped = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(stopped.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let _ = self.child.wait();
        let mut rest = String::new();
        if let Some(mut stdout) = self.stdout.take() {
            stdout.read_to_string(&mut rest).expect("the summary");
        }
        rest
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token tests give `sandbox serve` and the plans that talk to it.
pub const TOKEN: &str = "test-token-do-not-print-0c1d";

impl TestEnv {
    /// Serves `tenant.db` over the admin API on a free loopback port, with extra flags (faults).
    pub fn serve(&self, flags: &[&str]) -> Served {
        use std::io::BufRead;
        let mut args = vec!["sandbox", "serve", "tenant.db", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        let mut env = self.env.clone();
        env.push(("CUTOVER_SANDBOX_TOKEN".to_owned(), TOKEN.to_owned()));
        let mut child = command(self.dir.path(), args, &env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sandbox serve starts");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the address line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Served {
            child,
            url,
            stdout: Some(stdout),
        }
    }
}

/// A Python environment with the pinned tools, made once per test run (under `target/`).
pub fn python_tools() -> &'static Path {
    static TOOLS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TOOLS.get_or_init(|| {
        let lock = repo().join("tests/python/requirements.lock");
        let lock_text = std::fs::read_to_string(&lock).expect("tests/python/requirements.lock");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| repo().join("target"), PathBuf::from);
        let venv = target.join("python-tools");
        let marker = venv.join("installed-from.lock");
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(lock_text.as_str()) {
            let _ = std::fs::remove_dir_all(&venv);
            let status = std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 runs");
            assert!(status.success(), "python3 -m venv failed");
            let status = std::process::Command::new(venv.join("bin/pip"))
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

/// A webhook receiver on loopback: answers 200 to every request, keeps each (path and body).
pub struct Receiver {
    pub port: u16,
    got: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let keep = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let request = read_request(&mut stream);
                keep.lock().expect("lock").push(request);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        });
        Self { port, got }
    }

    /// Its URL, with `path` (a webhook's secret part).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.got.lock().expect("lock").clone()
    }
}

/// One HTTP/1.1 request, head and body (by its content-length).
fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
