//! The write ledger: every write call a client made (`writes`) and every invariant one broke
//! (`violations`), so a test or an operator can tell what a run did to the platform.
//!
//! This module owns both tables: it appends to them inside the transaction of the write being
//! recorded, and reads them back for `sandbox inspect`. Deciding that something is a violation
//! is the writer's business (`assignments.rs`, `configurations.rs`), not the ledger's.

use rusqlite::{Transaction, params};

use super::assignments::json;
use super::{SandboxError, SandboxFile};

/// One row of `writes`.
#[derive(Debug, Clone)]
pub(crate) struct WriteRecord {
    pub(crate) at_ms: i64,
    pub(crate) op: String,
    pub(crate) user: Option<String>,
    pub(crate) configuration: Option<String>,
    pub(crate) changed: bool,
}

/// One row of `violations`.
#[derive(Debug, Clone)]
pub(crate) struct ViolationRecord {
    pub(crate) at_ms: i64,
    pub(crate) kind: String,
    pub(crate) detail: String,
}

impl SandboxFile {
    pub(crate) fn writes(&self) -> Result<Vec<WriteRecord>, SandboxError> {
        let mut statement = self
            .connection()
            .prepare("SELECT at_ms, op, user, configuration, changed FROM writes ORDER BY id")
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                Ok(WriteRecord {
                    at_ms: r.get(0)?,
                    op: r.get(1)?,
                    user: r.get(2)?,
                    configuration: r.get(3)?,
                    changed: r.get::<_, i64>(4)? != 0,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db())
    }

    pub(crate) fn violations(&self) -> Result<Vec<ViolationRecord>, SandboxError> {
        let mut statement = self
            .connection()
            .prepare("SELECT at_ms, kind, detail FROM violations ORDER BY id")
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                Ok(ViolationRecord {
                    at_ms: r.get(0)?,
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db())
    }
}

/// Records a write call, in the transaction that made it.
pub(super) fn record_write(
    tx: &Transaction<'_>,
    at_ms: i64,
    op: &str,
    user: Option<&str>,
    configuration: Option<&str>,
    changed: bool,
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(
        "INSERT INTO writes (at_ms, op, user, configuration, changed) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![at_ms, op, user, configuration, i64::from(changed)])?;
    Ok(())
}

/// Records a bulk write call on `configuration`: a row per user, in the order of `users`
/// (`(email, changed)`), in one statement however many they are.
pub(super) fn record_writes(
    tx: &Transaction<'_>,
    at_ms: i64,
    op: &str,
    users: &[(&str, bool)],
    configuration: &str,
) -> Result<(), rusqlite::Error> {
    if users.is_empty() {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO writes (at_ms, op, user, configuration, changed)
         SELECT ?1, ?2, value ->> 0, ?3, value ->> 1 FROM json_each(?4) ORDER BY key",
    )?
    .execute(params![at_ms, op, configuration, json(users)?])?;
    Ok(())
}

/// Records a broken invariant, in the transaction of the write that broke it.
pub(super) fn record_violation(
    tx: &Transaction<'_>,
    at_ms: i64,
    kind: &str,
    detail: &str,
) -> Result<(), rusqlite::Error> {
    // Possibly once per user of a bulk write: prepared once per connection.
    tx.prepare_cached("INSERT INTO violations (at_ms, kind, detail) VALUES (?1, ?2, ?3)")?
        .execute(params![at_ms, kind, detail])?;
    Ok(())
}
