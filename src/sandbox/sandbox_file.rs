//! The sandbox file: a SQLite database holding one simulated tenant.
//!
//! Several processes may use one file at once (`sandbox serve` plus `deny-access`, say): it runs
//! in WAL mode with a busy timeout, and every write is one immediate transaction. Every write a
//! client makes is recorded in `writes`; every invariant it breaks in `violations`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::scenario::Tenant;
use super::simulation::{self, FaultSpan};
use super::{Fault, SandboxError};
use crate::plan::grammar::Email;
use crate::target::{
    AuthType, Authorization, Configuration, ConfigurationList, ConfigurationState,
    NewConfiguration, PlatformUser, SyncResult, UserWrite, WriteResult,
};

/// The format this cutover writes and reads. A newer file is refused, never guessed at.
/// 2 added the sealed OAuth columns of `configurations`; a format 1 file is upgraded on open.
pub(crate) const FORMAT_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE configurations (
    id INTEGER PRIMARY KEY,
    display_name TEXT NOT NULL,
    auth_type TEXT NOT NULL CHECK (auth_type IN ('basic', 'oauth')),
    state TEXT NOT NULL,
    tenant_id TEXT,
    exchange_version TEXT,
    service_address TEXT,
    login_hint TEXT,
    authorized_account TEXT,
    error TEXT,
    created_ms INTEGER NOT NULL,
    -- Sealed by `sandbox serve` (never in the clear): an authorization under way, and the
    -- service account's tokens once it is done.
    auth_session BLOB,
    tokens BLOB
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    groups TEXT NOT NULL
);
CREATE TABLE assignments (
    user_id INTEGER NOT NULL REFERENCES users(id),
    configuration_id INTEGER NOT NULL REFERENCES configurations(id),
    enabled_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, configuration_id)
);
CREATE TABLE faults (
    id INTEGER PRIMARY KEY,
    fault TEXT NOT NULL,
    email TEXT,
    configuration TEXT,
    since_ms INTEGER NOT NULL,
    until_ms INTEGER
);
CREATE TABLE rechecks (
    user_id INTEGER NOT NULL,
    configuration_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX rechecks_by_user ON rechecks (user_id, configuration_id, at_ms);
CREATE TABLE writes (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    op TEXT NOT NULL,
    user TEXT,
    configuration TEXT,
    changed INTEGER NOT NULL
);
CREATE TABLE violations (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
";

/// The session of an attempt whose callback is being exchanged, followed by when it was
/// claimed (in ms).
pub(crate) const CLAIMED: &str = "claimed:";

/// A mailbox as the OAuth app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mailbox {
    Open {
        name: String,
    },
    /// Outside the app's access policy.
    Denied,
    /// No such mailbox.
    Missing,
}

/// Fault spans keyed by user email or configuration name.
type FaultsByName = HashMap<String, Vec<FaultSpan>>;

/// A fault active now, with the user or configuration it applies to.
pub(crate) type ActiveFault = (Fault, Option<String>, Option<String>);

/// An open sandbox file.
pub(crate) struct SandboxFile {
    connection: Connection,
    path: PathBuf,
}

/// One row of `writes`.
#[derive(Debug, Clone)]
pub(crate) struct WriteRecord {
    pub(crate) at_ms: i64,
    pub(crate) op: String,
    pub(crate) user: Option<String>,
    pub(crate) configuration: Option<String>,
    pub(crate) changed: bool,
}

/// One row of `violations`.
#[derive(Debug, Clone)]
pub(crate) struct ViolationRecord {
    pub(crate) at_ms: i64,
    pub(crate) kind: String,
    pub(crate) detail: String,
}

impl SandboxFile {
    /// Creates a sandbox file for `tenant`, atomically: it appears whole or not at all.
    pub(crate) fn create(
        path: &Path,
        tenant: &Tenant,
        scenario: &str,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        if path.exists() {
            return Err(SandboxError::Exists {
                path: path.to_path_buf(),
            });
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| SandboxError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sandbox.db");
        let temporary = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        let result = Self::write_new(&temporary, tenant, scenario, now_ms).and_then(|()| {
            // A second process may have created it meanwhile; keep the first, like `create_new`.
            if path.exists() {
                let _ = std::fs::remove_file(&temporary);
                return Ok(());
            }
            std::fs::rename(&temporary, path).map_err(|source| SandboxError::Io {
                path: path.to_path_buf(),
                source,
            })
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        result
    }

    fn write_new(
        path: &Path,
        tenant: &Tenant,
        scenario: &str,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let db = |source| SandboxError::Database {
            path: path.to_path_buf(),
            source,
        };
        let mut connection = Connection::open(path).map_err(db)?;
        let tx = connection.transaction().map_err(db)?;
        tx.execute_batch(SCHEMA).map_err(db)?;
        for (key, value) in [
            ("format_version", FORMAT_VERSION.to_string()),
            ("scenario", scenario.to_owned()),
            ("slots", tenant.slots.to_string()),
            ("sync_interval_ms", tenant.sync_interval_ms.to_string()),
            ("created_ms", now_ms.to_string()),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(db)?;
        }
        // The tenant has been syncing over its configurations for a day already.
        let since = now_ms - 86_400_000;
        let mut ids = HashMap::new();
        for c in &tenant.configurations {
            tx.execute(
                "INSERT INTO configurations (display_name, auth_type, state, tenant_id, authorized_account, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![c.display_name, c.auth_type.as_str(), c.state.as_str(), c.tenant_id, c.authorized_account, since],
            )
            .map_err(db)?;
            ids.insert(c.display_name, tx.last_insert_rowid());
        }
        {
            let mut insert_user = tx
                .prepare(
                    "INSERT INTO users (email, name, location, groups) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db)?;
            let mut insert_assignment = tx
                .prepare("INSERT INTO assignments (user_id, configuration_id, enabled_ms) VALUES (?1, ?2, ?3)")
                .map_err(db)?;
            for u in &tenant.users {
                let groups = serde_json::to_string(&u.groups).unwrap_or_else(|_| "[]".to_owned());
                insert_user
                    .execute(params![u.email, u.name, u.location, groups])
                    .map_err(db)?;
                let user_id = tx.last_insert_rowid();
                for name in &u.enabled {
                    if let Some(id) = ids.get(name) {
                        insert_assignment
                            .execute(params![user_id, id, since])
                            .map_err(db)?;
                    }
                }
            }
        }
        for (fault, email) in &tenant.faults {
            tx.execute(
                "INSERT INTO faults (fault, email, since_ms) VALUES (?1, ?2, ?3)",
                params![fault.as_str(), email, since],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        Ok(())
    }

    /// Opens an existing sandbox file, refusing anything that is not one of ours.
    pub(crate) fn open(path: &Path) -> Result<Self, SandboxError> {
        if !path.exists() {
            return Err(SandboxError::Missing {
                path: path.to_path_buf(),
            });
        }
        let not_ours = || SandboxError::NotASandbox {
            path: path.to_path_buf(),
        };
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|_| not_ours())?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(|source| SandboxError::Database {
                path: path.to_path_buf(),
                source,
            })?;
        let version: Option<String> = connection
            .query_row(
                "SELECT value FROM meta WHERE key = 'format_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|_| not_ours())?;
        let version: i64 = version.and_then(|v| v.parse().ok()).ok_or_else(not_ours)?;
        if version > FORMAT_VERSION {
            return Err(SandboxError::NewerFormat {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if version < 2 {
            let db = |source| SandboxError::Database {
                path: path.to_path_buf(),
                source,
            };
            // Immediate, and checked inside: two processes opening the file at once upgrade it
            // once.
            let tx =
                rusqlite::Transaction::new_unchecked(&connection, TransactionBehavior::Immediate)
                    .map_err(db)?;
            let upgraded: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM pragma_table_info('configurations') WHERE name = 'auth_session'",
                    [],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if upgraded == 0 {
                tx.execute_batch(
                    "ALTER TABLE configurations ADD COLUMN auth_session BLOB;
                     ALTER TABLE configurations ADD COLUMN tokens BLOB;",
                )
                .map_err(db)?;
            }
            tx.execute(
                "UPDATE meta SET value = '2' WHERE key = 'format_version'",
                [],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        // WAL lets `sandbox serve` read while a control command writes; it persists in the file.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|source| SandboxError::Database {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            connection,
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> SandboxError + '_ {
        move |source| SandboxError::Database {
            path: self.path.clone(),
            source,
        }
    }

    fn meta(&self, key: &str) -> Result<Option<String>, SandboxError> {
        self.connection
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.db())
    }

    pub(crate) fn sync_interval_ms(&self) -> Result<i64, SandboxError> {
        Ok(self
            .meta("sync_interval_ms")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000)
            .max(1))
    }

    pub(crate) fn set_sync_interval_ms(&mut self, interval_ms: i64) -> Result<(), SandboxError> {
        self.connection
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'sync_interval_ms'",
                [interval_ms.max(1).to_string()],
            )
            .map_err(self.db())?;
        Ok(())
    }

    fn slots(&self) -> Result<u32, SandboxError> {
        Ok(self
            .meta("slots")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(2))
    }

    pub(crate) fn scenario(&self) -> Result<String, SandboxError> {
        Ok(self.meta("scenario")?.unwrap_or_default())
    }

    // ---- reads --------------------------------------------------------------------------

    pub(crate) fn configuration_list(&self) -> Result<ConfigurationList, SandboxError> {
        let configurations = self.configurations()?;
        let used = configurations
            .iter()
            .filter(|c| c.state != ConfigurationState::Disconnected)
            .count();
        let free_slots = self
            .slots()?
            .saturating_sub(u32::try_from(used).unwrap_or(u32::MAX));
        Ok(ConfigurationList {
            configurations,
            free_slots,
        })
    }

    pub(crate) fn configurations(&self) -> Result<Vec<Configuration>, SandboxError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, display_name, auth_type, state, tenant_id, exchange_version, service_address,
                        authorized_account, error FROM configurations ORDER BY id",
            )
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                Ok(Configuration {
                    id: r.get::<_, i64>(0)?.to_string(),
                    display_name: r.get(1)?,
                    auth_type: AuthType::parse(&r.get::<_, String>(2)?).unwrap_or(AuthType::Basic),
                    state: ConfigurationState::parse(&r.get::<_, String>(3)?)
                        .unwrap_or(ConfigurationState::Error),
                    tenant_id: r.get(4)?,
                    exchange_version: r.get(5)?,
                    service_address: r.get(6)?,
                    authorized_account: r.get(7)?,
                    error: r.get(8)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db())
    }

    fn configuration(&self, id: &str) -> Result<Configuration, SandboxError> {
        self.configurations()?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| SandboxError::NoSuchConfiguration {
                name: id.to_owned(),
            })
    }

    /// The configuration named by id or display name, for the command-line controls.
    pub(crate) fn find_configuration(&self, name: &str) -> Result<Configuration, SandboxError> {
        self.configurations()?
            .into_iter()
            .filter(|c| c.state != ConfigurationState::Disconnected)
            .find(|c| c.id == name || c.display_name.eq_ignore_ascii_case(name))
            .ok_or_else(|| SandboxError::NoSuchConfiguration {
                name: name.to_owned(),
            })
    }

    fn fault_spans(&self) -> Result<(FaultsByName, FaultsByName), SandboxError> {
        let mut statement = self
            .connection
            .prepare("SELECT fault, email, configuration, since_ms, until_ms FROM faults")
            .map_err(self.db())?;
        let mut by_user: HashMap<String, Vec<FaultSpan>> = HashMap::new();
        let mut by_configuration: HashMap<String, Vec<FaultSpan>> = HashMap::new();
        let rows = statement
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .map_err(self.db())?;
        for row in rows {
            let (fault, email, configuration, since_ms, until_ms) = row.map_err(self.db())?;
            let Some(fault) = Fault::parse(&fault) else {
                continue;
            };
            let span = FaultSpan {
                fault,
                since_ms,
                until_ms,
            };
            if let Some(email) = email {
                by_user.entry(email).or_default().push(span);
            }
            if let Some(configuration) = configuration {
                by_configuration
                    .entry(configuration)
                    .or_default()
                    .push(span);
            }
        }
        Ok((by_user, by_configuration))
    }

    /// A page of users in email order, with their sync results as of `now_ms`.
    pub(crate) fn users(
        &self,
        after: Option<&str>,
        limit: usize,
        now_ms: i64,
    ) -> Result<(Vec<PlatformUser>, bool), SandboxError> {
        let configurations = self.configurations()?;
        let by_id: HashMap<i64, &Configuration> = configurations
            .iter()
            .filter_map(|c| c.id.parse::<i64>().ok().map(|id| (id, c)))
            .collect();
        let (user_faults, configuration_faults) = self.fault_spans()?;
        let interval_ms = self.sync_interval_ms()?;
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let after = after.unwrap_or("");

        let mut statement = self
            .connection
            .prepare_cached("SELECT id, email, location, groups FROM users WHERE email > ?1 ORDER BY email LIMIT ?2")
            .map_err(self.db())?;
        let rows = statement
            .query_map(params![after, limit + 1], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(self.db())?;
        let mut page = rows.collect::<Result<Vec<_>, _>>().map_err(self.db())?;
        let more = page.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            return Ok((Vec::new(), false));
        };

        let mut assignments: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT a.user_id, a.configuration_id, a.enabled_ms FROM assignments a JOIN users u ON u.id = a.user_id
                 WHERE u.email >= ?1 AND u.email <= ?2",
            )
            .map_err(self.db())?;
        let rows = statement
            .query_map(params![first.1, last.1], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(self.db())?;
        for row in rows {
            let (user, configuration, enabled_ms) = row.map_err(self.db())?;
            assignments
                .entry(user)
                .or_default()
                .push((configuration, enabled_ms));
        }
        let mut rechecks: HashMap<(i64, i64), i64> = HashMap::new();
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT r.user_id, r.configuration_id, MAX(r.at_ms) FROM rechecks r JOIN users u ON u.id = r.user_id
                 WHERE u.email >= ?1 AND u.email <= ?2 AND r.at_ms <= ?3 GROUP BY r.user_id, r.configuration_id",
            )
            .map_err(self.db())?;
        let rows = statement
            .query_map(params![first.1, last.1, now_ms], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(self.db())?;
        for row in rows {
            let (user, configuration, at_ms) = row.map_err(self.db())?;
            rechecks.insert((user, configuration), at_ms);
        }

        let no_faults = Vec::new();
        let mut users = Vec::with_capacity(page.len());
        for (id, email, location, groups) in page {
            let Ok(parsed) = Email::parse(&email) else {
                continue;
            };
            let faults = user_faults.get(&email).unwrap_or(&no_faults);
            let mut enabled = Vec::new();
            let mut sync = BTreeMap::new();
            let mut mine = assignments.remove(&id).unwrap_or_default();
            mine.sort_unstable();
            for (configuration_id, enabled_ms) in mine {
                let Some(configuration) = by_id.get(&configuration_id) else {
                    continue;
                };
                enabled.push(configuration.id.clone());
                if configuration.state != ConfigurationState::Connected {
                    continue;
                }
                let recheck = rechecks.get(&(id, configuration_id)).copied();
                let Some(at_ms) = simulation::latest_attempt(
                    &email,
                    enabled_ms,
                    interval_ms,
                    faults,
                    recheck,
                    now_ms,
                ) else {
                    continue;
                };
                let configuration_faults = configuration_faults
                    .get(&configuration.display_name)
                    .unwrap_or(&no_faults);
                let (outcome, error) = simulation::outcome(
                    configuration.auth_type,
                    faults,
                    configuration_faults,
                    at_ms,
                );
                sync.insert(
                    configuration.id.clone(),
                    SyncResult {
                        at: Timestamp::from_millisecond(at_ms).unwrap_or(Timestamp::UNIX_EPOCH),
                        outcome,
                        error: error.map(|(_, text)| text.to_owned()),
                        code: error.map(|(code, _)| code.to_owned()),
                    },
                );
            }
            users.push(PlatformUser {
                email: parsed,
                location,
                groups: serde_json::from_str(&groups).unwrap_or_default(),
                enabled,
                sync,
            });
        }
        Ok((users, more))
    }

    pub(crate) fn all_users(&self, now_ms: i64) -> Result<Vec<PlatformUser>, SandboxError> {
        let mut all: Vec<PlatformUser> = Vec::new();
        loop {
            let after = all.last().map(|u| u.email.to_string());
            let (page, more) = self.users(after.as_deref(), 5_000, now_ms)?;
            all.extend(page);
            if !more {
                return Ok(all);
            }
        }
    }

    pub(crate) fn writes(&self) -> Result<Vec<WriteRecord>, SandboxError> {
        let mut statement = self
            .connection
            .prepare("SELECT at_ms, op, user, configuration, changed FROM writes ORDER BY id")
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                Ok(WriteRecord {
                    at_ms: r.get(0)?,
                    op: r.get(1)?,
                    user: r.get(2)?,
                    configuration: r.get(3)?,
                    changed: r.get::<_, i64>(4)? != 0,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db())
    }

    pub(crate) fn violations(&self) -> Result<Vec<ViolationRecord>, SandboxError> {
        let mut statement = self
            .connection
            .prepare("SELECT at_ms, kind, detail FROM violations ORDER BY id")
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                Ok(ViolationRecord {
                    at_ms: r.get(0)?,
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.db())
    }

    // ---- writes -------------------------------------------------------------------------

    /// Runs `f` in one immediate transaction: concurrent writers queue on the busy timeout
    /// instead of interleaving.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, rusqlite::Error>,
    ) -> Result<T, SandboxError> {
        let path = self.path.clone();
        let db = |source| SandboxError::Database {
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

    pub(crate) fn create_configuration(
        &mut self,
        new: &NewConfiguration,
        now_ms: i64,
    ) -> Result<Configuration, SandboxError> {
        let list = self.configuration_list()?;
        if let Some(existing) = list.configurations.iter().find(|c| {
            c.state != ConfigurationState::Disconnected
                && c.display_name.eq_ignore_ascii_case(&new.display_name)
        }) {
            let existing = existing.clone();
            self.write(|tx| {
                record_write(
                    tx,
                    now_ms,
                    "create_configuration",
                    None,
                    Some(&existing.display_name),
                    false,
                )
            })?;
            return Ok(existing);
        }
        if list.free_slots == 0 {
            return Err(SandboxError::NoFreeSlot {
                name: new.display_name.clone(),
            });
        }
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO configurations (display_name, auth_type, state, tenant_id, exchange_version, service_address,
                                             login_hint, created_ms)
                 VALUES (?1, ?2, 'pending_authorization', ?3, ?4, ?5, ?6, ?7)",
                params![
                    new.display_name,
                    new.auth_type.as_str(),
                    new.tenant_id,
                    new.exchange_version,
                    new.service_address,
                    new.login_hint,
                    now_ms
                ],
            )?;
            let id = tx.last_insert_rowid();
            record_write(tx, now_ms, "create_configuration", None, Some(&new.display_name), true)?;
            Ok(id)
        })?;
        self.configuration(&id.to_string())
    }

    /// Starts or re-reads authorization. With no authorization server configured, the sandbox
    /// authorizes at once as the expected account, as the demo tenant does.
    pub(crate) fn authorization(
        &mut self,
        id: &str,
        restart: bool,
        now_ms: i64,
    ) -> Result<Authorization, SandboxError> {
        let configuration = self.configuration(id)?;
        authorizable(&configuration)?;
        let again = restart
            && matches!(
                configuration.state,
                ConfigurationState::Connected | ConfigurationState::Error
            );
        if configuration.state == ConfigurationState::PendingAuthorization || again {
            let hint = self.login_hint(id)?;
            let tenant = configuration
                .tenant_id
                .clone()
                .unwrap_or_else(|| "contoso.onmicrosoft.com".to_owned());
            let account = hint.unwrap_or_else(|| format!("svc-sync@{tenant}"));
            let name = configuration.display_name.clone();
            self.write(|tx| {
                tx.execute(
                    "UPDATE configurations SET state = 'connected', authorized_account = ?1, error = NULL WHERE id = ?2",
                    params![account, id],
                )?;
                record_write(tx, now_ms, "authorize", None, Some(&name), true)
            })?;
        }
        let configuration = self.configuration(id)?;
        Ok(Authorization {
            state: configuration.state,
            url: None,
            account: configuration.authorized_account,
            error: configuration.error,
        })
    }

    pub(crate) fn set_enabled(
        &mut self,
        id: &str,
        emails: &[Email],
        enabled: bool,
        now_ms: i64,
    ) -> Result<Vec<UserWrite>, SandboxError> {
        let configuration = self.configuration(id)?;
        let configuration_id: i64 = id.parse().map_err(|_| SandboxError::NoSuchConfiguration {
            name: id.to_owned(),
        })?;
        let name = configuration.display_name.clone();
        let connected = configuration.state == ConfigurationState::Connected;
        self.write(|tx| {
            let mut results = Vec::with_capacity(emails.len());
            let op = if enabled { "enable" } else { "disable" };
            for email in emails {
                let user_id: Option<i64> = tx
                    .query_row("SELECT id FROM users WHERE email = ?1", [email.to_string()], |r| r.get(0))
                    .optional()?;
                let Some(user_id) = user_id else {
                    results.push(UserWrite { email: email.clone(), result: WriteResult::NotFound });
                    continue;
                };
                if enabled && !connected {
                    let reason = format!("the configuration {name:?} is not connected");
                    results.push(UserWrite { email: email.clone(), result: WriteResult::Failed(reason) });
                    continue;
                }
                let changed = if enabled {
                    tx.execute(
                        "INSERT OR IGNORE INTO assignments (user_id, configuration_id, enabled_ms) VALUES (?1, ?2, ?3)",
                        params![user_id, configuration_id, now_ms],
                    )? == 1
                } else {
                    tx.execute(
                        "DELETE FROM assignments WHERE user_id = ?1 AND configuration_id = ?2",
                        params![user_id, configuration_id],
                    )? == 1
                };
                record_write(tx, now_ms, op, Some(&email.to_string()), Some(&name), changed)?;
                if !enabled && changed {
                    let left: i64 = tx.query_row(
                        "SELECT COUNT(*) FROM assignments a JOIN configurations c ON c.id = a.configuration_id
                         WHERE a.user_id = ?1 AND c.state != 'disconnected'",
                        [user_id],
                        |r| r.get(0),
                    )?;
                    if left == 0 {
                        record_violation(
                            tx,
                            now_ms,
                            "user_without_configuration",
                            &format!("{email} was left with no enabled configuration when {name:?} was disabled"),
                        )?;
                    }
                }
                let result = if changed { WriteResult::Changed } else { WriteResult::Unchanged };
                results.push(UserWrite { email: email.clone(), result });
            }
            Ok(results)
        })
    }

    pub(crate) fn recheck(
        &mut self,
        id: &str,
        emails: &[Email],
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let configuration = self.configuration(id)?;
        let configuration_id: i64 = id.parse().map_err(|_| SandboxError::NoSuchConfiguration {
            name: id.to_owned(),
        })?;
        self.write(|tx| {
            for email in emails {
                let user_id: Option<i64> = tx
                    .query_row("SELECT id FROM users WHERE email = ?1", [email.to_string()], |r| r.get(0))
                    .optional()?;
                if let Some(user_id) = user_id {
                    tx.execute(
                        "INSERT INTO rechecks (user_id, configuration_id, at_ms) VALUES (?1, ?2, ?3)",
                        params![user_id, configuration_id, now_ms],
                    )?;
                    record_write(tx, now_ms, "recheck", Some(&email.to_string()), Some(&configuration.display_name), false)?;
                }
            }
            Ok(())
        })
    }

    pub(crate) fn disconnect(&mut self, id: &str, now_ms: i64) -> Result<(), SandboxError> {
        let configuration = self.configuration(id)?;
        let name = configuration.display_name.clone();
        let changed = configuration.state != ConfigurationState::Disconnected;
        self.write(|tx| {
            if changed {
                let mut statement = tx.prepare(
                    "SELECT u.email FROM assignments a JOIN users u ON u.id = a.user_id WHERE a.configuration_id = ?1 ORDER BY u.email",
                )?;
                let still_on: Vec<String> = statement.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
                if !still_on.is_empty() {
                    let shown: Vec<&str> = still_on.iter().take(10).map(String::as_str).collect();
                    let more = if still_on.len() > 10 { format!(" and {} more", still_on.len() - 10) } else { String::new() };
                    record_violation(
                        tx,
                        now_ms,
                        "disconnected_with_users",
                        &format!("{name:?} was disconnected while {} users were still on it: {}{more}", still_on.len(), shown.join(", ")),
                    )?;
                }
                tx.execute(
                    "UPDATE configurations SET state = 'disconnected', authorized_account = NULL,
                            auth_session = NULL, tokens = NULL WHERE id = ?1",
                    [id],
                )?;
            }
            record_write(tx, now_ms, "disconnect", None, Some(&name), changed)
        })
    }

    // ---- OAuth authorization (driven by `sandbox serve` when an identity provider is set) ----

    /// The sealed authorization attempt of a pending configuration, if one is under way.
    pub(crate) fn auth_session(&self, id: &str) -> Result<Option<Vec<u8>>, SandboxError> {
        self.connection
            .query_row(
                "SELECT auth_session FROM configurations WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.db())
    }

    /// Every attempt under way, as `(configuration id, sealed session)`.
    pub(crate) fn auth_sessions(&self) -> Result<Vec<(String, Vec<u8>)>, SandboxError> {
        let mut statement = self
            .connection
            .prepare("SELECT id, auth_session FROM configurations WHERE auth_session IS NOT NULL")
            .map_err(self.db())?;
        let rows = statement
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?.to_string(), r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(self.db())?;
        rows.collect::<Result<_, _>>().map_err(self.db())
    }

    /// Starts a new attempt: the configuration is pending again, with this sealed session.
    pub(crate) fn begin_authorization(
        &mut self,
        id: &str,
        session: &[u8],
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let configuration = self.configuration(id)?;
        authorizable(&configuration)?;
        let name = configuration.display_name;
        self.write(|tx| {
            tx.execute(
                "UPDATE configurations SET state = 'pending_authorization', auth_session = ?2, error = NULL,
                        authorized_account = NULL, tokens = NULL WHERE id = ?1",
                params![id, session],
            )?;
            record_write(tx, now_ms, "begin_authorization", None, Some(&name), true)
        })
    }

    /// The attempt succeeded: connected as `account`, with the sealed tokens.
    pub(crate) fn complete_authorization(
        &mut self,
        id: &str,
        account: &str,
        tokens: &[u8],
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let name = self.configuration(id)?.display_name;
        self.write(|tx| {
            // Only the claimed attempt (no newer one, not disconnected since) may complete.
            let changed = tx.execute(
                "UPDATE configurations SET state = 'connected', authorized_account = ?2, tokens = ?3, error = NULL,
                        auth_session = NULL
                 WHERE id = ?1 AND state = 'pending_authorization' AND CAST(auth_session AS TEXT) LIKE 'claimed:%'",
                params![id, account, tokens],
            )?;
            record_write(tx, now_ms, "authorize", None, Some(&name), changed == 1)
        })
    }

    /// Takes the attempt whose sealed session is `session` for its callback: true for exactly
    /// one caller, so a replayed or doubled callback cannot complete or fail it again. The
    /// session becomes `claimed:<ms>` until the exchange ends (see [`CLAIMED`]).
    pub(crate) fn claim_authorization(
        &mut self,
        id: &str,
        session: &[u8],
        now_ms: i64,
    ) -> Result<bool, SandboxError> {
        let claimed = format!("{CLAIMED}{now_ms}");
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE configurations SET auth_session = ?3
                 WHERE id = ?1 AND auth_session = ?2 AND state = 'pending_authorization'",
                params![id, session, claimed.as_bytes()],
            )?;
            Ok(changed == 1)
        })
    }

    /// The attempt failed, in the identity provider's words.
    pub(crate) fn fail_authorization(
        &mut self,
        id: &str,
        error: &str,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let name = self.configuration(id)?.display_name;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE configurations SET state = 'error', error = ?2, auth_session = NULL
                 WHERE id = ?1 AND state = 'pending_authorization' AND CAST(auth_session AS TEXT) LIKE 'claimed:%'",
                params![id, error],
            )?;
            record_write(tx, now_ms, "authorization_failed", None, Some(&name), changed == 1)
        })
    }

    /// The login hint recorded when the configuration was created.
    pub(crate) fn login_hint(&self, id: &str) -> Result<Option<String>, SandboxError> {
        self.connection
            .query_row(
                "SELECT login_hint FROM configurations WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.db())
    }

    // ---- the mailboxes, as Microsoft Graph shows them to the OAuth app ----------------------

    /// Whether the OAuth app may open `email`'s mailbox now, by the tenant's access-policy data
    /// (`deny-access` faults) and whether the mailbox exists.
    pub(crate) fn mailbox(&self, email: &str, now_ms: i64) -> Result<Mailbox, SandboxError> {
        let name: Option<String> = self
            .connection
            .query_row(
                "SELECT name FROM users WHERE email = ?1 COLLATE NOCASE",
                [email],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        let Some(name) = name else {
            return Ok(Mailbox::Missing);
        };
        let mut mailbox = Mailbox::Open { name };
        for (fault, user, _) in self.active_faults(now_ms)? {
            if !user.is_some_and(|u| u.eq_ignore_ascii_case(email)) {
                continue;
            }
            match fault {
                Fault::MailboxGone => return Ok(Mailbox::Missing),
                Fault::DenyAccess => mailbox = Mailbox::Denied,
                _ => {}
            }
        }
        Ok(mailbox)
    }

    // ---- scenario controls ----------------------------------------------------------------

    /// Makes the `nth` write call from now fail as if the platform did not answer: before
    /// changing anything, or (`after_commit`) after the change took effect, as when a response
    /// is lost. For testing that a run resumes correctly from either.
    pub(crate) fn inject_failure(
        &mut self,
        nth: u32,
        after_commit: bool,
    ) -> Result<(), SandboxError> {
        let mode = if after_commit { "after" } else { "before" };
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('fail_countdown', ?1)",
                [nth.max(1).to_string()],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('fail_mode', ?1)",
                [mode],
            )?;
            Ok(())
        })
    }

    /// Counts a write call against an injected failure; `Some(after_commit)` when this call
    /// must fail.
    pub(crate) fn take_injected_failure(&mut self) -> Result<Option<bool>, SandboxError> {
        self.write(|tx| {
            let countdown: Option<String> = tx
                .query_row(
                    "SELECT value FROM meta WHERE key = 'fail_countdown'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(countdown) = countdown.and_then(|c| c.parse::<u32>().ok()) else {
                return Ok(None);
            };
            if countdown > 1 {
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'fail_countdown'",
                    [(countdown - 1).to_string()],
                )?;
                return Ok(None);
            }
            let mode: Option<String> = tx
                .query_row("SELECT value FROM meta WHERE key = 'fail_mode'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute(
                "DELETE FROM meta WHERE key IN ('fail_countdown', 'fail_mode')",
                [],
            )?;
            Ok(Some(mode.as_deref() == Some("after")))
        })
    }

    /// Turns a user fault on or off for each email, from `now_ms` on.
    pub(crate) fn set_user_fault(
        &mut self,
        fault: Fault,
        emails: &[Email],
        on: bool,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        for email in emails {
            let exists: Option<i64> = self
                .connection
                .query_row(
                    "SELECT id FROM users WHERE email = ?1",
                    [email.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.db())?;
            if exists.is_none() {
                return Err(SandboxError::NoSuchUser {
                    email: email.to_string(),
                });
            }
        }
        self.write(|tx| {
            for email in emails {
                let email = email.to_string();
                let active: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM faults WHERE fault = ?1 AND email = ?2 AND until_ms IS NULL",
                    params![fault.as_str(), email],
                    |r| r.get(0),
                )?;
                if on && active == 0 {
                    tx.execute(
                        "INSERT INTO faults (fault, email, since_ms) VALUES (?1, ?2, ?3)",
                        params![fault.as_str(), email, now_ms],
                    )?;
                } else if !on && active > 0 {
                    tx.execute(
                        "UPDATE faults SET until_ms = ?3 WHERE fault = ?1 AND email = ?2 AND until_ms IS NULL",
                        params![fault.as_str(), email, now_ms],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Turns a configuration fault on or off.
    pub(crate) fn set_configuration_fault(
        &mut self,
        fault: Fault,
        configuration: &str,
        on: bool,
        now_ms: i64,
    ) -> Result<(), SandboxError> {
        let name = self.find_configuration(configuration)?.display_name;
        self.write(|tx| {
            if on {
                tx.execute(
                    "INSERT INTO faults (fault, configuration, since_ms) VALUES (?1, ?2, ?3)",
                    params![fault.as_str(), name, now_ms],
                )?;
            } else {
                tx.execute(
                    "UPDATE faults SET until_ms = ?3 WHERE fault = ?1 AND configuration = ?2 AND until_ms IS NULL",
                    params![fault.as_str(), name, now_ms],
                )?;
            }
            Ok(())
        })
    }

    /// The faults active now, by user email and by configuration name.
    pub(crate) fn active_faults(&self, now_ms: i64) -> Result<Vec<ActiveFault>, SandboxError> {
        let mut statement = self
            .connection
            .prepare("SELECT fault, email, configuration FROM faults WHERE since_ms <= ?1 AND (until_ms IS NULL OR until_ms > ?1) ORDER BY id")
            .map_err(self.db())?;
        let rows = statement
            .query_map([now_ms], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(self.db())?;
        let mut faults = Vec::new();
        for row in rows {
            let (fault, email, configuration) = row.map_err(self.db())?;
            if let Some(fault) = Fault::parse(&fault) {
                faults.push((fault, email, configuration));
            }
        }
        Ok(faults)
    }
}

/// Only an OAuth configuration that is not disconnected can be (re)authorized.
fn authorizable(configuration: &Configuration) -> Result<(), SandboxError> {
    if configuration.auth_type == AuthType::Oauth
        && configuration.state != ConfigurationState::Disconnected
    {
        return Ok(());
    }
    let state = if configuration.auth_type == AuthType::Oauth {
        configuration.state.as_str().to_owned()
    } else {
        "a Basic configuration".to_owned()
    };
    Err(SandboxError::NotAuthorizable {
        name: configuration.display_name.clone(),
        state,
    })
}

fn record_write(
    tx: &rusqlite::Transaction<'_>,
    at_ms: i64,
    op: &str,
    user: Option<&str>,
    configuration: Option<&str>,
    changed: bool,
) -> Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT INTO writes (at_ms, op, user, configuration, changed) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at_ms, op, user, configuration, i64::from(changed)],
    )?;
    Ok(())
}

fn record_violation(
    tx: &rusqlite::Transaction<'_>,
    at_ms: i64,
    kind: &str,
    detail: &str,
) -> Result<(), rusqlite::Error> {
    tx.execute(
        "INSERT INTO violations (at_ms, kind, detail) VALUES (?1, ?2, ?3)",
        params![at_ms, kind, detail],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Scenario, ScenarioOptions};

    #[test]
    fn a_format_1_file_is_upgraded_when_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        let tenant = Scenario::find("demo")
            .expect("demo")
            .tenant(ScenarioOptions::default());
        SandboxFile::create(&path, &tenant, "demo", 0).expect("create");
        // Make it what format 1 wrote: no sealed OAuth columns.
        let old = Connection::open(&path).expect("open");
        old.execute_batch(
            "ALTER TABLE configurations DROP COLUMN auth_session;
             ALTER TABLE configurations DROP COLUMN tokens;
             UPDATE meta SET value = '1' WHERE key = 'format_version';",
        )
        .expect("downgrade");
        drop(old);

        let file = SandboxFile::open(&path).expect("opens and upgrades");
        assert_eq!(file.auth_sessions().expect("the new column").len(), 0);
        let version: String = file
            .connection
            .query_row(
                "SELECT value FROM meta WHERE key = 'format_version'",
                [],
                |r| r.get(0),
            )
            .expect("version");
        assert_eq!(version, FORMAT_VERSION.to_string());
        drop(file);
        SandboxFile::open(&path).expect("opens again, already upgraded");
    }
}
