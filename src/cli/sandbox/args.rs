//! The arguments the `sandbox` subcommands share, and the value parsers of intervals and shares.
//!
//! Plain clap types: turning them into what a command does is the subcommand's business, and
//! into [`ServeSettings`] `serve.rs`'s.
//!
//! [`ServeSettings`]: crate::serve::ServeSettings

use std::path::PathBuf;

use clap::Args;

/// A text that is not an interval such as `2s` or `250ms`.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an interval such as \"2s\" or \"250ms\"")]
pub(crate) struct NotAnInterval(String);

/// A text that is not a share from 0 to 1.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a share from 0 to 1, such as 0.1")]
pub(crate) struct NotAShare(String);

#[derive(Debug, Args)]
pub(crate) struct SandboxArg {
    /// A sandbox file, or a plan whose target is a sandbox.
    #[arg(value_name = "SANDBOX")]
    pub(super) path: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    #[command(flatten)]
    pub(super) sandbox: SandboxArg,
    /// The users' emails.
    #[arg(required = true, value_name = "EMAIL")]
    pub(super) emails: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ToggleUsersArgs {
    #[command(flatten)]
    pub(super) users: UsersArgs,
    /// Turn the fault off instead of on.
    #[arg(long)]
    pub(super) off: bool,
}

/// A duration such as `2s`, `250ms` or `1m`, in ms; never zero.
pub(crate) fn parse_interval(text: &str) -> Result<i64, NotAnInterval> {
    let bad = || NotAnInterval(text.to_owned());
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1_000,
        "m" => n * 60_000,
        _ => return Err(bad()),
    };
    if ms <= 0 { Err(bad()) } else { Ok(ms) }
}

pub(super) fn parse_share(text: &str) -> Result<f64, NotAShare> {
    match text.parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(NotAShare(text.to_owned())),
    }
}
