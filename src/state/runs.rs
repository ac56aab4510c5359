//! How each run ended: its exit code and what it stopped at, so `status` can tell a monitor
//! where the rollout stands from the state file alone — no credentials, no network.
//!
//! One row per `apply` or `rollback` that ended (a run killed outright leaves none: the lock it
//! left says so). What the outcome means is the command line's to say; this only keeps it.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::schema::time;
use super::{FailingUser, Store, StoreError};

/// What a run stopped at, in words that do not depend on the planner's types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum RunEnd {
    Done,
    /// `waiting: <reason> <step> <detail>`, and the time of the next action where there is one.
    Waiting {
        reason: String,
        step: String,
        detail: String,
        until: Option<Timestamp>,
    },
    Halted {
        step: String,
        reason: String,
        failures: Vec<FailingUser>,
    },
    /// Stopped by SIGINT or SIGTERM at a safe point.
    Interrupted {
        signal: String,
    },
    /// Ended with an error (exit 1 or 2): the platform unreachable, a plan refused, a lost lock.
    Error {
        message: String,
    },
}

/// One finished run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RunRecord {
    pub(crate) command: String,
    pub(crate) started_at: Timestamp,
    pub(crate) ended_at: Timestamp,
    pub(crate) operator: String,
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) exit_code: i32,
    pub(crate) end: RunEnd,
}

impl Store {
    /// Records how a run ended.
    pub(crate) fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        let outcome = serde_json::to_string(&run.end).unwrap_or_else(|_| "{}".to_owned());
        self.write(|tx| {
            tx.execute(
                "INSERT INTO runs (command, started_ms, ended_ms, operator, host, pid, exit_code, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    run.command,
                    run.started_at.as_millisecond(),
                    run.ended_at.as_millisecond(),
                    run.operator,
                    run.host,
                    run.pid,
                    run.exit_code,
                    outcome
                ],
            )?;
            Ok(())
        })
    }
}

/// The last run that ended, if any.
pub(super) fn last(db: &Connection) -> rusqlite::Result<Option<RunRecord>> {
    db.query_row(
        "SELECT command, started_ms, ended_ms, operator, host, pid, exit_code, outcome
         FROM runs ORDER BY id DESC LIMIT 1",
        [],
        |r| {
            let outcome: String = r.get(7)?;
            Ok(RunRecord {
                command: r.get(0)?,
                started_at: time(r.get(1)?),
                ended_at: time(r.get(2)?),
                operator: r.get(3)?,
                host: r.get(4)?,
                pid: r.get(5)?,
                exit_code: r.get(6)?,
                end: serde_json::from_str(&outcome).unwrap_or(RunEnd::Error {
                    message: "this run's outcome could not be read".to_owned(),
                }),
            })
        },
    )
    .optional()
}
