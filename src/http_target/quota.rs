//! What a platform says about its rate limit before it throttles: the `RateLimit-Policy`
//! response header of the IETF httpapi draft (draft-ietf-httpapi-ratelimit-headers), e.g.
//! `"default";q=200;w=1` for 200 requests per 1-second window.
//!
//! Two things are read. For pacing, of the policies counted in requests whose window is short,
//! the tightest. And the `RateLimit` field's `r`, the quota left now (`"default";r=150;t=1`),
//! when the platform keeps to one short-window policy only, so that what is left of that one is
//! all there is to know: `budget.rs` spends it. The field's `t` is not read: it is whole
//! seconds, which says nothing useful about where a 1-second window stands. How the rate and
//! the remainder are used is `limiter.rs`'s.

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
        short_policies(headers)
            .map(|(_, quota)| quota)
            .min_by(|a, b| a.per_second().total_cmp(&b.per_second()))
    }

    /// The one short-window quota `headers` advertise and what they say is left of it now
    /// (`RateLimit`'s `r` for the policy of that name). `None` where there are several short
    /// windows (what is left of one says nothing of the others), the policy has no name to
    /// match, or no `r` is given for it.
    pub(super) fn remaining(headers: &HeaderMap) -> Option<(Self, u64)> {
        let mut policies = short_policies(headers);
        let (name, quota) = policies.next()?;
        if policies.next().is_some() {
            return None;
        }
        let name = name.filter(|n| n.starts_with('"'))?;
        let remaining = fields(headers, "ratelimit")
            .filter_map(|member| {
                let mut parts = split_outside_quotes(';')(member);
                if parts.next()? != name {
                    return None;
                }
                parts.find_map(|parameter| {
                    let (key, value) = parameter.split_once('=')?;
                    (key.trim() == "r").then(|| value.trim().parse::<u64>().ok())?
                })
            })
            .min()?;
        Some((quota, remaining))
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

/// The members of every `name` field in `headers`.
fn fields<'h>(headers: &'h HeaderMap, name: &str) -> impl Iterator<Item = &'h str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(split_outside_quotes(','))
}

/// The policies counted in requests whose window is short, with the item that names each.
fn short_policies(headers: &HeaderMap) -> impl Iterator<Item = (Option<&str>, Quota)> {
    fields(headers, "ratelimit-policy")
        .filter_map(policy)
        .filter(|(_, q)| q.window <= Duration::from_secs(SHORT_WINDOW))
}

/// One list member: `"name";q=200;w=1` (the draft since -07), or `200;w=1` (draft -05 and -06,
/// the quota as the item), with its name if it has one. `None` for one without a quota or
/// window, or counted in anything but requests.
fn policy(member: &str) -> Option<(Option<&str>, Quota)> {
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
    let quota = Quota {
        requests: requests.filter(|q| *q > 0)?,
        window: Duration::from_secs(window),
    };
    Some((item.parse::<u64>().is_err().then_some(item), quota))
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
    fn reads_what_is_left_of_the_one_short_window_quota() {
        // (RateLimit-Policy values, RateLimit values, the (requests, left) read from them).
        type Case = (
            &'static [&'static str],
            &'static [&'static str],
            Option<(u64, u64)>,
        );
        let cases: &[Case] = &[
            (
                &[r#""default";q=200;w=1"#],
                &[r#""default";r=150;t=1"#],
                Some((200, 150)),
            ),
            (
                &[r#""default";q=200;w=1"#],
                &[r#""default";t=1;r=0"#],
                Some((200, 0)),
            ),
            // The name must match, and a policy without one has nothing to match by.
            (&[r#""default";q=200;w=1"#], &[r#""other";r=150;t=1"#], None),
            (&["200;w=1"], &[r#""default";r=150;t=1"#], None),
            // Two members for the one policy: the lesser is believed.
            (
                &[r#""d";q=200;w=1"#],
                &[r#""d";r=150, "d";r=90"#],
                Some((200, 90)),
            ),
            // Several short windows: what is left of one says nothing of the others.
            (
                &[r#""burst";q=100;w=1, "sustained";q=500;w=10"#],
                &[r#""burst";r=50, "sustained";r=400"#],
                None,
            ),
            // A long window beside a short one is not paced for, so does not count.
            (
                &[r#""s";q=20;w=1, "h";q=5000;w=3600"#],
                &[r#""s";r=7;t=1, "h";r=4000"#],
                Some((20, 7)),
            ),
            (&[r#""default";q=200;w=1"#], &[], None),
            (&[r#""default";q=200;w=1"#], &[r#""default";r=-3"#], None),
            (&[r#""default";q=200;w=1"#], &[r#""default";r=many"#], None),
            (&[], &[r#""default";r=150;t=1"#], None),
        ];
        for (policies, fields, expected) in cases {
            let mut headers = HeaderMap::new();
            for (name, values) in [("RateLimit-Policy", policies), ("RateLimit", fields)] {
                for value in values.iter() {
                    headers.append(name, http::HeaderValue::from_str(value).expect("header"));
                }
            }
            let read = Quota::remaining(&headers).map(|(q, left)| (q.requests, left));
            assert_eq!(read, *expected, "{policies:?} {fields:?}");
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
