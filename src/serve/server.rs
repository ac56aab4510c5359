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
use crate::api::{MAX_PAGE, Problem, UsersBody, UsersQuery, WriteResults};
use crate::plan::grammar::Email;
use crate::sandbox::SandboxTarget;
use crate::target::{Identity, NewConfiguration, Target, TargetError, UserPage};

struct AppState {
    target: SandboxTarget,
    token: String,
    faults: FaultState,
}

type Shared = Arc<AppState>;

/// Serves `target` on `listener` until `shutdown` resolves.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    target: SandboxTarget,
    token: String,
    faults: Faults,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<String> {
    let started = std::time::Instant::now();
    let state: Shared = Arc::new(AppState {
        target,
        token,
        faults: FaultState::new(faults),
    });
    let app = Router::new()
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
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), hostile))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate,
        ))
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

/// Every request needs the bearer token (compared without leaking its length or prefix by timing).
async fn authenticate(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), state.token.as_bytes()) {
        let mut response = problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid bearer token is required",
            None,
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        difference |= usize::from(a.get(i).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
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

async fn authorization(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if let Some(response) = not_found_configuration(&id) {
        return response;
    }
    match state.target.authorization(&id).await {
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
