//! Answers in the admin API's error shape: RFC 9457 problem details (`application/problem+json`),
//! for the API's own refusals, the target's errors and bodies axum could not read.
//!
//! This module owns the shape only. Graph's own error shape is `graph.rs`'s; the OAuth
//! callback answers a browser with a page (`oauth_callback.rs`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::Problem;
use crate::target::TargetError;

pub(super) fn problem(
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

pub(super) fn target_error(error: TargetError) -> Response {
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

pub(super) fn json_rejection(rejection: JsonRejection) -> Response {
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

pub(super) async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "not-found", "Not found", None)
}
