//! A full read over http against platforms that do and do not say where their pages begin.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::http_target::tests::client;
use crate::plan::grammar::Email;
use crate::target::{PlatformUser, SyncResults, Target, UserPage};

/// A platform of `users` users, paged by email, that answers each page after a little while so
/// pages asked for together are seen in flight together.
#[derive(Default)]
struct Platform {
    emails: Vec<String>,
    /// Whether it knows `cursors` (if not, it refuses the query, as a strict contract does).
    offers_cursors: bool,
    /// Cursors it gives shifted by this many users: a tenant that changed after it answered.
    skew: usize,
    /// Each page request's `after` and whether it asked for cursors, in arrival order.
    asked: Mutex<Vec<(Option<String>, bool)>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<usize>,
    cursors: Option<bool>,
}

const LIMIT: usize = 1000;

async fn page(State(platform): State<Arc<Platform>>, Query(query): Query<PageQuery>) -> Response {
    let cursors = query.cursors == Some(true);
    if let Ok(mut asked) = platform.asked.lock() {
        asked.push((query.after.clone(), cursors));
    }
    if cursors && !platform.offers_cursors {
        return (StatusCode::BAD_REQUEST, "unknown field `cursors`").into_response();
    }
    let now = platform.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    platform.most_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    platform.in_flight.fetch_sub(1, Ordering::SeqCst);
    let limit = query.limit.unwrap_or(LIMIT);
    let after = query.after.unwrap_or_default();
    let emails = &platform.emails;
    let start = emails.partition_point(|e| *e <= after);
    let end = (start + limit).min(emails.len());
    let users = emails[start..end].iter().map(|e| user(e)).collect();
    let cursors = cursors.then(|| {
        (end + platform.skew..emails.len())
            .step_by(limit)
            .map(|next| emails[next - 1].clone())
            .collect()
    });
    axum::Json(UserPage {
        users,
        more: end < emails.len(),
        cursors,
    })
    .into_response()
}

fn user(email: &str) -> PlatformUser {
    PlatformUser {
        email: Email::parse(email).expect("email"),
        location: "East".into(),
        groups: Vec::new().into(),
        enabled: Vec::new(),
        sync: SyncResults::new(),
    }
}

async fn serve(platform: Platform) -> (String, Arc<Platform>) {
    let platform = Arc::new(platform);
    let app = axum::Router::new()
        .route("/users", axum::routing::get(page))
        .with_state(Arc::clone(&platform));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/"), platform)
}

fn tenant(users: usize) -> Vec<String> {
    let mut emails: Vec<String> = (0..users)
        .map(|i| format!("user{i:05}@contoso.example"))
        .collect();
    emails.sort();
    emails
}

/// Every user, page after page, as `observe` reads them.
async fn read_all(target: &impl Target) -> Vec<String> {
    let mut emails: Vec<String> = Vec::new();
    loop {
        let after = emails.last().cloned();
        let page = target.users(after.as_deref(), LIMIT).await.expect("page");
        let more = page.more && !page.users.is_empty();
        emails.extend(page.users.into_iter().map(|u| u.email.to_string()));
        if !more {
            return emails;
        }
    }
}

fn asked(platform: &Platform) -> Vec<(Option<String>, bool)> {
    platform.asked.lock().map(|a| a.clone()).unwrap_or_default()
}

#[tokio::test(flavor = "current_thread")]
async fn the_first_pages_cursors_have_the_later_pages_asked_for_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emails = tenant(10_500);
    let (url, platform) = serve(Platform {
        emails: emails.clone(),
        offers_cursors: true,
        ..Platform::default()
    })
    .await;
    let target = client(&url, dir.path());
    assert_eq!(read_all(&target).await, emails);
    let asked = asked(&platform);
    assert_eq!(asked.len(), 11, "each page once: {asked:?}");
    assert_eq!(
        asked[0],
        (None, true),
        "the first page asks where the others begin"
    );
    assert!(
        asked[1..]
            .iter()
            .all(|(after, cursors)| after.is_some() && !cursors)
    );
    assert!(
        platform.most_in_flight.load(Ordering::SeqCst) > 1,
        "the later pages were asked for one after another"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_stale_cursor_still_gives_the_tenant_as_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emails = tenant(5_000);
    let (url, platform) = serve(Platform {
        emails: emails.clone(),
        offers_cursors: true,
        skew: 7,
        ..Platform::default()
    })
    .await;
    let target = client(&url, dir.path());
    assert_eq!(
        read_all(&target).await,
        emails,
        "no user lost or read twice"
    );
    // The guesses missed: each page the reader needed was asked for when it was.
    let needed: Vec<Option<String>> = (1..5)
        .map(|p| Some(emails[p * LIMIT - 1].clone()))
        .collect();
    let asked: Vec<Option<String>> = asked(&platform).into_iter().map(|(a, _)| a).collect();
    for after in &needed {
        assert!(
            asked.contains(after),
            "{after:?} was never asked for: {asked:?}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_platform_without_cursors_is_read_page_after_page_and_then_by_the_last_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emails = tenant(4_200);
    let (url, platform) = serve(Platform {
        emails: emails.clone(),
        offers_cursors: false,
        ..Platform::default()
    })
    .await;
    let target = client(&url, dir.path());
    assert_eq!(read_all(&target).await, emails);
    let first = asked(&platform);
    assert_eq!(first[0], (None, true), "asked once with cursors");
    assert_eq!(first[1], (None, false), "then again without");
    assert_eq!(first.len(), 6, "a refused ask and five pages: {first:?}");
    assert_eq!(
        platform.most_in_flight.load(Ordering::SeqCst),
        1,
        "nothing says where the pages begin: one after another"
    );
    // The next read guesses from this one's cursors, and never asks for cursors again.
    assert_eq!(read_all(&target).await, emails);
    let second = &asked(&platform)[first.len()..];
    assert_eq!(second.len(), 5, "{second:?}");
    assert!(second.iter().all(|(_, cursors)| !cursors));
    assert!(platform.most_in_flight.load(Ordering::SeqCst) > 1);
}
