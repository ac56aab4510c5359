//! The frozen memberships (each batch's and each step's members), kept between loads while they
//! cannot have changed.
//!
//! They are the largest part of the state (a row per user per step) and change only when a step
//! starts or a rollout restarts from an edited plan. The run loop loads the state before every
//! decision, so reading them again each time made every gate poll cost what the tenant costs.
//! They are kept until this handle writes them (`rollout.rs` calls [`FrozenMembers::forget`]) or
//! another connection commits anything to the file (SQLite's `data_version` changes) or, on
//! PostgreSQL, the working copy is reloaded (`generation` changes), and read again then.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::load::{Members, batches, step_members};
use crate::plan::grammar::Email;

#[derive(Default)]
pub(super) struct FrozenMembers {
    kept: Option<Kept>,
}

struct Kept {
    /// `PRAGMA data_version` and the caller's generation when they were read.
    data_version: i64,
    generation: u64,
    batches: BTreeMap<String, Vec<Email>>,
    members: Members,
}

impl FrozenMembers {
    /// Each batch's members and each step's members, from what was kept if it is still current.
    pub(super) fn read(
        &mut self,
        db: &Connection,
        generation: u64,
    ) -> rusqlite::Result<(BTreeMap<String, Vec<Email>>, Members)> {
        let data_version: i64 = db
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if let Some(kept) = self
            .kept
            .as_ref()
            .filter(|k| k.data_version == data_version && k.generation == generation)
        {
            return Ok((kept.batches.clone(), kept.members.clone()));
        }
        let kept = Kept {
            data_version,
            generation,
            batches: batches(db)?,
            members: step_members(db)?,
        };
        let read = (kept.batches.clone(), kept.members.clone());
        self.kept = Some(kept);
        Ok(read)
    }

    /// This handle is changing them: read them again next time.
    pub(super) fn forget(&mut self) {
        self.kept = None;
    }
}
