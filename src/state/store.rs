//! The state database: a rollout's durable memory, in SQLite.
//!
//! Every change is one transaction. A side effect on the platform is journaled as an intent row
//! before the call and completed with its outcome after, so a run killed in between leaves a
//! visible in-doubt mark that the next run reconciles by reading the platform. The run lock,
//! approvals, holds and the audit trail live here too. The file carries a format version;
//! a newer one is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde::Serialize;

use super::lock::{self, Holder};
use super::{Access, Approval, FailingUser, Hold, MailboxAccess, RunState, StepPhase, StepRecord};
use crate::plan::grammar::Email;

pub(crate) const FORMAT_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    process_start TEXT,
    started_ms INTEGER NOT NULL,
    command TEXT NOT NULL
);
CREATE TABLE rollout (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    started_ms INTEGER NOT NULL,
    digest TEXT NOT NULL,
    approved_digest TEXT,
    plan TEXT NOT NULL,
    current_plan TEXT,
    disconnected_ms INTEGER
);
CREATE TABLE batches (
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    email TEXT NOT NULL,
    PRIMARY KEY (name, email)
);
CREATE TABLE steps (
    id TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    phase TEXT NOT NULL,
    phase_ms INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    judged_after_ms INTEGER,
    passed_ms INTEGER,
    failures TEXT NOT NULL DEFAULT '[]',
    definition TEXT
);
CREATE TABLE step_members (
    step TEXT NOT NULL,
    position INTEGER NOT NULL,
    email TEXT NOT NULL,
    preexisting INTEGER NOT NULL,
    PRIMARY KEY (step, email)
);
CREATE TABLE journal (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    step TEXT,
    action TEXT NOT NULL,
    configuration TEXT,
    users TEXT NOT NULL DEFAULT '[]',
    outcome TEXT,
    outcome_ms INTEGER
);
CREATE TABLE approvals (
    id INTEGER PRIMARY KEY,
    step TEXT NOT NULL,
    by TEXT NOT NULL,
    os_user TEXT NOT NULL,
    host TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    released_ms INTEGER,
    released_by TEXT
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    step TEXT,
    operator TEXT NOT NULL,
    digest TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE mailbox_checks (
    email TEXT PRIMARY KEY,
    access TEXT NOT NULL,
    seen_ms INTEGER NOT NULL
);
";

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

/// An in-doubt side effect: an intent with no outcome.
#[derive(Debug, Clone)]
pub(crate) struct Intent {
    pub(crate) id: i64,
    pub(crate) step: Option<String>,
    pub(crate) action: String,
    pub(crate) users: usize,
}

/// One line of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuditEntry {
    pub(crate) at: Timestamp,
    pub(crate) kind: String,
    pub(crate) step: Option<String>,
    pub(crate) operator: String,
    pub(crate) digest: Option<String>,
    pub(crate) detail: serde_json::Value,
}

pub(crate) struct Store {
    connection: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens the state file, creating it for `plan_name` if it does not exist.
    pub(crate) fn open_or_create(path: &Path, plan_name: &str) -> Result<Self, StoreError> {
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            }
            Self::create(path, plan_name)?;
        }
        Self::open(path, plan_name)
    }

    /// Opens an existing state file, read and write.
    pub(crate) fn open(path: &Path, plan_name: &str) -> Result<Self, StoreError> {
        let not_ours = || StoreError::NotAStateFile {
            path: path.to_path_buf(),
        };
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|_| not_ours())?;
        let db = |source| StoreError::Database {
            path: path.to_path_buf(),
            source,
        };
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(db)?;
        let meta = |key: &str| -> Result<Option<String>, StoreError> {
            connection
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|_| not_ours())
        };
        let version: i64 = meta("format_version")?
            .and_then(|v| v.parse().ok())
            .ok_or_else(not_ours)?;
        if version > FORMAT_VERSION {
            return Err(StoreError::NewerFormat {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let found = meta("plan_name")?.unwrap_or_default();
        if found != plan_name {
            return Err(StoreError::OtherPlan {
                path: path.to_path_buf(),
                found,
                expected: plan_name.to_owned(),
            });
        }
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        Ok(Self {
            connection,
            path: path.to_path_buf(),
        })
    }

    /// Creates a state file atomically: written beside its final name, then moved into place
    /// unless another process created one meanwhile (then that one is used).
    fn create(path: &Path, plan_name: &str) -> Result<(), StoreError> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("state.db");
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let db = |source| StoreError::Database {
            path: path.to_path_buf(),
            source,
        };
        let prefix = format!(".{name}.tmp-");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        // The mode SQLite gives a database it creates (tempfile's default is owner-only), so
        // the file and its WAL are shared as they always were.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let temporary = builder.tempfile_in(dir).map_err(io)?;
        let mut connection = Connection::open(temporary.path()).map_err(db)?;
        let tx = connection.transaction().map_err(db)?;
        tx.execute_batch(SCHEMA).map_err(db)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('format_version', ?1)",
            [FORMAT_VERSION.to_string()],
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('plan_name', ?1)",
            [plan_name],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        connection.close().map_err(|(_, source)| db(source))?;
        install(temporary, path).map_err(io)
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `f` in one immediate transaction.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let db = |source| StoreError::Database {
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

    // ---- the run lock ---------------------------------------------------------------------

    /// Takes the run lock, or says who holds it. A lock left by a process on this host that no
    /// longer runs is taken over (and the takeover audited).
    pub(crate) fn lock(
        &mut self,
        command: &str,
        operator: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let me = Holder::current(command, now);
        let path = self.path.clone();
        let outcome = self.write(|tx| {
            let existing: Option<Holder> = tx
                .query_row("SELECT host, pid, process_start, started_ms, command FROM lock WHERE id = 1", [], |r| {
                    Ok(Holder {
                        host: r.get(0)?,
                        pid: r.get(1)?,
                        process_start: r.get(2)?,
                        started: Timestamp::from_millisecond(r.get(3)?).unwrap_or(Timestamp::UNIX_EPOCH),
                        command: r.get(4)?,
                    })
                })
                .optional()?;
            if let Some(holder) = existing {
                if !lock::is_stale(&holder) {
                    return Ok(Some(holder));
                }
                tx.execute("DELETE FROM lock WHERE id = 1", [])?;
                audit(tx, now, "stale_lock_taken_over", None, operator, None, &serde_json::json!({ "holder": holder.to_string() }))?;
            }
            tx.execute(
                "INSERT INTO lock (id, host, pid, process_start, started_ms, command) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                params![me.host, me.pid, me.process_start, now.as_millisecond(), me.command],
            )?;
            Ok(None)
        })?;
        match outcome {
            Some(holder) => Err(StoreError::Locked { path, holder }),
            None => Ok(()),
        }
    }

    /// Releases the lock if this process holds it.
    pub(crate) fn unlock(&mut self) -> Result<(), StoreError> {
        let me = Holder::current("", Timestamp::UNIX_EPOCH);
        self.write(|tx| {
            tx.execute(
                "DELETE FROM lock WHERE id = 1 AND host = ?1 AND pid = ?2",
                params![me.host, me.pid],
            )?;
            Ok(())
        })
    }

    /// `cutover unlock --force`: removes whoever's lock, and records who did it.
    pub(crate) fn force_unlock(
        &mut self,
        operator: &str,
        now: Timestamp,
    ) -> Result<Option<Holder>, StoreError> {
        self.write(|tx| {
            let holder: Option<Holder> = tx
                .query_row(
                    "SELECT host, pid, process_start, started_ms, command FROM lock WHERE id = 1",
                    [],
                    |r| {
                        Ok(Holder {
                            host: r.get(0)?,
                            pid: r.get(1)?,
                            process_start: r.get(2)?,
                            started: Timestamp::from_millisecond(r.get(3)?)
                                .unwrap_or(Timestamp::UNIX_EPOCH),
                            command: r.get(4)?,
                        })
                    },
                )
                .optional()?;
            tx.execute("DELETE FROM lock WHERE id = 1", [])?;
            let detail = serde_json::json!({ "holder": holder.as_ref().map(ToString::to_string) });
            audit(tx, now, "unlock_forced", None, operator, None, &detail)?;
            Ok(holder)
        })
    }

    // ---- reading --------------------------------------------------------------------------

    /// Everything the planner needs, as of now.
    pub(crate) fn load(&self) -> Result<RunState, StoreError> {
        let mut state = RunState::default();
        type Rollout = (
            i64,
            Option<String>,
            Option<i64>,
            String,
            Option<String>,
            String,
        );
        let rollout: Option<Rollout> = self
            .connection
            .query_row(
                "SELECT started_ms, approved_digest, disconnected_ms, plan, current_plan, digest FROM rollout WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()
            .map_err(self.db())?;
        if let Some((started, approved, disconnected, plan, current, digest)) = rollout {
            state.started_at = Some(time(started));
            state.approved_digest = approved;
            state.started_digest = Some(digest);
            state.disconnected_at = disconnected.map(time);
            state.plan_at_start = serde_json::from_str(&plan).ok();
            state.plan_accepted = current
                .and_then(|c| serde_json::from_str(&c).ok())
                .or_else(|| state.plan_at_start.clone());
        }
        {
            let mut statement = self
                .connection
                .prepare("SELECT name, email FROM batches ORDER BY name, position")
                .map_err(self.db())?;
            let rows = statement
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(self.db())?;
            for row in rows {
                let (name, email) = row.map_err(self.db())?;
                if let Ok(email) = Email::parse(&email) {
                    state.batches.entry(name).or_default().push(email);
                }
            }
        }
        let mut members: BTreeMap<String, (Vec<Email>, BTreeSet<Email>)> = BTreeMap::new();
        {
            let mut statement = self
                .connection
                .prepare(
                    "SELECT step, email, preexisting FROM step_members ORDER BY step, position",
                )
                .map_err(self.db())?;
            let rows = statement
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)? != 0,
                    ))
                })
                .map_err(self.db())?;
            for row in rows {
                let (step, email, preexisting) = row.map_err(self.db())?;
                let Ok(email) = Email::parse(&email) else {
                    continue;
                };
                let entry = members.entry(step).or_default();
                if preexisting {
                    entry.1.insert(email.clone());
                }
                entry.0.push(email);
            }
        }
        {
            let mut statement = self
                .connection
                .prepare(
                    "SELECT id, batch, phase, phase_ms, started_ms, judged_after_ms, passed_ms, failures, definition
                     FROM steps ORDER BY seq",
                )
                .map_err(self.db())?;
            let rows = statement
                .query_map([], |r| {
                    let failures: String = r.get(7)?;
                    let definition: Option<String> = r.get(8)?;
                    Ok(StepRecord {
                        id: r.get(0)?,
                        batch: r.get(1)?,
                        members: Vec::new(),
                        preexisting: BTreeSet::new(),
                        phase: StepPhase::parse(&r.get::<_, String>(2)?)
                            .unwrap_or(StepPhase::Moving),
                        phase_at: time(r.get(3)?),
                        started_at: time(r.get(4)?),
                        judged_after: r.get::<_, Option<i64>>(5)?.map(time),
                        passed_at: r.get::<_, Option<i64>>(6)?.map(time),
                        failures: serde_json::from_str(&failures).unwrap_or_default(),
                        definition: definition.and_then(|d| serde_json::from_str(&d).ok()),
                    })
                })
                .map_err(self.db())?;
            for row in rows {
                let mut record = row.map_err(self.db())?;
                let (step_members, preexisting) = members.remove(&record.id).unwrap_or_default();
                record.members = step_members;
                record.preexisting = preexisting;
                state.steps.insert(record.id.clone(), record);
            }
        }
        {
            let mut statement = self
                .connection
                .prepare("SELECT step, at_ms FROM approvals ORDER BY id")
                .map_err(self.db())?;
            let rows = statement
                .query_map([], |r| {
                    Ok(Approval {
                        step: r.get(0)?,
                        at: time(r.get(1)?),
                    })
                })
                .map_err(self.db())?;
            state.approvals = rows.collect::<Result<_, _>>().map_err(self.db())?;
        }
        state.disconnect_sent = self
            .connection
            .query_row(
                "SELECT MAX(at_ms) FROM journal WHERE action = 'disconnect'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map_err(self.db())?
            .map(time);
        // A state file from before the pre-check has no such table: nothing was checked.
        if let Ok(mut statement) = self
            .connection
            .prepare("SELECT email, access, seen_ms FROM mailbox_checks")
        {
            let rows = statement
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(self.db())?;
            for row in rows {
                let (email, access, seen_ms) = row.map_err(self.db())?;
                if let (Ok(email), Some(access)) = (Email::parse(&email), Access::parse(&access)) {
                    state.mailboxes.record(email, access, time(seen_ms));
                }
            }
        }
        state.hold = self
            .connection
            .query_row("SELECT reason, by, at_ms FROM holds WHERE released_ms IS NULL ORDER BY id DESC LIMIT 1", [], |r| {
                Ok(Hold { reason: r.get(0)?, by: r.get(1)?, at: time(r.get(2)?) })
            })
            .optional()
            .map_err(self.db())?;
        Ok(state)
    }

    pub(crate) fn in_doubt(&self) -> Result<Vec<Intent>, StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, step, action, users FROM journal WHERE outcome IS NULL ORDER BY id",
            )
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                let users: String = r.get(3)?;
                let count = serde_json::from_str::<Vec<String>>(&users)
                    .map(|u| u.len())
                    .unwrap_or(0);
                Ok(Intent {
                    id: r.get(0)?,
                    step: r.get(1)?,
                    action: r.get(2)?,
                    users: count,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    pub(crate) fn audit_trail(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT at_ms, kind, step, operator, digest, detail FROM audit ORDER BY id")
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                let detail: String = r.get(5)?;
                Ok(AuditEntry {
                    at: time(r.get(0)?),
                    kind: r.get(1)?,
                    step: r.get(2)?,
                    operator: r.get(3)?,
                    digest: r.get(4)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    // ---- writing --------------------------------------------------------------------------

    /// Records the rollout's start (its first `apply`) and the digest it ran against.
    pub(crate) fn start_rollout(
        &mut self,
        now: Timestamp,
        digest: &str,
        approved: Option<&str>,
        plan_json: &str,
        operator: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO rollout (id, started_ms, digest, approved_digest, plan) VALUES (1, ?1, ?2, ?3, ?4)",
                params![now.as_millisecond(), digest, approved, plan_json],
            )?;
            let detail = serde_json::json!({ "approved_digest": approved });
            audit(tx, now, "rollout_started", None, operator, Some(digest), &detail)
        })
    }

    /// Begins a step: freezes its batch (the first time one of its waves starts) and its members.
    pub(crate) fn start_step(
        &mut self,
        record: &StepRecord,
        batch_members: Option<&[Email]>,
        operator: &str,
        digest: &str,
    ) -> Result<(), StoreError> {
        let now = record.started_at;
        self.write(|tx| {
            if let Some(batch) = batch_members {
                for (position, email) in batch.iter().enumerate() {
                    tx.execute(
                        "INSERT OR IGNORE INTO batches (name, position, email) VALUES (?1, ?2, ?3)",
                        params![record.batch, position as i64, email.to_string()],
                    )?;
                }
            }
            let seq: i64 = tx.query_row("SELECT COUNT(*) FROM steps", [], |r| r.get(0))?;
            let definition = record.definition.as_ref().map(ToString::to_string);
            tx.execute(
                "INSERT INTO steps (id, batch, seq, phase, phase_ms, started_ms, definition)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                params![record.id, record.batch, seq, record.phase.as_str(), now.as_millisecond(), definition],
            )?;
            for (position, email) in record.members.iter().enumerate() {
                tx.execute(
                    "INSERT INTO step_members (step, position, email, preexisting) VALUES (?1, ?2, ?3, ?4)",
                    params![record.id, position as i64, email.to_string(), i64::from(record.preexisting.contains(email))],
                )?;
            }
            let detail = serde_json::json!({
                "users": record.members.len(),
                "preexisting": record.preexisting.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
            audit(tx, now, "step_started", Some(&record.id), operator, Some(digest), &detail)
        })
    }

    /// Moves a step to a new phase, with the audit entry, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn set_phase(
        &mut self,
        step: &str,
        phase: StepPhase,
        now: Timestamp,
        judged_after: Option<Timestamp>,
        failures: Option<&[FailingUser]>,
        operator: &str,
        digest: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let failures_json =
            failures.map(|f| serde_json::to_string(f).unwrap_or_else(|_| "[]".to_owned()));
        self.write(|tx| {
            tx.execute(
                "UPDATE steps SET phase = ?2, phase_ms = ?3,
                    judged_after_ms = COALESCE(?4, judged_after_ms),
                    passed_ms = CASE WHEN ?2 = 'passed' THEN ?3 ELSE passed_ms END,
                    failures = COALESCE(?5, failures)
                 WHERE id = ?1",
                params![
                    step,
                    phase.as_str(),
                    now.as_millisecond(),
                    judged_after.map(|t| t.as_millisecond()),
                    failures_json
                ],
            )?;
            audit(
                tx,
                now,
                &format!("step_{}", phase.as_str()),
                Some(step),
                operator,
                Some(digest),
                detail,
            )
        })
    }

    /// Journals the intent of a side effect before it is attempted.
    pub(crate) fn intent(
        &mut self,
        now: Timestamp,
        step: Option<&str>,
        action: &str,
        configuration: Option<&str>,
        users: &[Email],
    ) -> Result<i64, StoreError> {
        let users: Vec<String> = users.iter().map(ToString::to_string).collect();
        let users = serde_json::to_string(&users).unwrap_or_else(|_| "[]".to_owned());
        self.write(|tx| {
            tx.execute(
                "INSERT INTO journal (at_ms, step, action, configuration, users) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now.as_millisecond(), step, action, configuration, users],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Completes an intent with what happened.
    pub(crate) fn outcome(
        &mut self,
        id: i64,
        now: Timestamp,
        outcome: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let outcome = outcome.to_string();
        self.write(|tx| {
            tx.execute(
                "UPDATE journal SET outcome = ?2, outcome_ms = ?3 WHERE id = ?1",
                params![id, outcome, now.as_millisecond()],
            )?;
            Ok(())
        })
    }

    pub(crate) fn approve(
        &mut self,
        step: &str,
        by: &str,
        os_user: &str,
        host: &str,
        now: Timestamp,
        digest: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO approvals (step, by, os_user, host, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![step, by, os_user, host, now.as_millisecond()],
            )?;
            let detail = serde_json::json!({ "by": by, "os_user": os_user, "host": host });
            audit(tx, now, "approved", Some(step), by, digest, &detail)
        })
    }

    pub(crate) fn hold(
        &mut self,
        reason: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO holds (reason, by, at_ms) VALUES (?1, ?2, ?3)",
                params![reason, by, now.as_millisecond()],
            )?;
            audit(
                tx,
                now,
                "hold",
                None,
                by,
                None,
                &serde_json::json!({ "reason": reason }),
            )
        })
    }

    /// Releases every active hold; returns how many there were.
    pub(crate) fn release(&mut self, by: &str, now: Timestamp) -> Result<usize, StoreError> {
        self.write(|tx| {
            let released = tx.execute(
                "UPDATE holds SET released_ms = ?1, released_by = ?2 WHERE released_ms IS NULL",
                params![now.as_millisecond(), by],
            )?;
            audit(
                tx,
                now,
                "release",
                None,
                by,
                None,
                &serde_json::json!({ "holds": released }),
            )?;
            Ok(released)
        })
    }

    /// Accepts an edit of the plan that touches only steps that have not started.
    pub(crate) fn accept_plan_change(
        &mut self,
        now: Timestamp,
        plan_json: &str,
        changes: &[String],
        operator: &str,
        digest: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE rollout SET current_plan = ?1 WHERE id = 1",
                [plan_json],
            )?;
            audit(
                tx,
                now,
                "plan_changed",
                None,
                operator,
                Some(digest),
                &serde_json::json!({ "changes": changes }),
            )
        })
    }

    /// What the mailbox pre-check saw of `users`, for `status` (a run checks again: denials get
    /// fixed). Only those just checked are written, not everything seen so far.
    pub(crate) fn record_mailboxes(
        &mut self,
        seen: &MailboxAccess,
        users: &[Email],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS mailbox_checks (
                     email TEXT PRIMARY KEY, access TEXT NOT NULL, seen_ms INTEGER NOT NULL)",
            )?;
            for (email, verdict) in seen.verdicts_of(users) {
                tx.execute(
                    "INSERT INTO mailbox_checks (email, access, seen_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (email) DO UPDATE SET access = ?2, seen_ms = ?3",
                    rusqlite::params![
                        email.to_string(),
                        verdict.access.as_str(),
                        verdict.seen_at.as_millisecond()
                    ],
                )?;
            }
            Ok(())
        })
    }

    pub(crate) fn record_disconnected(
        &mut self,
        now: Timestamp,
        operator: &str,
        digest: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE rollout SET disconnected_ms = ?1 WHERE id = 1",
                [now.as_millisecond()],
            )?;
            audit(
                tx,
                now,
                "disconnected",
                Some("disconnect"),
                operator,
                Some(digest),
                &serde_json::json!({}),
            )
        })
    }

    /// Adds a line to the audit trail.
    pub(crate) fn audit(
        &mut self,
        now: Timestamp,
        kind: &str,
        step: Option<&str>,
        operator: &str,
        digest: Option<&str>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|tx| audit(tx, now, kind, step, operator, digest, detail))
    }
}

/// Moves a new state file into place without ever replacing one: another process may have
/// created it since we looked, and already opened and locked it. Then the new one is dropped
/// (and removed) and theirs is used.
fn install(temporary: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    match temporary.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.error),
    }
}

fn audit(
    tx: &Transaction<'_>,
    now: Timestamp,
    kind: &str,
    step: Option<&str>,
    operator: &str,
    digest: Option<&str>,
    detail: &serde_json::Value,
) -> Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT INTO audit (at_ms, kind, step, operator, digest, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now.as_millisecond(), kind, step, operator, digest, detail.to_string()],
    )?;
    Ok(())
}

fn time(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_another_run_created_meanwhile_is_never_replaced() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("p.state.db");
        let now = Timestamp::from_second(1_800_000_000).expect("time");
        // The first run created the file and holds its lock.
        let mut first = Store::open_or_create(&path, "p").expect("created");
        first.lock("apply", "first", now).expect("locked");

        // A second run that found no file wrote its own and now puts it in place.
        let theirs = tempfile::NamedTempFile::new_in(dir.path()).expect("temporary file");
        let temporary = theirs.path().to_path_buf();
        install(theirs, &path).expect("the existing file is used");
        assert!(!temporary.exists(), "the second file is removed");

        let mut second = Store::open_or_create(&path, "p").expect("opened");
        assert!(
            matches!(
                second.lock("apply", "second", now),
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
}
