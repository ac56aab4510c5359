//! How many requests may be in flight: additive increase, multiplicative decrease.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

pub(crate) struct Limiter {
    state: Mutex<State>,
    notify: Notify,
    max: f64,
}

struct State {
    in_flight: usize,
    limit: f64,
}

/// A slot for one request; freed when dropped.
pub(crate) struct Permit {
    limiter: Arc<Limiter>,
}

impl Limiter {
    pub(crate) fn new(initial: usize, max: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                limit: initial.max(1) as f64,
            }),
            notify: Notify::new(),
            max: max.max(1) as f64,
        })
    }

    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Ok(mut state) = self.state.lock() {
                if (state.in_flight as f64) < state.limit.floor().max(1.0) {
                    state.in_flight += 1;
                    return Permit {
                        limiter: Arc::clone(self),
                    };
                }
            }
            notified.await;
        }
    }

    /// The server said "too many": halve the bound.
    pub(crate) fn throttled(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.limit = (state.limit / 2.0).max(1.0);
        }
    }

    /// A request went through: grow the bound by one over the current bound's worth of requests.
    pub(crate) fn succeeded(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.limit = (state.limit + 1.0 / state.limit).min(self.max);
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
    fn halves_and_recovers() {
        let limiter = Limiter::new(8, 16);
        limiter.throttled();
        assert_eq!(limiter.limit(), 4.0);
        for _ in 0..100 {
            limiter.throttled();
        }
        assert_eq!(limiter.limit(), 1.0);
        for _ in 0..1000 {
            limiter.succeeded();
        }
        assert_eq!(limiter.limit(), 16.0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn never_more_in_flight_than_the_bound() {
        let limiter = Limiter::new(2, 2);
        let first = limiter.acquire().await;
        let _second = limiter.acquire().await;
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(20), limiter.acquire()).await;
        assert!(third.is_err(), "a third request waits");
        drop(first);
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(200), limiter.acquire()).await;
        assert!(third.is_ok(), "and goes once a slot frees");
    }
}
