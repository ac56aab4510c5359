//! The dry-runs behind the digests `cutover plan` printed, kept in `.cutover/dry-runs/`, so that
//! `apply --approved` can say what changed since the one the board approved.

use std::path::{Path, PathBuf};

use super::session::plan_dir;

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
/// `snapshot` makes it (its digest is `digest`), only if it is not kept already.
pub(crate) fn save_dry_run(
    path: &Path,
    digest: &str,
    snapshot: impl FnOnce() -> crate::planner::Snapshot,
) {
    let Some(file) = dry_run_file(path, digest) else {
        return;
    };
    if file.exists() || crate::workdir::ensure(&plan_dir(path)).is_err() {
        return;
    }
    if std::fs::create_dir_all(dry_run_dir(path)).is_ok() {
        if let Ok(json) = serde_json::to_vec(&snapshot()) {
            let _ = crate::atomic_file::write(&file, &json);
        }
    }
}

pub(crate) fn load_dry_run(path: &Path, digest: &str) -> Option<crate::planner::Snapshot> {
    let text = std::fs::read(dry_run_file(path, digest)?).ok()?;
    serde_json::from_slice(&text).ok()
}
