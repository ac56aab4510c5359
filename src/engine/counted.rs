//! A [`Target`] that counts the calls made through it, for the run summary and benchmarks.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::plan::grammar::Email;
use crate::target::{
    Authorization, Configuration, ConfigurationList, Identity, NewConfiguration, PlatformUser,
    Target, TargetError, UserPage, UserWrite,
};

pub(crate) struct Counted<'a, T> {
    inner: &'a T,
    calls: RefCell<BTreeMap<&'static str, u64>>,
}

impl<'a, T: Target> Counted<'a, T> {
    pub(crate) fn new(inner: &'a T) -> Self {
        Self {
            inner,
            calls: RefCell::new(BTreeMap::new()),
        }
    }

    /// Calls made so far, by operation.
    pub(crate) fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.borrow().clone()
    }

    fn count(&self, operation: &'static str) {
        *self.calls.borrow_mut().entry(operation).or_default() += 1;
    }
}

impl<T: Target> Target for Counted<'_, T> {
    async fn whoami(&self) -> Result<Identity, TargetError> {
        self.count("whoami");
        self.inner.whoami().await
    }

    async fn configurations(&self) -> Result<ConfigurationList, TargetError> {
        self.count("configurations");
        self.inner.configurations().await
    }

    async fn create_configuration(
        &self,
        new: &NewConfiguration,
    ) -> Result<Configuration, TargetError> {
        self.count("create_configuration");
        self.inner.create_configuration(new).await
    }

    async fn authorization(
        &self,
        configuration: &str,
        restart: bool,
    ) -> Result<Authorization, TargetError> {
        self.count("authorization");
        self.inner.authorization(configuration, restart).await
    }

    async fn users(&self, after: Option<&str>, limit: usize) -> Result<UserPage, TargetError> {
        self.count("users");
        self.inner.users(after, limit).await
    }

    async fn users_by_email(&self, emails: &[Email]) -> Result<Vec<PlatformUser>, TargetError> {
        self.count("users_query");
        self.inner.users_by_email(emails).await
    }

    fn page_size(&self) -> usize {
        self.inner.page_size()
    }

    async fn set_enabled(
        &self,
        configuration: &str,
        users: &[Email],
        enabled: bool,
    ) -> Result<Vec<UserWrite>, TargetError> {
        self.count("set_enabled");
        self.inner.set_enabled(configuration, users, enabled).await
    }

    async fn recheck(&self, configuration: &str, users: &[Email]) -> Result<(), TargetError> {
        self.count("recheck");
        self.inner.recheck(configuration, users).await
    }

    async fn disconnect(&self, configuration: &str) -> Result<(), TargetError> {
        self.count("disconnect");
        self.inner.disconnect(configuration).await
    }
}
