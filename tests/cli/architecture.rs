//! The house's shape, checked so it cannot drift: arrows that point down, errors that are types,
//! and no source file too long to hold one concept (ARCHITECTURE.md says why).

use std::path::{Path, PathBuf};

use crate::support::repo;

/// The most lines a source file may have.
const LONGEST: usize = 800;

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn the_engine_and_the_plan_import_nothing_above_them() {
    let rules = [
        ("src/engine", "crate::report"),
        ("src/engine", "crate::cli"),
        ("src/plan", "crate::oauth"),
        ("src/plan", "crate::engine"),
        ("src/planner", "crate::engine"),
        ("src/state", "crate::engine"),
        ("src/target", "crate::engine"),
    ];
    let mut broken = Vec::new();
    for (dir, forbidden) in rules {
        for file in sources(&repo().join(dir)) {
            if read(&file).contains(forbidden) {
                broken.push(format!("{} uses {forbidden}", relative(&file)));
            }
        }
    }
    assert!(broken.is_empty(), "arrows pointing up: {broken:#?}");
}

#[test]
fn errors_are_types_not_strings() {
    let mut broken = Vec::new();
    for file in sources(&repo().join("src")) {
        let text = read(&file);
        // A signature may span lines: look at each `Result<` up to its closing `>`.
        for (at, _) in text.match_indices("Result<") {
            let rest = &text[at..];
            let Some(end) = rest.find(['{', ';', '=']) else {
                continue;
            };
            let span: String = rest[..end].split_whitespace().collect();
            if span.contains(",String>") && !span.contains("Map<String") {
                let line = text[..at].lines().count() + 1;
                broken.push(format!("{}:{line}: {span}", relative(&file)));
            }
        }
    }
    assert!(broken.is_empty(), "Result<_, String> in: {broken:#?}");
}

#[test]
fn no_source_file_is_too_long_to_hold_one_concept() {
    let long: Vec<String> = sources(&repo().join("src"))
        .into_iter()
        .filter_map(|file| {
            let lines = read(&file).lines().count();
            (lines > LONGEST).then(|| format!("{}: {lines} lines", relative(&file)))
        })
        .collect();
    assert!(long.is_empty(), "over {LONGEST} lines: {long:#?}");
}

#[test]
fn settings_travel_as_values_not_globals() {
    let mut broken = Vec::new();
    for file in sources(&repo().join("src")) {
        for (n, line) in read(&file).lines().enumerate() {
            let code = line.trim_start();
            let global = code.starts_with("static mut ")
                || (code.starts_with("static ") || code.starts_with("pub(crate) static "))
                    && ["Mutex<", "RwLock<", "OnceLock<", "Cell<"]
                        .iter()
                        .any(|t| code.contains(t));
            if global {
                broken.push(format!("{}:{}: {code}", relative(&file), n + 1));
            }
        }
    }
    assert!(broken.is_empty(), "process-wide mutable state: {broken:#?}");
}
