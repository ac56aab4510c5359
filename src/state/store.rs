//! The state database's front door: the [`Store`] handle, opening and creating the file, and
//! [`StoreError`].
//!
//! A rollout's durable memory, in SQLite. Every change is one immediate transaction: a side
//! effect on the platform is journaled as an intent before the call and completed with its
//! outcome after, so a run killed in between leaves a visible in-doubt mark that the next run
//! reconciles by reading the platform. What the file holds is spread over the files beside this
//! one, one concept each (`schema`, `run_lock`, `load`, `journal`, `rollout`, `approvals`,
//! `audit`, `mailbox_records`), as `impl Store` blocks. This file does not know the tables: it
//! opens the file through [`crate::sqlite_file`] (which owns creating, format checks, upgrades and
//! transactions) and checks that the file belongs to the plan.

use std::path::{Path, PathBuf};

use std::cell::RefCell;

use rusqlite::{Connection, Transaction};

use super::frozen_members::FrozenMembers;
use super::lock::Holder;
use super::schema;
use crate::sqlite_file::{SqliteFile, SqliteFileError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("state file {path}: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a cutover state file")]
    NotAStateFile { path: PathBuf },
    #[error(
        "state file {path} has format {found}, from a newer cutover; this one reads format {supported}"
    )]
    NewerFormat {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "state file {path} belongs to plan {found:?}, not {expected:?}; give each plan its own state file"
    )]
    OtherPlan {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("another run holds the lock on {path}: {holder}")]
    Locked { path: PathBuf, holder: Holder },
}

impl From<SqliteFileError> for StoreError {
    fn from(error: SqliteFileError) -> Self {
        match error {
            SqliteFileError::Io { path, source } => StoreError::Io { path, source },
            SqliteFileError::Database { path, source } => StoreError::Database { path, source },
            SqliteFileError::NotOurs { path } => StoreError::NotAStateFile { path },
            SqliteFileError::Newer {
                path,
                found,
                supported,
            } => StoreError::NewerFormat {
                path,
                found,
                supported,
            },
        }
    }
}

/// An open state file of one plan, at the current format.
pub(crate) struct Store {
    file: SqliteFile,
    /// The frozen memberships as last loaded (see `frozen_members.rs`).
    pub(super) frozen: RefCell<FrozenMembers>,
}

impl Store {
    /// Opens the state file, creating it for `plan_name` if it does not exist.
    pub(crate) fn open_or_create(path: &Path, plan_name: &str) -> Result<Self, StoreError> {
        if !path.exists() {
            // Another run may create it at the same moment: then theirs is kept, and opened
            // below like any existing file (its lock included).
            SqliteFile::create(path, &schema::FORMAT, |tx| schema::init(tx, plan_name))?;
        }
        Self::open(path, plan_name)
    }

    /// Opens an existing state file, read and write, upgrading one of an older format.
    pub(crate) fn open(path: &Path, plan_name: &str) -> Result<Self, StoreError> {
        let file = SqliteFile::open(path, &schema::FORMAT)?;
        let found = file.meta(schema::PLAN_NAME)?.unwrap_or_default();
        if found != plan_name {
            return Err(StoreError::OtherPlan {
                path: path.to_path_buf(),
                found,
                expected: plan_name.to_owned(),
            });
        }
        Ok(Self {
            file,
            frozen: RefCell::new(FrozenMembers::default()),
        })
    }

    pub(super) fn path(&self) -> &Path {
        self.file.path()
    }

    /// For reads; every write goes through [`Store::write`].
    pub(super) fn connection(&self) -> &Connection {
        self.file.connection()
    }

    /// Wraps a database error with the state file's path.
    pub(super) fn db(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| self.file.error(source).into()
    }

    /// Runs `f` in one immediate transaction.
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        Ok(self.file.write(f)?)
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("time")
    }

    #[test]
    fn a_state_file_another_run_created_meanwhile_is_never_replaced() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("p.state.db");
        // The first run created the file and holds its lock.
        let mut first = Store::open_or_create(&path, "p").expect("created");
        first.lock("apply", "first", now()).expect("locked");

        // A second run that found no file wrote its own and now puts it in place.
        let installed = SqliteFile::create(&path, &schema::FORMAT, |tx| schema::init(tx, "p"))
            .expect("the existing file is used");
        assert!(!installed, "the second file is not put in place");

        let mut second = Store::open_or_create(&path, "p").expect("opened");
        assert!(
            matches!(
                second.lock("apply", "second", now()),
                Err(StoreError::Locked { .. })
            ),
            "the second run sees the first one's lock"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_new_state_file_gets_the_mode_sqlite_gives_a_new_database() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mode = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .expect("metadata")
                .permissions()
                .mode()
        };
        Store::open_or_create(&dir.path().join("p.state.db"), "p").expect("created");
        Connection::open(dir.path().join("plain.db"))
            .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
            .expect("a plain database");
        assert_eq!(mode("p.state.db"), mode("plain.db"));
    }

    #[test]
    fn a_file_of_another_plan_a_newer_cutover_or_no_cutover_is_refused_in_its_words() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("p.state.db");
        Store::open_or_create(&path, "p").expect("created");
        let message = |result: Result<Store, StoreError>| match result {
            Ok(_) => panic!("opened"),
            Err(e) => e
                .to_string()
                .replace(&dir.path().display().to_string(), "DIR"),
        };
        assert_eq!(
            message(Store::open(&path, "q")),
            "state file DIR/p.state.db belongs to plan \"p\", not \"q\"; give each plan its own state file"
        );
        Connection::open(&path)
            .and_then(|c| {
                c.execute(
                    "UPDATE meta SET value = '99' WHERE key = 'format_version'",
                    [],
                )
            })
            .expect("a newer format");
        assert_eq!(
            message(Store::open(&path, "p")),
            format!(
                "state file DIR/p.state.db has format 99, from a newer cutover; this one reads format {}",
                schema::FORMAT.current
            )
        );
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database").expect("written");
        assert_eq!(
            message(Store::open(&text, "p")),
            "DIR/notes.txt is not a cutover state file"
        );
    }
}
