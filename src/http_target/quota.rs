//! What a platform says about its rate limit before it throttles: the `RateLimit-Policy`
//! response header of the IETF httpapi draft (draft-ietf-httpapi-ratelimit-headers), e.g.
//! `"default";q=200;w=1` for 200 requests per 1-second window.
//!
//! Only what pacing needs is read: of the policies counted in requests whose window is short,
//! the tightest. The `RateLimit` field (the quota left now) is not read: its `t` is whole
//! seconds, which says nothing useful about where a 1-second window stands, and a client that
//! paces by the policy never gets near the end of its quota anyway. How the rate is used is
//! `limiter.rs`'s.

use std::time::Duration;

use http::HeaderMap;

/// The longest window worth pacing evenly for. Within a short window, a 429's whole-second
/// `Retry-After` costs more than spreading requests does; over a long one (an hourly quota),
/// even pacing would make a short job wait for no reason, and bursting until throttled loses
/// nothing, since a throttled client could not have sent more anyway.
const SHORT_WINDOW: u64 = 10;

/// A quota: this many requests per window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Quota {
    pub(super) requests: u64,
    pub(super) window: Duration,
}

impl Quota {
    /// The tightest short-window quota `headers` advertise, if any is there and readable.
    pub(super) fn advertised(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all("ratelimit-policy")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(split_outside_quotes(','))
            .filter_map(policy)
            .filter(|q| q.window <= Duration::from_secs(SHORT_WINDOW))
            .min_by(|a, b| a.per_second().total_cmp(&b.per_second()))
    }

    fn per_second(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }

    /// Requests per second that stay within the quota wherever its windows begin, spread
    /// evenly: 3% under it for arrivals the network bunches up, and two requests fewer per
    /// window, one for the fencepost (n evenly spaced requests span n - 1 intervals) and one for
    /// the pacer's tolerance of a sender that wakes a little late. Never less than half of it,
    /// so a tiny quota still gets used.
    pub(super) fn safe_rate(&self) -> f64 {
        let requests = self.requests as f64;
        let per_window = (requests * 0.97 - 2.0).max(requests / 2.0);
        per_window / self.window.as_secs_f64()
    }
}

/// One list member: `"name";q=200;w=1` (the draft since -07), or `200;w=1` (draft -05 and -06,
/// the quota as the item). `None` for one without a quota or window, or counted in anything
/// but requests.
fn policy(member: &str) -> Option<Quota> {
    let mut parts = split_outside_quotes(';')(member);
    let item = parts.next()?;
    let mut requests = item.parse::<u64>().ok();
    let mut window = None;
    for parameter in parts {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, "?1"));
        match key.trim() {
            "q" => requests = Some(value.trim().parse::<u64>().ok()?),
            "w" => window = Some(value.trim().parse::<u64>().ok()?),
            "qu" if value.trim() != "\"requests\"" => return None,
            _ => {}
        }
    }
    let window = window.filter(|w| *w > 0)?;
    // A quota of none is the platform saying "not now": its 429s and Retry-After say until when.
    Some(Quota {
        requests: requests.filter(|q| *q > 0)?,
        window: Duration::from_secs(window),
    })
}

/// Splits a structured field at `separator` where it is not inside a quoted string, trimming
/// each piece and dropping empty ones.
fn split_outside_quotes(separator: char) -> impl Fn(&str) -> std::vec::IntoIter<&str> {
    move |text: &str| {
        let mut pieces = Vec::new();
        let (mut start, mut quoted, mut escaped) = (0, false, false);
        for (i, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == separator && !quoted => {
                    pieces.push(text[start..i].trim());
                    start = i + c.len_utf8();
                }
                _ => {}
            }
        }
        pieces.push(text[start..].trim());
        pieces.retain(|p| !p.is_empty());
        pieces.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(values: &[&str]) -> Option<(u64, u64)> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                "RateLimit-Policy",
                http::HeaderValue::from_str(value).expect("header value"),
            );
        }
        Quota::advertised(&headers).map(|q| (q.requests, q.window.as_secs()))
    }

    #[test]
    fn reads_the_tightest_short_window_quota() {
        // The header values, and the (requests, window seconds) read from them.
        type Case = (&'static [&'static str], Option<(u64, u64)>);
        let cases: &[Case] = &[
            (&[r#""default";q=200;w=1"#], Some((200, 1))),
            (&["200;w=1"], Some((200, 1))),
            (
                &[r#""burst";q=100;w=1, "sustained";q=500;w=10"#],
                Some((500, 10)),
            ),
            (&[r#""a";q=100;w=1"#, r#""b";q=50;w=1"#], Some((50, 1))),
            (&[r#""per;sec, odd";q=30;w=1"#], Some((30, 1))),
            (&[r#""default";q=100;w=10;qu="requests""#], Some((100, 10))),
            (
                &[r#""default";q=100;w=1;pk=:cHsdsRa894==:"#],
                Some((100, 1)),
            ),
            // An hourly quota is not paced for; a short one beside it is.
            (&[r#""hourly";q=5000;w=3600"#], None),
            (&[r#""s";q=20;w=1,"h";q=5000;w=3600"#], Some((20, 1))),
            (&[r#""bytes";q=65535;qu="content-bytes";w=1"#], None),
            (&[r#""default";q=100"#], None),
            (&[r#""default";q=0;w=1"#], None),
            (&[r#""default";q=100;w=0"#], None),
            (&[r#""default";q=-1;w=1"#], None),
            (&[r#""default";q=lots;w=1"#], None),
            (&["", ",,;", "garbage"], None),
            (&[], None),
        ];
        for (values, expected) in cases {
            assert_eq!(quota(values), *expected, "{values:?}");
        }
    }

    #[test]
    fn a_safe_rate_leaves_room_in_every_window() {
        let rate = |requests, window| {
            Quota {
                requests,
                window: Duration::from_secs(window),
            }
            .safe_rate()
        };
        assert_eq!(rate(200, 1), 192.0);
        assert_eq!(rate(1000, 10), 96.8);
        assert_eq!(rate(1, 1), 0.5, "a tiny quota is still used");
    }
}
