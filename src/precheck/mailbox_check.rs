//! Asking Microsoft Graph for each user's calendar with the OAuth app's own token, retrying what
//! is worth retrying, and recording the verdicts.

use std::time::Duration;

use futures_util::StreamExt;

use super::{AppTokens, GraphClient, HttpGraph, PrecheckError, Reading, Transient, read};
use crate::clock::Clock;
use crate::oauth::TokenSource;
use crate::plan::Precheck;
use crate::plan::grammar::Email;
use crate::retry::Backoff;
use crate::state::{Access, MailboxAccess};

/// Graph allows 4 concurrent requests per app and mailbox; across mailboxes a few at once keeps
/// the check quick without provoking throttling.
const CONCURRENCY: usize = 8;

/// The pre-check against Graph. The engine and the command line see only `new` and `check`;
/// the type parameters exist for tests, which put a fake Graph and fake tokens in.
pub(crate) struct MailboxCheck<G = HttpGraph, T = TokenSource> {
    graph: G,
    tokens: T,
    clock: Clock,
    retries: Retries,
}

impl MailboxCheck {
    /// Reads the client secret now, so a missing one is reported before anything starts.
    pub(crate) fn new(precheck: &Precheck, clock: Clock) -> Result<Self, PrecheckError> {
        let graph = HttpGraph::new(&precheck.graph_url)?;
        let tokens = TokenSource::new(&precheck.credentials)?;
        Ok(Self::with(graph, tokens, clock, Retries::graph()))
    }
}

impl<G: GraphClient, T: AppTokens> MailboxCheck<G, T> {
    fn with(graph: G, tokens: T, clock: Clock, retries: Retries) -> Self {
        Self {
            graph,
            tokens,
            clock,
            retries,
        }
    }

    /// Checks every user in `users` and records what Graph said into `into`.
    pub(crate) async fn check(
        &self,
        users: &[Email],
        into: &mut MailboxAccess,
    ) -> Result<(), PrecheckError> {
        let mut answers = futures_util::stream::iter(users.iter().cloned())
            .map(|email| async move {
                let access = self.one(&email).await;
                (email, access)
            })
            .buffer_unordered(CONCURRENCY);
        while let Some((email, access)) = answers.next().await {
            // To the second: when it was seen matters, not the nanosecond.
            let seen_at = jiff::Timestamp::from_second(self.clock.now().as_second())
                .unwrap_or_else(|_| self.clock.now());
            into.record(email, access?, seen_at);
        }
        Ok(())
    }

    async fn one(&self, email: &Email) -> Result<Access, PrecheckError> {
        let mut refreshed = false;
        let mut last = None;
        // Retries so far: the floor grows with each wait, not with a token refresh.
        let mut waited = 0;
        for _ in 0..self.retries.attempts {
            let token = self.tokens.token().await?;
            let answer = match self.graph.calendar(email, &token).await {
                Ok(answer) => answer,
                Err(unreachable) => {
                    last = Some(Transient::Unreachable(unreachable));
                    tokio::time::sleep(self.retries.floor(waited)).await;
                    waited += 1;
                    continue;
                }
            };
            match read(&answer, refreshed, self.graph.url(), || {
                self.tokens.describe()
            }) {
                Reading::Verdict(access) => return Ok(access),
                Reading::RefreshToken => {
                    self.tokens.invalidate(&token).await;
                    refreshed = true;
                }
                Reading::Retry { status, asked } => {
                    last = Some(Transient::Answered(status));
                    tokio::time::sleep(self.retries.pause(asked, waited)).await;
                    waited += 1;
                }
                Reading::Fail(error) => return Err(error),
            }
        }
        Err(PrecheckError::GaveUp {
            attempts: self.retries.attempts,
            last,
        })
    }
}

/// How one user's check is retried.
struct Retries {
    /// Tries before the pre-check gives up.
    attempts: u32,
    /// The least wait before retry `n`: doubling, without jitter (a floor, not a draw).
    floor: Backoff,
    /// The most any `Retry-After` may park a check.
    ceiling: Duration,
}

impl Retries {
    fn graph() -> Self {
        let ceiling = Duration::from_secs(120);
        Self {
            attempts: 5,
            floor: Backoff::new(Duration::from_millis(200), ceiling),
            ceiling,
        }
    }

    fn floor(&self, retry: u32) -> Duration {
        self.floor.cap(retry)
    }

    /// Graph sometimes says 1 second every time: keep a floor that grows, and a ceiling, so one
    /// answer cannot park the run for hours.
    fn pause(&self, asked: Option<Duration>, retry: u32) -> Duration {
        let floor = self.floor(retry);
        asked
            .map_or(floor, |asked| asked.max(floor))
            .min(self.ceiling)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, VecDeque};

    use http::StatusCode;

    use super::*;
    use crate::oauth::{SecretError, TokenError};
    use crate::precheck::{GraphAnswer, GraphUnreachable};

    const GRAPH: &str = "https://graph.example/v1.0";

    /// What the fake Graph says to one request.
    #[derive(Clone)]
    enum Says {
        Status(u16, &'static str),
        Nothing,
    }

    /// A Graph that answers each mailbox from a script (the last answer repeats), and notes
    /// which token each request carried.
    #[derive(Default)]
    struct FakeGraph {
        scripts: RefCell<BTreeMap<String, VecDeque<Says>>>,
        requests: RefCell<Vec<(String, String)>>,
    }

    impl FakeGraph {
        fn says(self, email: &str, script: &[Says]) -> Self {
            self.scripts
                .borrow_mut()
                .insert(email.to_owned(), script.iter().cloned().collect());
            self
        }
    }

    impl GraphClient for FakeGraph {
        fn url(&self) -> &str {
            GRAPH
        }

        async fn calendar(
            &self,
            email: &Email,
            token: &str,
        ) -> Result<GraphAnswer, GraphUnreachable> {
            self.requests
                .borrow_mut()
                .push((email.to_string(), token.to_owned()));
            let says = {
                let mut scripts = self.scripts.borrow_mut();
                let script = scripts.entry(email.to_string()).or_default();
                if script.len() > 1 {
                    script.pop_front()
                } else {
                    script.front().cloned()
                }
            };
            match says.unwrap_or(Says::Status(200, "")) {
                Says::Status(status, code) => Ok(GraphAnswer {
                    status: StatusCode::from_u16(status).expect("a status"),
                    retry_after: None,
                    code: code.to_owned(),
                }),
                Says::Nothing => Err(GraphUnreachable {
                    graph_url: GRAPH.to_owned(),
                    why: "could not connect",
                }),
            }
        }
    }

    /// Tokens `t1`, `t2`, …: a new one after each invalidation of the current one.
    #[derive(Default)]
    struct FakeTokens {
        issued: RefCell<u32>,
        missing: bool,
    }

    impl AppTokens for FakeTokens {
        async fn token(&self) -> Result<String, TokenError> {
            if self.missing {
                return Err(TokenError::Secret(SecretError::EnvUnset {
                    what: "client secret",
                    name: "GRAPH_SECRET".to_owned(),
                }));
            }
            Ok(format!("t{}", *self.issued.borrow() + 1))
        }

        async fn invalidate(&self, refused: &str) {
            if refused == format!("t{}", *self.issued.borrow() + 1) {
                *self.issued.borrow_mut() += 1;
            }
        }

        fn describe(&self) -> String {
            "client c".to_owned()
        }
    }

    fn quick() -> Retries {
        Retries {
            attempts: 5,
            floor: Backoff::new(Duration::from_millis(1), Duration::from_millis(4)),
            ceiling: Duration::from_millis(4),
        }
    }

    fn email(s: &str) -> Email {
        Email::parse(s).expect("email")
    }

    /// Checks `ana@x.example` against `script`: the verdict (`allowed`, …) or `fail: ` and the
    /// error's message, with the tokens the requests carried.
    fn check_one(script: &[Says], tokens: FakeTokens) -> (String, Vec<String>) {
        let check = MailboxCheck::with(
            FakeGraph::default().says("ana@x.example", script),
            tokens,
            Clock::real(),
            quick(),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut into = MailboxAccess::default();
        let users = [email("ana@x.example")];
        let result = match runtime.block_on(check.check(&users, &mut into)) {
            Ok(()) => into
                .verdicts_of(&users)
                .map(|(_, verdict)| verdict.access.as_str().to_owned())
                .collect(),
            Err(e) => format!("fail: {e}"),
        };
        let carried = check
            .graph
            .requests
            .borrow()
            .iter()
            .map(|(_, token)| token.clone())
            .collect();
        (result, carried)
    }

    /// A name, what Graph says, the verdict or the error's message, and the tokens the requests
    /// carried.
    type Case = (&'static str, Vec<Says>, String, &'static [&'static str]);

    #[test]
    fn retries_what_is_worth_retrying_and_refreshes_a_refused_token_once() {
        use Says::{Nothing, Status};
        let gave_up = "fail: the mailbox pre-check gave up after 5 attempts: ";
        let ok = |access: Access| access.as_str().to_owned();
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("allowed at once", vec![Status(200, "")], ok(Access::Allowed), &["t1"]),
            ("denied at once", vec![Status(403, "ErrorAccessDenied")], ok(Access::Denied), &["t1"]),
            ("a refused token is replaced once", vec![Status(401, ""), Status(200, "")], ok(Access::Allowed), &["t1", "t2"]),
            ("and not twice", vec![Status(401, ""), Status(401, "InvalidAuthenticationToken")],
                "fail: Microsoft Graph refused the app token of client c (InvalidAuthenticationToken)".to_owned(), &["t1", "t2"]),
            ("throttled, then answered", vec![Status(429, ""), Status(503, ""), Status(403, "ErrorAccessDenied")], ok(Access::Denied), &["t1", "t1", "t1"]),
            ("throttled until it gives up", vec![Status(429, "")],
                format!("{gave_up}Microsoft Graph answered 429 Too Many Requests"), &["t1"; 5]),
            ("unreachable until it gives up", vec![Nothing],
                format!("{gave_up}Microsoft Graph at {GRAPH} could not be reached: could not connect"), &["t1"; 5]),
            ("a refresh counts as an attempt", vec![Status(500, ""), Status(401, ""), Status(502, "")],
                format!("{gave_up}Microsoft Graph answered 502 Bad Gateway"), &["t1", "t1", "t2", "t2", "t2"]),
            ("a wrong graph_url stops the check", vec![Status(404, "")],
                format!("fail: Microsoft Graph at {GRAPH} answered 404 (no Graph error code) for a calendar: is `graph_url` right?"), &["t1"]),
            ("no mailbox", vec![Status(404, "MailboxNotEnabledForRESTAPI")], ok(Access::NoMailbox), &["t1"]),
        ];
        for (name, script, expected, carried) in cases {
            let (result, tokens) = check_one(&script, FakeTokens::default());
            assert_eq!(result, expected, "{name}");
            assert_eq!(tokens, carried, "{name}");
        }
    }

    #[test]
    fn no_token_stops_the_check_before_graph_is_asked() {
        let tokens = FakeTokens {
            missing: true,
            ..FakeTokens::default()
        };
        let (result, carried) = check_one(&[Says::Status(200, "")], tokens);
        assert_eq!(
            result,
            "fail: the client secret's environment variable GRAPH_SECRET is not set; set it (the plan only names it)"
        );
        assert!(carried.is_empty());
    }

    #[test]
    fn records_a_verdict_for_every_user_to_the_second() {
        let graph = FakeGraph::default()
            .says("ana@x.example", &[Says::Status(403, "ErrorAccessDenied")])
            .says("bo@x.example", &[Says::Status(404, "ErrorInvalidUser")]);
        let check = MailboxCheck::with(graph, FakeTokens::default(), Clock::real(), quick());
        let users = [
            email("ana@x.example"),
            email("bo@x.example"),
            email("cy@x.example"),
        ];
        let mut into = MailboxAccess::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime
            .block_on(check.check(&users, &mut into))
            .expect("checked");
        let verdicts: Vec<_> = into
            .verdicts_of(&users)
            .map(|(e, v)| (e.to_string(), v.access, v.seen_at.subsec_nanosecond()))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                ("ana@x.example".to_owned(), Access::Denied, 0),
                ("bo@x.example".to_owned(), Access::NoMailbox, 0),
                ("cy@x.example".to_owned(), Access::Allowed, 0),
            ]
        );
    }

    #[test]
    fn the_floor_grows_and_a_retry_after_is_capped() {
        let retries = Retries::graph();
        #[rustfmt::skip]
        let cases: &[(Option<u64>, u32, Duration)] = &[
            (None, 0, Duration::from_millis(200)),
            (None, 3, Duration::from_millis(1600)),
            (Some(1), 0, Duration::from_secs(1)),
            (Some(1), 3, Duration::from_millis(1600)),
            (Some(30), 1, Duration::from_secs(30)),
            (Some(3600), 0, Duration::from_secs(120)),
        ];
        for &(asked, retry, expected) in cases {
            assert_eq!(
                retries.pause(asked.map(Duration::from_secs), retry),
                expected,
                "{asked:?} {retry}"
            );
        }
        assert_eq!(retries.floor(2), Duration::from_millis(800));
    }
}
