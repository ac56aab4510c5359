//! What is left of a platform's quota: the lower bound a client can prove from what the
//! platform last said it had left (the `RateLimit` field's `r`) and what was sent since.
//!
//! The bound holds wherever the platform's windows fall and however the network delays or
//! reorders requests, given only that the quota left never shrinks but by requests counted as
//! they arrive. An answer's `r` counted every request that arrived before it; a request that
//! arrived after it either went after it, or was unsettled (sent, not yet answered) when it
//! went. So the quota left now is at least `r`, less those two counts. And once a whole window
//! has passed since that answer, the window it was counted in has closed, as have all before:
//! the quota left is then at least the whole quota, less the same two counts. Every answer gives
//! such a bound, each stays true as requests go (each costs one), and the best is kept.
//!
//! Pacing (`limiter.rs`) keeps under a quota by never sending faster than its rate, so it
//! leaves unused whatever a window had left when a burst of work began; this bound spends
//! exactly that, and no more. A 429 for a request it let go proves the platform's `r` is not
//! what it takes it for, and pacing decides from then on. It decides nothing about concurrency
//! or `Retry-After`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::quota::Quota;

/// How long a request that failed without an answer (a dropped connection, a timeout) is taken
/// to be possibly still on its way: it may yet arrive and be counted.
const UNANSWERED: Duration = Duration::from_secs(2);

/// One request as the budget saw it go: enough to read its answer's `r` against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ticket {
    /// How many requests went before it.
    seq: u64,
    /// How many of those were unsettled when it went: any of them may arrive after it.
    unsettled: u64,
}

#[derive(Debug)]
pub(super) struct Budget {
    /// The quota the platform last stated `r` for; none until it does.
    quota: Option<Quota>,
    /// Requests sent so far.
    sent: u64,
    /// Sent and neither answered nor given up on for `UNANSWERED`.
    unsettled: u64,
    /// A lower bound on the quota left now; meaningful once `quota` is known.
    left: i64,
    /// Answers less than a window old: when each says the whole quota again, and for which
    /// request.
    renewals: VecDeque<(Instant, Ticket)>,
    /// When each request that failed unanswered stops counting as unsettled.
    unanswered: VecDeque<Instant>,
    /// When the last request went.
    last_sent: Option<Instant>,
    /// The platform throttled a request this bound let go: its `r` is not what this bound takes
    /// it for (other clients share its quota, or its nodes count apart), so it is not used again.
    distrusted: bool,
}

impl Budget {
    pub(super) fn new() -> Self {
        Self {
            quota: None,
            sent: 0,
            unsettled: 0,
            left: 0,
            renewals: VecDeque::new(),
            unanswered: VecDeque::new(),
            last_sent: None,
            distrusted: false,
        }
    }

    /// Whether the platform states what is left, so that this budget, not a pace, decides.
    pub(super) fn is_known(&self) -> bool {
        self.quota.is_some() && !self.distrusted
    }

    /// The platform throttled: if this budget was deciding, it proved wrong, and a pace decides
    /// from now on.
    pub(super) fn throttled(&mut self) {
        self.distrusted |= self.quota.is_some();
    }

    /// Whether a request may go at `now`: `Ok`, or not before the instant given (when an
    /// answer a window old renews the bound), or, with `None`, not before another answer.
    pub(super) fn allows(&mut self, now: Instant) -> Result<(), Option<Instant>> {
        let Some(quota) = self.quota.filter(|_| !self.distrusted) else {
            return Ok(());
        };
        self.settle(now);
        self.renew(now, quota);
        // One in reserve: a platform that states `r` before counting the request it answers
        // is then kept to as well.
        let reserve = i64::from(quota.requests > 1);
        if self.left > reserve {
            return Ok(());
        }
        if let Some((at, _)) = self.renewals.front() {
            return Err(Some(*at));
        }
        if self.unsettled > self.unanswered.len() as u64 {
            return Err(None);
        }
        // Nothing in flight and no answer left to renew by: a window after the last request
        // went, every window it could have been counted in has closed.
        match self.last_sent {
            Some(last) if now < last + quota.window => Err(Some(last + quota.window)),
            _ => {
                self.left = self.left.max(quota.requests as i64 - self.unsettled as i64);
                if self.left > reserve {
                    Ok(())
                } else {
                    Err(self.unanswered.front().copied())
                }
            }
        }
    }

    /// A request goes at `now`.
    pub(super) fn send(&mut self, now: Instant) -> Ticket {
        let ticket = Ticket {
            seq: self.sent,
            unsettled: self.unsettled,
        };
        self.sent += 1;
        self.unsettled += 1;
        self.left -= 1;
        self.last_sent = Some(now);
        ticket
    }

    /// `ticket`'s request was answered at `now`; `stated` is its answer's quota and the `r` it
    /// gave for it, when it gave one.
    pub(super) fn answered(&mut self, ticket: Ticket, now: Instant, stated: Option<(Quota, u64)>) {
        self.unsettled = self.unsettled.saturating_sub(1);
        let Some((quota, remaining)) = stated else {
            return;
        };
        let bound = self.bound(ticket, remaining);
        if self.quota == Some(quota) {
            self.left = self.left.max(bound);
        } else {
            // A first statement, or a changed quota: what was known of the old one says
            // nothing about the new.
            self.quota = Some(quota);
            self.left = bound;
            self.renewals.clear();
        }
        self.renewals.push_back((now + quota.window, ticket));
    }

    /// `ticket`'s request failed at `now` without an answer: it may still arrive.
    pub(super) fn unanswered(&mut self, now: Instant) {
        self.unanswered.push_back(now + UNANSWERED);
    }

    /// What `remaining`, said in answer to `ticket`'s request, proves is left now.
    fn bound(&self, ticket: Ticket, remaining: u64) -> i64 {
        let after = self.sent - ticket.seq - 1;
        remaining.min(i64::MAX as u64) as i64 - after as i64 - ticket.unsettled as i64
    }

    fn renew(&mut self, now: Instant, quota: Quota) {
        while let Some((at, ticket)) = self.renewals.front().copied() {
            if at > now {
                break;
            }
            self.renewals.pop_front();
            self.left = self.left.max(self.bound(ticket, quota.requests));
        }
    }

    fn settle(&mut self, now: Instant) {
        while self.unanswered.front().is_some_and(|at| *at <= now) {
            self.unanswered.pop_front();
            self.unsettled = self.unsettled.saturating_sub(1);
        }
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
