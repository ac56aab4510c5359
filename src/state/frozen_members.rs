//! The frozen memberships (each batch's and each step's members), kept between loads while they
//! cannot have changed.
//!
//! They are the largest part of the state (a row per user per step) and change only when a step
//! starts or a rollout restarts from an edited plan. The run loop loads the state before every
//! decision, so reading them again each time made every gate poll cost what the tenant costs.
//! They are kept until this handle writes them (`rollout.rs` calls [`FrozenMembers::forget`]) or
//! another connection commits anything to the file (SQLite's `data_version` changes) or, on
//! PostgreSQL, the working copy is reloaded (`generation` changes), and read again then.

use std::collections::BTreeSet;
use std::sync::Arc;

use rusqlite::Connection;

use super::StepRecord;
use super::load::{Batches, Members, batches, step_members};
use super::read_version::ReadVersion;
use crate::plan::grammar::Email;

#[derive(Default)]
pub(super) struct FrozenMembers {
    kept: Option<Kept>,
}

struct Kept {
    /// When they were read.
    version: ReadVersion,
    batches: Batches,
    members: Members,
}

impl FrozenMembers {
    /// Each batch's members and each step's members, from what was kept if it is still current.
    pub(super) fn read(
        &mut self,
        db: &Connection,
        generation: u64,
    ) -> rusqlite::Result<(Batches, Members)> {
        let version = ReadVersion::of(db, generation)?;
        if let Some(kept) = self.kept.as_ref().filter(|k| k.version == version) {
            return Ok((kept.batches.clone(), kept.members.clone()));
        }
        let batches = batches(db)?;
        let kept = Kept {
            version,
            members: step_members(db, &batches)?,
            batches,
        };
        let read = (kept.batches.clone(), kept.members.clone());
        self.kept = Some(kept);
        Ok(read)
    }

    /// This handle started `step`, freezing `batch` with it the first time: what a read would
    /// now find is what was kept and these (this connection's own commit leaves
    /// `data_version` as it was).
    pub(super) fn started(&mut self, batch: Option<(&str, &[Email])>, step: &StepRecord) {
        let Some(kept) = self.kept.as_mut() else {
            return;
        };
        if let Some((name, emails)) = batch {
            // `INSERT OR IGNORE` keyed by name and email: only emails the batch lacks are added.
            let frozen = kept
                .batches
                .entry(name.to_owned())
                .or_insert_with(|| Arc::from([]));
            if emails.iter().any(|e| frozen.binary_search(e).is_err()) {
                let mut all: Vec<Email> = frozen.iter().chain(emails).cloned().collect();
                all.sort_unstable();
                all.dedup();
                *frozen = Arc::from(all);
            }
        }
        // Stored as a flag per member row: only members read back as pre-existing.
        let preexisting: BTreeSet<Email> = step
            .members
            .iter()
            .filter(|e| step.preexisting.contains(*e))
            .cloned()
            .collect();
        kept.members.insert(
            step.id.clone(),
            (step.members.clone(), Arc::new(preexisting)),
        );
    }

    /// This handle is changing them: read them again next time.
    pub(super) fn forget(&mut self) {
        self.kept = None;
    }
}
