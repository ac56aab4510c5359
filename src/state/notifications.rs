//! The notification ledger: [`Store`] methods reading and writing the `notifications` table
//! (format 5), one row per (channel, event).
//!
//! Plain reads take no lock (`status` reads it too). Each attempt is one immediate transaction.
//! Deciding what to send is [`crate::notify`]'s; this file only remembers.

use rusqlite::{Connection, params};

use super::schema::time;
use super::{DeliveryAttempt, DeliveryRecord, Store, StoreError};

impl Store {
    /// Every row of the ledger, oldest first.
    pub(crate) fn notification_ledger(&self) -> Result<Vec<DeliveryRecord>, StoreError> {
        read(self.connection()?).map_err(self.db())
    }

    /// Records one attempt: a first attempt creates the row; a later one counts it, and a
    /// success clears the failures.
    pub(crate) fn record_delivery(
        &mut self,
        attempt: &DeliveryAttempt<'_>,
    ) -> Result<(), StoreError> {
        let at = attempt.at.as_millisecond();
        let (delivered, error, retry) = match &attempt.outcome {
            Ok(()) => (Some(at), None, None),
            Err((reason, retry)) => (None, Some(reason.as_str()), Some(retry.as_millisecond())),
        };
        self.write(|tx| {
            tx.execute(
                "INSERT INTO notifications (channel, event_key, kind, label, notification,
                     first_attempt_ms, delivered_ms, attempts, failures, last_attempt_ms,
                     last_error, next_retry_ms, abandoned)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?6, ?9, ?10, 0)
                 ON CONFLICT (channel, event_key) DO UPDATE SET
                     label = excluded.label,
                     delivered_ms = COALESCE(excluded.delivered_ms, delivered_ms),
                     attempts = attempts + 1,
                     failures = CASE WHEN excluded.delivered_ms IS NULL THEN failures + 1 ELSE 0 END,
                     last_attempt_ms = excluded.last_attempt_ms,
                     last_error = excluded.last_error,
                     next_retry_ms = excluded.next_retry_ms,
                     abandoned = 0",
                params![
                    attempt.channel,
                    attempt.event_key,
                    attempt.kind,
                    attempt.label,
                    attempt.notification,
                    at,
                    delivered,
                    i64::from(delivered.is_none()),
                    error,
                    retry,
                ],
            )?;
            Ok(())
        })
    }

    /// Stops retrying a failed row (superseded by a later notification, or too old); it stays
    /// for `status`.
    pub(crate) fn abandon_delivery(
        &mut self,
        channel: &str,
        event_key: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE notifications SET abandoned = 1, next_retry_ms = NULL
                 WHERE channel = ?1 AND event_key = ?2",
                params![channel, event_key],
            )?;
            Ok(())
        })
    }
}

fn read(db: &Connection) -> rusqlite::Result<Vec<DeliveryRecord>> {
    let mut statement = db.prepare(
        "SELECT channel, event_key, kind, label, notification, first_attempt_ms, delivered_ms,
                attempts, failures, last_attempt_ms, last_error, next_retry_ms, abandoned
         FROM notifications ORDER BY first_attempt_ms, channel, event_key",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(DeliveryRecord {
            channel: r.get(0)?,
            event_key: r.get(1)?,
            kind: r.get(2)?,
            label: r.get(3)?,
            notification: r.get(4)?,
            first_attempt: time(r.get(5)?),
            delivered_at: r.get::<_, Option<i64>>(6)?.map(time),
            attempts: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(u32::MAX),
            failures: u32::try_from(r.get::<_, i64>(8)?).unwrap_or(u32::MAX),
            last_attempt: time(r.get(9)?),
            last_error: r.get(10)?,
            next_retry: r.get::<_, Option<i64>>(11)?.map(time),
            abandoned: r.get::<_, i64>(12)? != 0,
        })
    })?;
    rows.collect()
}
