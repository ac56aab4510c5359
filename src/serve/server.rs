//! The server: started from [`ServeSettings`] (checks, the sandbox opened, the socket bound, the
//! identity provider set up, signals caught), then serving the routes until SIGINT or SIGTERM.
//!
//! This module owns the lifecycle and which route lives where behind which middleware. The
//! routes themselves are `admin_api.rs`, `graph.rs` and `oauth_callback.rs`; authentication
//! `bearer_auth.rs`; hostility `hostile.rs`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use super::faults::{FaultState, Faults};
use super::identity_provider::IdentityProvider;
use super::settings::{ServeSettings, secret_from_env};
use super::{ServeError, admin_api, bearer_auth, graph, hostile, oauth_callback, problem};
use crate::clock::Clock;
use crate::sandbox::SandboxTarget;
use crate::signals::Signals;

/// What `sandbox serve` needs besides the sandbox.
pub(crate) struct ServeOptions {
    /// A fixed bearer token the API accepts, if any.
    pub(crate) token: Option<String>,
    pub(crate) faults: Faults,
    /// The identity provider, when one is configured: it authorizes OAuth configurations and
    /// vouches for app tokens.
    pub(crate) identity: Option<IdentityProvider>,
}

pub(super) struct AppState {
    pub(super) target: SandboxTarget,
    pub(super) token: Option<String>,
    pub(super) identity: Option<IdentityProvider>,
    /// Shared by every tenant one server serves: one rate limit, one set of counts.
    pub(super) faults: Arc<FaultState>,
}

pub(super) type Shared = Arc<AppState>;

/// A server ready to serve: everything that can fail before the first request has succeeded.
pub(crate) struct Server {
    listener: TcpListener,
    address: SocketAddr,
    target: SandboxTarget,
    /// More tenants, each served at `/tenants/<name>/` (`--tenant`).
    tenants: Vec<(String, SandboxTarget)>,
    options: ServeOptions,
    signals: Signals,
}

impl Server {
    /// Checks the settings, reads the secrets, opens the sandbox, binds the socket, sets up the
    /// identity provider and installs the signal handlers. Must be called inside a tokio
    /// runtime.
    pub(crate) async fn start(settings: ServeSettings, clock: Clock) -> Result<Self, ServeError> {
        let listen = settings.listen;
        if !listen.ip().is_loopback() {
            return Err(ServeError::NotLoopback { listen });
        }
        let token = secret_from_env(&settings.token_env).map(|t| t.trim().to_owned());
        if token.is_none() && settings.identity.is_none() {
            return Err(ServeError::NoCredentials {
                token_env: settings.token_env,
            });
        }
        let target = SandboxTarget::open(&settings.sandbox, clock)?;
        let mut tenants = Vec::new();
        for (name, path) in &settings.tenants {
            tenants.push((name.clone(), SandboxTarget::open(path, clock)?));
        }
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen { listen, source })?;
        let address = listener.local_addr().map_err(ServeError::Address)?;
        let redirect_uri = format!("http://{address}/oauth/callback");
        let identity = settings
            .identity
            .as_ref()
            .map(|identity| IdentityProvider::new(identity, &redirect_uri))
            .transpose()?;
        // Before the address is announced: a client that stops the server as soon as it has
        // seen it still gets a graceful shutdown and its summary.
        let signals = Signals::install().map_err(ServeError::Signals)?;
        Ok(Self {
            listener,
            address,
            target,
            tenants,
            options: ServeOptions {
                token,
                faults: settings.faults,
                identity,
            },
            signals,
        })
    }

    /// The address it listens on (the port picked, for port 0).
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT or SIGTERM, then says what happened to the requests.
    pub(crate) async fn run(self) -> Result<String, ServeError> {
        let mut signals = self.signals;
        let shutdown = async move {
            signals.recv().await;
        };
        serve_tenants(
            self.listener,
            self.target,
            self.tenants,
            self.options,
            shutdown,
        )
        .await
    }
}

/// Serves `target` on `listener` until `shutdown` resolves.
#[cfg(test)]
pub(crate) async fn serve(
    listener: TcpListener,
    target: SandboxTarget,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<String, ServeError> {
    serve_tenants(listener, target, Vec::new(), options, shutdown).await
}

/// Serves `target` at the root and each of `tenants` at `/tenants/<name>/` (the admin API
/// only, the same token, the same faults: a multi-tenant platform's one rate limit).
async fn serve_tenants(
    listener: TcpListener,
    target: SandboxTarget,
    tenants: Vec<(String, SandboxTarget)>,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<String, ServeError> {
    let started = std::time::Instant::now();
    let without_users_query = options.faults.without_users_query;
    let faults = Arc::new(FaultState::new(options.faults));
    let state: Shared = Arc::new(AppState {
        target,
        token: options.token.clone(),
        identity: options.identity,
        faults: Arc::clone(&faults),
    });
    // Microsoft Graph's calendar subset, for the mailbox pre-check: app tokens for Graph only.
    let graph = Router::new()
        .route("/graph/v1.0/users/{email}/calendar", get(graph::calendar))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            bearer_auth::authenticate_graph,
        ));
    // Where the identity provider sends the admin's browser back: no bearer token, by nature;
    // the `state` parameter is what authenticates it.
    let callback = Router::new().route("/oauth/callback", get(oauth_callback::oauth_callback));
    let mut app = api(&state, without_users_query)
        .merge(graph)
        .merge(callback);
    for (name, target) in tenants {
        let tenant: Shared = Arc::new(AppState {
            target,
            token: options.token.clone(),
            identity: None,
            faults: Arc::clone(&faults),
        });
        let routes = api(&tenant, without_users_query).with_state(tenant);
        app = app.nest(&format!("/tenants/{name}"), routes);
    }
    let app = app
        .fallback(problem::not_found)
        .with_state(Arc::clone(&state));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Stopped)?;
    Ok(state.faults.counts.summary(started.elapsed()))
}

/// The admin API's routes over `state`'s sandbox, behind its authentication and hostility.
fn api(state: &Shared, without_users_query: bool) -> Router<Shared> {
    let api = Router::new()
        .route("/whoami", get(admin_api::whoami))
        .route(
            "/configurations",
            get(admin_api::configurations).post(admin_api::create_configuration),
        )
        .route(
            "/configurations/{id}/authorization",
            post(admin_api::authorization),
        )
        .route("/configurations/{id}/enable", post(admin_api::enable))
        .route("/configurations/{id}/disable", post(admin_api::disable))
        .route("/configurations/{id}/recheck", post(admin_api::recheck))
        .route(
            "/configurations/{id}/disconnect",
            post(admin_api::disconnect),
        )
        .route("/users", get(admin_api::users));
    // An older platform, for the client's fallback: the contract without the bulk read.
    let api = if without_users_query {
        api
    } else {
        api.route("/users/query", post(admin_api::query_users))
    };
    api.layer(middleware::from_fn_with_state(
        Arc::clone(state),
        hostile::hostile,
    ))
    .layer(middleware::from_fn_with_state(
        Arc::clone(state),
        bearer_auth::authenticate,
    ))
}
