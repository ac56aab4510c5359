//! Asking Microsoft Graph for each user's calendar with the OAuth app's own token, retrying what
//! is worth retrying, and recording the verdicts: `ok`, `denied`, `not_found` or `unverified`,
//! each in Graph's words and with when it was seen.
//!
//! One user's answer is that user's verdict: only a missing app token, which stops every check
//! alike, fails the check as a whole.

use std::time::Duration;

use futures_util::StreamExt;

use super::reading::{Judged, NO_SUCH_USER};
use super::{AppTokens, GraphAnswer, GraphClient, HttpGraph, PrecheckError, Reading, read};
use crate::clock::Clock;
use crate::oauth::TokenSource;
use crate::plan::Precheck;
use crate::plan::grammar::Email;
use crate::retry::Backoff;
use crate::state::{Access, MailboxAccess, Verdict};

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
    /// Look users whose email is not their user principal name up by `mail`/`proxyAddresses`.
    resolve_by_mail: bool,
}

impl MailboxCheck {
    /// Reads the client secret or certificate now, so a missing one is reported before anything
    /// starts.
    pub(crate) fn new(precheck: &Precheck, clock: Clock) -> Result<Self, PrecheckError> {
        let graph = HttpGraph::new(&precheck.graph_url)?;
        let tokens = TokenSource::new(&precheck.credentials)?;
        let mut check = Self::with(graph, tokens, clock, Retries::graph());
        check.resolve_by_mail = precheck.resolve_by_mail;
        Ok(check)
    }
}

/// What a request came to after its retries.
enum Attempted {
    /// An answer not worth retrying; `refreshed`: a token was refused and replaced on the way.
    Answered {
        answer: GraphAnswer,
        refreshed: bool,
    },
    /// Every attempt was throttled, failed on Graph's side or got no answer: the last of them.
    GaveUp(Last),
}

enum Last {
    Answer(GraphAnswer),
    Unreachable(String),
    /// Every attempt refreshed a token (cannot happen with a sane retry count).
    Nothing,
}

impl<G: GraphClient, T: AppTokens> MailboxCheck<G, T> {
    fn with(graph: G, tokens: T, clock: Clock, retries: Retries) -> Self {
        Self {
            graph,
            tokens,
            clock,
            retries,
            resolve_by_mail: false,
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
                let judged = self.one(&email).await;
                (email, judged)
            })
            .buffer_unordered(CONCURRENCY);
        while let Some((email, judged)) = answers.next().await {
            // To the second: when it was seen matters, not the nanosecond.
            let seen_at = jiff::Timestamp::from_second(self.clock.now().as_second())
                .unwrap_or_else(|_| self.clock.now());
            let Judged {
                access,
                status,
                code,
                message,
            } = judged?;
            into.record_verdict(
                email,
                Verdict {
                    access,
                    seen_at,
                    status,
                    code,
                    message,
                },
            );
        }
        Ok(())
    }

    async fn one(&self, email: &Email) -> Result<Judged, PrecheckError> {
        let upn = email.to_string();
        let judged = self.mailbox(&upn).await?;
        let unknown_name =
            judged.access == Access::NotFound && NO_SUCH_USER.contains(&judged.code.as_str());
        if !(self.resolve_by_mail && unknown_name) {
            return Ok(judged);
        }
        // The email is no user's principal name: it may be their mail or a proxy address.
        let found = self
            .retried(async |token: &str| self.graph.find_user(email, token).await)
            .await?;
        let answer = match found {
            Attempted::Answered { answer, .. } => answer,
            Attempted::GaveUp(last) => return Ok(self.gave_up(last)),
        };
        if !answer.status.is_success() {
            let mut message = format!(
                "looking the user up by mail and proxy addresses failed ({}{}{}); the app needs the \
                 User.Read.All application permission for it",
                answer.status.as_u16(),
                if answer.code.is_empty() { "" } else { " " },
                answer.code
            );
            if !answer.message.is_empty() {
                message = format!("{message}: {}", answer.message);
            }
            return Ok(Judged {
                access: Access::Unverified,
                status: Some(answer.status.as_u16()),
                code: answer.code,
                message,
            });
        }
        match answer.found.as_slice() {
            [] => Ok(Judged {
                message: "no user has this address as user principal name, mail or proxy address"
                    .to_owned(),
                ..judged
            }),
            [id] => self.mailbox(id).await,
            many => Ok(Judged {
                access: Access::Unverified,
                status: Some(answer.status.as_u16()),
                code: String::new(),
                message: format!(
                    "{} users have this address as mail or proxy address",
                    many.len()
                ),
            }),
        }
    }

    /// The verdict on `user`'s mailbox (a user principal name or a user's id).
    async fn mailbox(&self, user: &str) -> Result<Judged, PrecheckError> {
        let attempted = self
            .retried(async |token: &str| self.graph.calendar(user, token).await)
            .await?;
        Ok(match attempted {
            Attempted::Answered { answer, refreshed } => match read(&answer, refreshed) {
                Reading::Verdict(judged) if judged.status == Some(401) => Judged {
                    message: format!(
                        "{} (the app token of {}, fetched again, was refused)",
                        judged.message,
                        self.tokens.describe()
                    ),
                    ..judged
                },
                Reading::Verdict(judged) => judged,
                // `retried` answers only with what reads as a verdict.
                Reading::RefreshToken | Reading::Retry { .. } => Judged {
                    access: Access::Unverified,
                    status: Some(answer.status.as_u16()),
                    code: answer.code,
                    message: answer.message,
                },
            },
            Attempted::GaveUp(last) => self.gave_up(last),
        })
    }

    fn gave_up(&self, last: Last) -> Judged {
        let attempts = self.retries.attempts;
        match last {
            Last::Answer(answer) => Judged {
                access: Access::Unverified,
                status: Some(answer.status.as_u16()),
                message: if answer.message.is_empty() {
                    format!("still {} after {attempts} attempts", answer.status)
                } else {
                    format!("{} (still so after {attempts} attempts)", answer.message)
                },
                code: answer.code,
            },
            Last::Unreachable(words) => Judged {
                access: Access::Unverified,
                status: None,
                code: String::new(),
                message: format!("{words} ({attempts} attempts)"),
            },
            Last::Nothing => Judged {
                access: Access::Unverified,
                status: None,
                code: String::new(),
                message: format!("no answer after {attempts} attempts"),
            },
        }
    }

    /// Sends a request until it gets an answer not worth retrying: 429s and server errors wait
    /// (at least what `Retry-After` asks, within bounds), a first 401 fetches a new token.
    async fn retried(
        &self,
        call: impl AsyncFn(&str) -> Result<GraphAnswer, super::GraphUnreachable>,
    ) -> Result<Attempted, PrecheckError> {
        let mut refreshed = false;
        let mut last = Last::Nothing;
        // Retries so far: the floor grows with each wait, not with a token refresh.
        let mut waited = 0;
        for _ in 0..self.retries.attempts {
            let token = self.tokens.token().await?;
            let answer = match call(&token).await {
                Ok(answer) => answer,
                Err(unreachable) => {
                    last = Last::Unreachable(unreachable.to_string());
                    tokio::time::sleep(self.retries.floor(waited)).await;
                    waited += 1;
                    continue;
                }
            };
            match read(&answer, refreshed) {
                Reading::RefreshToken => {
                    self.tokens.invalidate(&token).await;
                    refreshed = true;
                }
                Reading::Retry { asked, .. } => {
                    last = Last::Answer(answer);
                    tokio::time::sleep(self.retries.pause(asked, waited)).await;
                    waited += 1;
                }
                Reading::Verdict(_) => return Ok(Attempted::Answered { answer, refreshed }),
            }
        }
        Ok(Attempted::GaveUp(last))
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
    use crate::precheck::GraphUnreachable;

    const GRAPH: &str = "https://graph.example/v1.0";

    /// What the fake Graph says to one request: a status, Graph's code and message.
    #[derive(Clone)]
    enum Says {
        Status(u16, &'static str, &'static str),
        /// A user search finding these ids.
        Found(&'static [&'static str]),
        Nothing,
    }

    /// A Graph that answers each path (`/users/x/calendar`, `find x`) from a script (the last
    /// answer repeats), and notes which token each request carried.
    #[derive(Default)]
    struct FakeGraph {
        scripts: RefCell<BTreeMap<String, VecDeque<Says>>>,
        requests: RefCell<Vec<(String, String)>>,
    }

    impl FakeGraph {
        fn says(self, path: &str, script: &[Says]) -> Self {
            self.scripts
                .borrow_mut()
                .insert(path.to_owned(), script.iter().cloned().collect());
            self
        }

        fn answer(&self, path: String, token: &str) -> Result<GraphAnswer, GraphUnreachable> {
            self.requests
                .borrow_mut()
                .push((path.clone(), token.to_owned()));
            let says = {
                let mut scripts = self.scripts.borrow_mut();
                let script = scripts.entry(path).or_default();
                if script.len() > 1 {
                    script.pop_front()
                } else {
                    script.front().cloned()
                }
            };
            match says.unwrap_or(Says::Status(200, "", "")) {
                Says::Status(status, code, message) => Ok(GraphAnswer {
                    code: code.to_owned(),
                    message: message.to_owned(),
                    ..GraphAnswer::new(StatusCode::from_u16(status).expect("a status"))
                }),
                Says::Found(ids) => Ok(GraphAnswer {
                    found: ids.iter().map(|id| (*id).to_owned()).collect(),
                    ..GraphAnswer::new(StatusCode::OK)
                }),
                Says::Nothing => Err(GraphUnreachable {
                    graph_url: GRAPH.to_owned(),
                    why: "could not connect",
                }),
            }
        }
    }

    impl GraphClient for FakeGraph {
        async fn calendar(&self, user: &str, token: &str) -> Result<GraphAnswer, GraphUnreachable> {
            self.answer(format!("{user}/calendar"), token)
        }

        async fn find_user(
            &self,
            email: &Email,
            token: &str,
        ) -> Result<GraphAnswer, GraphUnreachable> {
            self.answer(format!("find {email}"), token)
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

    fn run<G: GraphClient>(
        check: &MailboxCheck<G, FakeTokens>,
        users: &[Email],
    ) -> Result<MailboxAccess, PrecheckError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut into = MailboxAccess::default();
        runtime.block_on(check.check(users, &mut into))?;
        Ok(into)
    }

    /// Checks `ana@x.example` against `script` (for her calendar; `more` for other paths): the
    /// verdict in words (`denied 403 ErrorAccessDenied: …`) or `fail: ` and the error, with the
    /// tokens the requests carried.
    fn check_one(
        script: &[Says],
        more: &[(&str, &[Says])],
        resolve_by_mail: bool,
        tokens: FakeTokens,
    ) -> (String, Vec<String>) {
        let mut graph = FakeGraph::default().says("ana@x.example/calendar", script);
        for (path, script) in more {
            graph = graph.says(path, script);
        }
        let mut check = MailboxCheck::with(graph, tokens, Clock::real(), quick());
        check.resolve_by_mail = resolve_by_mail;
        let users = [email("ana@x.example")];
        let result = match run(&check, &users) {
            Ok(into) => into
                .verdicts_of(&users)
                .map(|(_, v)| format!("{} {}", v.access.as_str(), v.graph_words()))
                .collect(),
            Err(e) => format!("fail: {e}"),
        };
        let carried = check
            .graph
            .requests
            .borrow()
            .iter()
            .map(|(path, token)| format!("{path} {token}"))
            .collect();
        (result, carried)
    }

    /// A name, what Graph says, the verdict or the error's message, and the requests made.
    type Case = (
        &'static str,
        Vec<Says>,
        &'static str,
        &'static [&'static str],
    );

    #[test]
    fn retries_what_is_worth_retrying_and_refreshes_a_refused_token_once() {
        use Says::{Nothing, Status};
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("ok at once", vec![Status(200, "", "")], "ok ", &["ana@x.example/calendar t1"]),
            ("denied at once", vec![Status(403, "ErrorAccessDenied", "Access to OData is disabled.")],
                "denied 403 ErrorAccessDenied: Access to OData is disabled.", &["ana@x.example/calendar t1"]),
            ("a refused token is replaced once", vec![Status(401, "", ""), Status(200, "", "")], "ok ",
                &["ana@x.example/calendar t1", "ana@x.example/calendar t2"]),
            ("and not twice", vec![Status(401, "", ""), Status(401, "InvalidAuthenticationToken", "Access token has expired.")],
                "unverified 401 InvalidAuthenticationToken: Access token has expired. (the app token of client c, fetched again, was refused)",
                &["ana@x.example/calendar t1", "ana@x.example/calendar t2"]),
            ("throttled, then answered", vec![Status(429, "", ""), Status(503, "", ""), Status(403, "ErrorAccessDenied", "")],
                "denied 403 ErrorAccessDenied: access denied", &[CAL_T1, CAL_T1, CAL_T1]),
            ("throttled until it gives up", vec![Status(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")],
                "unverified 429 ApplicationThrottled: Application is over its MailboxConcurrency limit. (still so after 5 attempts)", &[CAL_T1; 5]),
            ("a 500 until it gives up", vec![Status(500, "", "")],
                "unverified 500: still 500 Internal Server Error after 5 attempts", &[CAL_T1; 5]),
            ("unreachable until it gives up", vec![Nothing],
                "unverified Microsoft Graph at https://graph.example/v1.0 could not be reached: could not connect (5 attempts)", &[CAL_T1; 5]),
            ("a refresh counts as an attempt", vec![Status(500, "", ""), Status(401, "", ""), Status(502, "", "")],
                "unverified 502: still 502 Bad Gateway after 5 attempts", &[CAL_T1, CAL_T1, CAL_T2, CAL_T2, CAL_T2]),
            ("a 404 without Graph's words is not a missing mailbox", vec![Status(404, "", "")],
                "unverified 404: a 404 without Graph's error code: is `graph_url` Microsoft Graph's?", &[CAL_T1]),
            ("an on-premises mailbox", vec![Status(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")],
                "not_found 404 MailboxNotEnabledForRESTAPI: The mailbox is either inactive, soft-deleted, or is hosted on-premise.", &[CAL_T1]),
            ("no such user", vec![Status(404, "ErrorInvalidUser", "The requested user 'ana@x.example' is invalid.")],
                "not_found 404 ErrorInvalidUser: The requested user 'ana@x.example' is invalid.", &[CAL_T1]),
            ("the app lacks the permission", vec![Status(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")],
                "unverified 403 Authorization_RequestDenied: Insufficient privileges to complete the operation.", &[CAL_T1]),
        ];
        const CAL_T1: &str = "ana@x.example/calendar t1";
        const CAL_T2: &str = "ana@x.example/calendar t2";
        for (name, script, expected, carried) in cases {
            let (result, requests) = check_one(&script, &[], false, FakeTokens::default());
            assert_eq!(result, expected, "{name}");
            assert_eq!(requests, carried, "{name}");
        }
    }

    /// A name, whether to resolve by mail, more scripts, the verdict, the requests made.
    type ByMail<'a> = (
        &'a str,
        bool,
        &'a [(&'a str, &'a [Says])],
        &'a str,
        &'a [&'a str],
    );

    #[test]
    fn a_user_whose_email_is_not_their_upn_is_found_by_mail_only_when_asked() {
        use Says::{Found, Status};
        let invalid = Status(
            404,
            "ErrorInvalidUser",
            "The requested user 'ana@x.example' is invalid.",
        );
        let find = "find ana@x.example";
        #[rustfmt::skip]
        let cases: &[ByMail] = &[
            ("not asked: not found", false, &[], "not_found 404 ErrorInvalidUser: The requested user 'ana@x.example' is invalid.",
                &["ana@x.example/calendar t1"]),
            ("found by mail, then its mailbox is read", true,
                &[(find, &[Found(&["id-7"])]), ("id-7/calendar", &[Status(403, "ErrorAccessDenied", "")])],
                "denied 403 ErrorAccessDenied: access denied",
                &["ana@x.example/calendar t1", "find ana@x.example t1", "id-7/calendar t1"]),
            ("found by nobody", true, &[(find, &[Found(&[])])],
                "not_found 404 ErrorInvalidUser: no user has this address as user principal name, mail or proxy address",
                &["ana@x.example/calendar t1", "find ana@x.example t1"]),
            ("found twice", true, &[(find, &[Found(&["id-1", "id-2"])])],
                "unverified 200: 2 users have this address as mail or proxy address",
                &["ana@x.example/calendar t1", "find ana@x.example t1"]),
            ("the search is not allowed", true,
                &[(find, &[Status(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")])],
                "unverified 403 Authorization_RequestDenied: looking the user up by mail and proxy addresses failed (403 Authorization_RequestDenied); the app needs the User.Read.All application permission for it: Insufficient privileges to complete the operation.",
                &["ana@x.example/calendar t1", "find ana@x.example t1"]),
        ];
        for &(name, resolve, more, expected, requests) in cases {
            let (result, made) = check_one(
                std::slice::from_ref(&invalid),
                more,
                resolve,
                FakeTokens::default(),
            );
            assert_eq!(result, expected, "{name}");
            assert_eq!(made, requests, "{name}");
        }
        // An on-premises mailbox is a user Graph found: no search for it.
        let (result, made) = check_one(
            &[Status(404, "MailboxNotEnabledForRESTAPI", "")],
            &[],
            true,
            FakeTokens::default(),
        );
        assert_eq!(result, "not_found 404 MailboxNotEnabledForRESTAPI");
        assert_eq!(made, ["ana@x.example/calendar t1"]);
    }

    #[test]
    fn no_token_stops_the_check_before_graph_is_asked() {
        let tokens = FakeTokens {
            missing: true,
            ..FakeTokens::default()
        };
        let (result, carried) = check_one(&[Says::Status(200, "", "")], &[], false, tokens);
        assert_eq!(
            result,
            "fail: the client secret's environment variable GRAPH_SECRET is not set; set it (the plan only names it)"
        );
        assert!(carried.is_empty());
    }

    #[test]
    fn one_users_odd_answer_is_their_verdict_and_everyone_is_checked_to_the_second() {
        let graph = FakeGraph::default()
            .says(
                "ana@x.example/calendar",
                &[Says::Status(403, "ErrorAccessDenied", "")],
            )
            .says(
                "bo@x.example/calendar",
                &[Says::Status(404, "ErrorInvalidUser", "")],
            )
            .says(
                "cy@x.example/calendar",
                &[Says::Status(400, "BadRequest", "Invalid request.")],
            )
            .says("$dee@x.example/calendar", &[Says::Status(200, "", "")]);
        let check = MailboxCheck::with(graph, FakeTokens::default(), Clock::real(), quick());
        let users = [
            email("ana@x.example"),
            email("bo@x.example"),
            email("cy@x.example"),
            email("$dee@x.example"),
            email("eve@x.example"),
        ];
        let into = run(&check, &users).expect("checked");
        let verdicts: Vec<_> = into
            .verdicts_of(&users)
            .map(|(e, v)| (e.to_string(), v.access, v.seen_at.subsec_nanosecond()))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                ("ana@x.example".to_owned(), Access::Denied, 0),
                ("bo@x.example".to_owned(), Access::NotFound, 0),
                ("cy@x.example".to_owned(), Access::Unverified, 0),
                ("$dee@x.example".to_owned(), Access::Ok, 0),
                ("eve@x.example".to_owned(), Access::Ok, 0),
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
