//! Who may call: the fixed bearer token, or an app token the identity provider vouches for as
//! issued for the platform's API (or, on the Graph routes, for Graph).
//!
//! This module owns the two authenticating middlewares and the 401 answers. Asking the identity
//! provider about a token is `introspection.rs`'s; the OAuth callback is authenticated by its
//! `state`, not here.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::graph::graph_error;
use super::introspection::Audience;
use super::problem::problem;
use super::server::{AppState, Shared};
use super::vault::constant_time_eq;

fn bearer(request: &Request) -> &str {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

fn unauthorized(detail: Option<String>) -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "A valid bearer token is required",
        detail,
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Whether the identity provider vouches for `token` as issued for `audience`. The outer
/// `Err` is a response to send as is (the identity provider could not answer).
async fn vouched(state: &AppState, token: &str, audience: Audience) -> Result<bool, Response> {
    let Some(identity) = &state.identity else {
        return Ok(false);
    };
    if token.is_empty() {
        return Ok(false);
    }
    identity
        .introspector
        .accepts(token, audience)
        .await
        .map_err(|e| {
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Cannot check the token",
                e.to_string(),
            )
        })
}

/// Every API request needs the fixed bearer token (compared without leaking its length or
/// prefix by timing) or an app token the identity provider issued for the platform's API.
pub(super) async fn authenticate(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let presented = bearer(&request);
    let fixed = state
        .token
        .as_ref()
        .is_some_and(|t| constant_time_eq(presented.as_bytes(), t.as_bytes()));
    if fixed {
        return next.run(request).await;
    }
    match vouched(&state, presented, Audience::PlatformApi).await {
        Ok(true) => next.run(request).await,
        Ok(false) => {
            state
                .faults
                .counts
                .unauthorized
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            unauthorized(None)
        }
        Err(response) => response,
    }
}

/// Graph answers only app tokens issued for Graph, in Graph's own error shape.
pub(super) async fn authenticate_graph(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let presented = bearer(&request).to_owned();
    match vouched(&state, &presented, Audience::Graph).await {
        Ok(true) => next.run(request).await,
        Ok(false) => graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty, expired, or not issued for Microsoft Graph.",
        ),
        Err(response) => response,
    }
}
