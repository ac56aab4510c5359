//! `cutover sandbox serve`: its flags, resolved into [`ServeSettings`] and handed to the server.
//!
//! Only the flags live here. Reading the token and the identity provider's secrets, the checks
//! on them, and signal handling are `crate::serve`'s.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::args::{SandboxArg, parse_interval, parse_share};
use super::resolve::resolve;
use crate::cli::{CommandError, Output, block_on};
use crate::clock::Clock;
use crate::serve::{Faults, IdentitySettings, ServeError, ServeSettings, Server};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    sandbox: SandboxArg,
    /// Also serve this sandbox (a file, or a plan whose target is one) at `/tenants/NAME/`,
    /// as a multi-tenant platform would: same token, and `--rate-limit` counts every tenant's
    /// requests together. Repeatable.
    #[arg(long = "tenant", value_name = "NAME=SANDBOX", value_parser = parse_tenant)]
    tenants: Vec<(String, std::path::PathBuf)>,
    /// The loopback address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: SocketAddr,
    /// The environment variable holding the bearer token clients must present.
    #[arg(long, default_value = "CUTOVER_SANDBOX_TOKEN")]
    token_env: String,
    /// Latency added to every request, such as `20ms`.
    #[arg(long, value_parser = parse_interval)]
    latency: Option<i64>,
    /// Requests per second served; beyond it, 429 with Retry-After.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Share of requests answered 500 or 503, from 0 to 1.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    error_rate: f64,
    /// Share of requests whose connection is dropped, from 0 to 1.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    drop_rate: f64,
    /// The most users one bulk call may carry.
    #[arg(long, default_value_t = 1000)]
    max_bulk: u32,
    /// Serve the API as a platform without `POST /users/query` does (clients page instead).
    #[arg(long)]
    without_users_query: bool,
    /// Seed of the fault injection's random sequence.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    identity: IdentityArgs,
}

/// Why a `--tenant` value is not `NAME=SANDBOX`.
#[derive(Debug, thiserror::Error)]
enum TenantArgError {
    #[error("{0:?} is not NAME=SANDBOX")]
    NotAPair(String),
    #[error("{0:?}: NAME is lowercase letters, digits and dashes, SANDBOX a file")]
    Invalid(String),
}

/// `NAME=SANDBOX`: a tenant's path segment (lowercase letters, digits, dashes) and its sandbox.
fn parse_tenant(text: &str) -> Result<(String, std::path::PathBuf), TenantArgError> {
    let (name, path) = text
        .split_once('=')
        .ok_or_else(|| TenantArgError::NotAPair(text.to_owned()))?;
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid || path.is_empty() {
        return Err(TenantArgError::Invalid(text.to_owned()));
    }
    Ok((name.to_owned(), std::path::PathBuf::from(path)))
}

/// The identity provider `sandbox serve` uses, as the real platform uses Microsoft's.
#[derive(Debug, Args)]
pub(crate) struct IdentityArgs {
    /// The OpenID Connect issuer that authorizes OAuth configurations (the platform is its
    /// client) and vouches for app tokens. Without it, configurations authorize on their own.
    #[arg(long, value_name = "URL")]
    oauth_issuer: Option<String>,
    /// The platform's client id at the issuer.
    #[arg(long, default_value = "scheduling-platform", requires = "oauth_issuer")]
    oauth_client_id: String,
    /// The environment variable holding the platform's client secret at the issuer.
    #[arg(long, default_value = "CUTOVER_SANDBOX_OAUTH_SECRET")]
    oauth_client_secret_env: String,
    /// The environment variable holding the key the platform seals its OAuth tokens with.
    #[arg(long, default_value = "CUTOVER_SANDBOX_KEY")]
    key_env: String,
    /// Test fault: send the issuer a PKCE verifier that does not match the challenge.
    #[arg(long, hide = true)]
    wrong_pkce_verifier: bool,
}

impl ServeArgs {
    /// The settings these flags ask for, with the sandbox resolved from a plan if one is given.
    fn settings(self) -> Result<ServeSettings, CommandError> {
        let identity = self.identity;
        Ok(ServeSettings {
            sandbox: resolve(&self.sandbox.path)?,
            tenants: self
                .tenants
                .iter()
                .map(|(name, path)| Ok((name.clone(), resolve(path)?)))
                .collect::<Result<_, CommandError>>()?,
            listen: self.listen,
            token_env: self.token_env,
            faults: Faults {
                latency: Duration::from_millis(
                    u64::try_from(self.latency.unwrap_or(0)).unwrap_or(0),
                ),
                rate_limit: self.rate_limit,
                error_rate: self.error_rate,
                drop_rate: self.drop_rate,
                max_bulk: self.max_bulk.max(1),
                seed: self.seed,
                without_users_query: self.without_users_query,
            },
            identity: identity.oauth_issuer.map(|issuer| IdentitySettings {
                issuer,
                client_id: identity.oauth_client_id,
                client_secret_env: identity.oauth_client_secret_env,
                key_env: identity.key_env,
                wrong_pkce_verifier: identity.wrong_pkce_verifier,
            }),
        })
    }
}

/// Serves until SIGINT or SIGTERM: `listening on http://ADDRESS` first (what scripts and tests
/// wait for), the summary of what happened to the requests last.
pub(super) fn run(args: ServeArgs, clock: Clock, out: &Output) -> Result<(), CommandError> {
    let settings = args.settings()?;
    block_on(async move {
        let server = Server::start(settings, clock).await?;
        out.stdout(&format!("listening on http://{}\n", server.address()));
        let summary = server.run().await?;
        out.stdout(&format!("{summary}\n"));
        Ok::<(), ServeError>(())
    })
    .map_err(|e| CommandError::failure(e.to_string()))??;
    Ok(())
}
