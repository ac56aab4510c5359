//! Arguments resolved once into what each command needs. No command reads clap's types or the
//! environment for its settings, and nothing travels through a global.

use std::path::PathBuf;
use std::time::Duration;

use super::args::{Cli, Format, LogFormat};
use super::log_filter::Since;
use crate::plan::grammar::Email;
use crate::state::ChainHash;

/// What every command may be told, whichever it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct GlobalSettings {
    /// `--state` or `CUTOVER_STATE`: the state file instead of `<plan dir>/.cutover/<name>.state.db`.
    pub(crate) state: Option<PathBuf>,
    pub(crate) target: TargetOptions,
    /// Request budgets shared by every plan on one platform (`cutover fleet`); `None` gives
    /// each plan its own.
    pub(crate) limiters: Option<crate::http_target::Limiters>,
}

/// How the `http` target may talk to the platform.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TargetOptions {
    /// `--allow-insecure-http`: plain http to a host that is not loopback.
    pub(crate) allow_insecure_http: bool,
    /// `--max-concurrency`: the most requests in flight at once.
    pub(crate) max_concurrency: Option<usize>,
}

impl GlobalSettings {
    pub(crate) fn resolve(cli: &Cli) -> Self {
        Self {
            state: cli.state.clone(),
            target: TargetOptions {
                allow_insecure_http: cli.allow_insecure_http,
                max_concurrency: cli.max_concurrency.map(usize::from),
            },
            limiters: None,
        }
    }
}

/// `cutover apply`.
#[derive(Debug, Clone)]
pub(crate) struct ApplySettings {
    pub(crate) until_blocked: bool,
    /// Confirmation prompts exist only for real platforms; a sandbox never asks.
    #[allow(dead_code)]
    // Read once prompts for the http target land; accepted now so scripts need not change.
    pub(crate) yes: bool,
    pub(crate) approved: Option<String>,
    pub(crate) format: Format,
    pub(crate) poll: Duration,
    pub(crate) reauthorize: bool,
    /// `--open`: hand the authorization URL to the desktop's browser.
    pub(crate) open: bool,
    /// `--require-clean-git`: run only a plan committed to git (the plan may ask for it too).
    pub(crate) require_clean_git: bool,
}

impl ApplySettings {
    #[allow(clippy::too_many_arguments)] // One per flag of `apply`.
    pub(crate) fn resolve(
        until_blocked: bool,
        yes: bool,
        approved: Option<String>,
        format: Format,
        poll_ms: i64,
        reauthorize: bool,
        open: bool,
        require_clean_git: bool,
    ) -> Self {
        Self {
            until_blocked,
            yes,
            approved,
            format,
            poll: Duration::from_millis(u64::try_from(poll_ms).unwrap_or(1_000)),
            reauthorize,
            open,
            require_clean_git,
        }
    }
}

/// `cutover log`.
#[derive(Debug, Clone)]
pub(crate) struct LogSettings {
    pub(crate) format: LogFormat,
    /// `--verify`: check the hash chain instead of listing the trail.
    pub(crate) verify: bool,
    /// `--head`: a head kept elsewhere that the chain must pass through.
    pub(crate) head: Option<ChainHash>,
    pub(crate) step: Option<String>,
    pub(crate) user: Option<Email>,
    pub(crate) since: Option<Since>,
}
