//! The platform a plan names: the embedded sandbox or the admin API over HTTP.

use crate::http_target::HttpTarget;
use crate::plan::grammar::Email;
use crate::sandbox::SandboxTarget;
use crate::target::{
    Authorization, Configuration, ConfigurationList, Identity, NewConfiguration, PlatformUser,
    Target, TargetError, UserPage, UserWrite,
};

pub(crate) enum Platform {
    Sandbox(SandboxTarget),
    Http(HttpTarget),
}

impl Target for Platform {
    async fn whoami(&self) -> Result<Identity, TargetError> {
        match self {
            Platform::Sandbox(t) => t.whoami().await,
            Platform::Http(t) => t.whoami().await,
        }
    }

    async fn configurations(&self) -> Result<ConfigurationList, TargetError> {
        match self {
            Platform::Sandbox(t) => t.configurations().await,
            Platform::Http(t) => t.configurations().await,
        }
    }

    async fn create_configuration(
        &self,
        new: &NewConfiguration,
    ) -> Result<Configuration, TargetError> {
        match self {
            Platform::Sandbox(t) => t.create_configuration(new).await,
            Platform::Http(t) => t.create_configuration(new).await,
        }
    }

    async fn authorization(
        &self,
        configuration: &str,
        restart: bool,
    ) -> Result<Authorization, TargetError> {
        match self {
            Platform::Sandbox(t) => t.authorization(configuration, restart).await,
            Platform::Http(t) => t.authorization(configuration, restart).await,
        }
    }

    async fn users(&self, after: Option<&str>, limit: usize) -> Result<UserPage, TargetError> {
        match self {
            Platform::Sandbox(t) => t.users(after, limit).await,
            Platform::Http(t) => t.users(after, limit).await,
        }
    }

    async fn users_by_email(&self, emails: &[Email]) -> Result<Vec<PlatformUser>, TargetError> {
        match self {
            Platform::Sandbox(t) => t.users_by_email(emails).await,
            Platform::Http(t) => t.users_by_email(emails).await,
        }
    }

    fn page_size(&self) -> usize {
        match self {
            Platform::Sandbox(t) => t.page_size(),
            Platform::Http(t) => t.page_size(),
        }
    }

    async fn set_enabled(
        &self,
        configuration: &str,
        users: &[Email],
        enabled: bool,
    ) -> Result<Vec<UserWrite>, TargetError> {
        match self {
            Platform::Sandbox(t) => t.set_enabled(configuration, users, enabled).await,
            Platform::Http(t) => t.set_enabled(configuration, users, enabled).await,
        }
    }

    async fn recheck(&self, configuration: &str, users: &[Email]) -> Result<(), TargetError> {
        match self {
            Platform::Sandbox(t) => t.recheck(configuration, users).await,
            Platform::Http(t) => t.recheck(configuration, users).await,
        }
    }

    async fn disconnect(&self, configuration: &str) -> Result<(), TargetError> {
        match self {
            Platform::Sandbox(t) => t.disconnect(configuration).await,
            Platform::Http(t) => t.disconnect(configuration).await,
        }
    }
}
