//! What the engine may ask of a platform, and the shapes of its answers.
//!
//! The engine, the planner and `cutover plan` speak only to [`Target`]; the embedded sandbox and
//! the platform's REST API are two implementations. This module owns the trait and the types it
//! exchanges; it does not know how any platform stores them.

mod attribute_values;
mod configuration;
mod configuration_id;
#[cfg(test)]
mod conformance;
mod observed;
mod placement;
mod platform_user;
mod sync_results;
mod target_error;
mod user_write;

use crate::plan::grammar::Email;

pub(crate) use attribute_values::Attribute;
pub(crate) use configuration::{
    AuthType, Authorization, Configuration, ConfigurationList, ConfigurationState, NewConfiguration,
};
pub(crate) use configuration_id::ConfigurationId;
pub(crate) use observed::{Mark, Observed, observe};
pub(crate) use placement::Placement;
pub(crate) use platform_user::{PlatformUser, SyncOutcome, SyncResult, UserPage};
pub(crate) use sync_results::SyncResults;
pub(crate) use target_error::TargetError;
pub(crate) use user_write::{UserWrite, WriteResult};

/// How many users a page or a bulk call carries at most.
pub(crate) const PAGE_SIZE: usize = 1_000;

/// A scheduling platform's admin surface. Writes are idempotent: enabling a user who is already
/// enabled reports `Unchanged` and changes nothing, so an in-doubt call can always be re-sent.
#[allow(async_fn_in_trait)] // Used through generics inside the crate; never as `dyn`.
pub(crate) trait Target {
    /// Who the credentials belong to and what they may do.
    async fn whoami(&self) -> Result<Identity, TargetError>;

    /// Every configuration, and how many more the platform has room for.
    async fn configurations(&self) -> Result<ConfigurationList, TargetError>;

    /// Creates a configuration in a free slot. Creating one whose display name already exists
    /// returns the existing one unchanged (so a retried call cannot make two).
    async fn create_configuration(
        &self,
        new: &NewConfiguration,
    ) -> Result<Configuration, TargetError>;

    /// Starts (or re-reads) the authorization of an OAuth configuration. `restart` abandons a
    /// failed or completed one and starts over (to authorize as another account).
    async fn authorization(
        &self,
        configuration: &str,
        restart: bool,
    ) -> Result<Authorization, TargetError>;

    /// One page of users, in email order, starting after `after`.
    async fn users(&self, after: Option<&str>, limit: usize) -> Result<UserPage, TargetError>;

    /// The users with these emails, in email order, each once; emails the platform does not
    /// know are left out. One logical call however many emails: a target splits it as its API
    /// requires. What a gate reads, so that a poll costs what its step costs, not the tenant.
    async fn users_by_email(&self, emails: &[Email]) -> Result<Vec<PlatformUser>, TargetError>;

    /// The most users one page of [`Target::users`] carries: a full read of the platform is
    /// this many users a call.
    fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    /// Enables or disables a configuration for many users in one call; one result per user.
    async fn set_enabled(
        &self,
        configuration: &str,
        users: &[Email],
        enabled: bool,
    ) -> Result<Vec<UserWrite>, TargetError>;

    /// Asks the platform to re-run the permission check for these users now, instead of at
    /// their next scheduled sync.
    async fn recheck(&self, configuration: &str, users: &[Email]) -> Result<(), TargetError>;

    /// Disconnects a configuration: its credentials are removed. Cannot be undone.
    async fn disconnect(&self, configuration: &str) -> Result<(), TargetError>;
}

/// The account a target's credentials act as, and the limits its calls must respect.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct Identity {
    pub(crate) account: String,
    pub(crate) role: String,
    /// The most users one bulk call may carry (none: no limit below the page size).
    pub(crate) max_bulk_users: Option<u32>,
}
