//! How fast, and how many at once, requests go to the platform.
//!
//! Two controls. A concurrency bound grows by one per success until the platform first throttles
//! (slow start), then halves on every 429. And once throttled, requests are paced: the rate the
//! platform actually accepted over the last second, a little under it, probing upward slowly — so
//! a rate-limited API is kept busy at its limit instead of being hit, told to wait, and hit again.
//! A 429's `Retry-After` pauses every sender, not only the one that was told.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

pub(crate) struct Limiter {
    state: Mutex<State>,
    notify: Notify,
}

struct State {
    in_flight: usize,
    limit: f64,
    max: f64,
    /// Until the first throttle, grow by one per success (like TCP's slow start).
    slow_start: bool,
    /// Requests per second, once the platform has throttled us.
    pace: Option<f64>,
    /// The earliest the next request may go, by the pace or a `Retry-After`.
    next_slot: Instant,
    /// When recent requests succeeded, to measure the rate the platform accepts.
    recent: VecDeque<Instant>,
    /// A rate never to exceed, requests per second (`fleet apply --rate-limit`): the pace
    /// starts there and probes no higher.
    ceiling: Option<f64>,
}

/// A slot for one request; freed when dropped.
pub(crate) struct Permit {
    limiter: Arc<Limiter>,
}

impl Limiter {
    pub(crate) fn new(initial: usize, max: usize) -> Arc<Self> {
        let max = max.max(1) as f64;
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                limit: (initial.max(1) as f64).min(max),
                max,
                slow_start: true,
                pace: None,
                next_slot: Instant::now(),
                recent: VecDeque::new(),
                ceiling: None,
            }),
            notify: Notify::new(),
        })
    }

    /// Lowers (or raises) the ceiling the concurrency bound may grow to.
    pub(crate) fn cap(&self, max: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.max = max.max(1) as f64;
            state.limit = state.limit.min(state.max);
        }
    }

    /// Never sends more than `per_second` requests a second, from the first one on.
    pub(crate) fn cap_rate(&self, per_second: f64) {
        if let Ok(mut state) = self.state.lock() {
            let rate = per_second.max(0.1);
            state.pace = Some(state.pace.map_or(rate, |p| p.min(rate)));
            state.ceiling = Some(rate);
        }
    }

    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = match self.state.lock() {
                Ok(mut state) => {
                    let now = Instant::now();
                    if (state.in_flight as f64) >= state.limit.floor().max(1.0) {
                        None
                    } else if state.next_slot > now {
                        Some(state.next_slot - now)
                    } else {
                        state.in_flight += 1;
                        if let Some(pace) = state.pace {
                            state.next_slot =
                                state.next_slot.max(now) + Duration::from_secs_f64(1.0 / pace);
                        }
                        return Permit {
                            limiter: Arc::clone(self),
                        };
                    }
                }
                Err(_) => {
                    return Permit {
                        limiter: Arc::clone(self),
                    };
                }
            };
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => notified.await,
            }
        }
    }

    /// The platform said "too many": pause everyone for `retry_after`, pace at a little under
    /// the rate it accepted over the last second, and halve the concurrency bound.
    pub(crate) fn throttled(&self, retry_after: Duration) {
        if let Ok(mut state) = self.state.lock() {
            let now = Instant::now();
            let accepted = state
                .recent
                .iter()
                .filter(|t| now.duration_since(**t) < Duration::from_secs(1))
                .count();
            let measured = (accepted as f64 * 0.97).max(1.0);
            state.pace = Some(state.pace.map_or(measured, |p| p.min(measured).max(1.0)));
            state.next_slot = state.next_slot.max(now + retry_after);
            state.limit = (state.limit / 2.0).max(1.0);
            state.slow_start = false;
        }
    }

    /// A request went through: grow the concurrency bound, and probe a slightly faster pace.
    pub(crate) fn succeeded(&self) {
        if let Ok(mut state) = self.state.lock() {
            let now = Instant::now();
            state.recent.push_back(now);
            while state
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(2))
            {
                state.recent.pop_front();
            }
            let step = if state.slow_start || state.pace.is_some() {
                1.0
            } else {
                1.0 / state.limit
            };
            state.limit = (state.limit + step).min(state.max);
            let ceiling = state.ceiling.unwrap_or(f64::INFINITY);
            if let Some(pace) = state.pace.as_mut() {
                *pace = (*pace * 1.0005).min(ceiling);
            }
        }
        self.notify.notify_waiters();
    }

    #[cfg(test)]
    pub(crate) fn limit(&self) -> f64 {
        self.state.lock().map(|s| s.limit).unwrap_or(0.0)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut state) = self.limiter.state.lock() {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        self.limiter.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_when_throttled_and_grows_back() {
        let limiter = Limiter::new(8, 16);
        limiter.throttled(Duration::ZERO);
        assert_eq!(limiter.limit(), 4.0);
        for _ in 0..100 {
            limiter.throttled(Duration::ZERO);
        }
        assert_eq!(limiter.limit(), 1.0);
        for _ in 0..1000 {
            limiter.succeeded();
        }
        assert_eq!(limiter.limit(), 16.0);
        let fresh = Limiter::new(4, 32);
        for _ in 0..4 {
            fresh.succeeded();
        }
        assert_eq!(
            fresh.limit(),
            8.0,
            "slow start grows by one per success until throttled"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn never_more_in_flight_than_the_bound() {
        let limiter = Limiter::new(2, 2);
        let first = limiter.acquire().await;
        let _second = limiter.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(20), limiter.acquire()).await;
        assert!(third.is_err(), "a third request waits");
        drop(first);
        let third = tokio::time::timeout(Duration::from_millis(200), limiter.acquire()).await;
        assert!(third.is_ok(), "and goes once a slot frees");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_rate_cap_paces_from_the_first_request_and_is_never_exceeded() {
        let limiter = Limiter::new(8, 8);
        limiter.cap_rate(50.0);
        let started = Instant::now();
        for _ in 0..11 {
            let _permit = limiter.acquire().await;
            limiter.succeeded();
        }
        // 11 requests at 50/s: the 11th goes no sooner than 10 intervals of 20 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(190),
            "{:?}",
            started.elapsed()
        );
        for _ in 0..10_000 {
            limiter.succeeded();
        }
        let pace = limiter.state.lock().map(|s| s.pace).ok().flatten();
        assert_eq!(pace, Some(50.0), "probing stops at the cap");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retry_after_pauses_every_sender() {
        let limiter = Limiter::new(4, 4);
        limiter.throttled(Duration::from_millis(150));
        let started = Instant::now();
        let _permit = limiter.acquire().await;
        assert!(
            started.elapsed() >= Duration::from_millis(140),
            "waited {:?}",
            started.elapsed()
        );
    }
}
