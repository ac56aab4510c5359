//! The audit trail: an append-only list of what happened to a rollout, when, by whom, and
//! against which digest (`cutover log`).
//!
//! Other writes add their line inside their own transaction through [`insert`], so a change and
//! its audit line land together; [`Store::audit`] adds a line on its own. Every line is sealed
//! into the trail's hash chain as it is written (`audit_chain.rs`: the encoding, the head,
//! verification). What the kinds are is `audit_kind.rs`'s.

use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::AuditKind;
use super::schema::time;
use super::{Store, StoreError};

/// One line of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuditEntry {
    /// Its sequence number in the trail.
    pub(crate) id: i64,
    pub(crate) at: Timestamp,
    pub(crate) kind: AuditKind,
    pub(crate) step: Option<String>,
    pub(crate) operator: String,
    pub(crate) digest: Option<String>,
    pub(crate) detail: serde_json::Value,
    /// Its hash in the chain (`None` for a line something other than cutover added).
    pub(crate) hash: Option<String>,
}

const COLUMNS: &str = "at_ms, kind, step, operator, digest, detail, id, hash";

impl Store {
    /// Adds a line to the audit trail.
    pub(crate) fn audit(
        &mut self,
        now: Timestamp,
        kind: AuditKind,
        step: Option<&str>,
        operator: &str,
        digest: Option<&str>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|tx| insert(tx, now, kind, step, operator, digest, detail))
    }

    /// The whole trail, oldest first.
    pub(crate) fn audit_trail(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let mut statement = self
            .connection()?
            .prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY id"))
            .map_err(self.db())?;
        let rows = statement.query_map([], entry).map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// The latest line of `kind`, if there is one.
    pub(crate) fn last_audit(&self, kind: AuditKind) -> Result<Option<AuditEntry>, StoreError> {
        self.connection()?
            .query_row(
                &format!("SELECT {COLUMNS} FROM audit WHERE kind = ?1 ORDER BY id DESC LIMIT 1"),
                [kind],
                entry,
            )
            .optional()
            .map_err(self.db())
    }
}

/// Adds a line to the audit trail inside the caller's transaction, sealed into the chain. The
/// detail is stored as canonical JSON (compact, keys sorted), which the chain's hash covers.
pub(super) fn insert(
    tx: &Transaction<'_>,
    now: Timestamp,
    kind: AuditKind,
    step: Option<&str>,
    operator: &str,
    digest: Option<&str>,
    detail: &serde_json::Value,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit (at_ms, kind, step, operator, digest, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            now.as_millisecond(),
            kind,
            step,
            operator,
            digest,
            detail.to_string()
        ],
    )?;
    super::audit_chain::seal(tx, tx.last_insert_rowid())
}

/// A row of [`COLUMNS`].
/// A value of another type than cutover writes (a hand-edited file) reads as the epoch, no
/// detail or no hash, so the trail can still be shown — and `log --verify` names the line.
fn entry(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let at = match r.get::<_, Value>(0)? {
        Value::Integer(ms) => ms,
        _ => 0,
    };
    let detail = match r.get::<_, Value>(5)? {
        Value::Text(text) => serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    };
    Ok(AuditEntry {
        at: time(at),
        kind: r.get(1)?,
        step: r.get(2)?,
        operator: r.get(3)?,
        digest: r.get(4)?,
        detail,
        id: r.get(6)?,
        hash: match r.get::<_, Value>(7)? {
            Value::Text(hash) => Some(hash),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_of_a_kind_is_the_latest_one() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut store = Store::open_or_create(&dir.path().join("p.state.db"), "p")?;
        let at = |s| Timestamp::from_second(s).expect("time");
        assert!(store.last_audit(AuditKind::Authorized)?.is_none());
        for (second, account) in [(1, "first@contoso.example"), (3, "second@contoso.example")] {
            let detail = serde_json::json!({ "account": account });
            store.audit(
                at(second),
                AuditKind::Authorized,
                Some("connect"),
                "op",
                None,
                &detail,
            )?;
            store.hold("freeze", "op", at(second + 1))?;
        }
        let last = store.last_audit(AuditKind::Authorized)?.expect("a line");
        assert_eq!(last.detail["account"], "second@contoso.example");
        assert_eq!(last.at, at(3));
        let kinds: Vec<&str> = store
            .audit_trail()?
            .iter()
            .map(|e| e.kind.as_str())
            .collect();
        assert_eq!(kinds, ["authorized", "hold", "authorized", "hold"]);
        Ok(())
    }

    #[test]
    fn an_unknown_kind_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("p.state.db");
        let store = Store::open_or_create(&path, "p").expect("created");
        store
            .connection()
            .expect("read")
            .execute(
                "INSERT INTO audit (at_ms, kind, operator) VALUES (0, 'from_the_future', 'op')",
                [],
            )
            .expect("inserted");
        let error = store.audit_trail().err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("unknown audit kind \"from_the_future\"")),
            "{error:?}"
        );
    }
}
