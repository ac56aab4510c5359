//! The subset of Microsoft Graph the sandbox serves for the mailbox pre-check: a user's default
//! calendar, refused as Graph refuses a mailbox outside the OAuth app's access policy.
//!
//! This module owns the route and Graph's error shape. Which mailboxes are open is the sandbox
//! file's (`crate::sandbox::Mailbox`); Graph's authentication is in `bearer_auth.rs`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::server::Shared;
use crate::sandbox::Mailbox;

pub(super) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, Json(body)).into_response()
}

/// `GET /graph/v1.0/users/{email}/calendar` (or `/users('{email}')/calendar`, the form Graph
/// requires for a name starting with `$`): the user's default calendar, if the OAuth app may
/// open the mailbox — answered as Microsoft Graph answers: 403 `ErrorAccessDenied` for a mailbox
/// outside the app's access policy, 404 `MailboxNotEnabledForRESTAPI` for a user whose mailbox
/// is gone, 404 `ErrorInvalidUser` for no such user.
pub(super) async fn calendar(State(state): State<Shared>, Path(user): Path<String>) -> Response {
    let user = user.trim();
    let email = match user.strip_prefix("('").and_then(|u| u.strip_suffix("')")) {
        Some(quoted) => quoted.replace("''", "'"),
        None if user.starts_with('$') => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Resource not found for the segment '$'.",
            );
        }
        None => user.to_owned(),
    }
    .to_ascii_lowercase();
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
            "ErrorInvalidUser",
            &format!("The requested user '{email}' is invalid."),
        ),
        Ok(Mailbox::Gone) => graph_error(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        ),
        Err(e) => graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            &e.to_string(),
        ),
    }
}
