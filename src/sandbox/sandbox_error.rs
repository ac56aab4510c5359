//! Why a sandbox file could not be used.

use std::path::PathBuf;

use crate::sqlite_file::SqliteFileError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SandboxError {
    #[error("there is no sandbox file at {path}; create one with `cutover sandbox init {path}`")]
    Missing { path: PathBuf },
    #[error("{path} is not a sandbox file (it is not a SQLite database cutover made)")]
    NotASandbox { path: PathBuf },
    #[error(
        "{path} is a sandbox file of format {found}, made by a newer cutover; this one reads format {supported}"
    )]
    NewerFormat {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{path} already exists; remove it first or choose another path")]
    Exists { path: PathBuf },
    #[error("unknown sandbox scenario `{name}`; scenarios: {known}")]
    UnknownScenario { name: String, known: String },
    #[error("the `{scenario}` scenario needs at least {min} users (--users {requested} was given)")]
    TooFewUsers {
        scenario: &'static str,
        min: usize,
        requested: usize,
    },
    #[error("no user {email} in the sandbox")]
    NoSuchUser { email: String },
    #[error("no configuration {name:?} in the sandbox")]
    NoSuchConfiguration { name: String },
    #[error(
        "the sandbox has no free configuration slot for {name:?}: ask your platform's support to add a second service account slot"
    )]
    NoFreeSlot { name: String },
    #[error(
        "{name:?} is {state}: only a connected or pending OAuth configuration can be authorized"
    )]
    NotAuthorizable { name: String, state: String },
    /// A row that no cutover wrote: the file was edited by hand.
    #[error("sandbox file {path}: user {id} of table `users`: {message}")]
    BadUser {
        path: PathBuf,
        id: i64,
        message: String,
    },
    #[error("sandbox file {path}: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("sandbox file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The shared SQLite plumbing's errors, in the words a sandbox user knows.
impl From<SqliteFileError> for SandboxError {
    fn from(error: SqliteFileError) -> Self {
        match error {
            SqliteFileError::Io { path, source } => SandboxError::Io { path, source },
            SqliteFileError::Database { path, source } => SandboxError::Database { path, source },
            SqliteFileError::NotOurs { path } => SandboxError::NotASandbox { path },
            SqliteFileError::Newer {
                path,
                found,
                supported,
            } => SandboxError::NewerFormat {
                path,
                found,
                supported,
            },
        }
    }
}
