//! `cutover report PLAN [-o FILE]`: the rollout report, one self-contained HTML file. Before the
//! rollout starts it is the dry-run (`plan --format html`: it reads the platform, as `plan`
//! does); once started it is what happened, from the state file alone, as `status` reads it.

use std::path::Path;

use jiff::Timestamp;

use crate::dry_run::DryRun;
use crate::exit_code::Exit;
use crate::html_report;

use super::plan::planned;
use super::{CommandError, Output, Session};

/// The dry-run as the HTML report.
pub(crate) fn dry_run_html(
    dry: &DryRun<'_>,
    session: &Session<'_>,
) -> Result<String, CommandError> {
    // Before a rollout there is no recorded run: where the plan stands in git now.
    let git = super::run_provenance::provenance(&session.plan, &session.path);
    let commit = match git.commit {
        Some(commit) => html_report::GitCommit::Recorded {
            commit,
            clean: git.state == crate::git::GitState::Clean,
        },
        None => html_report::GitCommit::NotRecorded,
    };
    html_report::dry_run(dry, session.clock.now(), &commit.words())
        .map_err(|e| CommandError::failure(e.to_string()))
}

pub(crate) fn run(
    session: &Session<'_>,
    output: Option<&Path>,
    now: Option<Timestamp>,
    out: &Output,
) -> Result<Exit, CommandError> {
    let store = match session.existing_store()? {
        Some(store) => Some((session.weigh(store.load()?), store)),
        None => None,
    };
    let html = match store {
        Some((state, store)) if state.started_at.is_some() => {
            let audit = store.audit_trail()?;
            let inputs = html_report::Inputs {
                plan: &session.plan,
                plan_file: session.path.display().to_string(),
                state: &state,
                audit: &audit,
                chain: html_report::chain_verification(&store),
                now: now.unwrap_or_else(|| session.clock.now()),
            };
            html_report::rollout(&inputs).map_err(|e| CommandError::failure(e.to_string()))?
        }
        _ => {
            let planned = planned(session, now)?;
            let dry = planned.dry_run(session, true);
            dry_run_html(&dry, session)?
        }
    };
    match output {
        Some(path) => {
            crate::atomic_file::write(path, html.as_bytes()).map_err(|e| {
                CommandError::failure(format!("cannot write {}: {e}", path.display()))
            })?;
            out.stderr(&format!("wrote {}\n", path.display()));
        }
        None => out.stdout(&html),
    }
    Ok(Exit::Done)
}
