//! The tenant's configurations: listing them with the free slots, creating one, connecting one
//! at once (when no identity provider does it), disconnecting one.
//!
//! This module owns the `configurations` table's rows as the platform shows them. The OAuth
//! attempt a configuration may carry is in `oauth_sessions.rs`, who is enabled on one in
//! `assignments.rs`, and the ledger every write lands in in `write_ledger.rs`.

use rusqlite::params;

use super::write_ledger::{record_violation, record_write};
use super::{SandboxError, SandboxFile};
use crate::target::{
    AuthType, Authorization, Configuration, ConfigurationList, ConfigurationState, NewConfiguration,
};

impl SandboxFile {
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
            .connection()
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

    /// The configuration with the platform's id `id`, disconnected or not.
    pub(super) fn configuration(&self, id: &str) -> Result<Configuration, SandboxError> {
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
}

/// Only an OAuth configuration that is not disconnected can be (re)authorized.
pub(super) fn authorizable(configuration: &Configuration) -> Result<(), SandboxError> {
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
