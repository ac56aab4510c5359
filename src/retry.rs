//! How cutover retries an HTTP call: jittered exponential backoff, and what a `Retry-After`
//! header asks for.
//!
//! Every outbound client (the platform's API, Microsoft Graph) retries the same way; each keeps
//! its own policy (how many attempts, which answers are worth another try), and asks this module
//! only how long to wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Backoff that grows from `base`, doubling per attempt, up to `max`, with full jitter: a random
/// wait in `[0, cap)`, so many clients told to retry at once do not retry at once.
#[derive(Debug)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    /// xorshift state; any odd seed will do, and a racing update only mixes it more.
    state: AtomicU64,
}

/// No retry goes out sooner than this, however small the jitter drew.
const FLOOR: Duration = Duration::from_millis(10);

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Self {
            base,
            max,
            state: AtomicU64::new(seed),
        }
    }

    /// The wait before retry number `attempt` (0 for the first retry).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        self.jitter(self.cap(attempt)).max(FLOOR)
    }

    /// The longest wait before retry number `attempt`, without jitter.
    pub(crate) fn cap(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max)
    }

    fn jitter(&self, cap: Duration) -> Duration {
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX).max(1);
        Duration::from_nanos(x % nanos)
    }
}

/// What a `Retry-After` header asks for: delay-seconds, or an HTTP date (RFC 9110 §10.2.3)
/// measured from the system clock. `None` for a missing or unreadable header; a date in the
/// past is a wait of zero.
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_str(value).expect("a header value"),
        );
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers(" 0 ")), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO),
            "a date in the past"
        );
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let date = jiff::fmt::rfc2822::to_string(&soon.to_zoned_datetime(jiff::tz::TimeZone::UTC))
            .expect("formatted");
        let wait = retry_after(&headers(&date)).expect("a date in the future");
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&http::HeaderMap::new()), None);
    }

    #[test]
    fn backoff_doubles_to_its_ceiling_and_stays_under_its_cap() {
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(8));
        assert_eq!(backoff.cap(0), Duration::from_millis(100));
        assert_eq!(backoff.cap(3), Duration::from_millis(800));
        assert_eq!(backoff.cap(30), Duration::from_secs(8));
        for attempt in 0..12 {
            let delay = backoff.delay(attempt);
            assert!(delay >= FLOOR && delay <= backoff.cap(attempt).max(FLOOR));
        }
    }
}
