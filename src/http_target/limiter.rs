//! How fast, and how many at once, requests go to the platform.
//!
//! Two controls. A concurrency bound grows by one per success until the platform first throttles
//! (slow start), then halves on every 429. And requests go only while the platform has room for
//! them: where it says what is left of its quota (`RateLimit`'s `r`), while a bound proved from
//! that says so (`budget.rs`); otherwise paced, spread evenly at a rate known to be safe, so a
//! rate-limited API is kept busy just under its limit instead of being hit, told to wait, and
//! hit again: the rate the platform advertises (`RateLimit-Policy`, read by `quota.rs`) from its
//! first answer on, or, from a platform that only says "too many", the rate it accepted over
//! the last second before it did, a little under it. Probing upward is
//! quick far below the rate that was throttled and slow near it: every 429 costs a whole
//! `Retry-After` (whole seconds, so usually longer than the window it waits for), which pays for
//! a lot of careful probing.
//!
//! A 429's `Retry-After` pauses every sender, not only the one that was told, and no request
//! goes before it has passed.
//!
//! The decisions are [`State`]'s, functions of the time they are given, so tests can run them
//! against a model of a server on simulated time; [`Limiter`] gives them the clock and the
//! waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::budget::{Budget, Ticket};
use super::quota::Quota;

/// Once throttled, pace at this share of the rate the platform accepted over the last second.
const UNDER_THROTTLED: f64 = 0.97;
/// Per success, the pace grows by this share while it is far below the rate last throttled
/// (or was never throttled)...
const FAST_PROBE: f64 = 0.0005;
/// ...and by this much near or above it: about 0.2% a second at 200 requests a second, so a
/// platform that throttled at some rate is asked for it again only after a quarter of a minute.
const SLOW_PROBE: f64 = 0.00001;
/// "Near" the rate last throttled: from this share of it on.
const NEAR_THROTTLED: f64 = 0.9;
/// Fewer successes than this over the last second do not measure the rate a platform accepts.
const MIN_SAMPLE: usize = 10;
/// The slowest pace: one request every ten seconds.
const MIN_PACE: f64 = 0.1;

pub(crate) struct Limiter {
    state: Mutex<State>,
    /// A request finished, or the bound or pace changed: the sender whose turn it is looks again.
    notify: Notify,
    /// Senders wait for their turn in order of arrival: one at a time watches the clock and the
    /// bound, instead of every waiting sender waking at every change (a bulk call queues
    /// hundreds).
    turn: tokio::sync::Mutex<()>,
}

pub(super) struct State {
    in_flight: usize,
    limit: f64,
    max: f64,
    /// Until the first throttle, grow by one per success (like TCP's slow start).
    slow_start: bool,
    /// Requests per second, once there is a rate to keep to.
    pace: Option<f64>,
    /// When the next request is due by the pace: the schedule a sender keeps even if it wakes
    /// a little late (one interval of tolerance, as GCRA has).
    due: Instant,
    /// No request goes before this: the platform's `Retry-After`.
    paused_until: Instant,
    /// When recent requests succeeded, to measure the rate the platform accepts.
    recent: VecDeque<Instant>,
    /// A rate never to exceed, requests per second (`fleet apply --rate-limit`): the pace
    /// starts there and probes no higher.
    ceiling: Option<f64>,
    /// The safe rate of the quota the platform advertises: the pace starts there and probes no
    /// higher either.
    advertised: Option<f64>,
    /// The rate the platform accepted over the second before it last throttled.
    throttled_at: Option<f64>,
    /// What is left of the quota, once the platform states it: then that, not a pace, says
    /// when a request may go (a ceiling still paces).
    budget: Budget,
}

/// What a sender may do now.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Send; a slot is taken, and the request is this ticket to the budget.
    Go(Ticket),
    /// Not before this instant (the pace, or a `Retry-After`).
    Until(Instant),
    /// Not until a request in flight finishes.
    Slot,
}

/// A slot for one request; freed when dropped, and taken to have had no answer unless
/// [`Permit::answered`] said it had.
pub(crate) struct Permit {
    limiter: Arc<Limiter>,
    ticket: Ticket,
    answered: bool,
}

impl Limiter {
    pub(crate) fn new(initial: usize, max: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::new(initial, max, Instant::now())),
            notify: Notify::new(),
            turn: tokio::sync::Mutex::new(()),
        })
    }

    fn with_state(&self, change: impl FnOnce(&mut State)) {
        if let Ok(mut state) = self.state.lock() {
            change(&mut state);
        }
        self.notify.notify_waiters();
    }

    /// Lowers (or raises) the ceiling the concurrency bound may grow to.
    pub(crate) fn cap(&self, max: usize) {
        self.with_state(|state| state.cap(max));
    }

    /// Never sends more than `per_second` requests in any second, from the first one on.
    pub(crate) fn cap_rate(&self, per_second: f64) {
        self.with_state(|state| state.cap_rate(per_second));
    }

    /// The platform advertised its quota: keep to it from now on.
    pub(super) fn advertised(&self, quota: Quota) {
        let rate = quota.safe_rate();
        // Every answer carries the policy: only a change is news (and worth waking anyone).
        let known = self
            .state
            .lock()
            .is_ok_and(|state| state.advertised == Some(rate.max(MIN_PACE)));
        if !known {
            self.with_state(|state| state.advertise(rate));
        }
    }

    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        let _turn = self.turn.lock().await;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // A poisoned state only costs the limiting: the request goes.
            let admit = match self.state.lock() {
                Ok(mut state) => state.admit(Instant::now()),
                Err(_) => Admit::Go(Budget::new().send()),
            };
            match admit {
                Admit::Go(ticket) => {
                    return Permit {
                        limiter: Arc::clone(self),
                        ticket,
                        answered: false,
                    };
                }
                // A pause can only grow while this sleeps, and a pace only slow: waking at the
                // earlier time and looking again is always right. An answer can make it sooner
                // (its `r` says a window has reset), so one wakes this too.
                Admit::Until(at) => {
                    let at = tokio::time::Instant::from_std(at);
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = notified => {}
                    }
                }
                Admit::Slot => notified.await,
            }
        }
    }

    /// The platform said "too many": pause everyone for `retry_after`, pace at a little under
    /// the rate it accepted over the last second, and halve the concurrency bound.
    pub(crate) fn throttled(&self, retry_after: Duration) {
        self.with_state(|state| state.throttled(Instant::now(), retry_after));
    }

    /// A request went through: grow the concurrency bound, and probe a slightly faster pace.
    pub(crate) fn succeeded(&self) {
        self.with_state(|state| state.succeeded(Instant::now()));
    }

    #[cfg(test)]
    pub(crate) fn limit(&self) -> f64 {
        self.state.lock().map(|s| s.limit).unwrap_or(0.0)
    }

    #[cfg(test)]
    pub(super) fn pace(&self) -> Option<f64> {
        self.state.lock().ok().and_then(|s| s.pace)
    }
}

impl State {
    pub(super) fn new(initial: usize, max: usize, now: Instant) -> Self {
        let max = max.max(1) as f64;
        Self {
            in_flight: 0,
            limit: (initial.max(1) as f64).min(max),
            max,
            slow_start: true,
            pace: None,
            due: now,
            paused_until: now,
            recent: VecDeque::new(),
            ceiling: None,
            advertised: None,
            throttled_at: None,
            budget: Budget::new(),
        }
    }

    fn cap(&mut self, max: usize) {
        self.max = max.max(1) as f64;
        self.limit = self.limit.min(self.max);
    }

    fn cap_rate(&mut self, per_second: f64) {
        // One request fewer than the cap: the pacer lets a late sender catch up by one
        // interval, and that one could otherwise make it `per_second + 1` in some second.
        let rate = (per_second - 1.0).max(per_second / 2.0).max(MIN_PACE);
        self.pace = Some(self.pace.map_or(rate, |p| p.min(rate)));
        self.ceiling = Some(rate);
    }

    /// A quota's safe rate: the pace drops to it at once; a raised one is probed up to.
    pub(super) fn advertise(&mut self, rate: f64) {
        let rate = rate.max(MIN_PACE);
        self.pace = Some(self.pace.map_or(rate, |p| p.min(rate)));
        self.advertised = Some(rate);
    }

    /// Whether a request may go at `now`; `Go` takes a slot.
    pub(super) fn admit(&mut self, now: Instant) -> Admit {
        if self.paused_until > now {
            return Admit::Until(self.paused_until);
        }
        if (self.in_flight as f64) >= self.limit.floor().max(1.0) {
            return Admit::Slot;
        }
        if let Err(until) = self.budget.allows(now) {
            return until.map_or(Admit::Slot, Admit::Until);
        }
        // A stated budget spends what the platform has left; only a ceiling of our own still
        // paces it.
        let pace = if self.budget.is_known() {
            self.ceiling
        } else {
            self.pace
        };
        if let Some(pace) = pace {
            let interval = Duration::from_secs_f64(1.0 / pace.max(MIN_PACE));
            // A sender may go up to one interval before its time, so one that wakes late
            // (timers are coarse, machines busy) keeps the schedule instead of losing a slot
            // each time; at most two requests ever go back to back.
            let earliest = self.due.checked_sub(interval).unwrap_or(self.due);
            if now < earliest {
                return Admit::Until(earliest);
            }
            self.due = self.due.max(now) + interval;
        }
        self.in_flight += 1;
        Admit::Go(self.budget.send())
    }

    /// A request that was admitted has finished (either way).
    pub(super) fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// `ticket`'s request was answered at `now`, stating what was left of `quota` if it did;
    /// `throttled` if the answer was a 429.
    pub(super) fn answered(
        &mut self,
        ticket: Ticket,
        now: Instant,
        stated: Option<(Quota, u64)>,
        throttled: bool,
    ) {
        self.budget.answered(ticket, now, stated, throttled);
    }

    /// `ticket`'s request ended at `now` without an answer.
    pub(super) fn unanswered(&mut self, now: Instant) {
        self.budget.unanswered(now);
    }

    pub(super) fn throttled(&mut self, now: Instant, retry_after: Duration) {
        let accepted = self
            .recent
            .iter()
            .filter(|t| now.duration_since(**t) < Duration::from_secs(1))
            .count();
        // A handful of successes says nothing about the limit: a first request throttled (the
        // quota spent by someone else, or a long window) would otherwise set a pace of one a
        // second for good. The pause and the halved bound are the answer to that.
        if accepted >= MIN_SAMPLE {
            let accepted = accepted as f64;
            let measured = accepted * UNDER_THROTTLED;
            self.pace = Some(self.pace.map_or(measured, |p| p.min(measured)));
            self.throttled_at = Some(accepted);
        }
        self.paused_until = self.paused_until.max(now + retry_after);
        self.limit = (self.limit / 2.0).max(1.0);
        self.slow_start = false;
    }

    pub(super) fn succeeded(&mut self, now: Instant) {
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(2))
        {
            self.recent.pop_front();
        }
        let step = if self.slow_start || self.pace.is_some() {
            1.0
        } else {
            1.0 / self.limit
        };
        self.limit = (self.limit + step).min(self.max);
        let top = self
            .ceiling
            .unwrap_or(f64::INFINITY)
            .min(self.advertised.unwrap_or(f64::INFINITY));
        let throttled_at = self.throttled_at;
        if let Some(pace) = self.pace.as_mut() {
            let probe = match throttled_at {
                Some(rate) if *pace >= rate * NEAR_THROTTLED => SLOW_PROBE,
                _ => FAST_PROBE,
            };
            *pace = (*pace * (1.0 + probe)).min(top);
        }
    }
}

impl Permit {
    /// The platform answered this request; `stated` is what its answer said was left of its
    /// quota (`Quota::remaining`), if it said, and `throttled` whether it was a 429.
    pub(crate) fn answered(&mut self, stated: Option<(Quota, u64)>, throttled: bool) {
        self.answered = true;
        let ticket = self.ticket;
        self.limiter
            .with_state(|state| state.answered(ticket, Instant::now(), stated, throttled));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let answered = self.answered;
        self.limiter.with_state(|state| {
            state.release();
            if !answered {
                state.unanswered(Instant::now());
            }
        });
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
        limiter.cap_rate(51.0);
        let started = Instant::now();
        for _ in 0..12 {
            let _permit = limiter.acquire().await;
            limiter.succeeded();
        }
        // 12 requests at 50/s (one under the cap of 51): the first two may go together (the
        // pacer's tolerance), the 12th no sooner than 10 intervals of 20 ms after them.
        assert!(
            started.elapsed() >= Duration::from_millis(190),
            "{:?}",
            started.elapsed()
        );
        for _ in 0..10_000 {
            limiter.succeeded();
        }
        assert_eq!(limiter.pace(), Some(50.0), "probing stops at the cap");
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

    #[test]
    fn an_advertised_quota_paces_from_then_on_and_caps_probing() {
        let limiter = Limiter::new(4, 32);
        let quota = Quota {
            requests: 200,
            window: Duration::from_secs(1),
        };
        limiter.advertised(quota);
        assert_eq!(limiter.pace(), Some(192.0));
        for _ in 0..10_000 {
            limiter.succeeded();
        }
        assert_eq!(limiter.pace(), Some(192.0), "no probing past the quota");
        limiter.advertised(Quota {
            requests: 100,
            ..quota
        });
        assert_eq!(
            limiter.pace(),
            Some(95.0),
            "a lowered quota is kept to at once"
        );
    }

    #[test]
    fn a_rate_cap_is_never_exceeded_in_any_second_by_senders_that_wake_late() {
        let start = Instant::now();
        let mut state = State::new(32, 32, start);
        state.cap_rate(100.0);
        let (mut now, mut sent) = (start, Vec::new());
        let mut late = 0u64;
        while sent.len() < 1_000 {
            match state.admit(now) {
                Admit::Go(_) => {
                    sent.push(now);
                    state.release();
                    state.succeeded(now);
                }
                // Up to 3 ms late, in a fixed pattern.
                Admit::Until(at) => {
                    late = (late + 7) % 31;
                    now = at.max(now) + Duration::from_micros(late * 100);
                }
                Admit::Slot => unreachable!("each request is answered at once"),
            }
        }
        let most = (0..sent.len())
            .map(|i| {
                sent[i..]
                    .iter()
                    .take_while(|t| t.duration_since(sent[i]) < Duration::from_secs(1))
                    .count()
            })
            .max();
        assert_eq!(most, Some(100), "the most sent in any second");
        // And late wake-ups cost no throughput: 1,000 requests at 99 a second.
        let took = sent[sent.len() - 1].duration_since(start);
        assert!(took < Duration::from_secs_f64(1_000.0 / 99.0), "{took:?}");
    }

    /// The sandbox's rate limiter, as `sandbox serve` runs it: a window of one second opens
    /// with the first request after the last one closed, and serves `limit` requests.
    struct FixedWindow {
        limit: u32,
        opened: Option<Instant>,
        served: u32,
    }

    impl FixedWindow {
        /// Whether a request arriving at `at` is served; if not, the whole seconds until the
        /// window closes, as its `Retry-After` says.
        fn arrive(&mut self, at: Instant) -> Result<(), Duration> {
            let opened = match self.opened {
                Some(opened) if at.duration_since(opened) < Duration::from_secs(1) => opened,
                _ => {
                    self.served = 0;
                    *self.opened.insert(at)
                }
            };
            if self.served >= self.limit {
                let left = Duration::from_secs(1).saturating_sub(at.duration_since(opened));
                return Err(Duration::from_secs(
                    left.as_secs() + u64::from(left.subsec_nanos() > 0),
                ));
            }
            self.served += 1;
            Ok(())
        }
    }

    /// What happened when `requests` were sent as fast as the limiter let them through against
    /// a `FixedWindow` of `limit`, in simulated time: each sender wakes up to 1.5 ms late, each
    /// request reaches the server 20 ms after it went plus up to 4 ms of jitter, and is answered
    /// 20 ms after that.
    struct Simulated {
        throttled: usize,
        took: Duration,
        /// Requests that reached the server before the `Retry-After` of the 429 before them
        /// had passed.
        early: usize,
    }

    fn simulate(state: &mut State, limit: u32, requests: usize, start: Instant) -> Simulated {
        let mut server = FixedWindow {
            limit,
            opened: None,
            served: 0,
        };
        let mut random: u64 = 0x2545_f491_4f6c_dd1d;
        let mut jitter = |most: u64| {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            Duration::from_micros(random % most)
        };
        let (mut now, mut served, mut throttled, mut early) = (start, 0, 0, 0);
        let mut not_before = start;
        while served < requests {
            match state.admit(now) {
                Admit::Go(_) => {
                    let arrival = now + Duration::from_millis(20) + jitter(4_000);
                    early += usize::from(arrival < not_before);
                    let answered = arrival + Duration::from_millis(20);
                    state.release();
                    match server.arrive(arrival) {
                        Ok(()) => {
                            served += 1;
                            state.succeeded(answered);
                        }
                        Err(retry_after) => {
                            throttled += 1;
                            not_before = not_before.max(arrival + retry_after);
                            state.throttled(answered, retry_after);
                        }
                    }
                }
                Admit::Until(at) => now = at.max(now) + jitter(1_500),
                Admit::Slot => unreachable!("every request is answered before the next goes"),
            }
        }
        Simulated {
            throttled,
            took: now.duration_since(start),
            early,
        }
    }

    #[test]
    fn paced_by_an_advertised_quota_a_fixed_window_never_throttles_and_is_kept_busy() {
        let start = Instant::now();
        let mut state = State::new(4, 32, start);
        state.advertise(
            Quota {
                requests: 200,
                window: Duration::from_secs(1),
            }
            .safe_rate(),
        );
        let run = simulate(&mut state, 200, 4_000, start);
        assert_eq!(run.throttled, 0);
        // 4,000 requests at the limit take 20 s; the pace keeps within 5% of that.
        assert!(
            run.took < Duration::from_secs_f64(20.0 / 0.95),
            "{:?}",
            run.took
        );
    }

    #[test]
    fn without_a_quota_it_learns_the_rate_from_the_first_429_and_rarely_hits_another() {
        let start = Instant::now();
        let mut state = State::new(4, 32, start);
        let run = simulate(&mut state, 200, 4_000, start);
        // The first 429 is how the limit is found; then a rate under it, probed slowly. (The
        // former ×1.0005 a success probe bounced off the limit about every two seconds here.)
        assert!(run.throttled <= 3, "throttled {} times", run.throttled);
        assert!(run.throttled >= 1);
        assert!(
            run.took < Duration::from_secs_f64(20.0 / 0.9),
            "{:?}",
            run.took
        );
        assert_eq!(run.early, 0, "no request before a Retry-After has passed");
    }
}
