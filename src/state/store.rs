//! The state database's front door: the [`Store`] handle, opening and creating the file, and
//! [`StoreError`].
//!
//! A rollout's durable memory, in a SQLite file or on PostgreSQL. Every change is one
//! transaction: a side effect on the platform is journaled as an intent before the call and
//! completed with its outcome after, so a run killed in between leaves a visible in-doubt mark
//! that the next run reconciles by reading the platform. What the store holds is spread over the
//! files beside this one, one concept each (`schema`, `run_lock`, `load`, `journal`, `rollout`,
//! `approvals`, `audit`, `mailbox_records`), as `impl Store` blocks written against SQLite; on
//! PostgreSQL they run on an in-memory working copy that `postgres/mirror.rs` keeps in step, so
//! both backends share every line of what the state means. This file does not know the tables:
//! it opens the file through [`crate::sqlite_file`] (which owns creating, format checks,
//! upgrades and transactions), checks that the file belongs to the plan and has not moved, and
//! routes reads, writes and the lock to the backend.

use std::path::{Path, PathBuf};

use std::cell::RefCell;

use rusqlite::{Connection, OptionalExtension, Transaction};

use super::frozen_members::FrozenMembers;
use super::lock::Holder;
use super::parsed_plans::ParsedPlans;
use super::postgres::{self, Remote};
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
    #[error("another run holds the lock on {location}: {holder}")]
    Locked { location: String, holder: Holder },
    #[error(
        "state file {path} was moved to {to} (by `cutover state migrate`); point --state (or CUTOVER_STATE) at {to}"
    )]
    Moved { path: PathBuf, to: String },
    #[error("--state: {0}")]
    Location(#[from] postgres::LocationError),
    #[error("state {location}: cannot connect: {source}")]
    Connect {
        location: String,
        #[source]
        source: postgres::ConnectError,
    },
    #[error("state {location}: {source}")]
    Postgres {
        location: String,
        #[source]
        source: ::postgres::Error,
    },
    #[error("state {location}: {source}")]
    Schema {
        location: String,
        #[source]
        source: postgres::SchemaError,
    },
    #[error("state {location}: {source}")]
    Mirror {
        location: String,
        #[source]
        source: postgres::MirrorError,
    },
    #[error(
        "the run lost its lock on {location}: {why}; it stopped before its next platform write \
         (another run may hold the lock now)"
    )]
    LockLost { location: String, why: String },
    #[error(
        "state {location} already holds state for this rollout; cutover will not merge two \
         rollouts' trails"
    )]
    AlreadyThere { location: String },
    #[error("state {location}: the audit chain did not arrive intact; nothing was marked as moved")]
    ChainChanged { location: String },
    #[error(
        "state {location}: the session advisory lock did not hold from one statement to the next: \
         a transaction-mode connection pooler is in the way; connect directly or in session mode"
    )]
    Pooled { location: String },
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

/// An open state store of one plan, at the current format: a state file, or a rollout on
/// PostgreSQL (then `file` is its in-memory working copy).
pub(crate) struct Store {
    file: SqliteFile,
    /// The frozen memberships as last loaded (see `frozen_members.rs`).
    pub(super) frozen: RefCell<FrozenMembers>,
    /// The rollout's copies of its plan as last parsed (see `parsed_plans.rs`).
    pub(super) plans: RefCell<ParsedPlans>,
    remote: Option<Remote>,
    /// The fencing epoch of the PostgreSQL run lock this store holds.
    pub(super) epoch: Option<i64>,
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

    /// Opens an existing state file, read and write, upgrading one of an older format. A file
    /// whose rollout moved to PostgreSQL is refused with where it went.
    pub(crate) fn open(path: &Path, plan_name: &str) -> Result<Self, StoreError> {
        let store = Self::open_file(path)?;
        if let Some(to) = store.moved_to()? {
            return Err(StoreError::Moved {
                path: path.to_path_buf(),
                to,
            });
        }
        let found = store.file.meta(schema::PLAN_NAME)?.unwrap_or_default();
        if found != plan_name {
            return Err(StoreError::OtherPlan {
                path: path.to_path_buf(),
                found,
                expected: plan_name.to_owned(),
            });
        }
        Ok(store)
    }

    /// Opens a state file whatever its plan or marker (`state migrate` reads a file this way).
    pub(super) fn open_file(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            file: SqliteFile::open(path, &schema::FORMAT)?,
            frozen: RefCell::new(FrozenMembers::default()),
            plans: RefCell::new(ParsedPlans::default()),
            remote: None,
            epoch: None,
        })
    }

    pub(super) fn over_postgres(copy: SqliteFile, remote: Remote) -> Self {
        Self {
            file: copy,
            frozen: RefCell::new(FrozenMembers::default()),
            plans: RefCell::new(ParsedPlans::default()),
            remote: Some(remote),
            epoch: None,
        }
    }

    /// Where the state is, as messages name it (a path, or a URL without secrets).
    pub(crate) fn location(&self) -> String {
        self.file.path().display().to_string()
    }

    /// Changes whenever a PostgreSQL working copy is replaced by the server's rows (always 0
    /// for a state file), so caches of the copy know to read again.
    pub(super) fn copy_generation(&self) -> u64 {
        self.remote.as_ref().map_or(0, Remote::reloads)
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.remote.is_some()
    }

    /// Where a state file's rollout went, once `state migrate` moved it.
    pub(super) fn moved_to(&self) -> Result<Option<String>, StoreError> {
        if self.remote.is_some() {
            return Ok(None);
        }
        self.file
            .connection()
            .query_row("SELECT location FROM moved WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(self.db())
    }

    /// For reads (the working copy brought up to date first); every write goes through
    /// [`Store::write`].
    pub(super) fn connection(&self) -> Result<&Connection, StoreError> {
        let copy = self.file.connection();
        if let Some(remote) = &self.remote {
            remote
                .refresh(copy)
                .map_err(|source| self.mirror_error(source))?;
        }
        Ok(copy)
    }

    /// Wraps a database error with the state's location.
    pub(super) fn db(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| self.file.error(source).into()
    }

    /// Runs `f` in one transaction (on PostgreSQL: one of each, fenced while the run lock is
    /// held).
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        if self.remote.is_some() {
            let epoch = self.epoch;
            return Ok(self.write_postgres(f, epoch, |_| Ok(()))?.0);
        }
        Ok(self.file.write(f)?)
    }

    /// A PostgreSQL write: `f` on the working copy, checked against `fence` (this run's lock
    /// epoch, when it must still hold the lock), with `extra` in the same transaction.
    pub(super) fn write_postgres<T, X: Send>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
        fence: Option<i64>,
        extra: impl FnOnce(&mut ::postgres::Client) -> Result<X, ::postgres::Error> + Send,
    ) -> Result<(T, X), StoreError> {
        let remote = self.remote()?;
        let (schema, id, key) = (
            remote.location.schema.clone(),
            remote.rollout_id,
            remote.lock_key,
        );
        let check = move |c: &mut ::postgres::Client| match fence {
            None => Ok(Ok(())),
            Some(ours) => postgres::check_fence(c, &schema, id, key, ours),
        };
        let written = remote.write(self.file.connection(), f, check, fence, extra);
        match written {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(refused)) => Err(StoreError::LockLost {
                location: self.location(),
                why: refused.explain(),
            }),
            Err(source) => Err(self.mirror_error(source)),
        }
    }

    /// A call on the PostgreSQL session alone.
    pub(super) fn pg<R: Send>(
        &self,
        f: impl FnOnce(&mut ::postgres::Client) -> Result<R, ::postgres::Error> + Send,
    ) -> Result<R, StoreError> {
        let remote = self.remote()?;
        let result = remote.session.borrow_mut().run(f);
        result.map_err(|source| self.mirror_error(postgres::MirrorError::Postgres(source)))
    }

    pub(super) fn remote(&self) -> Result<&Remote, StoreError> {
        self.remote.as_ref().ok_or_else(|| StoreError::Mirror {
            location: self.location(),
            source: postgres::MirrorError::NotPostgres,
        })
    }

    /// A failure on PostgreSQL; once the run held the lock, a session that ended is a lost lock.
    fn mirror_error(&self, source: postgres::MirrorError) -> StoreError {
        let closed = self
            .remote
            .as_ref()
            .is_some_and(|r| r.session.try_borrow().is_ok_and(|s| s.is_closed()));
        if self.epoch.is_some() && closed {
            return StoreError::LockLost {
                location: self.location(),
                why: format!("its database session ended ({source})"),
            };
        }
        StoreError::Mirror {
            location: self.location(),
            source,
        }
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
