//! The platform's admin API over the sandbox: `/whoami`, the configurations and their
//! authorization, the bulk user writes, the paged `/users` and the bulk read `/users/query` (the
//! `http` target's contract, `crate::api`).
//!
//! This module owns the routes' request checks and answers. Who may call them is
//! `bearer_auth.rs`'s, the hostility `hostile.rs`'s, and what they do the [`SandboxTarget`]'s
//! (or, for authorization with an identity provider, `oauth.rs`'s).
//!
//! [`SandboxTarget`]: crate::sandbox::SandboxTarget

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::problem::{json_rejection, problem, target_error};
use super::server::{AppState, Shared};
use crate::api::{FoundUsers, MAX_PAGE, UsersBody, UsersQuery, WriteResults};
use crate::plan::grammar::Email;
use crate::target::{Identity, NewConfiguration, Target, UserPage};

fn not_found_configuration(id: &str) -> Option<Response> {
    let valid = !id.is_empty() && id.len() <= 18 && id.bytes().all(|b| b.is_ascii_digit());
    (!valid).then(|| {
        problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no configuration {id:?}"),
        )
    })
}

pub(super) async fn whoami(State(state): State<Shared>) -> Response {
    match state.target.whoami().await {
        Ok(identity) => Json(Identity {
            max_bulk_users: Some(state.faults.faults().max_bulk),
            ..identity
        })
        .into_response(),
        Err(e) => target_error(e),
    }
}

pub(super) async fn configurations(State(state): State<Shared>) -> Response {
    match state.target.configurations().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => target_error(e),
    }
}

pub(super) async fn create_configuration(
    State(state): State<Shared>,
    body: Result<Json<NewConfiguration>, JsonRejection>,
) -> Response {
    let Json(new) = match body {
        Ok(body) => body,
        Err(rejection) => return json_rejection(rejection),
    };
    let blank = |s: &str| s.trim().is_empty() || s.chars().count() > 200;
    if blank(&new.display_name) || blank(&new.tenant_id) {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "display_name and tenant_id need 1 to 200 characters, not all spaces",
            None,
        );
    }
    match state.target.create_configuration(&new).await {
        Ok(configuration) => Json(configuration).into_response(),
        Err(e) => target_error(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct AuthorizationQuery {
    #[serde(default)]
    restart: bool,
}

pub(super) async fn authorization(
    State(state): State<Shared>,
    Path(id): Path<String>,
    query: Result<Query<AuthorizationQuery>, QueryRejection>,
) -> Response {
    if let Some(response) = not_found_configuration(&id) {
        return response;
    }
    let restart = match query {
        Ok(Query(q)) => q.restart,
        Err(rejection) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad-query",
                "The query was not accepted",
                rejection.body_text(),
            );
        }
    };
    let answer = match &state.identity {
        Some(identity) => {
            identity
                .oauth
                .authorization(&state.target, &id, restart)
                .await
        }
        None => state.target.authorization(&id, restart).await,
    };
    match answer {
        Ok(authorization) => Json(authorization).into_response(),
        Err(e) => target_error(e),
    }
}

/// Checks a bulk body: well-formed, within the bulk limit.
fn bulk(
    state: &AppState,
    id: &str,
    body: Result<Json<UsersBody>, JsonRejection>,
) -> Result<Vec<Email>, Box<Response>> {
    if let Some(response) = not_found_configuration(id) {
        return Err(Box::new(response));
    }
    let Json(body) = body.map_err(|r| Box::new(json_rejection(r)))?;
    let max = state.faults.faults().max_bulk as usize;
    if body.users.len() > max {
        return Err(Box::new(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too-many-users",
            "Too many users in one call",
            format!("{} users; at most {max} per call", body.users.len()),
        )));
    }
    Ok(body.users)
}

async fn set_enabled(
    state: &AppState,
    id: &str,
    body: Result<Json<UsersBody>, JsonRejection>,
    enabled: bool,
) -> Response {
    let users = match bulk(state, id, body) {
        Ok(users) => users,
        Err(response) => return *response,
    };
    match state.target.set_enabled(id, &users, enabled).await {
        Ok(results) => Json(WriteResults { results }).into_response(),
        Err(e) => target_error(e),
    }
}

pub(super) async fn enable(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<UsersBody>, JsonRejection>,
) -> Response {
    set_enabled(&state, &id, body, true).await
}

pub(super) async fn disable(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<UsersBody>, JsonRejection>,
) -> Response {
    set_enabled(&state, &id, body, false).await
}

pub(super) async fn recheck(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<UsersBody>, JsonRejection>,
) -> Response {
    let users = match bulk(&state, &id, body) {
        Ok(users) => users,
        Err(response) => return *response,
    };
    match state.target.recheck(&id, &users).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => target_error(e),
    }
}

pub(super) async fn disconnect(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if let Some(response) = not_found_configuration(&id) {
        return response;
    }
    match state.target.disconnect(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => target_error(e),
    }
}

pub(super) async fn users(
    State(state): State<Shared>,
    query: Result<Query<UsersQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad-query",
                "The query was not accepted",
                rejection.body_text(),
            );
        }
    };
    let limit = query.limit.unwrap_or(MAX_PAGE as u32);
    if limit == 0 || limit as usize > MAX_PAGE {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-query",
            "limit must be from 1 to 1000",
            None,
        );
    }
    let after = query.after.as_deref().filter(|a| !a.is_empty());
    if after.is_some_and(|a| a.len() > 320) {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad-query",
            "after can be at most 320 characters",
            None,
        );
    }
    match state.target.users(after, limit as usize).await {
        Ok(UserPage { users, more, .. }) => {
            let cursors = if query.cursors == Some(true) && more {
                match state.target.page_cursors(after, limit as usize) {
                    Ok(cursors) => Some(cursors),
                    Err(e) => return target_error(e),
                }
            } else {
                None
            };
            Json(UserPage {
                users,
                more,
                cursors,
            })
            .into_response()
        }
        Err(e) => target_error(e),
    }
}

pub(super) async fn query_users(
    State(state): State<Shared>,
    body: Result<Json<UsersBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return json_rejection(rejection),
    };
    if body.users.len() > MAX_PAGE {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too-many-users",
            "Too many users in one call",
            format!("{} users; at most {MAX_PAGE} per call", body.users.len()),
        );
    }
    match state.target.users_by_email(&body.users).await {
        Ok(users) => Json(FoundUsers { users }).into_response(),
        Err(e) => target_error(e),
    }
}
