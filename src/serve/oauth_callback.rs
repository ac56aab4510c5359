//! `GET /oauth/callback`: where the identity provider sends the admin's browser back, answered
//! with a minimal page.
//!
//! This module owns the route and the page; checking the `state`, the code exchange and what is
//! recorded are `oauth.rs`'s. It needs no bearer token, by nature: the `state` authenticates it.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::oauth::CallbackQuery;
use super::problem::not_found;
use super::server::Shared;

/// The identity provider sent the admin's browser back.
pub(super) async fn oauth_callback(
    State(state): State<Shared>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let Some(identity) = &state.identity else {
        return not_found().await;
    };
    let Ok(Query(query)) = query else {
        return page(false, "The request is not a valid OAuth callback.");
    };
    let (ok, message) = identity.oauth.callback(&state.target, &query).await;
    page(ok, &message)
}

/// A minimal page for the admin's browser.
fn page(ok: bool, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let title = if ok {
        "Authorized"
    } else {
        "Authorization failed"
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{escaped}</p>\n"
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
