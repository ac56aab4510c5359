//! The state file's format: its tables, its format version and the migrations that brought it
//! there, and how values are stored (times as Unix milliseconds, typed names as their strings).
//!
//! A schema change is a new format with a numbered [`Migration`] below, and a test that resumes
//! a rollout from the previous release's state file (`tests/fixtures/state/`). What each table
//! means is said where it is read and written; how a file is created, checked and upgraded is
//! [`crate::sqlite_file`]'s.

use jiff::Timestamp;
use rusqlite::Transaction;

use crate::sqlite_file::{FileFormat, Migration};

/// Format 1: the first release. Format 2: `mailbox_checks` always exists (format 1 files from
/// before the mailbox pre-check lack it). Format 3: a gate's exceptions, and the users the
/// change board accepted. Format 4: how each run ended, for `status` from the state alone.
/// Format 5: the pre-check's four verdicts with Graph's own words, and the users a step skipped.
/// Format 6: the notification ledger. Format 7: approvals bind the digest of what they approved,
/// may be signed, and may be revoked. Format 8: the audit trail's hash chain. Format 9: the marker
/// `cutover state migrate` leaves when the rollout moved to PostgreSQL (a cutover that reads only
/// format 8 then refuses the file instead of running on stale state).
pub(super) const FORMAT: FileFormat = FileFormat {
    current: 9,
    migrations: &[
        Migration {
            version: 2,
            apply: add_mailbox_checks,
        },
        Migration {
            version: 3,
            apply: add_exceptions_and_acceptances,
        },
        Migration {
            version: 4,
            apply: add_runs,
        },
        Migration {
            version: 5,
            apply: verdict_details,
        },
        Migration {
            version: 6,
            apply: add_notifications,
        },
        Migration {
            version: 7,
            apply: bind_approvals,
        },
        Migration {
            version: 8,
            apply: chain_audit_trail,
        },
        Migration {
            version: 9,
            apply: add_moved,
        },
    ],
    durable: true,
};

/// The `meta` key naming the plan a state file belongs to.
pub(super) const PLAN_NAME: &str = "plan_name";

/// Every table of format 1 (`meta` is [`crate::sqlite_file`]'s).
const TABLES: &str = "
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
";

/// `IF NOT EXISTS`: format 1 files made once the pre-check existed already have it.
const MAILBOX_CHECKS: &str = "
CREATE TABLE IF NOT EXISTS mailbox_checks (
    email TEXT PRIMARY KEY,
    access TEXT NOT NULL,
    seen_ms INTEGER NOT NULL
);
";

/// Format 3: a step's exceptions (members whose OAuth sync failed within the gate's allowance:
/// they keep both configurations until it is clean), and acceptances (`cutover accept`).
const EXCEPTIONS_AND_ACCEPTANCES: &str = "
CREATE TABLE exceptions (
    step TEXT NOT NULL,
    email TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    seen_ms INTEGER,
    opened_ms INTEGER NOT NULL,
    rechecked_ms INTEGER,
    closed_ms INTEGER,
    PRIMARY KEY (step, email)
);
CREATE TABLE acceptances (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    os_user TEXT NOT NULL,
    host TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    revoked_by TEXT
);
";

/// Format 4: one row per `apply` (or `rollback`) that ended, with its exit code and what it
/// stopped at, so `status` can say where the rollout stands without reading the platform.
const RUNS: &str = "
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER NOT NULL,
    operator TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    exit_code INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
";

/// Format 5: each verdict keeps Graph's HTTP status, error code and message; verdicts are named
/// `ok`, `denied`, `not_found`, `unverified`; and the users a step left out on the pre-check's
/// word are kept with the verdict that left them out.
const VERDICT_DETAILS: &str = "
ALTER TABLE mailbox_checks ADD COLUMN status INTEGER;
ALTER TABLE mailbox_checks ADD COLUMN code TEXT NOT NULL DEFAULT '';
ALTER TABLE mailbox_checks ADD COLUMN message TEXT NOT NULL DEFAULT '';
UPDATE mailbox_checks SET access = 'ok' WHERE access = 'allowed';
UPDATE mailbox_checks SET access = 'not_found' WHERE access = 'no_mailbox';
CREATE TABLE skipped_users (
    step TEXT NOT NULL,
    email TEXT NOT NULL,
    access TEXT NOT NULL,
    status INTEGER,
    code TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (step, email)
);
";

/// The notification ledger: one row per channel and event (`notifications.rs`). `channel` is a
/// digest of the channel's kind and settings and `label` its description: neither holds a
/// webhook URL or a password, nor does `notification` (what was sent) or `last_error`.
const NOTIFICATIONS: &str = "
CREATE TABLE IF NOT EXISTS notifications (
    channel TEXT NOT NULL,
    event_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    notification TEXT NOT NULL,
    first_attempt_ms INTEGER NOT NULL,
    delivered_ms INTEGER,
    attempts INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    last_attempt_ms INTEGER NOT NULL,
    last_error TEXT,
    next_retry_ms INTEGER,
    abandoned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, event_key)
);
";

/// Format 7: an approval records the digest of what it approved, its signature and signer when
/// signed, and its revocation; an acceptance, its signature, signer and the statement signed.
const BOUND_APPROVALS: &[(&str, &str, &str)] = &[
    ("approvals", "digest", "TEXT"),
    ("approvals", "signature", "TEXT"),
    ("approvals", "principal", "TEXT"),
    ("approvals", "revoked_ms", "INTEGER"),
    ("approvals", "revoked_by", "TEXT"),
    ("acceptances", "signature", "TEXT"),
    ("acceptances", "principal", "TEXT"),
    ("acceptances", "statement", "TEXT"),
];

/// Format 8: each audit record's link to the one before it and its own hash (`audit_chain.rs`
/// defines both). Records of an older file are chained in order by [`chain_audit_trail`].
const AUDIT_CHAIN: &str = "
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
";

/// Format 9: where the rollout went when `state migrate` moved it; at most one row, and a file
/// that has it is opened by nothing but `state migrate`'s own checks.
const MOVED: &str = "
CREATE TABLE IF NOT EXISTS moved (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    location TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    operator TEXT NOT NULL
);
";

/// Fills a new state file for `plan_name` at the current format.
pub(super) fn init(tx: &Transaction<'_>, plan_name: &str) -> rusqlite::Result<()> {
    tx.execute_batch(TABLES)?;
    tx.execute_batch(MAILBOX_CHECKS)?;
    tx.execute_batch(EXCEPTIONS_AND_ACCEPTANCES)?;
    tx.execute_batch(RUNS)?;
    verdict_details(tx)?;
    tx.execute_batch(NOTIFICATIONS)?;
    bind_approvals(tx)?;
    chain_audit_trail(tx)?;
    add_moved(tx)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)",
        [PLAN_NAME, plan_name],
    )?;
    Ok(())
}

/// Format 1 → 2.
fn add_mailbox_checks(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(MAILBOX_CHECKS)
}

/// Format 2 → 3.
fn add_exceptions_and_acceptances(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(EXCEPTIONS_AND_ACCEPTANCES)
}

/// Format 3 → 4.
fn add_runs(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(RUNS)
}

/// Format 4 → 5.
fn verdict_details(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(VERDICT_DETAILS)
}

/// Format 5 → 6.
fn add_notifications(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(NOTIFICATIONS)
}

/// Format 6 → 7: each column once (SQLite has no `ADD COLUMN IF NOT EXISTS`).
fn bind_approvals(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for (table, column, kind) in BOUND_APPROVALS {
        let present: i64 = tx.query_row(
            "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get(0),
        )?;
        if present == 0 {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// Format 7 → 8: adds the chain's columns and chains the records already there, oldest first,
/// so an upgraded file verifies. How many were chained this way is kept in `meta`: they were
/// not protected before, and `log --verify` says so.
fn chain_audit_trail(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(AUDIT_CHAIN)?;
    let chained = super::audit_chain::chain_unsealed(tx)?;
    if chained > 0 {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            [
                super::audit_chain::CHAINED_ON_UPGRADE,
                chained.to_string().as_str(),
            ],
        )?;
    }
    Ok(())
}

/// Format 8 → 9.
fn add_moved(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(MOVED)
}

/// A stored time; one out of range (a hand-edited file) reads as the epoch rather than failing
/// the whole load.
pub(super) fn time(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A stored name (an audit kind, a journal action) this cutover does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub(super) struct UnknownName {
    pub(super) what: &'static str,
    pub(super) value: String,
}

impl UnknownName {
    /// As the error SQLite's reader reports for a column.
    pub(super) fn of(what: &'static str, value: &str) -> rusqlite::types::FromSqlError {
        rusqlite::types::FromSqlError::Other(Box::new(Self {
            what,
            value: value.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::state::mailbox_records::{Access, MailboxAccess};
    use crate::state::{Store, StoreError};

    fn tables(path: &std::path::Path) -> Vec<String> {
        let db = Connection::open(path).expect("opened");
        let mut statement = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .expect("prepared");
        statement
            .query_map([], |r| r.get(0))
            .expect("queried")
            .collect::<Result<_, _>>()
            .expect("read")
    }

    fn format_of(path: &std::path::Path) -> String {
        Connection::open(path)
            .and_then(|db| {
                db.query_row(
                    "SELECT value FROM meta WHERE key = 'format_version'",
                    [],
                    |r| r.get(0),
                )
            })
            .expect("format_version")
    }

    /// A format 1 file from before the mailbox pre-check: no `mailbox_checks` table.
    fn before_the_precheck(path: &std::path::Path) {
        Store::open_or_create(path, "p").expect("created");
        Connection::open(path)
            .and_then(|db| {
                db.execute_batch(
                    "DROP TABLE mailbox_checks; DROP TABLE exceptions; DROP TABLE acceptances;
                     DROP TABLE runs; DROP TABLE skipped_users; DROP TABLE notifications;
                     ALTER TABLE audit DROP COLUMN prev_hash; ALTER TABLE audit DROP COLUMN hash;
                     UPDATE meta SET value = '1' WHERE key = 'format_version';",
                )
            })
            .expect("made format 1");
    }

    #[test]
    fn a_new_file_is_created_at_the_current_format_with_every_table() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("p.state.db");
        Store::open_or_create(&path, "p").expect("created");
        assert_eq!(format_of(&path), FORMAT.current.to_string());
        assert_eq!(
            tables(&path),
            [
                "acceptances",
                "approvals",
                "audit",
                "batches",
                "exceptions",
                "holds",
                "journal",
                "lock",
                "mailbox_checks",
                "meta",
                "moved",
                "notifications",
                "rollout",
                "runs",
                "skipped_users",
                "step_members",
                "steps"
            ]
        );
    }

    #[test]
    fn a_format_1_file_from_before_the_precheck_gains_every_later_table() -> Result<(), StoreError>
    {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("p.state.db");
        before_the_precheck(&path);
        assert!(!tables(&path).contains(&"mailbox_checks".to_owned()));

        let mut store = Store::open(&path, "p")?;
        assert_eq!(format_of(&path), FORMAT.current.to_string());
        for table in [
            "mailbox_checks",
            "exceptions",
            "acceptances",
            "runs",
            "skipped_users",
            "notifications",
        ] {
            assert!(tables(&path).contains(&table.to_owned()), "{table}");
        }
        let email = crate::plan::grammar::Email::parse("ana@contoso.example").expect("an email");
        let mut seen = MailboxAccess::default();
        seen.record(
            email.clone(),
            Access::Denied,
            Timestamp::from_second(1_800_000_000).expect("time"),
        );
        store.record_mailboxes(&seen, std::slice::from_ref(&email))?;
        assert!(store.load()?.mailboxes.is_denied(&email));
        drop(store);

        // Upgraded once: opening it again changes nothing.
        let store = Store::open(&path, "p")?;
        assert!(store.load()?.mailboxes.is_denied(&email));
        Ok(())
    }

    /// A format 6 file's audit trail is chained in order on upgrade, so it verifies, and says
    /// how many of its records predate the chain.
    #[test]
    fn a_format_6_trail_is_chained_in_order_on_upgrade() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("p.state.db");
        Store::open_or_create(&path, "p").expect("created");
        Connection::open(&path)
            .and_then(|db| {
                db.execute_batch(
                    "ALTER TABLE audit DROP COLUMN prev_hash; ALTER TABLE audit DROP COLUMN hash;
                     INSERT INTO audit (at_ms, kind, step, operator, digest, detail) VALUES
                         (1000, 'rollout_started', NULL, 'op', 'sha256:ab', '{\"approved_digest\":null}'),
                         (2000, 'step_started', 'pilot', 'op', 'sha256:ab', '{\"users\":2}'),
                         (3000, 'approved', 'east', 'cab', NULL, '{}');
                     UPDATE meta SET value = '6' WHERE key = 'format_version';",
                )
            })
            .expect("made format 6");

        let mut store = Store::open(&path, "p")?;
        assert_eq!(format_of(&path), FORMAT.current.to_string());
        let verdict = store.verify_audit_chain(None)?;
        assert!(verdict.is_intact(), "{verdict:?}");
        assert_eq!((verdict.records, verdict.chained_on_upgrade), (3, 3));
        let head = store.audit_head()?.expect("a head");
        assert_eq!(verdict.head.as_deref(), Some(head.hash.as_str()));

        // Records written after the upgrade extend the same chain.
        store.hold("freeze", "op", Timestamp::from_second(4).expect("time"))?;
        let verdict = store.verify_audit_chain(None)?;
        assert!(verdict.is_intact(), "{verdict:?}");
        assert_eq!((verdict.records, verdict.chained_on_upgrade), (4, 3));
        let kinds: Vec<&str> = store
            .audit_trail()?
            .iter()
            .map(|e| e.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            ["rollout_started", "step_started", "approved", "hold"]
        );
        Ok(())
    }

    /// A format 2 file (the pre-check's `allowed`/`denied`/`no_mailbox`) reads its verdicts by
    /// their new names, and gains the skipped users' table.
    #[test]
    fn a_format_2_file_keeps_its_verdicts_under_their_new_names() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("p.state.db");
        Store::open_or_create(&path, "p").expect("created");
        Connection::open(&path)
            .and_then(|db| {
                db.execute_batch(
                    "DROP TABLE skipped_users; DROP TABLE exceptions; DROP TABLE acceptances;
                     DROP TABLE runs; DROP TABLE notifications;
                     ALTER TABLE audit DROP COLUMN prev_hash; ALTER TABLE audit DROP COLUMN hash;
                     DROP TABLE mailbox_checks;
                     CREATE TABLE mailbox_checks (
                         email TEXT PRIMARY KEY, access TEXT NOT NULL, seen_ms INTEGER NOT NULL);
                     INSERT INTO mailbox_checks VALUES
                         ('ana@contoso.example', 'allowed', 1000),
                         ('ben@contoso.example', 'no_mailbox', 2000),
                         ('cy@contoso.example', 'denied', 3000);
                     UPDATE meta SET value = '2' WHERE key = 'format_version';",
                )
            })
            .expect("made format 2");

        let store = Store::open(&path, "p")?;
        assert_eq!(format_of(&path), FORMAT.current.to_string());
        assert!(tables(&path).contains(&"skipped_users".to_owned()));
        let state = store.load()?;
        let email = |s: &str| crate::plan::grammar::Email::parse(s).expect("an email");
        let users = [
            email("ana@contoso.example"),
            email("ben@contoso.example"),
            email("cy@contoso.example"),
        ];
        let read: Vec<Access> = state
            .mailboxes
            .verdicts_of(&users)
            .map(|(_, v)| v.access)
            .collect();
        assert_eq!(read, [Access::Ok, Access::NotFound, Access::Denied]);
        let stored: Vec<String> = Connection::open(&path)
            .and_then(|db| {
                db.prepare("SELECT access FROM mailbox_checks ORDER BY email")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .expect("read back");
        assert_eq!(stored, ["ok", "not_found", "denied"]);
        Ok(())
    }
}
