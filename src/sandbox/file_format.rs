//! The sandbox file's format: its tables, its version, and how an older file is brought up to it.
//!
//! This module owns the schema and the numbered migrations that [`crate::sqlite_file`] applies
//! when a file is opened; it does not read or write a tenant (the other `SandboxFile` modules
//! do), nor open, create or lock the file itself (the shared SQLite plumbing does).

use rusqlite::Transaction;

use crate::sqlite_file::{FileFormat, Migration};

/// The format this cutover writes and reads. A newer file is refused, never guessed at.
/// 2 added the sealed OAuth columns of `configurations`; 3 keeps `assignments` in its key's
/// order alone (`WITHOUT ROWID`). An older file is upgraded on open.
pub(crate) const FORMAT_VERSION: i64 = 3;

/// The sandbox is a test bed: a power cut may lose its last transaction, and WAL with the default
/// `synchronous` keeps a busy `sandbox serve` fast.
pub(super) const FORMAT: FileFormat = FileFormat {
    current: FORMAT_VERSION,
    migrations: &[
        Migration {
            version: 2,
            apply: add_sealed_oauth_columns,
        },
        Migration {
            version: 3,
            apply: assignments_without_rowid,
        },
    ],
    durable: false,
};

/// The tables of a new file, besides `meta` (which the shared plumbing creates, with the format
/// version in it).
pub(super) const SCHEMA: &str = "
CREATE TABLE configurations (
    id INTEGER PRIMARY KEY,
    display_name TEXT NOT NULL,
    auth_type TEXT NOT NULL CHECK (auth_type IN ('basic', 'oauth')),
    state TEXT NOT NULL,
    tenant_id TEXT,
    exchange_version TEXT,
    service_address TEXT,
    login_hint TEXT,
    authorized_account TEXT,
    error TEXT,
    created_ms INTEGER NOT NULL,
    -- Sealed by `sandbox serve` (never in the clear): an authorization under way, and the
    -- service account's tokens once it is done.
    auth_session BLOB,
    tokens BLOB
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    groups TEXT NOT NULL
);
-- A bulk write enables or disables thousands of users at once: one b-tree in key order, not a
-- table and an index, halves what each row costs to write.
CREATE TABLE assignments (
    user_id INTEGER NOT NULL REFERENCES users(id),
    configuration_id INTEGER NOT NULL REFERENCES configurations(id),
    enabled_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, configuration_id)
) WITHOUT ROWID;
CREATE TABLE faults (
    id INTEGER PRIMARY KEY,
    fault TEXT NOT NULL,
    email TEXT,
    configuration TEXT,
    since_ms INTEGER NOT NULL,
    until_ms INTEGER
);
CREATE TABLE rechecks (
    user_id INTEGER NOT NULL,
    configuration_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX rechecks_by_user ON rechecks (user_id, configuration_id, at_ms);
CREATE TABLE writes (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    op TEXT NOT NULL,
    user TEXT,
    configuration TEXT,
    changed INTEGER NOT NULL
);
CREATE TABLE violations (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
";

/// Format 1 → 2: the sealed OAuth columns. Two processes opening a format 1 file at once add
/// them once: the shared plumbing reads the version again inside the migration's transaction.
fn add_sealed_oauth_columns(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE configurations ADD COLUMN auth_session BLOB;
         ALTER TABLE configurations ADD COLUMN tokens BLOB;",
    )
}

/// Format 2 → 3: `assignments` rebuilt `WITHOUT ROWID`, its rows as they were.
fn assignments_without_rowid(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE assignments_by_key (
             user_id INTEGER NOT NULL REFERENCES users(id),
             configuration_id INTEGER NOT NULL REFERENCES configurations(id),
             enabled_ms INTEGER NOT NULL,
             PRIMARY KEY (user_id, configuration_id)
         ) WITHOUT ROWID;
         INSERT INTO assignments_by_key (user_id, configuration_id, enabled_ms)
             SELECT user_id, configuration_id, enabled_ms FROM assignments;
         DROP TABLE assignments;
         ALTER TABLE assignments_by_key RENAME TO assignments;",
    )
}
