//! The sandbox file: a SQLite database holding one simulated tenant, created from a scenario's
//! tenant and opened (upgrading an older format) through the shared [`crate::sqlite_file`].
//!
//! This module owns [`SandboxFile`] itself, the tenant it is created with and the tenant-wide
//! settings in `meta` (scenario, slots, sync interval). What the file is asked about and told
//! lives beside it, one concept a file: configurations, assignments, users, OAuth sessions,
//! faults, mailboxes and the write ledger. Its tables and their upgrades are in `file_format.rs`.
//!
//! Several processes may use one file at once (`sandbox serve` plus `deny-access`, say): it runs
//! in WAL mode with a busy timeout, and every write is one immediate transaction.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, Transaction, params};

use super::SandboxError;
use super::file_format::{FORMAT, SCHEMA};
use super::scenario::Tenant;
use super::users::TenantView;
use crate::sqlite_file::SqliteFile;

/// An open sandbox file.
pub(crate) struct SandboxFile {
    file: SqliteFile,
    /// The tenant as user pages need it, from the last read (see `users.rs`).
    view: RefCell<Option<Arc<TenantView>>>,
    /// Whether this connection may have written `users` since `view` was read.
    roster_written: Cell<bool>,
}

impl SandboxFile {
    /// Creates a sandbox file for `tenant`, atomically: it appears whole or not at all.
    pub(crate) fn create(
        path: &Path,
        tenant: &Tenant,
        scenario: &str,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        if path.exists() {
            return Err(SandboxError::Exists {
                path: path.to_path_buf(),
            });
        }
        // A second process may have created it meanwhile; the first one's file is kept, as
        // `create_new` would, and this call succeeds all the same.
        SqliteFile::create(path, &FORMAT, |tx| fill(tx, tenant, scenario, now_ms))?;
        Ok(())
    }

    /// Opens an existing sandbox file, refusing anything that is not one of ours.
    pub(crate) fn open(path: &Path) -> Result<Self, SandboxError> {
        // Checked here: to the shared plumbing a missing file is merely not one of ours.
        if !path.exists() {
            return Err(SandboxError::Missing {
                path: path.to_path_buf(),
            });
        }
        Ok(Self {
            file: SqliteFile::open(path, &FORMAT)?,
            view: RefCell::new(None),
            roster_written: Cell::new(false),
        })
    }

    pub(super) fn cached_view(&self) -> Option<Arc<TenantView>> {
        self.view.borrow().clone()
    }

    pub(super) fn cache_view(&self, view: Arc<TenantView>) {
        *self.view.borrow_mut() = Some(view);
        self.roster_written.set(false);
    }

    /// Whether a write of this connection since the cached view was read may have changed the
    /// `users` table.
    pub(super) fn roster_written(&self) -> bool {
        self.roster_written.get()
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    /// The connection, for the reads of the modules beside this one.
    pub(super) fn connection(&self) -> &Connection {
        self.file.connection()
    }

    /// Wraps a database error with the file's path.
    pub(super) fn db(&self) -> impl Fn(rusqlite::Error) -> SandboxError + '_ {
        move |source| self.file.error(source).into()
    }

    /// Runs `f` in one immediate transaction: concurrent writers queue on the busy timeout
    /// instead of interleaving.
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, SandboxError> {
        // Whatever `f` writes, the next read of the users reads them all again.
        self.roster_written.set(true);
        Ok(self.file.write(f)?)
    }

    /// [`Self::write`] for a write that leaves the `users` table as it is (assignments,
    /// re-checks): the next read keeps the users it read before.
    pub(super) fn write_beside_users<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, SandboxError> {
        Ok(self.file.write(f)?)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, SandboxError> {
        Ok(self.file.meta(key)?)
    }

    pub(crate) fn sync_interval_ms(&self) -> Result<i64, SandboxError> {
        Ok(self
            .meta("sync_interval_ms")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000)
            .max(1))
    }

    pub(crate) fn set_sync_interval_ms(&mut self, interval_ms: i64) -> Result<(), SandboxError> {
        self.connection()
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'sync_interval_ms'",
                [interval_ms.max(1).to_string()],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// How many configurations the tenant may have connected or pending at once.
    pub(super) fn slots(&self) -> Result<u32, SandboxError> {
        Ok(self
            .meta("slots")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(2))
    }

    pub(crate) fn scenario(&self) -> Result<String, SandboxError> {
        Ok(self.meta("scenario")?.unwrap_or_default())
    }
}

/// Fills a new file with `tenant`, in the transaction that creates it.
fn fill(
    tx: &Transaction<'_>,
    tenant: &Tenant,
    scenario: &str,
    now_ms: i64,
) -> rusqlite::Result<()> {
    tx.execute_batch(SCHEMA)?;
    for (key, value) in [
        ("scenario", scenario.to_owned()),
        ("slots", tenant.slots.to_string()),
        ("sync_interval_ms", tenant.sync_interval_ms.to_string()),
        ("created_ms", now_ms.to_string()),
    ] {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
    }
    // The tenant has been syncing over its configurations for a day already.
    let since = now_ms - 86_400_000;
    let mut ids = HashMap::new();
    for c in &tenant.configurations {
        tx.execute(
            "INSERT INTO configurations (display_name, auth_type, state, tenant_id, authorized_account, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.display_name, c.auth_type.as_str(), c.state.as_str(), c.tenant_id, c.authorized_account, since],
        )?;
        ids.insert(c.display_name, tx.last_insert_rowid());
    }
    {
        let mut insert_user = tx
            .prepare("INSERT INTO users (email, name, location, groups) VALUES (?1, ?2, ?3, ?4)")?;
        let mut insert_assignment = tx.prepare(
            "INSERT INTO assignments (user_id, configuration_id, enabled_ms) VALUES (?1, ?2, ?3)",
        )?;
        for u in &tenant.users {
            let groups = serde_json::to_string(&u.groups).unwrap_or_else(|_| "[]".to_owned());
            insert_user.execute(params![u.email, u.name, u.location, groups])?;
            let user_id = tx.last_insert_rowid();
            for name in &u.enabled {
                if let Some(id) = ids.get(name) {
                    insert_assignment.execute(params![user_id, id, since])?;
                }
            }
        }
    }
    for (fault, email) in &tenant.faults {
        tx.execute(
            "INSERT INTO faults (fault, email, since_ms) VALUES (?1, ?2, ?3)",
            params![fault.as_str(), email, since],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::file_format::FORMAT_VERSION;
    use crate::sandbox::{Scenario, ScenarioOptions};

    #[test]
    fn a_format_1_file_is_upgraded_when_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        let tenant = Scenario::find("demo")
            .expect("demo")
            .tenant(ScenarioOptions::default());
        SandboxFile::create(&path, &tenant, "demo", 0).expect("create");
        // Make it what format 1 wrote: no sealed OAuth columns.
        let old = Connection::open(&path).expect("open");
        old.execute_batch(
            "ALTER TABLE configurations DROP COLUMN auth_session;
             ALTER TABLE configurations DROP COLUMN tokens;
             UPDATE meta SET value = '1' WHERE key = 'format_version';",
        )
        .expect("downgrade");
        drop(old);

        let file = SandboxFile::open(&path).expect("opens and upgrades");
        assert_eq!(file.auth_sessions().expect("the new column").len(), 0);
        let version: String = file
            .connection()
            .query_row(
                "SELECT value FROM meta WHERE key = 'format_version'",
                [],
                |r| r.get(0),
            )
            .expect("version");
        assert_eq!(version, FORMAT_VERSION.to_string());
        drop(file);
        SandboxFile::open(&path).expect("opens again, already upgraded");
    }

    #[test]
    fn a_format_2_file_keeps_its_assignments_when_upgraded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        let tenant = Scenario::find("part-migrated")
            .expect("scenario")
            .tenant(ScenarioOptions::default());
        SandboxFile::create(&path, &tenant, "part-migrated", 0).expect("create");
        let rows = |connection: &Connection| -> Vec<(i64, i64, i64)> {
            connection
                .prepare(
                    "SELECT user_id, configuration_id, enabled_ms FROM assignments ORDER BY 1, 2",
                )
                .expect("prepare")
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        // Make it what format 2 wrote: `assignments` with a rowid.
        let old = Connection::open(&path).expect("open");
        let before = rows(&old);
        assert!(before.len() > 10, "{before:?}");
        old.execute_batch(
            "CREATE TABLE a2 (user_id INTEGER NOT NULL, configuration_id INTEGER NOT NULL,
                              enabled_ms INTEGER NOT NULL, PRIMARY KEY (user_id, configuration_id));
             INSERT INTO a2 SELECT * FROM assignments;
             DROP TABLE assignments;
             ALTER TABLE a2 RENAME TO assignments;
             UPDATE meta SET value = '2' WHERE key = 'format_version';",
        )
        .expect("downgrade");
        assert!(old.prepare("SELECT rowid FROM assignments").is_ok());
        drop(old);

        let file = SandboxFile::open(&path).expect("opens and upgrades");
        assert_eq!(rows(file.connection()), before);
        // A `WITHOUT ROWID` table has no rowid to select.
        assert!(
            file.connection()
                .prepare("SELECT rowid FROM assignments")
                .is_err()
        );
        drop(file);
        SandboxFile::open(&path).expect("opens again, already upgraded");
    }
}
