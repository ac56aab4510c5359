//! Where the plan a run executes comes from: its git commit, and whether the plan file (and the
//! CSV user files it names) are exactly as committed. Each run records this in the audit trail;
//! `apply --require-clean-git` (or `[change_control] require_clean_git`) refuses to run a plan
//! that is not ([`Provenance::require_clean`]).
//!
//! `git` runs as a subprocess, read-only (`rev-parse`, `status --no-optional-locks`), with an
//! environment holding only `PATH` and `HOME`: no `GIT_DIR`, `GIT_INDEX_FILE` or the like from
//! whoever started cutover can make it look at another repository, and its messages are in
//! English. No `git` on the host is not an error here: the provenance says `unknown` and why;
//! only a run that requires a clean plan refuses then. What a run does with this is the
//! command line's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

/// The plan's place in git, as one run found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Provenance {
    pub(crate) state: GitState,
    /// The commit checked out (`HEAD`), when there is a repository with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) commit: Option<String>,
    /// The plan file's path inside the repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) path: Option<String>,
    /// The files that are not as committed, each with how (paths inside the repository).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) uncommitted: Vec<FileStatus>,
    /// Why the state is `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GitState {
    /// The plan file and its user files are committed and unchanged.
    Clean,
    /// At least one of them has uncommitted changes, or is untracked or ignored.
    Uncommitted,
    /// The plan is not inside a git repository.
    NotARepository,
    /// git could not tell (not installed, or it refused the repository).
    Unknown,
}

/// A file that is not as committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FileStatus {
    pub(crate) path: String,
    /// `modified`, `added` (staged, never committed), `deleted`, `renamed`, `conflicted`,
    /// `untracked` or `ignored`.
    pub(crate) status: &'static str,
}

/// Why a plan that must be committed may not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotClean {
    #[error("{plan} is not as committed to git: {}", list(.files))]
    Uncommitted {
        plan: String,
        files: Vec<FileStatus>,
    },
    #[error("{plan} is not in a git repository")]
    NotARepository { plan: String },
    #[error("cannot tell whether {plan} is committed to git: {reason}")]
    Unknown { plan: String, reason: String },
}

fn list(files: &[FileStatus]) -> String {
    files
        .iter()
        .map(|f| format!("{} is {}", f.path, f.status))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Provenance {
    /// Reads where `plan` (and `files`, the CSV user files it names) stand in the git
    /// repository around the plan's folder.
    pub(crate) fn of(plan: &Path, files: &[PathBuf]) -> Self {
        probe(&Git::system(), plan, files)
    }

    /// Nothing is as committed? Then the plan may not run.
    pub(crate) fn require_clean(&self, plan: &Path) -> Result<(), NotClean> {
        let plan = plan.display().to_string();
        match self.state {
            GitState::Clean => Ok(()),
            GitState::Uncommitted => Err(NotClean::Uncommitted {
                plan,
                files: self.uncommitted.clone(),
            }),
            GitState::NotARepository => Err(NotClean::NotARepository { plan }),
            GitState::Unknown => Err(NotClean::Unknown {
                plan,
                reason: self.reason.clone().unwrap_or_default(),
            }),
        }
    }

    fn unknown(reason: impl Into<String>) -> Self {
        Self {
            state: GitState::Unknown,
            commit: None,
            path: None,
            uncommitted: Vec::new(),
            reason: Some(reason.into()),
        }
    }
}

/// How `git` is run: which program, with which `PATH`.
struct Git {
    program: PathBuf,
    path: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
}

/// Why git could not be run at all.
#[derive(Debug, thiserror::Error)]
enum GitUnavailable {
    #[error("git is not installed (no `git` program on PATH)")]
    NotInstalled,
    #[error("git could not be started: {0}")]
    CannotStart(#[source] std::io::Error),
}

/// What running git gave.
enum Ran {
    Ok(String),
    Failed(String),
}

impl Git {
    fn system() -> Self {
        Self {
            program: PathBuf::from("git"),
            path: std::env::var_os("PATH"),
            home: std::env::var_os("HOME"),
        }
    }

    /// Runs `git -C dir <args>`; `Err` only when git could not be started.
    fn run(&self, dir: &Path, args: &[&std::ffi::OsStr]) -> Result<Ran, GitUnavailable> {
        let mut command = Command::new(&self.program);
        command
            .arg("-C")
            .arg(dir)
            .args(args)
            .env_clear()
            .stdin(Stdio::null());
        if let Some(path) = &self.path {
            command.env("PATH", path);
        }
        if let Some(home) = &self.home {
            command.env("HOME", home);
        }
        match command.output() {
            Ok(output) if output.status.success() => Ok(Ran::Ok(
                String::from_utf8_lossy(&output.stdout).into_owned(),
            )),
            Ok(output) => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                Ok(Ran::Failed(first.trim().to_owned()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(GitUnavailable::NotInstalled),
            Err(e) => Err(GitUnavailable::CannotStart(e)),
        }
    }
}

fn probe(git: &Git, plan: &Path, files: &[PathBuf]) -> Provenance {
    let dir = plan
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = plan.file_name().unwrap_or(plan.as_os_str());
    let arg = |s: &'static str| std::ffi::OsStr::new(s);
    let prefix = match git.run(dir, &[arg("rev-parse"), arg("--show-prefix")]) {
        Err(reason) => return Provenance::unknown(reason.to_string()),
        Ok(Ran::Failed(message)) if message.contains("not a git repository") => {
            return Provenance {
                state: GitState::NotARepository,
                commit: None,
                path: None,
                uncommitted: Vec::new(),
                reason: None,
            };
        }
        Ok(Ran::Failed(message)) => return Provenance::unknown(format!("git: {message}")),
        Ok(Ran::Ok(prefix)) => prefix.trim_end_matches(['\n', '\r']).to_owned(),
    };
    let commit = match git.run(
        dir,
        &[
            arg("rev-parse"),
            arg("--verify"),
            arg("--quiet"),
            arg("HEAD^{commit}"),
        ],
    ) {
        Ok(Ran::Ok(hash)) => Some(hash.trim().to_owned()).filter(|h| !h.is_empty()),
        _ => None,
    };
    // Paths other than the plan's own are given absolute: git reads a relative one against
    // `dir`, not against where cutover runs.
    let others: Vec<PathBuf> = files
        .iter()
        .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
        .collect();
    // `--no-optional-locks`: a status that refreshes the index would write it.
    let mut args: Vec<&std::ffi::OsStr> = [
        "--no-optional-locks",
        "status",
        "--porcelain=v1",
        "-z",
        "--ignored=matching",
        "--untracked-files=all",
        "--",
    ]
    .into_iter()
    .map(arg)
    .collect();
    args.push(name);
    args.extend(others.iter().map(|p| p.as_os_str()));
    let status = match git.run(dir, &args) {
        Err(reason) => return Provenance::unknown(reason.to_string()),
        Ok(Ran::Failed(message)) => return Provenance::unknown(format!("git: {message}")),
        Ok(Ran::Ok(out)) => out,
    };
    let mut uncommitted = parse_status(&status);
    if commit.is_none() && uncommitted.is_empty() {
        // A repository without a commit has nothing committed, whatever status says.
        uncommitted.push(FileStatus {
            path: format!("{prefix}{}", name.to_string_lossy()),
            status: "untracked",
        });
    }
    Provenance {
        state: if uncommitted.is_empty() {
            GitState::Clean
        } else {
            GitState::Uncommitted
        },
        commit,
        path: Some(format!("{prefix}{}", name.to_string_lossy())),
        uncommitted,
        reason: None,
    }
}

/// `git status --porcelain=v1 -z` entries: `XY path`, NUL-terminated; a rename or copy is
/// followed by its source path as one more field.
fn parse_status(out: &str) -> Vec<FileStatus> {
    let mut files = Vec::new();
    let mut fields = out.split('\0').filter(|f| !f.is_empty());
    while let Some(entry) = fields.next() {
        let (Some(code), Some(path)) = (entry.get(..2), entry.get(3..)) else {
            continue;
        };
        let (x, y) = (code.as_bytes()[0], code.as_bytes()[1]);
        if matches!(x, b'R' | b'C') {
            fields.next();
        }
        let status = match (x, y) {
            (b'?', b'?') => "untracked",
            (b'!', b'!') => "ignored",
            (b'U', _) | (_, b'U') | (b'A', b'A') | (b'D', b'D') => "conflicted",
            (b'A', _) => "added",
            (b'D', _) | (_, b'D') => "deleted",
            (b'R' | b'C', _) => "renamed",
            _ => "modified",
        };
        files.push(FileStatus {
            path: path.to_owned(),
            status,
        });
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_say_how_each_file_differs_from_the_commit() {
        let out = " M plans/p.toml\0?? plans/east.csv\0!! plans/west.csv\0A  new.toml\0R  b.csv\0a.csv\0MM both.toml\0UU c.toml\0 D gone.csv\0";
        let seen: Vec<(String, &str)> = parse_status(out)
            .into_iter()
            .map(|f| (f.path, f.status))
            .collect();
        let expected = [
            ("plans/p.toml", "modified"),
            ("plans/east.csv", "untracked"),
            ("plans/west.csv", "ignored"),
            ("new.toml", "added"),
            ("b.csv", "renamed"),
            ("both.toml", "modified"),
            ("c.toml", "conflicted"),
            ("gone.csv", "deleted"),
        ];
        assert_eq!(
            seen,
            expected
                .iter()
                .map(|(p, s)| ((*p).to_owned(), *s))
                .collect::<Vec<_>>()
        );
        assert!(parse_status("").is_empty());
    }

    #[test]
    fn without_git_the_provenance_is_unknown_and_a_clean_plan_cannot_be_required() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let plan = dir.path().join("plan.toml");
        std::fs::write(&plan, "version = 1\n").expect("written");
        let missing = Git {
            program: dir.path().join("no-such-git"),
            path: None,
            home: None,
        };
        let provenance = probe(&missing, &plan, &[]);
        assert_eq!(provenance.state, GitState::Unknown);
        assert_eq!(
            provenance.reason.as_deref(),
            Some("git is not installed (no `git` program on PATH)")
        );
        let refused = provenance
            .require_clean(Path::new("plan.toml"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            refused.as_deref(),
            Some(
                "cannot tell whether plan.toml is committed to git: git is not installed (no `git` program on PATH)"
            )
        );
        assert_eq!(
            serde_json::to_value(&provenance).ok(),
            Some(serde_json::json!({
                "state": "unknown",
                "reason": "git is not installed (no `git` program on PATH)"
            }))
        );
    }

    /// The real git: outside a repository, then untracked, committed, modified. Needs `git`
    /// (it fails, not skips, without it).
    #[test]
    fn a_plan_is_clean_only_when_it_and_its_user_files_are_committed() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path();
        let plans = root.join("plans");
        std::fs::create_dir_all(&plans).expect("created");
        let plan = plans.join("p.toml");
        let csv = plans.join("east.csv");
        std::fs::write(&plan, "version = 1\n").expect("written");
        std::fs::write(&csv, "email\nana@contoso.example\n").expect("written");
        let of = || Provenance::of(&plan, std::slice::from_ref(&csv));
        assert_eq!(of().state, GitState::NotARepository);

        let git = |args: &[&str]| {
            let status = Command::new("git")
                .arg("-C")
                .arg(root)
                .args(["-c", "user.name=T", "-c", "user.email=t@example.org"])
                .args(args)
                .stdout(Stdio::null())
                .status()
                .expect("git runs");
            assert!(status.success(), "git {args:?}");
        };
        git(&["init", "-q"]);
        let fresh = of();
        assert_eq!(fresh.state, GitState::Uncommitted);
        assert_eq!(fresh.commit, None);
        assert_eq!(fresh.path.as_deref(), Some("plans/p.toml"));

        git(&["add", "plans/p.toml"]);
        git(&["commit", "-q", "-m", "the plan"]);
        let csv_untracked = of();
        assert_eq!(
            csv_untracked.uncommitted,
            [FileStatus {
                path: "plans/east.csv".into(),
                status: "untracked"
            }]
        );
        git(&["add", "plans/east.csv"]);
        git(&["commit", "-q", "-m", "its users"]);
        let clean = of();
        assert_eq!(clean.state, GitState::Clean, "{clean:?}");
        assert!(clean.commit.as_ref().is_some_and(|c| c.len() >= 40));
        assert!(clean.require_clean(&plan).is_ok());

        std::fs::write(&plan, "version = 1\n# edited\n").expect("written");
        let dirty = of();
        assert_eq!(dirty.state, GitState::Uncommitted);
        assert_eq!(dirty.commit, clean.commit);
        assert_eq!(
            dirty
                .require_clean(Path::new("plans/p.toml"))
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("plans/p.toml is not as committed to git: plans/p.toml is modified")
        );
    }
}
