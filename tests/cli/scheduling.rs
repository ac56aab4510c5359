//! The scheduler examples in `examples/` run as written: the systemd unit's `ExecStart`,
//! `Environment`, `WorkingDirectory` and `LoadCredential` (with `CREDENTIALS_DIRECTORY` set as
//! systemd sets it), the crontab line, and the CI job's script, each through `sh -c` against
//! `sandbox serve`, with their exit codes judged as the scheduler judges them
//! (`SuccessExitStatus=`, what cron mails, whether the job passes).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Receiver, Served, TOKEN, TestEnv, binary, repo};

/// A machine's root for the examples: their absolute paths land in a temporary folder.
struct Machine {
    root: tempfile::TempDir,
    tenant: TestEnv,
    served: Served,
    hook: Receiver,
}

impl Machine {
    /// A sandbox served over HTTP, the example plan where the examples look for it (its soak
    /// and quiet time cut so the test need not wait), and the secrets where they expect them.
    fn new() -> Self {
        let tenant = TestEnv::new().sandbox("demo", 20, "40ms");
        let served = tenant.serve(&[]);
        let hook = Receiver::start();
        let root = tempfile::tempdir().expect("a temporary folder");
        let machine = Self {
            root,
            tenant,
            served,
            hook,
        };
        let plan = std::fs::read_to_string(repo().join("examples/contoso.toml"))
            .expect("examples/contoso.toml")
            .replace(
                "https://scheduling.contoso.example/api/admin/v1",
                &machine.served.url,
            )
            .replace("soak = \"30m\"", "soak = \"0s\"");
        machine.write("/srv/cutover/examples/contoso.toml", &plan);
        machine.write("/etc/cutover/api-token", &format!("{TOKEN}\n"));
        let webhook = machine.hook.url("workflows/cutover");
        machine.write("/etc/cutover/teams-webhook", &webhook);
        machine.write("/etc/cutover/credentials/cutover-api-token", TOKEN);
        machine.write("/etc/cutover/credentials/cutover-teams-webhook", &webhook);
        for dir in ["/var/lib/cutover", "/srv/cutover-state"] {
            std::fs::create_dir_all(machine.at(dir)).expect("a folder");
        }
        machine
    }

    fn at(&self, absolute: &str) -> PathBuf {
        self.root.path().join(absolute.trim_start_matches('/'))
    }

    fn write(&self, absolute: &str, content: &str) {
        let path = self.at(absolute);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("a folder");
        std::fs::write(path, content).expect("written");
    }

    /// The example's text with its machine paths mapped into this machine.
    fn map(&self, text: &str) -> String {
        let cutover = binary().display().to_string();
        let root = self.root.path().display().to_string();
        text.replace("/usr/local/bin/cutover", &cutover)
            .replace("/srv/", &format!("{root}/srv/"))
            .replace("/var/lib/", &format!("{root}/var/lib/"))
            .replace("/etc/cutover", &format!("{root}/etc/cutover"))
    }

    /// `sh -c script` in `dir`, with `env`; its exit code and output.
    fn sh(&self, script: &str, dir: &Path, env: &[(String, String)]) -> (i32, String) {
        let output = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root.path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code().unwrap_or(-1), text)
    }

    /// The webhook's payload kinds so far.
    fn notified(&self) -> Vec<String> {
        self.hook
            .requests()
            .iter()
            .filter_map(|r| r.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()))
            .filter_map(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
            .map(|card| card.to_string())
            .collect()
    }
}

/// What a scheduler is told by one run: an exit code, and whether the scheduler counts it as
/// success.
trait Scheduler {
    fn run(&self, machine: &Machine) -> (i32, bool, String);
    /// The state file its runs keep, as the example names it.
    fn state(&self) -> String;
}

/// The systemd unit, as systemd would start it.
struct Systemd {
    exec_start: String,
    working_directory: String,
    environment: Vec<(String, String)>,
    credentials: Vec<(String, String)>,
    success: Vec<i32>,
}

impl Systemd {
    fn parse(unit: &str) -> Self {
        let mut systemd = Systemd {
            exec_start: String::new(),
            working_directory: String::new(),
            environment: Vec::new(),
            credentials: Vec::new(),
            success: vec![0],
        };
        for line in unit.lines().map(str::trim) {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "ExecStart" => systemd.exec_start = value.to_owned(),
                "WorkingDirectory" => systemd.working_directory = value.to_owned(),
                "Environment" => {
                    let (name, value) = value.split_once('=').expect("NAME=VALUE");
                    systemd
                        .environment
                        .push((name.to_owned(), value.to_owned()));
                }
                "LoadCredential" => {
                    let (name, path) = value.split_once(':').expect("NAME:PATH");
                    systemd.credentials.push((name.to_owned(), path.to_owned()));
                }
                "SuccessExitStatus" => systemd.success.extend(
                    value
                        .split_whitespace()
                        .map(|c| c.parse::<i32>().expect("a code")),
                ),
                _ => {}
            }
        }
        assert!(!systemd.exec_start.is_empty(), "the unit has an ExecStart");
        systemd
    }
}

impl Scheduler for Systemd {
    fn run(&self, machine: &Machine) -> (i32, bool, String) {
        // systemd copies each LoadCredential= file into the service's credentials folder.
        let credentials = machine.at("/run/credentials/cutover-contoso.service");
        std::fs::create_dir_all(&credentials).expect("credentials");
        for (name, path) in &self.credentials {
            std::fs::copy(machine.map(path), credentials.join(name)).expect("a credential");
        }
        let mut env: Vec<(String, String)> = self
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), machine.map(v)))
            .collect();
        env.push((
            "CREDENTIALS_DIRECTORY".to_owned(),
            credentials.display().to_string(),
        ));
        let dir = PathBuf::from(machine.map(&self.working_directory));
        let (code, output) = machine.sh(&machine.map(&self.exec_start), &dir, &env);
        (code, self.success.contains(&code), output)
    }

    fn state(&self) -> String {
        state_of(&self.environment)
    }
}

/// The crontab line, as cron runs it: its command through `sh -c`; cron mails any output, so
/// "success" is a run that printed nothing.
struct Cron {
    command: String,
}

impl Cron {
    fn parse(crontab: &str) -> Self {
        let line = crontab
            .lines()
            .find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .expect("a crontab line");
        let command = line
            .split_whitespace()
            .skip(5)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(command.contains("cutover"), "{line}");
        Cron { command }
    }
}

impl Scheduler for Cron {
    fn run(&self, machine: &Machine) -> (i32, bool, String) {
        let (code, output) = machine.sh(&machine.map(&self.command), machine.root.path(), &[]);
        (code, code == 0 && output.is_empty(), output)
    }

    fn state(&self) -> String {
        self.command
            .split_whitespace()
            .find_map(|w| w.strip_prefix("out=$(CUTOVER_STATE="))
            .expect("the line sets CUTOVER_STATE")
            .to_owned()
    }
}

/// The CI job, as its runner runs it: the script's lines in one shell that stops at the first
/// failing line, its variables set (file variables point at files).
struct Ci {
    script: Vec<String>,
    variables: Vec<(String, String)>,
}

impl Ci {
    fn parse(pipeline: &str) -> Self {
        let mut script = Vec::new();
        let mut variables = Vec::new();
        let mut section = "";
        for line in pipeline.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            if line.starts_with("  ") && !line.starts_with("    ") {
                section = trimmed.trim_end_matches(':');
                continue;
            }
            match section {
                "script" => {
                    let command = trimmed.strip_prefix("- ").expect("a script line");
                    let command = command
                        .strip_prefix('\'')
                        .and_then(|c| c.strip_suffix('\''))
                        .unwrap_or(command);
                    script.push(command.to_owned());
                }
                "variables" => {
                    let (name, value) = trimmed.split_once(": ").expect("NAME: VALUE");
                    variables.push((name.to_owned(), value.trim_matches('"').to_owned()));
                }
                _ => {}
            }
        }
        assert!(!script.is_empty(), "the job has a script");
        Ci { script, variables }
    }
}

impl Scheduler for Ci {
    fn run(&self, machine: &Machine) -> (i32, bool, String) {
        let mut env: Vec<(String, String)> = self
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), machine.map(v)))
            .collect();
        // The project's file variables: paths to files holding the secrets.
        env.push((
            "CUTOVER_API_TOKEN".to_owned(),
            machine.at("/etc/cutover/api-token").display().to_string(),
        ));
        env.push((
            "CUTOVER_TEAMS_WEBHOOK".to_owned(),
            machine
                .at("/etc/cutover/teams-webhook")
                .display()
                .to_string(),
        ));
        // The job's image has cutover on its PATH.
        let bin = binary();
        let dir = bin.parent().expect("the binary's folder");
        env.push((
            "PATH".to_owned(),
            format!(
                "{}:{}",
                dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ));
        // A runner stops at the first failing line.
        let script = format!("set -e\n{}", self.script.join("\n"));
        let workspace = machine.at("/srv/cutover");
        let (code, output) = machine.sh(&machine.map(&script), &workspace, &env);
        (code, code == 0, output)
    }

    fn state(&self) -> String {
        state_of(&self.variables)
    }
}

fn example(name: &str) -> String {
    std::fs::read_to_string(repo().join("examples").join(name)).expect("an example")
}

/// Where a scheduler's runs keep their state (its `CUTOVER_STATE`).
fn state_of(env: &[(String, String)]) -> String {
    env.iter()
        .find(|(k, _)| k == "CUTOVER_STATE")
        .map(|(_, v)| v.clone())
        .expect("the example sets CUTOVER_STATE")
}

impl Machine {
    /// `cutover status` from the state alone: the code the last run ended with, brought up to
    /// date — what a monitor would see.
    fn status(&self, state: &str) -> i32 {
        let output = Command::new(binary())
            .args([
                "status",
                "examples/contoso.toml",
                "--state",
                &self.map(state),
            ])
            .current_dir(self.at("/srv/cutover"))
            .output()
            .expect("status runs");
        output.status.code().unwrap_or(-1)
    }

    /// `cutover approve`, as the change board does it: a step, or (`--digest D`) the dry-run.
    fn approve(&self, state: &str, what: &[&str]) {
        let output = Command::new(binary())
            .arg("approve")
            .arg("examples/contoso.toml")
            .args(what)
            .args(["--state", &self.map(state)])
            .current_dir(self.at("/srv/cutover"))
            .env("CREDENTIALS_DIRECTORY", self.at("/etc/cutover/credentials"))
            .output()
            .expect("approve runs");
        assert!(output.status.success(), "{output:?}");
    }

    /// The digest `cutover status` says the rollout waits for an approval of.
    fn awaited_digest(&self, state: &str) -> String {
        let output = Command::new(binary())
            .args(["status", "examples/contoso.toml", "--format", "json"])
            .args(["--state", &self.map(state)])
            .current_dir(self.at("/srv/cutover"))
            .output()
            .expect("status runs");
        let status: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("status as JSON");
        let line = status["line"].as_str().unwrap_or_default();
        let digest = line
            .split_whitespace()
            .find(|w| w.starts_with("sha256:"))
            .map(|w| w.trim_end_matches(':').to_owned());
        digest.unwrap_or_else(|| panic!("status names the digest to approve: {status}"))
    }
}

/// Runs the scheduler again and again, as a timer would, until the rollout stops waiting for
/// syncs; each run's code, what `status` says of it, and whether the scheduler counted it a
/// success.
fn until_settled(scheduler: &dyn Scheduler, machine: &Machine) -> (i32, bool, String) {
    for _ in 0..100 {
        let (code, success, output) = scheduler.run(machine);
        let status = machine.status(&scheduler.state());
        if status != 4 {
            return (status, success, output + &format!("\n(exit {code})"));
        }
        assert!(success, "a wait for syncs is a normal end: {output}");
        std::thread::sleep(std::time::Duration::from_millis(40));
    }
    panic!("the rollout kept waiting for syncs");
}

/// A wait for a person is a normal end of a scheduled run; a halt is a failure.
fn a_wait_passes_and_a_halt_fails(scheduler: &dyn Scheduler) {
    let machine = Machine::new();
    // Nothing changes until the board approves the dry-run it reviewed.
    let (status, success, output) = until_settled(scheduler, &machine);
    assert_eq!(status, 6, "the first change waits for the digest: {output}");
    assert!(success, "a wait for a person is a normal end: {output}");
    assert!(
        machine.tenant.inspect()["writes"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "nothing was written before the approval"
    );
    let digest = machine.awaited_digest(&scheduler.state());
    machine.approve(&scheduler.state(), &["--digest", &digest]);

    let (status, success, output) = until_settled(scheduler, &machine);
    assert_eq!(status, 6, "east waits for its approval: {output}");
    assert!(success, "a wait for a person is a normal end: {output}");
    assert!(
        machine.notified().iter().any(|n| n.contains("east")),
        "the person was told: {:?}",
        machine.notified()
    );

    // The board approves east, but one of its mailboxes is outside the access policy.
    let east = "carl.adams@contoso.example";
    assert_eq!(
        machine
            .tenant
            .run(["sandbox", "deny-access", "tenant.db", east])
            .code,
        0
    );
    machine.approve(&scheduler.state(), &["east"]);
    let (status, success, output) = until_settled(scheduler, &machine);
    assert_eq!(status, 3, "east halted: {output}");
    assert!(!success, "a halt fails the scheduled run: {output}");
    assert!(output.contains(east), "the output names the user: {output}");
}

#[test]
fn the_systemd_unit_runs_as_written() {
    let unit = Systemd::parse(&example("systemd/cutover-contoso.service"));
    assert_eq!(unit.success, [0, 4, 6]);
    assert!(
        example("systemd/cutover-contoso.timer").contains("OnCalendar="),
        "the timer schedules it"
    );
    a_wait_passes_and_a_halt_fails(&unit);
}

#[test]
fn the_crontab_line_runs_as_written() {
    a_wait_passes_and_a_halt_fails(&Cron::parse(&example("cron/crontab")));
}

#[test]
fn the_ci_job_runs_as_written() {
    a_wait_passes_and_a_halt_fails(&Ci::parse(&example("ci/.gitlab-ci.yml")));
}
