//! `<plan dir>/.cutover/`: where a plan's state and scenario sandboxes live by default.
//!
//! The folder holds email addresses, so cutover writes a `.gitignore` into it (`*`) the first
//! time it creates it: a plan's folder is usually a git checkout, and this must not be committed.

use std::io;
use std::path::{Path, PathBuf};

pub(crate) const DIR_NAME: &str = ".cutover";

/// The working folder for plans in `plan_dir`.
pub(crate) fn path(plan_dir: &Path) -> PathBuf {
    plan_dir.join(DIR_NAME)
}

/// Creates the working folder (and its `.gitignore`) if needed, and returns it.
pub(crate) fn ensure(plan_dir: &Path) -> io::Result<PathBuf> {
    let dir = path(plan_dir);
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        crate::atomic_file::write(
            &ignore,
            b"# Written by cutover: this folder holds email addresses and rollout state.\n*\n",
        )?;
    }
    Ok(dir)
}
