//! A SQLite file cutover owns: created whole or not at all, opened only when it is one of ours,
//! upgraded by numbered migrations, written in immediate transactions.
//!
//! The state database and the sandbox both keep their data this way. This module knows nothing
//! of what either stores: each names its format (a noun for messages, its migrations) and maps
//! [`SqliteFileError`] into its own error, whose words its users know.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// One step of a file format: what turns format `version - 1` into `version`.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) apply: fn(&Transaction<'_>) -> rusqlite::Result<()>,
}

/// What kind of file this is, and how it grew.
pub(crate) struct FileFormat {
    /// The format a new file is created with and an old one is upgraded to.
    pub(crate) current: i64,
    /// Upgrades in ascending `version`, the last one's `version` equal to `current`. Formats
    /// before the first migration are the ones no migration reaches: a file that old is refused.
    pub(crate) migrations: &'static [Migration],
    /// `synchronous = FULL`: a committed transaction survives a power cut, not only a crash.
    pub(crate) durable: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SqliteFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// Not a SQLite database, or one without cutover's `meta` table and format version.
    #[error("{path} is not a file cutover made")]
    NotOurs { path: PathBuf },
    #[error("{path} has format {found}, from a newer cutover; this one reads format {supported}")]
    Newer {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
}

/// An open file of a known format, at its current format.
pub(crate) struct SqliteFile {
    connection: Connection,
    path: PathBuf,
}

impl SqliteFile {
    /// Creates the file at `path`: `init` fills a new database beside it in one transaction
    /// (after which `meta` holds `format_version`), and it is moved into place only if no other
    /// process created the file meanwhile. Returns whether this call's file was installed; when
    /// another process won the race, theirs is kept and ours removed.
    pub(crate) fn create(
        path: &Path,
        format: &FileFormat,
        init: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<bool, SqliteFileError> {
        let io = |source| SqliteFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let db = |source| SqliteFileError::Database {
            path: path.to_path_buf(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("db");
        let prefix = format!(".{name}.tmp-");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        // The mode SQLite gives a database it creates (tempfile's default is owner-only), so a
        // file shared between a service user and an admin stays readable as it always was.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let temporary = builder.tempfile_in(dir).map_err(io)?;
        let mut connection = Connection::open(temporary.path()).map_err(db)?;
        let tx = connection.transaction().map_err(db)?;
        tx.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
            .map_err(db)?;
        set_format(&tx, format.current).map_err(db)?;
        init(&tx).map_err(db)?;
        tx.commit().map_err(db)?;
        connection.close().map_err(|(_, source)| db(source))?;
        match temporary.persist_noclobber(path) {
            Ok(_) => Ok(true),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(e.error)),
        }
    }

    /// Opens an existing file read and write, refusing one that is not ours or is newer than
    /// `format`, and upgrading an older one (each migration in its own immediate transaction,
    /// with the version read again inside it, so two processes opening it at once upgrade it
    /// once).
    pub(crate) fn open(path: &Path, format: &FileFormat) -> Result<Self, SqliteFileError> {
        let not_ours = || SqliteFileError::NotOurs {
            path: path.to_path_buf(),
        };
        let db = |source| SqliteFileError::Database {
            path: path.to_path_buf(),
            source,
        };
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|_| not_ours())?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        let found = read_format(&connection).map_err(|_| not_ours())?;
        let found = found.ok_or_else(not_ours)?;
        if found > format.current {
            return Err(SqliteFileError::Newer {
                path: path.to_path_buf(),
                found,
                supported: format.current,
            });
        }
        if found < format.current {
            for migration in format.migrations.iter().filter(|m| m.version > found) {
                let tx = Transaction::new_unchecked(&connection, TransactionBehavior::Immediate)
                    .map_err(db)?;
                let now = read_format(&tx).map_err(db)?.ok_or_else(not_ours)?;
                if now < migration.version {
                    if now != migration.version - 1 {
                        // A gap: no migration leads from this format.
                        return Err(not_ours());
                    }
                    (migration.apply)(&tx).map_err(db)?;
                    set_format(&tx, migration.version).map_err(db)?;
                }
                tx.commit().map_err(db)?;
            }
        }
        // WAL lets readers (status, `sandbox serve`) read while a writer writes; the mode
        // persists in the file.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        if format.durable {
            connection
                .pragma_update(None, "synchronous", "FULL")
                .map_err(db)?;
        }
        Ok(Self {
            connection,
            path: path.to_path_buf(),
        })
    }

    /// A database of `format` in memory, filled by `init`: the working copy of state kept
    /// elsewhere (PostgreSQL). `label` names it in errors, as a path names a file.
    pub(crate) fn in_memory(
        label: &str,
        format: &FileFormat,
        init: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<Self, SqliteFileError> {
        let path = PathBuf::from(label);
        let db = |source| SqliteFileError::Database {
            path: path.clone(),
            source,
        };
        let mut connection = Connection::open_in_memory().map_err(db)?;
        let tx = connection.transaction().map_err(db)?;
        tx.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
            .map_err(db)?;
        set_format(&tx, format.current).map_err(db)?;
        init(&tx).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Self { connection, path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// For settings that need it (a hook).
    pub(crate) fn connection_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }

    /// A value of the `meta` table.
    pub(crate) fn meta(&self, key: &str) -> Result<Option<String>, SqliteFileError> {
        self.connection
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.error(e))
    }

    /// Wraps a database error with this file's path.
    pub(crate) fn error(&self, source: rusqlite::Error) -> SqliteFileError {
        SqliteFileError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `f` in one immediate transaction: concurrent writers queue on the busy timeout
    /// instead of interleaving, and `f`'s writes land together or not at all.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, SqliteFileError> {
        let path = self.path.clone();
        let db = |source| SqliteFileError::Database {
            path: path.clone(),
            source,
        };
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let value = f(&tx).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(value)
    }
}

fn read_format(connection: &Connection) -> rusqlite::Result<Option<i64>> {
    let value: Option<String> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(value.and_then(|v| v.parse().ok()))
}

fn set_format(tx: &Transaction<'_>, version: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('format_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = ?1",
        [version.to_string()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_b(tx: &Transaction<'_>) -> rusqlite::Result<()> {
        tx.execute_batch("ALTER TABLE t ADD COLUMN b TEXT")
    }

    const V1: FileFormat = FileFormat {
        current: 1,
        migrations: &[],
        durable: false,
    };
    const V2: FileFormat = FileFormat {
        current: 2,
        migrations: &[Migration {
            version: 2,
            apply: add_b,
        }],
        durable: true,
    };

    fn create_v1(path: &Path) -> bool {
        SqliteFile::create(path, &V1, |tx| tx.execute_batch("CREATE TABLE t (a TEXT)"))
            .expect("created")
    }

    #[test]
    fn a_file_is_created_once_and_a_second_creator_keeps_the_first() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("x.db");
        assert!(create_v1(&path));
        let mut file = SqliteFile::open(&path, &V1).expect("opened");
        file.write(|tx| tx.execute("INSERT INTO t (a) VALUES ('first')", []))
            .expect("written");
        assert!(!create_v1(&path), "the second creator loses the race");
        let file = SqliteFile::open(&path, &V1).expect("opened");
        let a: String = file
            .connection()
            .query_row("SELECT a FROM t", [], |r| r.get(0))
            .expect("the first file's row");
        assert_eq!(a, "first");
        let leftovers = std::fs::read_dir(dir.path())
            .expect("listed")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .count();
        assert_eq!(leftovers, 0, "the losing temporary file is removed");
    }

    #[test]
    fn an_old_file_is_migrated_and_a_newer_or_foreign_one_refused() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("x.db");
        create_v1(&path);
        let file = SqliteFile::open(&path, &V2).expect("upgraded");
        assert_eq!(file.meta("format_version").expect("read"), Some("2".into()));
        file.connection()
            .execute("INSERT INTO t (a, b) VALUES ('a', 'b')", [])
            .expect("the migration's column exists");
        drop(file);
        assert!(matches!(
            SqliteFile::open(&path, &V1),
            Err(SqliteFileError::Newer {
                found: 2,
                supported: 1,
                ..
            })
        ));
        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .and_then(|c| c.execute_batch("CREATE TABLE other (x)"))
            .expect("a plain database");
        assert!(matches!(
            SqliteFile::open(&foreign, &V1),
            Err(SqliteFileError::NotOurs { .. })
        ));
        std::fs::write(dir.path().join("text"), "not a database").expect("written");
        assert!(matches!(
            SqliteFile::open(&dir.path().join("text"), &V1),
            Err(SqliteFileError::NotOurs { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_gets_the_mode_sqlite_gives_a_new_database() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mode = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .expect("metadata")
                .permissions()
                .mode()
        };
        create_v1(&dir.path().join("x.db"));
        Connection::open(dir.path().join("plain.db"))
            .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
            .expect("a plain database");
        assert_eq!(mode("x.db"), mode("plain.db"));
    }
}
