//! Integration configurations: a service account's credentials in one of the platform's slots.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthType {
    Basic,
    Oauth,
}

impl AuthType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuthType::Basic => "basic",
            AuthType::Oauth => "oauth",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "basic" => Some(AuthType::Basic),
            "oauth" => Some(AuthType::Oauth),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ConfigurationState {
    PendingAuthorization,
    Connected,
    Disconnected,
    Error,
}

impl ConfigurationState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConfigurationState::PendingAuthorization => "pending_authorization",
            ConfigurationState::Connected => "connected",
            ConfigurationState::Disconnected => "disconnected",
            ConfigurationState::Error => "error",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "pending_authorization" => Some(ConfigurationState::PendingAuthorization),
            "connected" => Some(ConfigurationState::Connected),
            "disconnected" => Some(ConfigurationState::Disconnected),
            "error" => Some(ConfigurationState::Error),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Configuration {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) auth_type: AuthType,
    pub(crate) state: ConfigurationState,
    pub(crate) tenant_id: Option<String>,
    pub(crate) exchange_version: Option<String>,
    pub(crate) service_address: Option<String>,
    /// The account that signed in when it was authorized.
    pub(crate) authorized_account: Option<String>,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ConfigurationList {
    pub(crate) configurations: Vec<Configuration>,
    pub(crate) free_slots: u32,
}

/// What cutover asks the platform to create: the plan's `[to]`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct NewConfiguration {
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    pub(crate) display_name: String,
    pub(crate) auth_type: AuthType,
    #[schemars(length(min = 1, max = 200), pattern(r"\S"))]
    pub(crate) tenant_id: String,
    pub(crate) exchange_version: Option<String>,
    pub(crate) service_address: Option<String>,
    /// Passed to the identity provider as the expected sign-in (`login_hint`).
    pub(crate) login_hint: Option<String>,
}

/// Where an OAuth configuration's authorization stands.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Authorization {
    pub(crate) state: ConfigurationState,
    /// Where an admin signs in, while it is pending.
    pub(crate) url: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) error: Option<String>,
}
