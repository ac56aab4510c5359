//! What most commands do first, once: load the plan (its diagnostics shown as `validate` shows
//! them), and open its platform and its state database when they need them.

use std::path::{Path, PathBuf};

use crate::clock::Clock;
use crate::diagnostic::Diagnostic;
use crate::http_target::HttpTarget;
use crate::plan::{Plan, SandboxRef, TargetSpec};
use crate::platform::Platform;
use crate::precheck::MailboxCheck;
use crate::sandbox::SandboxTarget;
use crate::state::{RunState, StateLocation, Store, StoreError, target_key};
use crate::target::{Observed, observe};

use super::settings::GlobalSettings;
use super::{CommandError, ErrorKind, Output};

/// A valid plan, where it lives, and how to reach what it names.
pub(crate) struct Session<'a> {
    pub(crate) plan: Plan,
    /// The plan file as given on the command line (messages name it so).
    pub(crate) path: PathBuf,
    pub(crate) settings: &'a GlobalSettings,
    pub(crate) clock: Clock,
    /// The plan's validation warnings (already printed): the dry-run puts them in its document.
    pub(crate) warnings: Vec<Diagnostic>,
}

/// A plan's platform, opened, with words for it.
pub(crate) struct OpenedTarget {
    pub(crate) target: Platform,
    pub(crate) description: String,
}

impl<'a> Session<'a> {
    /// Loads the plan for a command that needs a valid one. Its warnings, or its errors, are
    /// printed as `validate` prints them; an invalid plan is an `Invalid` error.
    pub(crate) fn load(
        path: &Path,
        settings: &'a GlobalSettings,
        clock: Clock,
        out: &Output,
    ) -> Result<Self, CommandError> {
        let (plan, warnings) = match crate::plan::load(path) {
            Ok(loaded) => {
                super::validate::print_diagnostics(&loaded.warnings, out);
                (loaded.plan, loaded.warnings)
            }
            Err(crate::plan::LoadError::Invalid { diagnostics }) => {
                super::validate::print_diagnostics(&diagnostics, out);
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                return Err(CommandError::summary(
                    ErrorKind::Invalid,
                    format!(
                        "invalid: {}: {errors} error(s); nothing was done",
                        path.display()
                    ),
                ));
            }
            Err(e) => return Err(CommandError::invalid(e.to_string())),
        };
        Ok(Self {
            plan,
            path: path.to_path_buf(),
            settings,
            clock,
            warnings,
        })
    }

    /// The plan file's folder, against which its relative paths and `.cutover/` resolve.
    pub(crate) fn plan_dir(&self) -> PathBuf {
        plan_dir(&self.path)
    }

    /// The plan's default state file: `<plan dir>/.cutover/<name>.state.db`.
    pub(crate) fn default_state_path(&self) -> PathBuf {
        crate::workdir::path(&self.plan_dir()).join(format!("{}.state.db", self.plan.name))
    }

    /// Where the state is: `--state` (or `CUTOVER_STATE`), a file or a `postgres://` URL, else
    /// the default state file.
    pub(crate) fn state_location(&self) -> Result<StateLocation, CommandError> {
        match &self.settings.state {
            Some(given) => Ok(StateLocation::parse(given)?),
            None => Ok(StateLocation::File(self.default_state_path())),
        }
    }

    /// Opens the state, creating it if needed. The default location gets its `.gitignore`.
    pub(crate) fn open_store(&self) -> Result<Store, CommandError> {
        let state = self.state_location()?;
        if self.settings.state.is_none() {
            crate::workdir::ensure(&self.plan_dir()).map_err(|source| StoreError::Io {
                path: self.default_state_path(),
                source,
            })?;
        }
        let target = target_key(&self.plan.target);
        Ok(Store::open_or_create_at(
            &state,
            self.plan.name.as_str(),
            &target,
        )?)
    }

    /// The state if the plan ever ran, without creating anything.
    pub(crate) fn existing_store(&self) -> Result<Option<Store>, CommandError> {
        let state = self.state_location()?;
        let target = target_key(&self.plan.target);
        Ok(Store::open_existing_at(
            &state,
            self.plan.name.as_str(),
            &target,
        )?)
    }

    /// The stored state, weighed; a plan that never ran has an empty one.
    pub(crate) fn read_state(&self) -> Result<RunState, CommandError> {
        match self.existing_store()? {
            Some(store) => Ok(self.weigh(store.load()?)),
            None => Ok(RunState::default()),
        }
    }

    /// `state` with only the approvals and acceptances the plan's `[change_control]` counts
    /// (the rest set aside in `discounted`, with the reason).
    pub(crate) fn weigh(&self, mut state: RunState) -> RunState {
        let mut signatures = crate::signing::Signatures::of(&self.plan);
        crate::signing::weigh(&self.plan, signatures.as_mut(), &mut state);
        state
    }

    /// Takes the plan's run lock for `command`, or says who holds it and what to do.
    pub(crate) fn lock(
        &self,
        store: &mut Store,
        command: &str,
        operator: &str,
    ) -> Result<(), CommandError> {
        match store.lock(command, operator, self.clock.now()) {
            Ok(()) => Ok(()),
            Err(StoreError::Locked { holder, .. }) => Err(CommandError::locked(format!(
                "another run holds the lock on this plan: {holder}"
            ))
            .hint(format!(
                "wait for it to finish; if it is gone for good, `cutover unlock {} --force` (recorded)",
                self.path.display()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the platform the plan names. A scenario sandbox is created on first use.
    pub(crate) fn open_target(&self) -> Result<OpenedTarget, CommandError> {
        let (target, description) = match &self.plan.target {
            TargetSpec::Sandbox {
                sandbox: SandboxRef::Scenario(name),
            } => {
                let workdir = crate::workdir::path(&self.plan_dir());
                let target = SandboxTarget::scenario(&workdir, name, self.clock)?;
                let file = crate::sandbox::scenario_path(&workdir, name);
                (
                    Platform::Sandbox(target),
                    format!("sandbox {name:?} ({})", file.display()),
                )
            }
            TargetSpec::Sandbox {
                sandbox:
                    SandboxRef::File {
                        path: file,
                        written,
                    },
            } => {
                let target = SandboxTarget::open(file, self.clock)?;
                (Platform::Sandbox(target), format!("sandbox file {written}"))
            }
            TargetSpec::Http { url, auth } => {
                let options = self.settings.target;
                let mut target = HttpTarget::new(url, auth, options.allow_insecure_http)?;
                if let Some(limiters) = &self.settings.limiters {
                    target = target.share_budget(limiters);
                }
                if let Some(max) = options.max_concurrency {
                    target.limit_concurrency(max);
                }
                (Platform::Http(target), format!("the platform API at {url}"))
            }
        };
        Ok(OpenedTarget {
            target,
            description,
        })
    }

    /// Reads the whole platform.
    pub(crate) fn observe(&self, target: &OpenedTarget) -> Result<Observed, CommandError> {
        block_on(observe(&target.target))?.map_err(|e| {
            CommandError::failure(format!(
                "cannot read the platform ({}): {e}",
                target.description
            ))
        })
    }

    /// The mailbox pre-check, when the plan has one. Its secret is read now, so a missing one
    /// stops a command before it starts.
    pub(crate) fn mailbox_check(&self) -> Result<Option<MailboxCheck>, CommandError> {
        Ok(self
            .plan
            .precheck
            .as_ref()
            .map(|p| MailboxCheck::new(p, self.clock))
            .transpose()?)
    }
}

/// Where a plan file's folder is, for relative paths and `.cutover/`.
pub(crate) fn plan_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Runs a future on a single-threaded runtime: cutover's concurrency is I/O, not CPU.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, CommandError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::failure(format!("cannot start the async runtime: {e}")))?;
    Ok(runtime.block_on(future))
}
