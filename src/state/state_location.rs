//! Where a rollout's state lives: a SQLite file (the default) or a PostgreSQL database, as
//! `--state` / `CUTOVER_STATE` names it, and opening the [`Store`] there. A rollout on
//! PostgreSQL is keyed by its plan name and target ([`target_key`]); a state file holds one plan.

use std::path::{Path, PathBuf};

use super::postgres::PgLocation;
use super::{Store, StoreError};
use crate::plan::{SandboxRef, TargetSpec};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StateLocation {
    File(PathBuf),
    Postgres(PgLocation),
}

impl StateLocation {
    /// `postgres://…` (or `postgresql://…`) names a database; anything else is a file path.
    pub(crate) fn parse(text: &Path) -> Result<Self, StoreError> {
        match text.to_str() {
            Some(url) if PgLocation::is_postgres_url(url) => {
                Ok(Self::Postgres(PgLocation::parse(url, &|key| {
                    std::env::var(key).ok()
                })?))
            }
            _ => Ok(Self::File(text.to_path_buf())),
        }
    }
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Postgres(location) => write!(f, "{location}"),
        }
    }
}

/// The target half of a rollout's key: the same platform always gives the same key, two
/// platforms never one.
pub(crate) fn target_key(target: &TargetSpec) -> String {
    match target {
        TargetSpec::Sandbox {
            sandbox: SandboxRef::Scenario(name),
        } => format!("sandbox:{name}"),
        TargetSpec::Sandbox {
            sandbox: SandboxRef::File { path, .. },
        } => {
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            format!("sandbox-file:{}", path.display())
        }
        TargetSpec::Http { url, .. } => format!("http:{url}"),
    }
}

impl Store {
    /// Opens the state of `plan_name` on `target` (a [`target_key`]) at `location`, creating it
    /// when it does not exist yet.
    pub(crate) fn open_or_create_at(
        location: &StateLocation,
        plan_name: &str,
        target: &str,
    ) -> Result<Self, StoreError> {
        match location {
            StateLocation::File(path) => Self::open_or_create(path, plan_name),
            StateLocation::Postgres(pg) => {
                let store = Self::open_postgres(pg, plan_name, target, true)?;
                store.ok_or_else(|| StoreError::Mirror {
                    location: pg.to_string(),
                    source: super::postgres::MirrorError::NotPostgres,
                })
            }
        }
    }

    /// The state of `plan_name` on `target` at `location` if it was ever recorded, creating
    /// nothing.
    pub(crate) fn open_existing_at(
        location: &StateLocation,
        plan_name: &str,
        target: &str,
    ) -> Result<Option<Self>, StoreError> {
        match location {
            StateLocation::File(path) if !path.exists() => Ok(None),
            StateLocation::File(path) => Self::open(path, plan_name).map(Some),
            StateLocation::Postgres(pg) => Self::open_postgres(pg, plan_name, target, false),
        }
    }
}
