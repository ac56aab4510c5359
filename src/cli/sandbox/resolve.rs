//! Which sandbox file a `sandbox` command means: the path given, or the sandbox a plan's target
//! names (`cutover sandbox deny-access plans/quickstart.toml carl.adams@contoso.example`).

use std::path::{Path, PathBuf};

use crate::cli::CommandError;
use crate::plan::{SandboxRef, TargetSpec, load};
use crate::sandbox::SandboxFile;

/// A sandbox file path, or the sandbox of a plan file.
pub(super) fn resolve(path: &Path) -> Result<PathBuf, CommandError> {
    if path.extension().is_none_or(|x| x != "toml") {
        return Ok(path.to_path_buf());
    }
    let loaded = load(path).map_err(|e| {
        CommandError::failure(format!(
            "{}: {e} (run `cutover validate {}`)",
            path.display(),
            path.display()
        ))
    })?;
    match &loaded.plan.target {
        TargetSpec::Sandbox {
            sandbox: SandboxRef::Scenario(name),
        } => {
            let dir = path.parent().unwrap_or(Path::new(""));
            Ok(crate::sandbox::scenario_path(
                &crate::workdir::path(dir),
                name,
            ))
        }
        TargetSpec::Sandbox {
            sandbox: SandboxRef::File { path, .. },
        } => Ok(path.clone()),
        TargetSpec::Http { .. } => Err(CommandError::failure(format!(
            "the target of {} is not a sandbox",
            path.display()
        ))),
    }
}

/// The sandbox file a command means, open.
pub(super) fn open(path: &Path) -> Result<SandboxFile, CommandError> {
    Ok(SandboxFile::open(&resolve(path)?)?)
}
