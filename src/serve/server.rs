//! The axum server: routes of the admin API over a [`SandboxTarget`].

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::faults::{Fate, FaultState, Faults};
use super::introspection::{Audience, Introspector};
use super::oauth::{CallbackQuery, PlatformOAuth};
use super::vault::constant_time_eq;
use crate::api::{MAX_PAGE, Problem, UsersBody, UsersQuery, WriteResults};
use crate::plan::grammar::Email;
use crate::sandbox::{Mailbox, SandboxTarget};
use crate::target::{Identity, NewConfiguration, Target, TargetError, UserPage};

/// What `sandbox serve` needs besides the sandbox.
pub(crate) struct ServeOptions {
    /// A fixed bearer token the API accepts, if any.
    pub(crate) token: Option<String>,
    pub(crate) faults: Faults,
    /// The identity provider, when one is configured: it authorizes OAuth configurations and
    /// vouches for app tokens.
    pub(crate) identity: Option<IdentityProvider>,
}

pub(crate) struct IdentityProvider {
    pub(crate) oauth: PlatformOAuth,
    pub(crate) introspector: Introspector,
}

struct AppState {
    target: SandboxTarget,
    token: Option<String>,
    identity: Option<IdentityProvider>,
    faults: FaultState,
}

type Shared = Arc<AppState>;

/// Serves `target` on `listener` until `shutdown` resolves.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    target: SandboxTarget,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<String> {
    let started = std::time::Instant::now();
    let state: Shared = Arc::new(AppState {
        target,
        token: options.token,
        identity: options.identity,
        faults: FaultState::new(options.faults),
    });
    // Microsoft Graph's calendar subset, for the mailbox pre-check: app tokens for Graph only.
    let graph = Router::new()
        .route("/graph/v1.0/users/{email}/calendar", get(calendar))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate_graph,
        ));
    // Where the identity provider sends the admin's browser back: no bearer token, by nature;
    // the `state` parameter is what authenticates it.
    let callback = Router::new().route("/oauth/callback", get(oauth_callback));
    let api = Router::new()
        .route("/whoami", get(whoami))
        .route(
            "/configurations",
            get(configurations).post(create_configuration),
        )
        .route("/configurations/{id}/authorization", post(authorization))
        .route("/configurations/{id}/enable", post(enable))
        .route("/configurations/{id}/disable", post(disable))
        .route("/configurations/{id}/recheck", post(recheck))
        .route("/configurations/{id}/disconnect", post(disconnect))
        .route("/users", get(users))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), hostile))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate,
        ));
    let app = api
        .merge(graph)
        .merge(callback)
        .fallback(not_found)
        .with_state(Arc::clone(&state));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(state.faults.counts.summary(started.elapsed()))
}

fn problem(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: impl Into<Option<String>>,
) -> Response {
    let body = Problem::new(status.as_u16(), kind, title, detail);
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::api::PROBLEM_CONTENT_TYPE),
    );
    response
}

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
                e,
            )
        })
}

/// Every API request needs the fixed bearer token (compared without leaking its length or
/// prefix by timing) or an app token the identity provider issued for the platform's API.
async fn authenticate(State(state): State<Shared>, request: Request, next: Next) -> Response {
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
async fn authenticate_graph(State(state): State<Shared>, request: Request, next: Next) -> Response {
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

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, Json(body)).into_response()
}

/// `GET /graph/v1.0/users/{email}/calendar`: the user's default calendar, if the OAuth app may
/// open the mailbox — the call Microsoft Graph answers with 403 `ErrorAccessDenied` for a
/// mailbox outside the app's access policy.
async fn calendar(State(state): State<Shared>, Path(email): Path<String>) -> Response {
    let email = email.trim().to_ascii_lowercase();
    match state
        .target
        .with_file(|file, now| file.mailbox(&email, now))
    {
        Ok(Mailbox::Open { name }) => Json(serde_json::json!({
            "id": format!("calendar-{email}"),
            "name": "Calendar",
            "owner": { "name": name, "address": email },
        }))
        .into_response(),
        Ok(Mailbox::Denied) => graph_error(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access to OData is disabled.",
        ),
        Ok(Mailbox::Missing) => graph_error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        ),
        Err(e) => graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            &e.to_string(),
        ),
    }
}

/// The identity provider sent the admin's browser back.
async fn oauth_callback(
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

/// Latency, rate limiting, errors and dropped connections, as `--latency`, `--rate-limit`,
/// `--error-rate` and `--drop-rate` ask.
async fn hostile(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let latency = state.faults.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let count =
        |c: &std::sync::atomic::AtomicU64| c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let counts = &state.faults.counts;
    match state.faults.fate() {
        Fate::Serve => {
            count(&counts.served);
            next.run(request).await
        }
        Fate::Throttle => {
            count(&counts.throttled);
            let mut response = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "Too many requests",
                None,
            );
            let seconds = state.faults.retry_after().to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Fate::Fail(code) => {
            count(&counts.failed);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            problem(
                status,
                "injected",
                "Injected failure (sandbox serve --error-rate)",
                None,
            )
        }
        Fate::DropBefore => {
            count(&counts.dropped);
            dropped()
        }
        Fate::DropAfter => {
            count(&counts.dropped);
            let _ = next.run(request).await;
            dropped()
        }
    }
}

/// A response whose body fails at once: the server closes the connection mid-answer.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::other("dropped on purpose"))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn target_error(error: TargetError) -> Response {
    match error {
        TargetError::NotFound(detail) => {
            problem(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
        }
        TargetError::Conflict(detail) => {
            problem(StatusCode::CONFLICT, "conflict", "Conflict", detail)
        }
        TargetError::Unreachable(detail) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Unavailable",
            detail,
        ),
        TargetError::Unauthorized(detail) => problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        ),
        TargetError::Forbidden(detail) => {
            problem(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
        }
        TargetError::Other(detail) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        ),
    }
}

fn json_rejection(rejection: JsonRejection) -> Response {
    let status = rejection.status();
    let kind = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid-body",
        _ => "bad-request",
    };
    let status = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => status,
        _ => StatusCode::BAD_REQUEST,
    };
    problem(
        status,
        kind,
        "The request body was not accepted",
        rejection.body_text(),
    )
}

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

async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "not-found", "Not found", None)
}

async fn whoami(State(state): State<Shared>) -> Response {
    match state.target.whoami().await {
        Ok(identity) => Json(Identity {
            max_bulk_users: Some(state.faults.faults().max_bulk),
            ..identity
        })
        .into_response(),
        Err(e) => target_error(e),
    }
}

async fn configurations(State(state): State<Shared>) -> Response {
    match state.target.configurations().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => target_error(e),
    }
}

async fn create_configuration(
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
struct AuthorizationQuery {
    #[serde(default)]
    restart: bool,
}

async fn authorization(
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

async fn enable(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<UsersBody>, JsonRejection>,
) -> Response {
    set_enabled(&state, &id, body, true).await
}

async fn disable(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<UsersBody>, JsonRejection>,
) -> Response {
    set_enabled(&state, &id, body, false).await
}

async fn recheck(
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

async fn disconnect(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if let Some(response) = not_found_configuration(&id) {
        return response;
    }
    match state.target.disconnect(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => target_error(e),
    }
}

async fn users(
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
        Ok(UserPage { users, more }) => Json(UserPage { users, more }).into_response(),
        Err(e) => target_error(e),
    }
}
