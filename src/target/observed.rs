//! A snapshot of the platform: what the planner plans from.

use crate::plan::grammar::Email;

use super::{Configuration, PlatformUser, Target, TargetError};

/// Everything the planner needs to know about the platform, read at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    pub(crate) configurations: Vec<Configuration>,
    pub(crate) free_slots: u32,
    /// In email order.
    pub(crate) users: Vec<PlatformUser>,
}

impl Observed {
    /// The configuration with this display name (compared case-insensitively, as the plan does).
    pub(crate) fn configuration(&self, display_name: &str) -> Option<&Configuration> {
        self.configurations
            .iter()
            .filter(|c| c.state != super::ConfigurationState::Disconnected)
            .find(|c| {
                c.display_name
                    .trim()
                    .eq_ignore_ascii_case(display_name.trim())
            })
    }

    pub(crate) fn user(&self, email: &Email) -> Option<&PlatformUser> {
        self.users
            .binary_search_by(|u| u.email.cmp(email))
            .ok()
            .map(|i| &self.users[i])
    }
}

/// Reads the whole platform: configurations, then every page of users.
pub(crate) async fn observe<T: Target>(target: &T) -> Result<Observed, TargetError> {
    let list = target.configurations().await?;
    let mut users: Vec<PlatformUser> = Vec::new();
    loop {
        let after = users.last().map(|u| u.email.to_string());
        let page = target.users(after.as_deref(), target.page_size()).await?;
        let more = page.more && !page.users.is_empty();
        users.extend(page.users);
        if !more {
            break;
        }
    }
    users.sort_by(|a, b| a.email.cmp(&b.email));
    users.dedup_by(|a, b| a.email == b.email);
    Ok(Observed {
        configurations: list.configurations,
        free_slots: list.free_slots,
        users,
    })
}
