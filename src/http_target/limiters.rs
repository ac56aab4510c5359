//! One request budget per platform in a process: plans whose API is on the same origin (scheme,
//! host and port) share one [`Limiter`], so a fleet of tenants on one platform is paced as one
//! client — the platform's rate limit counts requests per client, not per plan.
//!
//! This registry does not know how a limiter paces (`limiter.rs`) nor who asks (`cutover fleet`
//! hands one registry to every plan it runs). A process that runs one plan needs none.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::Url;

use super::limiter::Limiter;

/// The shared limiters, by origin.
#[derive(Clone, Default)]
pub(crate) struct Limiters {
    by_origin: Arc<Mutex<HashMap<String, Arc<Limiter>>>>,
    /// Requests per second each origin's limiter never exceeds (`fleet apply --rate-limit`);
    /// without it the budget adapts to the platform's 429s.
    rate: Option<f64>,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origins = self.by_origin.lock().map_or(0, |m| m.len());
        f.debug_struct("Limiters")
            .field("origins", &origins)
            .finish()
    }
}

impl Limiters {
    /// Registries whose limiters each send at most `per_second` requests a second.
    pub(crate) fn with_rate(per_second: Option<u32>) -> Self {
        Self {
            rate: per_second.map(f64::from),
            ..Self::default()
        }
    }

    /// The limiter for `base`'s origin: the one already handed out for it, or `fresh`, kept for
    /// the next plan on that origin.
    pub(super) fn shared(&self, base: &Url, fresh: Arc<Limiter>) -> Arc<Limiter> {
        let origin = base.origin().ascii_serialization();
        match self.by_origin.lock() {
            Ok(mut map) => Arc::clone(map.entry(origin).or_insert_with(|| {
                if let Some(rate) = self.rate {
                    fresh.cap_rate(rate);
                }
                fresh
            })),
            // A poisoned map only costs the sharing: this plan gets a budget of its own.
            Err(_) => fresh,
        }
    }

    /// How many origins have a shared limiter (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_origin.lock().map_or(0, |m| m.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_on_one_origin_share_a_limiter_and_others_do_not() {
        let limiters = Limiters::default();
        let url = |u: &str| Url::parse(u).expect("url");
        let a = limiters.shared(&url("http://127.0.0.1:8765/t/acme/"), Limiter::new(4, 32));
        let b = limiters.shared(&url("http://127.0.0.1:8765/t/beta/"), Limiter::new(4, 32));
        let c = limiters.shared(&url("http://127.0.0.1:8766/"), Limiter::new(4, 32));
        assert!(Arc::ptr_eq(&a, &b), "same origin, one budget");
        assert!(!Arc::ptr_eq(&a, &c), "another port is another platform");
        assert_eq!(limiters.len(), 2);
    }
}
