//! What most commands need first: the plan, its state file, its target.

use std::path::{Path, PathBuf};

use crate::clock::Clock;
use crate::http_target::HttpTarget;
use crate::plan::{Plan, SandboxRef, TargetSpec};
use crate::platform::Platform;
use crate::sandbox::SandboxTarget;
use crate::state::{RunState, Store, StoreError};

use super::Output;

/// Loads a plan for a command that needs a valid one; on failure prints the diagnostics as
/// `validate` would and returns `None` (the caller exits 2).
pub(crate) fn load_or_report(path: &Path, out: &Output) -> Option<Plan> {
    match crate::plan::load(path) {
        Ok(loaded) => {
            super::validate::print_diagnostics(&loaded.warnings, out);
            Some(loaded.plan)
        }
        Err(crate::plan::LoadError::Invalid { diagnostics }) => {
            super::validate::print_diagnostics(&diagnostics, out);
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            out.stderr(&format!(
                "invalid: {}: {errors} error(s); nothing was done\n",
                path.display()
            ));
            None
        }
        Err(e) => {
            out.stderr(&format!("error: {e}\n"));
            None
        }
    }
}

/// Where a plan file's folder is, for relative paths and `.cutover/`.
pub(crate) fn plan_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The plan's state file: `--state`, else `CUTOVER_STATE` (clap reads both into `flag`), else
/// `<plan dir>/.cutover/<name>.state.db`.
pub(crate) fn state_path(plan: &Plan, path: &Path, flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None => crate::workdir::path(&plan_dir(path)).join(format!("{}.state.db", plan.name)),
    }
}

/// Opens (creating if needed) the plan's state file. The default location gets its
/// `.gitignore`.
pub(crate) fn open_store(
    plan: &Plan,
    path: &Path,
    flag: Option<&Path>,
) -> Result<Store, StoreError> {
    let state = state_path(plan, path, flag);
    if flag.is_none() {
        crate::workdir::ensure(&plan_dir(path)).map_err(|source| StoreError::Io {
            path: state.clone(),
            source,
        })?;
    }
    Store::open_or_create(&state, plan.name.as_str())
}

/// The stored state, without creating anything: a plan that never ran has an empty one.
pub(crate) fn read_state(
    plan: &Plan,
    path: &Path,
    flag: Option<&Path>,
) -> Result<RunState, StoreError> {
    let state = state_path(plan, path, flag);
    if !state.exists() {
        return Ok(RunState::default());
    }
    Store::open(&state, plan.name.as_str())?.load()
}

/// A plan's target, opened, with words for it.
pub(crate) struct OpenedTarget {
    pub(crate) target: Platform,
    pub(crate) description: String,
}

/// Set once, at start.
pub(crate) static TARGET_OPTIONS: std::sync::OnceLock<TargetOptions> = std::sync::OnceLock::new();

/// How the `http` target may talk to the platform, from the global command-line options.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TargetOptions {
    /// `--allow-insecure-http`: plain http to a host that is not loopback.
    pub(crate) allow_insecure_http: bool,
    /// `--max-concurrency`: the most requests in flight at once.
    pub(crate) max_concurrency: Option<usize>,
}

/// Opens the platform a plan names. A scenario sandbox is created on first use.
pub(crate) fn open_target(plan: &Plan, path: &Path, clock: Clock) -> Result<OpenedTarget, String> {
    let dir = plan_dir(path);
    let (target, description) = match &plan.target {
        TargetSpec::Sandbox {
            sandbox: SandboxRef::Scenario(name),
        } => {
            let workdir = crate::workdir::path(&dir);
            let target =
                SandboxTarget::scenario(&workdir, name, clock).map_err(|e| e.to_string())?;
            let file = crate::sandbox::scenario_path(&workdir, name);
            (
                Platform::Sandbox(target),
                format!("sandbox {name:?} ({})", file.display()),
            )
        }
        TargetSpec::Sandbox {
            sandbox:
                SandboxRef::File {
                    path: file,
                    written,
                },
        } => {
            let target = SandboxTarget::open(file, clock).map_err(|e| e.to_string())?;
            (Platform::Sandbox(target), format!("sandbox file {written}"))
        }
        TargetSpec::Http { url, auth } => {
            let options = TARGET_OPTIONS.get().copied().unwrap_or_default();
            let target = HttpTarget::new(url, auth, options.allow_insecure_http)
                .map_err(|e| e.to_string())?;
            if let Some(max) = options.max_concurrency {
                target.limit_concurrency(max);
            }
            (Platform::Http(target), format!("the platform API at {url}"))
        }
    };
    Ok(OpenedTarget {
        target,
        description,
    })
}

/// Runs a future on a single-threaded runtime: cutover's concurrency is I/O, not CPU.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(future))
}

/// Where `plan` keeps the snapshots behind the digests it printed, so `apply --approved` can say
/// what changed since.
pub(crate) fn dry_run_dir(path: &Path) -> PathBuf {
    crate::workdir::path(&plan_dir(path)).join("dry-runs")
}

fn dry_run_file(path: &Path, digest: &str) -> Option<PathBuf> {
    let hex = digest.strip_prefix("sha256:")?;
    hex.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| dry_run_dir(path).join(format!("{hex}.json")))
}

/// Keeps the snapshot behind a dry-run's digest (best effort: the dry-run itself matters more).
pub(crate) fn save_dry_run(path: &Path, snapshot: &crate::planner::Snapshot) {
    let Some(file) = dry_run_file(path, &snapshot.digest()) else {
        return;
    };
    if file.exists() || crate::workdir::ensure(&plan_dir(path)).is_err() {
        return;
    }
    if std::fs::create_dir_all(dry_run_dir(path)).is_ok() {
        if let Ok(json) = serde_json::to_vec(snapshot) {
            let _ = crate::atomic_file::write(&file, &json);
        }
    }
}

pub(crate) fn load_dry_run(path: &Path, digest: &str) -> Option<crate::planner::Snapshot> {
    let text = std::fs::read(dry_run_file(path, digest)?).ok()?;
    serde_json::from_slice(&text).ok()
}
