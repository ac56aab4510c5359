//! `cutover sandbox inspect --format json`: the whole platform state in a stable shape that tests
//! and scripts rely on (format version 1).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::{SandboxError, SandboxFile};

#[derive(Debug, Serialize)]
pub(crate) struct Inspection {
    pub(crate) format_version: u32,
    pub(crate) scenario: String,
    pub(crate) sync_interval_ms: i64,
    pub(crate) configurations: Vec<InspectedConfiguration>,
    pub(crate) users: Vec<InspectedUser>,
    pub(crate) faults: Vec<InspectedFault>,
    pub(crate) writes: Vec<InspectedWrite>,
    pub(crate) violations: Vec<InspectedViolation>,
}

#[derive(Debug, Serialize)]
pub(crate) struct InspectedConfiguration {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) auth_type: &'static str,
    pub(crate) state: &'static str,
    pub(crate) tenant_id: Option<String>,
    pub(crate) authorized_account: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct InspectedUser {
    pub(crate) email: String,
    pub(crate) location: String,
    pub(crate) groups: Vec<String>,
    /// Display names of the configurations the user is enabled on.
    pub(crate) enabled: Vec<String>,
    /// The latest attempt per configuration display name.
    pub(crate) sync: BTreeMap<String, InspectedSync>,
}

#[derive(Debug, Serialize)]
pub(crate) struct InspectedSync {
    pub(crate) at: String,
    pub(crate) outcome: &'static str,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct InspectedFault {
    pub(crate) fault: &'static str,
    pub(crate) user: Option<String>,
    pub(crate) configuration: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct InspectedWrite {
    pub(crate) at: String,
    pub(crate) op: String,
    pub(crate) user: Option<String>,
    pub(crate) configuration: Option<String>,
    pub(crate) changed: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct InspectedViolation {
    pub(crate) at: String,
    pub(crate) kind: String,
    pub(crate) detail: String,
}

fn time(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

impl Inspection {
    pub(crate) fn of(file: &SandboxFile, now_ms: i64) -> Result<Self, SandboxError> {
        let configurations = file.configurations()?;
        let name_of = |id: &str| {
            configurations
                .iter()
                .find(|c| c.id == id)
                .map_or_else(|| id.to_owned(), |c| c.display_name.clone())
        };
        let users = file
            .all_users(now_ms)?
            .into_iter()
            .map(|u| InspectedUser {
                email: u.email.to_string(),
                location: u.location.to_string(),
                groups: u.groups.to_vec(),
                enabled: u.enabled.iter().map(|id| name_of(id)).collect(),
                sync: u
                    .sync
                    .iter()
                    .map(|(id, s)| {
                        let sync = InspectedSync {
                            at: s.at.to_string(),
                            outcome: s.outcome.as_str(),
                            error: s.error.clone(),
                        };
                        (name_of(id), sync)
                    })
                    .collect(),
            })
            .collect();
        Ok(Self {
            format_version: 1,
            scenario: file.scenario()?,
            sync_interval_ms: file.sync_interval_ms()?,
            configurations: configurations
                .iter()
                .map(|c| InspectedConfiguration {
                    id: c.id.clone(),
                    display_name: c.display_name.clone(),
                    auth_type: c.auth_type.as_str(),
                    state: c.state.as_str(),
                    tenant_id: c.tenant_id.clone(),
                    authorized_account: c.authorized_account.clone(),
                })
                .collect(),
            users,
            faults: file
                .active_faults(now_ms)?
                .into_iter()
                .map(|(fault, user, configuration)| InspectedFault {
                    fault: fault.as_str(),
                    user,
                    configuration,
                })
                .collect(),
            writes: file
                .writes()?
                .into_iter()
                .map(|w| InspectedWrite {
                    at: time(w.at_ms),
                    op: w.op,
                    user: w.user,
                    configuration: w.configuration,
                    changed: w.changed,
                })
                .collect(),
            violations: file
                .violations()?
                .into_iter()
                .map(|v| InspectedViolation {
                    at: time(v.at_ms),
                    kind: v.kind,
                    detail: v.detail,
                })
                .collect(),
        })
    }
}
