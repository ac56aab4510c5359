//! The admin API client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::HttpTargetError;
use super::limiter::Limiter;
use super::quota::Quota;
use super::read_ahead::ReadAhead;
use crate::api::{FoundUsers, MAX_PAGE, Problem, UsersBody, WriteResults};
use crate::oauth::{TokenSource, read_secret};
use crate::plan::ApiAuth;
use crate::plan::grammar::Email;
use crate::retry::{Backoff, retry_after};
use crate::target::{
    Authorization, Configuration, ConfigurationList, Identity, NewConfiguration, PAGE_SIZE,
    PlatformUser, Target, TargetError, UserPage, UserWrite,
};

/// Attempts per call before giving up (every call of the contract is idempotent).
const ATTEMPTS: u32 = 10;
/// Backoff grows from this, doubling, to `MAX_BACKOFF`, with full jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Some APIs say `Retry-After: 0` or `1` forever; never retry a 429 sooner than this.
const MIN_RETRY_AFTER: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub(crate) struct HttpTarget {
    inner: Arc<Inner>,
}

enum Auth {
    /// A fixed token, and where it came from (for messages; never the token itself).
    Static { token: String, source: String },
    /// App tokens by client credentials.
    OAuth(Box<TokenSource>),
}

impl Auth {
    async fn bearer(&self) -> Result<String, TargetError> {
        match self {
            Auth::Static { token, .. } => Ok(token.clone()),
            Auth::OAuth(source) => source
                .token()
                .await
                .map_err(|e| TargetError::Unauthorized(e.to_string())),
        }
    }

    fn describe(&self) -> String {
        match self {
            Auth::Static { source, .. } => format!("the API token from {source}"),
            Auth::OAuth(source) => format!("the app token of {}", source.describe()),
        }
    }
}

struct Inner {
    client: reqwest::Client,
    base: Url,
    /// How requests are authenticated. Never printed, logged or stored.
    auth: Auth,
    limiter: Arc<Limiter>,
    max_bulk: AtomicU64,
    backoff: Backoff,
    /// The platform answered `POST /users/query` with 404: its contract predates the bulk read,
    /// so users are read by paging.
    no_users_query: AtomicBool,
    /// The platform refused `GET /users?cursors=true`: its contract predates the parameter.
    no_cursors: AtomicBool,
    read_ahead: ReadAhead,
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpTarget {
    /// A client for the API at `url`, authenticated by the secret `token` names. `http://` is
    /// refused unless the host is loopback or `allow_insecure` is given.
    pub(crate) fn new(
        url: &str,
        auth: &ApiAuth,
        allow_insecure: bool,
    ) -> Result<Self, HttpTargetError> {
        let mut base = Url::parse(url).map_err(|source| HttpTargetError::NotAUrl {
            url: url.to_owned(),
            source,
        })?;
        if base.scheme() == "http" && !allow_insecure && !is_loopback(&base) {
            return Err(HttpTargetError::PlainHttp {
                url: url.to_owned(),
            });
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let auth = match auth {
            ApiAuth::Token(secret) => {
                let (token, source) = read_secret(secret, "API token")?;
                Auth::Static { token, source }
            }
            ApiAuth::ClientCredentials(credentials) => {
                Auth::OAuth(Box::new(TokenSource::new(credentials)?))
            }
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cutover/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpTargetError::Client)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                base,
                auth,
                limiter: Limiter::new(4, 32),
                max_bulk: AtomicU64::new(PAGE_SIZE as u64),
                backoff: Backoff::new(BASE_BACKOFF, MAX_BACKOFF),
                no_users_query: AtomicBool::new(false),
                no_cursors: AtomicBool::new(false),
                read_ahead: ReadAhead::default(),
            }),
        })
    }

    /// Takes its request budget from `limiters`: every target on the same origin in this
    /// process shares one (`cutover fleet`). Called right after `new`, before any request.
    pub(crate) fn share_budget(mut self, limiters: &super::Limiters) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            let own = Arc::clone(&inner.limiter);
            inner.limiter = limiters.shared(&inner.base, own);
        }
        self
    }

    /// Caps the requests in flight (`--max-concurrency`); 1 makes a sequential client.
    pub(crate) fn limit_concurrency(&self, max: usize) {
        self.inner.limiter.cap(max);
    }

    fn url(&self, path: &str) -> Result<Url, TargetError> {
        self.inner
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| TargetError::Other(format!("cannot form the URL for {path}: {e}")))
    }

    /// One call of the contract, retried on what is worth retrying. `None` for 204.
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Option<T>, TargetError> {
        let url = self.url(path)?;
        let mut last_problem = String::new();
        let mut refreshed = false;
        for attempt in 0..ATTEMPTS {
            // The token is taken after the permit: a request held back by a long Retry-After
            // must not go out with one that expired meanwhile.
            let mut permit = self.inner.limiter.acquire().await;
            let bearer = self.inner.auth.bearer().await?;
            let mut request = self
                .inner
                .client
                .request(method.clone(), url.clone())
                .bearer_auth(&bearer)
                .header(reqwest::header::ACCEPT, "application/json");
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = request.send().await;
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    drop(permit);
                    last_problem = describe_transport(&e);
                    tokio::time::sleep(self.inner.backoff.delay(attempt)).await;
                    continue;
                }
            };
            let status = response.status();
            let retry_after = retry_after(response.headers());
            // Read from every answer, a 429 too: a platform may change its quota, or state it
            // only when it throttles.
            if let Some(quota) = Quota::advertised(response.headers()) {
                self.inner.limiter.advertised(quota);
            }
            permit.answered(
                Quota::remaining(response.headers()),
                status == StatusCode::TOO_MANY_REQUESTS,
            );
            let bytes = response.bytes().await;
            drop(permit);
            let bytes = match bytes {
                Ok(bytes) => bytes,
                Err(e) => {
                    // The connection dropped mid-answer: the call may have taken effect, and
                    // every call is idempotent, so asking again is safe.
                    last_problem = describe_transport(&e);
                    tokio::time::sleep(self.inner.backoff.delay(attempt)).await;
                    continue;
                }
            };
            match status {
                s if s.is_success() => {
                    self.inner.limiter.succeeded();
                    if s == StatusCode::NO_CONTENT || bytes.is_empty() {
                        return Ok(None);
                    }
                    return serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                        TargetError::Other(format!(
                            "the platform's answer to {method} {path} was not understood: {e}"
                        ))
                    });
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    // The limiter pauses every sender until Retry-After and paces them after;
                    // this request simply queues again.
                    let wait = retry_after
                        .unwrap_or_else(|| self.inner.backoff.delay(attempt))
                        .max(MIN_RETRY_AFTER);
                    self.inner.limiter.throttled(wait);
                    last_problem = "throttled (429)".to_owned();
                }
                StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT => {
                    last_problem = format!("{status}: {}", problem_detail(&bytes));
                    let wait = retry_after.unwrap_or_else(|| self.inner.backoff.delay(attempt));
                    tokio::time::sleep(wait).await;
                }
                StatusCode::UNAUTHORIZED => {
                    // An app token may have been revoked or expired early: get a new one, once.
                    if let (Auth::OAuth(source), false) = (&self.inner.auth, refreshed) {
                        source.invalidate(&bearer).await;
                        refreshed = true;
                        last_problem = "the app token was refused; fetched a new one".to_owned();
                        continue;
                    }
                    return Err(TargetError::Unauthorized(format!(
                        "{} was refused ({})",
                        self.inner.auth.describe(),
                        problem_detail(&bytes)
                    )));
                }
                StatusCode::FORBIDDEN => {
                    return Err(TargetError::Forbidden(format!(
                        "the account of {} may not {method} {path}; it needs the admin role ({})",
                        self.inner.auth.describe(),
                        problem_detail(&bytes)
                    )));
                }
                StatusCode::NOT_FOUND => return Err(TargetError::NotFound(problem_detail(&bytes))),
                StatusCode::CONFLICT => return Err(TargetError::Conflict(problem_detail(&bytes))),
                other => {
                    return Err(TargetError::Other(format!(
                        "the platform refused {method} {path} ({other}): {}",
                        problem_detail(&bytes)
                    )));
                }
            }
        }
        Err(TargetError::Unreachable(format!(
            "{} did not answer {method} {path} after {ATTEMPTS} attempts; last: {last_problem}",
            self.inner.base
        )))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, TargetError> {
        self.call::<(), T>(Method::GET, path, query, None)
            .await?
            .ok_or_else(|| {
                TargetError::Other(format!("the platform answered GET {path} with no body"))
            })
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>, TargetError> {
        self.call(Method::POST, path, &[], body).await
    }

    fn configuration_path(id: &str, action: &str) -> Result<String, TargetError> {
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(TargetError::NotFound(format!("no configuration {id:?}")));
        }
        Ok(format!("configurations/{id}/{action}"))
    }

    /// Sends a bulk call in chunks the API accepts, several at once, results in request order.
    async fn bulk(
        &self,
        id: &str,
        action: &'static str,
        users: &[Email],
    ) -> Result<Vec<UserWrite>, TargetError> {
        let path = Self::configuration_path(id, action)?;
        let size = usize::try_from(self.inner.max_bulk.load(Ordering::Relaxed))
            .unwrap_or(PAGE_SIZE)
            .max(1);
        let mut tasks = tokio::task::JoinSet::new();
        for (index, chunk) in users.chunks(size).enumerate() {
            let this = self.clone();
            let body = UsersBody {
                users: chunk.to_vec(),
            };
            let path = path.clone();
            tasks.spawn(async move {
                let results: Option<WriteResults> = this.post(&path, Some(&body)).await?;
                Ok::<_, TargetError>((index, results.map(|r| r.results).unwrap_or_default()))
            });
        }
        let mut chunks = Vec::new();
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(chunk)) => chunks.push(chunk),
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(e) => {
                    failure = failure.or(Some(TargetError::Other(format!(
                        "a request task failed: {e}"
                    ))))
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        chunks.sort_by_key(|(index, _)| *index);
        Ok(chunks
            .into_iter()
            .flat_map(|(_, results)| results)
            .collect())
    }
}

impl HttpTarget {
    async fn page(
        &self,
        after: Option<String>,
        limit: usize,
        cursors: bool,
    ) -> Result<UserPage, TargetError> {
        let mut query = vec![("limit", limit.clamp(1, MAX_PAGE).to_string())];
        if let Some(after) = after {
            query.push(("after", after));
        }
        if cursors {
            query.push(("cursors", "true".to_owned()));
        }
        self.get("users", &query).await
    }

    /// A full read's first page, with where the later pages begin if the platform says. A
    /// platform whose contract predates `cursors` may refuse the parameter (a query it does not
    /// know is a bad request): it is asked again without, and not asked with it again.
    async fn first_page(&self, limit: usize) -> Result<UserPage, TargetError> {
        if self.inner.no_cursors.load(Ordering::Relaxed) {
            return self.page(None, limit, false).await;
        }
        match self.page(None, limit, true).await {
            Err(TargetError::Other(problem)) => match self.page(None, limit, false).await {
                Ok(page) => {
                    self.inner.no_cursors.store(true, Ordering::Relaxed);
                    Ok(page)
                }
                // Not the parameter, then: the first problem says what it was.
                Err(_) => Err(TargetError::Other(problem)),
            },
            answer => answer,
        }
    }

    /// Asks for the pages the read-ahead window has room for.
    fn read_ahead(&self, limit: usize) {
        for cursor in self.inner.read_ahead.due() {
            let this = self.clone();
            let at = cursor.clone();
            let task = tokio::spawn(async move { this.page(Some(at), limit, false).await });
            self.inner.read_ahead.prefetched(cursor, task);
        }
    }

    /// `POST /users/query`, in chunks the API accepts, all at once.
    async fn query_users(&self, emails: &[Email]) -> Result<Vec<PlatformUser>, TargetError> {
        let mut wanted: Vec<Email> = emails.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in wanted.chunks(MAX_PAGE) {
            let this = self.clone();
            let body = UsersBody {
                users: chunk.to_vec(),
            };
            tasks.spawn(async move {
                let found: Option<FoundUsers> = this.post("users/query", Some(&body)).await?;
                Ok::<_, TargetError>(found.map(|f| f.users).unwrap_or_default())
            });
        }
        let mut users = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let found =
                joined.map_err(|e| TargetError::Other(format!("a request task failed: {e}")))??;
            users.extend(found);
        }
        // The answer is trusted for what was asked only, each user once, in email order.
        users.retain(|u| wanted.binary_search(&u.email).is_ok());
        users.sort_by(|a, b| a.email.cmp(&b.email));
        users.dedup_by(|a, b| a.email == b.email);
        Ok(users)
    }

    /// The users asked for, from a full paged read: a platform without the bulk read.
    async fn users_by_paging(&self, emails: &[Email]) -> Result<Vec<PlatformUser>, TargetError> {
        let wanted: std::collections::BTreeSet<&Email> = emails.iter().collect();
        let mut found: Vec<PlatformUser> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.users(after.as_deref(), MAX_PAGE).await?;
            let more = page.more && !page.users.is_empty();
            after = page.users.last().map(|u| u.email.to_string());
            found.extend(page.users.into_iter().filter(|u| wanted.contains(&u.email)));
            if !more {
                break;
            }
        }
        found.sort_by(|a, b| a.email.cmp(&b.email));
        found.dedup_by(|a, b| a.email == b.email);
        Ok(found)
    }
}

impl Target for HttpTarget {
    async fn whoami(&self) -> Result<Identity, TargetError> {
        let identity: Identity = self.get("whoami", &[]).await?;
        if let Some(max) = identity.max_bulk_users {
            self.inner
                .max_bulk
                .store(u64::from(max.max(1)), Ordering::Relaxed);
        }
        Ok(identity)
    }

    async fn configurations(&self) -> Result<ConfigurationList, TargetError> {
        self.get("configurations", &[]).await
    }

    async fn create_configuration(
        &self,
        new: &NewConfiguration,
    ) -> Result<Configuration, TargetError> {
        self.post("configurations", Some(new))
            .await?
            .ok_or_else(|| {
                TargetError::Other(
                    "the platform created a configuration but did not return it".to_owned(),
                )
            })
    }

    async fn authorization(
        &self,
        configuration: &str,
        restart: bool,
    ) -> Result<Authorization, TargetError> {
        let path = Self::configuration_path(configuration, "authorization")?;
        let query = [("restart", restart.to_string())];
        self.call::<(), Authorization>(Method::POST, &path, &query, None)
            .await?
            .ok_or_else(|| {
                TargetError::Other(
                    "the platform answered the authorization with no body".to_owned(),
                )
            })
    }

    async fn users(&self, after: Option<&str>, limit: usize) -> Result<UserPage, TargetError> {
        let read_ahead = &self.inner.read_ahead;
        let page = match after {
            None => {
                read_ahead.begin(limit);
                self.read_ahead(limit);
                let page = self.first_page(limit).await?;
                if let Some(cursors) = page.cursors.clone() {
                    read_ahead.cursors(cursors);
                }
                page
            }
            Some(after) => match read_ahead.take(after, limit) {
                Some(task) => task
                    .await
                    .map_err(|e| TargetError::Other(format!("a request task failed: {e}")))??,
                None => self.page(Some(after.to_owned()), limit, false).await?,
            },
        };
        read_ahead.answered(after, &page);
        self.read_ahead(limit);
        Ok(page)
    }

    async fn users_by_email(&self, emails: &[Email]) -> Result<Vec<PlatformUser>, TargetError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        if !self.inner.no_users_query.load(Ordering::Relaxed) {
            match self.query_users(emails).await {
                Err(TargetError::NotFound(_)) => {
                    self.inner.no_users_query.store(true, Ordering::Relaxed);
                }
                answer => return answer,
            }
        }
        self.users_by_paging(emails).await
    }

    fn page_size(&self) -> usize {
        MAX_PAGE
    }

    async fn set_enabled(
        &self,
        configuration: &str,
        users: &[Email],
        enabled: bool,
    ) -> Result<Vec<UserWrite>, TargetError> {
        self.bulk(
            configuration,
            if enabled { "enable" } else { "disable" },
            users,
        )
        .await
    }

    async fn recheck(&self, configuration: &str, users: &[Email]) -> Result<(), TargetError> {
        self.bulk(configuration, "recheck", users).await.map(|_| ())
    }

    async fn disconnect(&self, configuration: &str) -> Result<(), TargetError> {
        let path = Self::configuration_path(configuration, "disconnect")?;
        self.post::<(), serde_json::Value>(&path, None)
            .await
            .map(|_| ())
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

fn problem_detail(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Problem>(bytes) {
        Ok(problem) => problem.detail.unwrap_or(problem.title),
        Err(_) => String::from_utf8_lossy(bytes).chars().take(200).collect(),
    }
}

fn describe_transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the request timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else if error.is_body() || error.is_decode() {
        "the connection dropped before the answer was complete".to_owned()
    } else {
        "the connection failed".to_owned()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use axum::http::{HeaderMap, HeaderValue, StatusCode};
    use axum::response::IntoResponse;

    use super::*;

    /// A platform whose `GET /configurations` answers 429 with `Retry-After: 1` the first time
    /// and then serves, stating `policy` on every answer if given. Returns its URL and when each
    /// request arrived.
    async fn platform(policy: Option<&'static str>) -> (String, Arc<Mutex<Vec<Instant>>>) {
        let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let seen = Arc::clone(&arrivals);
        let handler = move || {
            let seen = Arc::clone(&seen);
            async move {
                let first = seen.lock().map_or(true, |mut seen| {
                    seen.push(Instant::now());
                    seen.len() == 1
                });
                let mut headers = HeaderMap::new();
                if let Some(policy) = policy {
                    headers.insert("ratelimit-policy", HeaderValue::from_static(policy));
                }
                if first {
                    headers.insert("retry-after", HeaderValue::from_static("1"));
                    return (StatusCode::TOO_MANY_REQUESTS, headers, "{}").into_response();
                }
                let list = r#"{"configurations": [], "free_slots": 2}"#;
                (StatusCode::OK, headers, list).into_response()
            }
        };
        let app = axum::Router::new().route("/configurations", axum::routing::get(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{address}/"), arrivals)
    }

    pub(in crate::http_target) fn client(url: &str, dir: &std::path::Path) -> HttpTarget {
        let token_file = dir.join("token");
        std::fs::write(&token_file, "t\n").expect("token");
        let token = ApiAuth::Token(crate::plan::SecretRef::File {
            written: "token".to_owned(),
            path: token_file,
        });
        HttpTarget::new(url, &token, false).expect("client")
    }

    /// A platform that only says "too many" is asked again no sooner than it said.
    #[tokio::test(flavor = "current_thread")]
    async fn a_429_is_not_asked_again_before_its_retry_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, arrivals) = platform(None).await;
        let target = client(&url, dir.path());
        let list = target.configurations().await.expect("configurations");
        assert_eq!(list.free_slots, 2);
        let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
        assert_eq!(arrivals.len(), 2, "one 429, then the answer");
        let waited = arrivals[1].duration_since(arrivals[0]);
        assert!(
            waited >= Duration::from_secs(1),
            "asked again after {waited:?}"
        );
        assert_eq!(
            target.inner.limiter.pace(),
            None,
            "a 429 before any success says nothing about the rate"
        );
    }

    /// A platform that states its quota has the client keep under it from its first answer on,
    /// a 429 included.
    #[tokio::test(flavor = "current_thread")]
    async fn an_advertised_quota_paces_the_client_from_the_first_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, _) = platform(Some(r#""default";q=200;w=1"#)).await;
        let target = client(&url, dir.path());
        target.configurations().await.expect("configurations");
        assert_eq!(target.inner.limiter.pace(), Some(192.0));
    }
}
