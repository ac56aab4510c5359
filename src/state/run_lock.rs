//! The run lock in the state file: one run at a time per plan, taken before reading what to do.
//!
//! The `lock` table holds at most one row, the holder. Taking it, releasing it and forcing it
//! away happen here, each in one transaction with its audit row. Who a holder is and whether its
//! process still exists is `lock.rs`'s; `approve`, `status` and `log` never come here.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Transaction, params};

use super::lock::{self, Holder};
use super::schema::time;
use super::{AuditKind, audit};
use super::{Store, StoreError};

impl Store {
    /// Takes the run lock, or says who holds it. A lock left by a process on this host that no
    /// longer runs is taken over (and the takeover audited).
    pub(crate) fn lock(
        &mut self,
        command: &str,
        operator: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if self.is_postgres() {
            return self.lock_postgres(command, operator, now);
        }
        let me = Holder::current(command, now);
        let held = self.write(|tx| {
            if let Some(holder) = holder(tx)? {
                if !lock::is_stale(&holder) {
                    return Ok(Some(holder));
                }
                take_over(tx, &holder, operator, now)?;
            }
            record_holder(tx, &me, now)?;
            Ok(None)
        })?;
        match held {
            Some(holder) => Err(StoreError::Locked {
                location: self.location(),
                holder,
            }),
            None => Ok(()),
        }
    }

    /// Releases the lock if this process holds it.
    pub(crate) fn unlock(&mut self) -> Result<(), StoreError> {
        if self.is_postgres() {
            return self.unlock_postgres();
        }
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
        if self.is_postgres() {
            return self.force_unlock_postgres(operator, now);
        }
        self.write(|tx| {
            let holder = holder(tx)?;
            tx.execute("DELETE FROM lock WHERE id = 1", [])?;
            let detail = serde_json::json!({ "holder": holder.as_ref().map(ToString::to_string) });
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
        })
    }
}

/// Removes the lock row of `holder`, a run that ended without releasing it, and puts the
/// takeover on the record.
pub(super) fn take_over(
    tx: &Transaction<'_>,
    holder: &Holder,
    operator: &str,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM lock WHERE id = 1", [])?;
    let detail = serde_json::json!({ "holder": holder.to_string() });
    audit::insert(
        tx,
        now,
        AuditKind::StaleLockTakenOver,
        None,
        operator,
        None,
        &detail,
    )?;
    Ok(())
}

/// Names `me` as the run lock's holder.
pub(super) fn record_holder(
    tx: &Transaction<'_>,
    me: &Holder,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO lock (id, host, pid, process_start, started_ms, command)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![
            me.host,
            me.pid,
            me.process_start,
            now.as_millisecond(),
            me.command
        ],
    )?;
    Ok(())
}

fn holder(tx: &Transaction<'_>) -> rusqlite::Result<Option<Holder>> {
    holder_of(tx)
}

/// Who holds the lock, read without taking it.
pub(super) fn holder_of(db: &rusqlite::Connection) -> rusqlite::Result<Option<Holder>> {
    db.query_row(
        "SELECT host, pid, process_start, started_ms, command FROM lock WHERE id = 1",
        [],
        |r| {
            Ok(Holder {
                host: r.get(0)?,
                pid: r.get(1)?,
                process_start: r.get(2)?,
                started: time(r.get(3)?),
                command: r.get(4)?,
            })
        },
    )
    .optional()
}
