//! The run lock on PostgreSQL: a lock that cannot be held twice.
//!
//! Holding it means three things at once: this session holds the rollout's session advisory
//! lock (PostgreSQL drops it when the session ends, however it ends), the `lock` row names this
//! process, and `fences` carries the epoch this taking of the lock got — one more than the last.
//! Every write of a run that holds the lock checks, inside its own transaction, that the epoch
//! is still current, that the fence names this session and that the session still holds the
//! advisory lock; a journal row carries the epoch it was written under. The engine journals an
//! intent before each platform write, so a run whose session died (a network blip, a
//! `pg_terminate_backend`) or whose lock was forced away stops before touching the platform
//! again, and another host that took the lock meanwhile is the only one moving users.
//! The SQLite lock (`run_lock.rs`) is the file's own; this is PostgreSQL's.

use jiff::Timestamp;
use rusqlite::{Transaction, params};
use sha2::{Digest, Sha256};

use super::super::lock::Holder;
use super::super::{AuditKind, Store, StoreError, audit, run_lock};

/// Why a fenced write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fenced {
    /// The epoch moved on: the lock was forced away or taken over.
    Superseded { ours: i64, now: Option<i64> },
    /// The session no longer holds the advisory lock (or is not the fence's).
    NotHeld,
}

impl Fenced {
    pub(crate) fn explain(&self) -> String {
        match self {
            Fenced::Superseded {
                ours,
                now: Some(now),
            } => format!(
                "its lock epoch {ours} is no longer current (now {now}): the lock was forced away or taken over"
            ),
            Fenced::Superseded { ours, now: None } => {
                format!("its lock epoch {ours} is no longer recorded: the lock was forced away")
            }
            Fenced::NotHeld => "its database session no longer holds the advisory lock".to_owned(),
        }
    }
}

/// The advisory lock key of a rollout: stable, per schema and rollout, non-negative so that
/// `pg_locks` (which shows it as two unsigned halves) reads it back unchanged.
pub(crate) fn lock_key(schema: &str, rollout_id: i64) -> i64 {
    let digest = Sha256::digest(format!("cutover run lock {schema} {rollout_id}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(bytes) >> 1) as i64
}

/// Whether this session holds advisory lock `key` (checked in `pg_locks`, from a statement
/// other than the one that took it, which a transaction-mode pooler would not pass).
const HOLDS: &str = "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
    AND granted AND pid = pg_backend_pid() AND objsubid = 1
    AND ((classid::bigint << 32) | objid::bigint) = $1)";

/// The check a fenced write runs first in its transaction.
pub(crate) fn check(
    client: &mut postgres::Client,
    schema: &str,
    rollout_id: i64,
    key: i64,
    ours: i64,
) -> Result<Result<(), Fenced>, postgres::Error> {
    let row = client.query_opt(
        &format!(
            "SELECT epoch, backend_pid = pg_backend_pid() FROM {schema}.fences
             WHERE rollout_id = $1 FOR UPDATE"
        ),
        &[&rollout_id],
    )?;
    let (epoch, ours_session): (Option<i64>, Option<bool>) = match row {
        Some(row) => (Some(row.try_get(0)?), row.try_get(1)?),
        None => (None, None),
    };
    if epoch != Some(ours) {
        return Ok(Err(Fenced::Superseded { ours, now: epoch }));
    }
    let holds: bool = client.query_one(HOLDS, &[&key])?.try_get(0)?;
    if !holds || ours_session != Some(true) {
        return Ok(Err(Fenced::NotHeld));
    }
    Ok(Ok(()))
}

impl Store {
    pub(in crate::state) fn lock_postgres(
        &mut self,
        command: &str,
        operator: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let remote = self.remote()?;
        let (key, schema, id) = (
            remote.lock_key,
            remote.location.schema.clone(),
            remote.rollout_id,
        );
        let got: bool = self.pg(|c| {
            c.query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
                .try_get(0)
        })?;
        if !got {
            let holder = super::super::run_lock::holder_of(self.connection()?)
                .map_err(self.db())?
                .unwrap_or_else(|| Holder {
                    host: "another host".to_owned(),
                    pid: 0,
                    process_start: None,
                    started: now,
                    command: "apply".to_owned(),
                });
            return Err(StoreError::Locked {
                location: self.location(),
                holder,
            });
        }
        let me = Holder::current(command, now);
        let take = |tx: &Transaction<'_>| {
            // This session has the advisory lock, so a row left here names a session that
            // ended without releasing it: taken over, as a dead local process's lock is.
            if let Some(holder) = run_lock::holder_of(tx)? {
                run_lock::take_over(tx, &holder, operator, now)?;
            }
            run_lock::record_holder(tx, &me, now)
        };
        let bump = move |c: &mut postgres::Client| -> Result<i64, postgres::Error> {
            c.query_one(
                &format!(
                    "INSERT INTO {schema}.fences (rollout_id, epoch, backend_pid)
                     VALUES ($1, 1, pg_backend_pid())
                     ON CONFLICT (rollout_id) DO UPDATE
                     SET epoch = fences.epoch + 1, backend_pid = pg_backend_pid()
                     RETURNING epoch"
                ),
                &[&id],
            )?
            .try_get(0)
        };
        let epoch = match self.write_postgres(take, None, bump) {
            Ok(((), epoch)) => epoch,
            Err(e) => {
                let _ = self.pg(move |c| c.execute("SELECT pg_advisory_unlock($1)", &[&key]));
                return Err(e);
            }
        };
        self.epoch = Some(epoch);
        // The first fenced check: fails at once under a pooler that lost the session.
        if let Err(e) = self.write_postgres(|_| Ok(()), Some(epoch), |_| Ok(())) {
            self.epoch = None;
            return Err(match e {
                StoreError::LockLost { location, .. } => StoreError::Pooled { location },
                other => other,
            });
        }
        Ok(())
    }

    pub(in crate::state) fn unlock_postgres(&mut self) -> Result<(), StoreError> {
        let Some(epoch) = self.epoch.take() else {
            return Ok(());
        };
        let me = Holder::current("", Timestamp::UNIX_EPOCH);
        let released = self.write_postgres(
            |tx| {
                tx.execute(
                    "DELETE FROM lock WHERE id = 1 AND host = ?1 AND pid = ?2",
                    params![me.host, me.pid],
                )?;
                Ok(())
            },
            Some(epoch),
            |_| Ok(()),
        );
        match released {
            // A lock already lost (or whose session ended, taking the advisory lock with it)
            // has nothing left to release.
            Err(StoreError::LockLost { .. }) => return Ok(()),
            Err(_) if self.remote()?.session.borrow().is_closed() => return Ok(()),
            other => other?,
        };
        let key = self.remote()?.lock_key;
        self.pg(move |c| {
            c.execute("SELECT pg_advisory_unlock($1)", &[&key])
                .map(|_| ())
        })
    }

    /// `unlock --force`: the row goes, the epoch moves on (so a holder still running fails its
    /// next check) and the holder's session, if it still holds the advisory lock, is ended.
    pub(in crate::state) fn force_unlock_postgres(
        &mut self,
        operator: &str,
        now: Timestamp,
    ) -> Result<Option<Holder>, StoreError> {
        let remote = self.remote()?;
        let (key, schema, id) = (
            remote.lock_key,
            remote.location.schema.clone(),
            remote.rollout_id,
        );
        let (holder, ()) = self.write_postgres(
            |tx| {
                let holder = super::super::run_lock::holder_of(tx)?;
                tx.execute("DELETE FROM lock WHERE id = 1", [])?;
                let detail =
                    serde_json::json!({ "holder": holder.as_ref().map(ToString::to_string) });
                audit::insert(
                    tx,
                    now,
                    AuditKind::UnlockForced,
                    None,
                    operator,
                    None,
                    &detail,
                )?;
                Ok(holder)
            },
            None,
            move |c| {
                c.execute(
                    &format!(
                        "UPDATE {schema}.fences SET epoch = epoch + 1, backend_pid = NULL
                         WHERE rollout_id = $1"
                    ),
                    &[&id],
                )
                .map(|_| ())
            },
        )?;
        // Best effort: ending another role's session needs a privilege this role may lack, and
        // the moved epoch stops that holder at its next write anyway.
        let _ = self.pg(move |c| {
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
                 AND granted AND pid <> pg_backend_pid() AND objsubid = 1
                 AND ((classid::bigint << 32) | objid::bigint) = $1",
                &[&key],
            )
            .map(|_| ())
        });
        Ok(holder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_non_negative_and_differ_per_schema_and_rollout() {
        let a = lock_key("cutover", 1);
        assert_eq!(a, lock_key("cutover", 1));
        assert!(a >= 0);
        assert_ne!(a, lock_key("cutover", 2));
        assert_ne!(a, lock_key("other", 1));
    }
}
