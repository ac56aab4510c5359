//! Which plan files a fleet is: files as given, and folders expanded to the `*.toml` files in
//! them and in their direct subfolders (`tenants/acme.toml` and `tenants/acme/plan.toml` both).
//! A file that does not exist is kept: loading it reports it, and the others still run.

use std::path::{Path, PathBuf};

use crate::cli::CommandError;

pub(super) fn expand(given: &[PathBuf]) -> Result<Vec<PathBuf>, CommandError> {
    let mut files = Vec::new();
    for path in given {
        if path.is_dir() {
            let found = in_folder(path)?;
            if found.is_empty() {
                return Err(CommandError::invalid(format!(
                    "{}: no plan files (`*.toml`) in it or its subfolders",
                    path.display()
                )));
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    // The same file named twice (a folder and a file in it) is one plan.
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok(files)
}

/// The folder's `*.toml` files, then each subfolder's, sorted by path; hidden folders (such as
/// `.cutover/`) are not plans.
fn in_folder(dir: &Path) -> Result<Vec<PathBuf>, CommandError> {
    let mut files = tomls(dir)?;
    for sub in entries(dir)? {
        let hidden = sub
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if sub.is_dir() && !hidden {
            files.extend(tomls(&sub)?);
        }
    }
    files.sort();
    Ok(files)
}

fn tomls(dir: &Path) -> Result<Vec<PathBuf>, CommandError> {
    Ok(entries(dir)?
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect())
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, CommandError> {
    let read = std::fs::read_dir(dir)
        .map_err(|e| CommandError::invalid(format!("{}: {e}", dir.display())))?;
    Ok(read.filter_map(Result::ok).map(|e| e.path()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_its_plans_and_its_subfolders_plans_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for file in [
            "b.toml",
            "a.toml",
            "notes.md",
            "acme/plan.toml",
            ".cutover/x.toml",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, "").expect("write");
        }
        let files = expand(&[root.to_path_buf(), root.join("a.toml")]).expect("expand");
        let names: Vec<_> = files
            .iter()
            .map(|f| {
                f.strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a.toml", "acme/plan.toml", "b.toml"]);
        assert!(
            expand(&[root.join("acme/none")]).is_ok(),
            "kept, reported when loaded"
        );
        std::fs::create_dir_all(root.join("empty")).expect("mkdir");
        assert!(expand(&[root.join("empty")]).is_err());
    }
}
