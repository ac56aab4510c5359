//! `cutover completions SHELL` and `cutover man`: shell completion scripts and manual pages,
//! generated from the same clap definition the command line parses with, so neither can drift
//! from it.

use std::path::Path;

use clap::CommandFactory;

use crate::exit_code::Exit;

use super::args::Cli;
use super::{CommandError, Output};

/// A completion script for `shell` on stdout.
pub(crate) fn completions(shell: clap_complete::Shell, out: &Output) -> Exit {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cutover", &mut script);
    out.stdout(&String::from_utf8_lossy(&script));
    Exit::Done
}

/// `cutover(1)` on stdout; with `out_dir`, a page per command (`cutover-apply.1`, …) written
/// there, and their names listed.
pub(crate) fn man(out_dir: Option<&Path>, out: &Output) -> Result<Exit, CommandError> {
    let command = Cli::command();
    match out_dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|e| CommandError::failure(format!("cannot render the man page: {e}")))?;
            out.stdout(&String::from_utf8_lossy(&page));
        }
        Some(dir) => {
            let failed = |e: std::io::Error| {
                CommandError::failure(format!("cannot write man pages to {}: {e}", dir.display()))
            };
            std::fs::create_dir_all(dir).map_err(failed)?;
            clap_mangen::generate_to(command, dir).map_err(failed)?;
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map_err(failed)?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("cutover") && n.ends_with(".1"))
                .collect();
            names.sort();
            out.stdout(&format!("{}\n", names.join("\n")));
        }
    }
    Ok(Exit::Done)
}
