//! What `sandbox serve` does to requests on purpose.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Fault injection settings, from the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// Added to every request.
    pub(crate) latency: Duration,
    /// Requests per second served; beyond it, 429 with Retry-After.
    pub(crate) rate_limit: Option<u32>,
    /// Share of requests answered 500 or 503 (before doing anything).
    pub(crate) error_rate: f64,
    /// Share of requests whose connection is dropped (half before doing anything, half after,
    /// so the answer of a write that took effect is lost).
    pub(crate) drop_rate: f64,
    /// The most users one bulk call may carry.
    pub(crate) max_bulk: u32,
    pub(crate) seed: u64,
    /// Serve the contract as a platform from before `POST /users/query` does (a 404).
    pub(crate) without_users_query: bool,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Serve,
    Throttle,
    Fail(u16),
    DropBefore,
    DropAfter,
}

/// The server's shared fault state: a rate limiter and a random sequence.
pub(crate) struct FaultState {
    faults: Faults,
    inner: Mutex<Inner>,
    /// What happened to requests, for the summary `sandbox serve` prints when it stops.
    pub(crate) counts: Counts,
}

#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) served: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// Requests refused for want of a valid token.
    pub(crate) unauthorized: AtomicU64,
}

impl Counts {
    pub(crate) fn summary(&self, elapsed: Duration) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let served = get(&self.served);
        let seconds = elapsed.as_secs_f64().max(0.001);
        format!(
            "served {served} requests in {seconds:.1}s ({:.1}/s); {} throttled (429), {} failed on purpose, {} dropped on purpose, {} unauthorized (401)",
            served as f64 / seconds,
            get(&self.throttled),
            get(&self.failed),
            get(&self.dropped),
            get(&self.unauthorized)
        )
    }
}

struct Inner {
    random: u64,
    window_start: Instant,
    served_in_window: u32,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> Self {
        let seed = faults.seed.max(1);
        Self {
            faults,
            inner: Mutex::new(Inner {
                random: seed,
                window_start: Instant::now(),
                served_in_window: 0,
            }),
            counts: Counts::default(),
        }
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Decides a request's fate: rate limit first (a throttled request costs nothing), then
    /// injected errors and drops; with a rate limit, also where its window stood once this
    /// request was counted, for the answer to say.
    pub(crate) fn fate(&self) -> (Fate, Option<Window>) {
        let Ok(mut inner) = self.inner.lock() else {
            return (Fate::Fail(500), None);
        };
        let mut window = None;
        if let Some(limit) = self.faults.rate_limit {
            let now = Instant::now();
            if now.duration_since(inner.window_start) >= Duration::from_secs(1) {
                inner.window_start = now;
                inner.served_in_window = 0;
            }
            let throttled = inner.served_in_window >= limit;
            if !throttled {
                inner.served_in_window += 1;
            }
            let stood = Window {
                left: limit.saturating_sub(inner.served_in_window),
                resets_in: Duration::from_secs(1)
                    .saturating_sub(now.duration_since(inner.window_start)),
            };
            if throttled {
                return (Fate::Throttle, Some(stood));
            }
            window = Some(stood);
        }
        let roll = inner.next_unit();
        if roll < self.faults.error_rate {
            let code = if inner.next_unit() < 0.5 { 500 } else { 503 };
            return (Fate::Fail(code), window);
        }
        let roll = inner.next_unit();
        if roll < self.faults.drop_rate {
            let drop = if inner.next_unit() < 0.5 {
                Fate::DropBefore
            } else {
                Fate::DropAfter
            };
            return (drop, window);
        }
        (Fate::Serve, window)
    }
}

/// Where the rate limiter's one-second window stood when a request was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Requests it will still serve.
    pub(crate) left: u32,
    /// Until it closes and the next opens with the next request.
    pub(crate) resets_in: Duration,
}

impl Window {
    /// Whole seconds until it resets, rounded up, as `Retry-After` and `RateLimit`'s `t` say
    /// it: never 0, which would invite a request before it has.
    pub(crate) fn reset_seconds(&self) -> u64 {
        let left = self.resets_in;
        (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1)
    }
}

impl Inner {
    /// A number in `[0, 1)` from a xorshift sequence: reproducible with `--seed`.
    fn next_unit(&mut self) -> f64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        (self.random >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_is_told_what_its_window_has_left_once_it_was_counted() {
        let faults = FaultState::new(Faults {
            rate_limit: Some(3),
            ..Faults::default()
        });
        let fates: Vec<(Fate, Option<u32>)> = (0..5)
            .map(|_| faults.fate())
            .map(|(fate, window)| (fate, window.map(|w| w.left)))
            .collect();
        assert_eq!(
            fates,
            [
                (Fate::Serve, Some(2)),
                (Fate::Serve, Some(1)),
                (Fate::Serve, Some(0)),
                (Fate::Throttle, Some(0)),
                (Fate::Throttle, Some(0)),
            ]
        );
        let (_, window) = faults.fate();
        let window = window.expect("a rate limit has a window");
        assert!(window.resets_in <= Duration::from_secs(1));
        assert_eq!(
            window.reset_seconds(),
            1,
            "never 0: that would invite a retry too soon"
        );
        let unlimited = FaultState::new(Faults::default());
        assert_eq!(unlimited.fate(), (Fate::Serve, None));
    }
}
