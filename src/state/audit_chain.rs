//! The audit trail's hash chain: every record carries the hash of the record before it, so a
//! record changed, removed or slipped in after the fact breaks the chain there, and
//! `cutover log --verify` names it.
//!
//! Whoever can rewrite a record can also rewrite every hash after it. That is why the chain's
//! head (the last record's hash) leaves the file: `apply` prints it on its last lines and sends
//! it with its notifications, `status` shows it, and `log --verify --head HASH` checks that the
//! chain still passes through a head kept elsewhere ([`HeadCheck`]). Records cut off the end of
//! the trail are caught the same way, and only that way.
//!
//! # The encoding (version 1)
//!
//! A record's hash is `sha256:` followed by the 64 lowercase hexadecimal digits of
//!
//! ```text
//! SHA-256( "cutover audit record v1\n"
//!          || value(prev_hash) || value(id) || value(at_ms) || value(kind)
//!          || value(step) || value(operator) || value(digest) || value(detail) )
//! ```
//!
//! over the `audit` table's columns as SQLite stores them, where `prev_hash` is the previous
//! record's `hash` (NULL for the first record) and each value is type-tagged and, for text,
//! length-prefixed, so no two different records encode alike:
//!
//! | SQLite value | bytes |
//! |---|---|
//! | NULL | `00` |
//! | INTEGER `i` | `01`, then `i` as 8 bytes, big-endian two's complement |
//! | TEXT `t` | `02`, then the length of `t` in UTF-8 bytes as 8 bytes big-endian, then those bytes |
//! | REAL `r` | `03`, then the IEEE 754 bits of `r` as 8 bytes big-endian |
//! | BLOB `b` | `04`, then its length as 8 bytes big-endian, then its bytes |
//!
//! `id` is the record's sequence number (the table's `INTEGER PRIMARY KEY`), `at_ms` the Unix
//! time in milliseconds, `kind` the stored [`super::AuditKind`] string, `step`, `operator` and
//! `digest` as given (NULL when absent), and `detail` the record's JSON as stored: cutover writes
//! it compact with object keys in sorted order (canonical JSON; serde_json's `Value` keeps
//! its keys sorted), and the hash covers that text byte for byte, so any change to it shows.
//! A verifier needs nothing but the file: a few lines of Python over `sqlite3` reproduce it.
//!
//! Files from before the chain (state format 7) have their records chained in order when they
//! are upgraded (`schema.rs`); the `meta` key [`CHAINED_ON_UPGRADE`] says how many, since those
//! are only as trustworthy as the file was at that moment.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::schema::time;
use super::{Store, StoreError};

/// What every hash starts with.
pub(crate) const HASH_PREFIX: &str = "sha256:";

/// Separates this encoding from any other use of SHA-256, and names its version.
const DOMAIN: &[u8] = b"cutover audit record v1\n";

/// The `meta` key holding how many records an upgrade to format 7 chained.
pub(super) const CHAINED_ON_UPGRADE: &str = "audit_chained_on_upgrade";

/// The hash of a record whose previous record's hash is `prev`, over its hashed columns
/// (`id` to `detail`, in the encoding's order).
fn record_hash(prev: &Value, columns: &[Value]) -> String {
    let mut bytes = DOMAIN.to_vec();
    encode(&mut bytes, prev);
    for value in columns {
        encode(&mut bytes, value);
    }
    let digest = Sha256::digest(&bytes);
    let mut hash = String::with_capacity(HASH_PREFIX.len() + 64);
    hash.push_str(HASH_PREFIX);
    for byte in digest {
        hash.push_str(&format!("{byte:02x}"));
    }
    hash
}

/// One value, tagged with its type (see the module's table).
fn encode(out: &mut Vec<u8>, value: &Value) {
    let with_length = |out: &mut Vec<u8>, tag: u8, bytes: &[u8]| {
        out.push(tag);
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    match value {
        Value::Null => out.push(0),
        Value::Integer(i) => {
            out.push(1);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::Text(t) => with_length(out, 2, t.as_bytes()),
        Value::Real(r) => {
            out.push(3);
            out.extend_from_slice(&r.to_bits().to_be_bytes());
        }
        Value::Blob(b) => with_length(out, 4, b),
    }
}

/// A record as the chain sees it: its hashed columns exactly as SQLite holds them, and its two
/// hashes. Nothing is parsed, so a tampered value of the wrong type is a broken record, not an
/// error.
struct ChainRow {
    columns: Vec<Value>,
    prev_hash: Value,
    hash: Value,
}

impl ChainRow {
    /// The hashed columns in the encoding's order (after `prev_hash`), then the two hashes.
    const SELECT: &str = "SELECT id, at_ms, kind, step, operator, digest, detail, prev_hash, hash
                          FROM audit";

    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        let columns = (0..7).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?;
        Ok(Self {
            columns,
            prev_hash: r.get(7)?,
            hash: r.get(8)?,
        })
    }

    fn id(&self) -> i64 {
        match self.columns.first() {
            Some(Value::Integer(id)) => *id,
            _ => 0,
        }
    }

    fn text(value: &Value) -> Option<&str> {
        match value {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    fn computed(&self) -> String {
        record_hash(&self.prev_hash, &self.columns)
    }

    /// Where the record is, in words a person can find it by.
    fn place(&self) -> RecordPlace {
        let at = match self.columns.get(1) {
            Some(Value::Integer(ms)) => Some(time(*ms)),
            _ => None,
        };
        let column = |i: usize| self.columns.get(i).and_then(Self::text).map(str::to_owned);
        RecordPlace {
            record: self.id(),
            at,
            kind: column(2).unwrap_or_default(),
            step: column(3),
        }
    }
}

/// Seals the record `id` (inside the writer's transaction): links it to the record before it
/// and stores its hash. Its own columns are read back first, so the hash is over what SQLite
/// stored, exactly as [`Store::verify_audit_chain`] will read it.
pub(super) fn seal(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    let prev: Value = tx
        .query_row(
            "SELECT hash FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(Value::Null);
    tx.execute(
        "UPDATE audit SET prev_hash = ?2 WHERE id = ?1",
        params![id, prev],
    )?;
    let row = tx.query_row(
        &format!("{} WHERE id = ?1", ChainRow::SELECT),
        [id],
        ChainRow::read,
    )?;
    tx.execute(
        "UPDATE audit SET hash = ?2 WHERE id = ?1",
        params![id, row.computed()],
    )?;
    Ok(())
}

/// Chains every record that has no hash yet, oldest first (the upgrade to format 7). Returns
/// how many it chained.
pub(super) fn chain_unsealed(tx: &Transaction<'_>) -> rusqlite::Result<u64> {
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM audit WHERE hash IS NULL ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &ids {
        seal(tx, *id)?;
    }
    Ok(ids.len() as u64)
}

/// A chain hash as `apply` prints it: `sha256:` and 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainHash(String);

/// Text given as a chain hash that is not one.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0:?} is not an audit chain hash: give it as `apply` prints it, `sha256:` and 64 hexadecimal digits"
)]
pub(crate) struct BadChainHash(String);

impl ChainHash {
    /// Reads a hash, with or without its `sha256:` prefix, in either case.
    pub(crate) fn parse(text: &str) -> Result<Self, BadChainHash> {
        let trimmed = text.trim();
        let hex = trimmed
            .get(..HASH_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(HASH_PREFIX))
            .map_or(trimmed, |_| &trimmed[HASH_PREFIX.len()..]);
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(format!("{HASH_PREFIX}{}", hex.to_ascii_lowercase())))
        } else {
            Err(BadChainHash(text.to_owned()))
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The chain's head: the last record and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AuditHead {
    pub(crate) hash: String,
    /// The last record's sequence number.
    pub(crate) record: i64,
    /// How many records the trail has.
    pub(crate) records: u64,
}

/// A record named by a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RecordPlace {
    pub(crate) record: i64,
    pub(crate) at: Option<jiff::Timestamp>,
    pub(crate) kind: String,
    pub(crate) step: Option<String>,
}

/// The first record where the chain breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct BrokenRecord {
    #[serde(flatten)]
    pub(crate) place: RecordPlace,
    pub(crate) reason: BrokenReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum BrokenReason {
    /// It has no hash: something other than cutover added it.
    Unsealed,
    /// Its content (or the link it stores) does not match its hash: it was changed.
    Altered,
    /// Its link names another record than the one before it (`previous`, `None` when it is the
    /// first): that one was rewritten, or records between were removed or slipped in.
    Unlinked { previous: Option<i64> },
}

impl BrokenRecord {
    /// One sentence: what is wrong and what it means.
    pub(crate) fn explain(&self) -> String {
        let record = self.place.record;
        match &self.reason {
            BrokenReason::Unsealed => format!(
                "record {record} has no hash: it was added to the file by something other than cutover"
            ),
            BrokenReason::Altered => format!(
                "record {record} does not match its hash: it was changed after it was written"
            ),
            BrokenReason::Unlinked {
                previous: Some(previous),
            } => {
                let gap = if *previous + 1 == record {
                    String::new()
                } else {
                    format!(" (records {}–{} are missing)", previous + 1, record - 1)
                };
                format!(
                    "record {record} does not follow record {previous}{gap}: record {previous} was rewritten, \
                     or records between them were removed"
                )
            }
            BrokenReason::Unlinked { previous: None } => format!(
                "record {record} is the first but names a previous record: the records before it were removed"
            ),
        }
    }
}

/// Whether the chain passes through a head kept elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub(crate) enum HeadCheck {
    /// The head is a record of the chain: `record`, followed by `after` later records.
    Found { record: i64, after: u64 },
    /// No record has that hash: the trail was rewritten, or cut short, after it was taken.
    Missing,
}

/// What [`Store::verify_audit_chain`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ChainVerdict {
    /// How many records the trail has.
    pub(crate) records: u64,
    /// The last record's hash as stored.
    pub(crate) head: Option<String>,
    /// The first broken record, if any.
    pub(crate) broken: Option<BrokenRecord>,
    /// The head asked for and whether the chain passes through it.
    pub(crate) expected_head: Option<(String, HeadCheck)>,
    /// Records written before the trail was chained (state format 7), chained when the file
    /// was upgraded.
    pub(crate) chained_on_upgrade: u64,
}

impl ChainVerdict {
    /// The chain is whole and, when a head was given, passes through it.
    pub(crate) fn is_intact(&self) -> bool {
        self.broken.is_none() && !matches!(self.expected_head, Some((_, HeadCheck::Missing)))
    }
}

/// Walks the records in order: the first broken one, the last hash, and where `expected` is.
fn verify(
    rows: impl Iterator<Item = ChainRow>,
    expected: Option<&ChainHash>,
) -> (u64, Option<String>, Option<BrokenRecord>, Option<HeadCheck>) {
    let mut records = 0u64;
    let mut previous: Option<(i64, Value)> = None;
    let mut broken = None;
    let mut found: Option<(i64, u64)> = None;
    for row in rows {
        records += 1;
        if let Some((_, after)) = &mut found {
            *after += 1;
        }
        if broken.is_none() {
            let reason = if ChainRow::text(&row.hash).is_none() {
                Some(BrokenReason::Unsealed)
            } else if ChainRow::text(&row.hash) != Some(row.computed().as_str()) {
                Some(BrokenReason::Altered)
            } else if previous.as_ref().map_or(&Value::Null, |(_, h)| h) != &row.prev_hash {
                Some(BrokenReason::Unlinked {
                    previous: previous.as_ref().map(|(id, _)| *id),
                })
            } else {
                None
            };
            broken = reason.map(|reason| BrokenRecord {
                place: row.place(),
                reason,
            });
        }
        if let (Some(want), None) = (expected, &found) {
            if ChainRow::text(&row.hash) == Some(want.as_str()) {
                found = Some((row.id(), 0));
            }
        }
        previous = Some((row.id(), row.hash));
    }
    let head = previous.and_then(|(_, h)| ChainRow::text(&h).map(str::to_owned));
    let check = expected.map(|_| match found {
        Some((record, after)) => HeadCheck::Found { record, after },
        None => HeadCheck::Missing,
    });
    (records, head, broken, check)
}

impl Store {
    /// The chain's head: the last record's hash (as stored; [`Store::verify_audit_chain`] says
    /// whether it is sound). `None` when nothing was recorded yet, or the last record has no
    /// hash.
    pub(crate) fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let last: Option<(i64, Option<String>)> = self
            .connection()?
            .query_row(
                "SELECT id, CASE WHEN typeof(hash) = 'text' THEN hash END
                 FROM audit ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.db())?;
        let Some((record, Some(hash))) = last else {
            return Ok(None);
        };
        let records: i64 = self
            .connection()?
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
            .map_err(self.db())?;
        Ok(Some(AuditHead {
            hash,
            record,
            records: u64::try_from(records).unwrap_or(0),
        }))
    }

    /// Checks the whole chain, oldest record first: each record's hash against its content, and
    /// its link against the record before it. With `expected` (a head kept elsewhere), also
    /// whether the chain passes through it. Reads only.
    pub(crate) fn verify_audit_chain(
        &self,
        expected: Option<&ChainHash>,
    ) -> Result<ChainVerdict, StoreError> {
        let mut statement = self
            .connection()?
            .prepare(&format!("{} ORDER BY id", ChainRow::SELECT))
            .map_err(self.db())?;
        let rows = statement
            .query_map([], ChainRow::read)
            .map_err(self.db())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.db())?;
        let (records, head, broken, check) = verify(rows.into_iter(), expected);
        let chained_on_upgrade = self
            .connection()?
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [CHAINED_ON_UPGRADE],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(self.db())?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(ChainVerdict {
            records,
            head,
            broken,
            expected_head: expected.map(|e| e.as_str().to_owned()).zip(check),
            chained_on_upgrade,
        })
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use rusqlite::Connection;

    use super::*;
    use crate::state::AuditKind;

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open_or_create(&dir.path().join("p.state.db"), "p").expect("created")
    }

    fn record(store: &mut Store, second: i64, step: &str) {
        let at = Timestamp::from_second(1_800_000_000 + second).expect("time");
        let detail = serde_json::json!({ "users": second, "b": [1, 2], "a": "x" });
        store
            .audit(
                at,
                AuditKind::StepStarted,
                Some(step),
                "op",
                Some("sha256:0123"),
                &detail,
            )
            .expect("recorded");
    }

    fn db(dir: &tempfile::TempDir) -> Connection {
        Connection::open(dir.path().join("p.state.db")).expect("opened")
    }

    /// Pins the encoding: a known record has a known hash, forever. If this changes, every
    /// state file ever written stops verifying.
    #[test]
    fn the_encoding_of_a_record_is_fixed() {
        let columns = [
            Value::Integer(1),
            Value::Integer(1_800_000_000_000),
            Value::Text("rollout_started".into()),
            Value::Null,
            Value::Text("op".into()),
            Value::Text("sha256:0123".into()),
            Value::Text(r#"{"approved_digest":null}"#.into()),
        ];
        let mut bytes = Vec::new();
        encode(&mut bytes, &Value::Null);
        encode(&mut bytes, &Value::Integer(258));
        encode(&mut bytes, &Value::Text("é".into()));
        assert_eq!(
            bytes,
            [
                0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0xc3, 0xa9
            ]
        );
        let mut expected = DOMAIN.to_vec();
        expected.push(0);
        for value in &columns {
            encode(&mut expected, value);
        }
        let digest: String = Sha256::digest(&expected)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            record_hash(&Value::Null, &columns),
            format!("sha256:{digest}")
        );
        assert_eq!(
            record_hash(&Value::Null, &columns),
            "sha256:8014e5f6107d57125309e46513c12271ad6cf7fc272a6ff1696505e7b2ab4f40",
        );
    }

    #[test]
    fn details_are_stored_as_canonical_json() {
        let detail = serde_json::json!({ "b": 1, "a": { "d": 2, "c": [3] } });
        assert_eq!(detail.to_string(), r#"{"a":{"c":[3],"d":2},"b":1}"#);
    }

    #[test]
    fn a_written_trail_verifies_and_its_head_is_the_last_hash() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut store = store(&dir);
        assert_eq!(store.audit_head()?, None);
        let empty = store.verify_audit_chain(None)?;
        assert!(empty.is_intact() && empty.records == 0 && empty.head.is_none());
        for second in 1..=4 {
            record(&mut store, second, "east");
        }
        let verdict = store.verify_audit_chain(None)?;
        assert!(verdict.is_intact(), "{verdict:?}");
        assert_eq!(verdict.records, 4);
        let head = store.audit_head()?.expect("a head");
        assert_eq!((head.record, head.records), (4, 4));
        assert_eq!(verdict.head.as_deref(), Some(head.hash.as_str()));
        assert!(head.hash.starts_with("sha256:") && head.hash.len() == 71);
        let links: Vec<(Option<String>, String)> = db(&dir)
            .prepare("SELECT prev_hash, hash FROM audit ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("read");
        assert_eq!(links[0].0, None);
        for pair in links.windows(2) {
            assert_eq!(pair[1].0.as_deref(), Some(pair[0].1.as_str()));
        }
        Ok(())
    }

    /// Each kind of tampering, and the record it is pinned on.
    #[test]
    fn tampering_is_named_at_the_first_broken_record() -> Result<(), StoreError> {
        let cases: [(&str, &str, i64, BrokenReason); 7] = [
            (
                "a byte of a detail",
                "UPDATE audit SET detail = replace(detail, '\"x\"', '\"y\"') WHERE id = 3",
                3,
                BrokenReason::Altered,
            ),
            (
                "the time",
                "UPDATE audit SET at_ms = at_ms + 1 WHERE id = 2",
                2,
                BrokenReason::Altered,
            ),
            (
                "the time, as text",
                "UPDATE audit SET at_ms = 'soon' WHERE id = 2",
                2,
                BrokenReason::Altered,
            ),
            (
                "the operator",
                "UPDATE audit SET operator = 'someone else' WHERE id = 4",
                4,
                BrokenReason::Altered,
            ),
            (
                "a record removed",
                "DELETE FROM audit WHERE id = 2",
                3,
                BrokenReason::Unlinked { previous: Some(1) },
            ),
            (
                "the first record removed",
                "DELETE FROM audit WHERE id = 1",
                2,
                BrokenReason::Unlinked { previous: None },
            ),
            (
                "a record slipped in",
                "INSERT INTO audit (id, at_ms, kind, operator) VALUES (10, 0, 'hold', 'x')",
                10,
                BrokenReason::Unsealed,
            ),
        ];
        for (what, tamper, record_id, reason) in cases {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let mut store = store(&dir);
            for second in 1..=4 {
                record(&mut store, second, "east");
            }
            db(&dir).execute_batch(tamper).expect("tampered");
            let verdict = store.verify_audit_chain(None)?;
            let broken = verdict.broken.clone().expect(what);
            assert_eq!(
                (broken.place.record, &broken.reason),
                (record_id, &reason),
                "{what}"
            );
            assert!(!verdict.is_intact(), "{what}");
        }
        Ok(())
    }

    #[test]
    fn a_consistently_rewritten_chain_verifies_but_misses_the_head_kept_elsewhere()
    -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut store = store(&dir);
        for second in 1..=3 {
            record(&mut store, second, "east");
        }
        let kept = ChainHash::parse(&store.audit_head()?.expect("a head").hash).expect("a hash");
        record(&mut store, 4, "west");
        let verdict = store.verify_audit_chain(Some(&kept))?;
        assert_eq!(
            verdict.expected_head.as_ref().map(|(_, c)| c),
            Some(&HeadCheck::Found {
                record: 3,
                after: 1
            })
        );
        assert!(verdict.is_intact());

        // Record 2 changed, and every hash from it on recomputed.
        db(&dir)
            .execute_batch("UPDATE audit SET operator = 'mallory' WHERE id = 2; UPDATE audit SET hash = NULL WHERE id >= 2;")
            .expect("tampered");
        store.write(|tx| chain_unsealed(tx).map(drop))?;
        let rewritten = store.verify_audit_chain(None)?;
        assert!(rewritten.is_intact(), "{rewritten:?}");
        let checked = store.verify_audit_chain(Some(&kept))?;
        assert_eq!(
            checked.expected_head.map(|(_, c)| c),
            Some(HeadCheck::Missing)
        );
        Ok(())
    }

    #[test]
    fn chain_hashes_are_read_as_apply_prints_them() {
        let hex = "AB".repeat(32);
        let good = [
            format!("sha256:{hex}"),
            hex.clone(),
            format!(" SHA256:{hex}\n"),
        ];
        for text in good {
            assert_eq!(
                ChainHash::parse(&text).map(|h| h.as_str().to_owned()).ok(),
                Some(format!("sha256:{}", hex.to_lowercase())),
                "{text:?}"
            );
        }
        for bad in [
            "",
            "sha256:",
            "sha256:abc",
            &format!("md5:{hex}"),
            &"g".repeat(64),
        ] {
            assert!(ChainHash::parse(bad).is_err(), "{bad:?}");
        }
    }
}
