//! The middleware that makes the admin API hostile on purpose: latency, 429 with Retry-After,
//! injected 5xx answers, and connections dropped before or after the request took effect. It
//! also states the rate limit on every answer it gives (`RateLimit-Policy`) and what is left of
//! it (`RateLimit`), as a platform that wants to be called well does.
//!
//! This module applies each request's fate; deciding it (the rate limiter, the seeded random
//! sequence) and counting what happened are `faults.rs`'s.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::faults::Fate;
use super::problem::problem;
use super::server::Shared;

/// Latency, rate limiting, errors and dropped connections, as `--latency`, `--rate-limit`,
/// `--error-rate` and `--drop-rate` ask.
pub(super) async fn hostile(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let latency = state.faults.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let count =
        |c: &std::sync::atomic::AtomicU64| c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let counts = &state.faults.counts;
    let (fate, window) = state.faults.fate();
    let mut response = match fate {
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
            let seconds = window.map_or(1, |w| w.reset_seconds()).to_string();
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
            return dropped();
        }
        Fate::DropAfter => {
            count(&counts.dropped);
            let _ = next.run(request).await;
            return dropped();
        }
    };
    // Every answer states the quota (the IETF httpapi draft's `RateLimit-Policy`), and what was
    // left of it once this request was counted (its `RateLimit` field), so a client can keep
    // under it instead of finding it by being throttled. What is left is as of the count, not
    // of the answer: a window that reset while the request was handled says nothing about it.
    if let (Some(limit), Some(window)) = (state.faults.faults().rate_limit, window) {
        let policy = format!("\"default\";q={limit};w=1");
        let left = format!("\"default\";r={};t={}", window.left, window.reset_seconds());
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", left)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
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
