//! The sandbox as a [`Target`]: the engine's calls, answered from the sandbox file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{SandboxError, SandboxFile, Scenario, ScenarioOptions};
use crate::clock::Clock;
use crate::plan::grammar::Email;
use crate::target::{
    Authorization, Configuration, ConfigurationList, Identity, NewConfiguration, PlatformUser,
    Target, TargetError, UserPage, UserWrite,
};

/// The most users one page of the embedded sandbox carries. It is no API: a page is a slice of
/// the tenant in memory, and fewer, larger pages spare a full read their per-call overhead.
const PAGE_SIZE: usize = 5_000;

pub(crate) struct SandboxTarget {
    file: Mutex<SandboxFile>,
    clock: Clock,
}

impl SandboxTarget {
    /// Opens an existing sandbox file.
    pub(crate) fn open(path: &Path, clock: Clock) -> Result<Self, SandboxError> {
        Ok(Self {
            file: Mutex::new(SandboxFile::open(path)?),
            clock,
        })
    }

    /// Opens a scenario's sandbox in `dir`, creating it from the scenario on first use (which is
    /// not a platform write: the tenant "already existed").
    pub(crate) fn scenario(dir: &Path, name: &str, clock: Clock) -> Result<Self, SandboxError> {
        let scenario = Scenario::find(name).ok_or_else(|| SandboxError::UnknownScenario {
            name: name.to_owned(),
            known: Scenario::names(),
        })?;
        let path = scenario_path(dir, name);
        if !path.exists() {
            crate::workdir::ensure(dir.parent().unwrap_or(Path::new("."))).map_err(|source| {
                SandboxError::Io {
                    path: path.clone(),
                    source,
                }
            })?;
            let tenant = scenario.tenant(ScenarioOptions::default());
            SandboxFile::create(&path, &tenant, scenario.name, clock.now_ms())?;
        }
        Self::open(&path, clock)
    }

    /// Where the pages after the one following `after` begin (`GET /users?cursors=true`).
    pub(crate) fn page_cursors(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, TargetError> {
        self.with_file(|file, _| file.page_cursors(after, limit))
    }

    /// The sandbox clock's time, in ms.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Runs `f` on the sandbox file at the clock's time, mapping its errors to the target's.
    pub(crate) fn with_file<T>(
        &self,
        f: impl FnOnce(&mut SandboxFile, i64) -> Result<T, SandboxError>,
    ) -> Result<T, TargetError> {
        let now_ms = self.clock.now_ms();
        let mut file = self.file.lock().map_err(|_| {
            TargetError::Other("the sandbox was left inconsistent by a panic".to_owned())
        })?;
        f(&mut file, now_ms).map_err(|e| match e {
            SandboxError::NoFreeSlot { .. } | SandboxError::NotAuthorizable { .. } => {
                TargetError::Conflict(e.to_string())
            }
            SandboxError::NoSuchConfiguration { .. } | SandboxError::NoSuchUser { .. } => {
                TargetError::NotFound(e.to_string())
            }
            other => TargetError::Other(other.to_string()),
        })
    }
}

/// Where a plan's scenario sandbox lives: `<plan dir>/.cutover/sandbox-<scenario>.db`.
pub(crate) fn scenario_path(workdir: &Path, name: &str) -> PathBuf {
    workdir.join(format!("sandbox-{name}.db"))
}

impl SandboxTarget {
    /// A write call, subject to an injected failure (`cutover sandbox fail-call`).
    fn write<T>(
        &self,
        f: impl FnOnce(&mut SandboxFile, i64) -> Result<T, SandboxError>,
    ) -> Result<T, TargetError> {
        match self.with_file(|file, _| file.take_injected_failure())? {
            None => self.with_file(f),
            Some(false) => Err(TargetError::Unreachable(
                "injected failure before the call took effect".to_owned(),
            )),
            Some(true) => {
                self.with_file(f)?;
                Err(TargetError::Unreachable(
                    "injected failure: the call took effect but its answer was lost".to_owned(),
                ))
            }
        }
    }
}

impl Target for SandboxTarget {
    async fn whoami(&self) -> Result<Identity, TargetError> {
        Ok(Identity {
            account: "admin@sandbox".to_owned(),
            role: "admin".to_owned(),
            max_bulk_users: None,
        })
    }

    async fn configurations(&self) -> Result<ConfigurationList, TargetError> {
        self.with_file(|file, _| file.configuration_list())
    }

    async fn create_configuration(
        &self,
        new: &NewConfiguration,
    ) -> Result<Configuration, TargetError> {
        self.write(|file, now| file.create_configuration(new, now))
    }

    async fn authorization(
        &self,
        configuration: &str,
        restart: bool,
    ) -> Result<Authorization, TargetError> {
        self.write(|file, now| file.authorization(configuration, restart, now))
    }

    async fn users(&self, after: Option<&str>, limit: usize) -> Result<UserPage, TargetError> {
        self.with_file(|file, now| {
            let (users, more) = file.users(after, limit, now)?;
            Ok(UserPage {
                users,
                more,
                cursors: None,
            })
        })
    }

    async fn users_by_email(&self, emails: &[Email]) -> Result<Vec<PlatformUser>, TargetError> {
        self.with_file(|file, now| file.users_by_email(emails, now))
    }

    fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    async fn set_enabled(
        &self,
        configuration: &str,
        users: &[Email],
        enabled: bool,
    ) -> Result<Vec<UserWrite>, TargetError> {
        self.write(|file, now| file.set_enabled(configuration, users, enabled, now))
    }

    async fn recheck(&self, configuration: &str, users: &[Email]) -> Result<(), TargetError> {
        self.write(|file, now| file.recheck(configuration, users, now))
    }

    async fn disconnect(&self, configuration: &str) -> Result<(), TargetError> {
        self.write(|file, now| file.disconnect(configuration, now))
    }
}
