//! What is left of a platform's quota: the lower bound a client can prove from what the
//! platform last said it had left (the `RateLimit` field's `r`) and what was sent since.
//!
//! An answer's `r` counted every request counted before it; a request counted after it either
//! went after it, or was unsettled (sent, not yet answered) when it went. So the quota left now
//! is at least `r`, less those two counts. And once a whole window has passed since that answer,
//! the window it was counted in has closed, as have all before: the quota left is then at least
//! the whole quota, less the same two counts. Every answer gives such a bound, each stays true
//! as requests go (each costs one), and the best is kept.
//!
//! That holds wherever the platform's windows fall and however the network delays or reorders
//! requests, given that this client is the quota's only user, that a request is counted before
//! it is answered (or within `UNANSWERED` of failing without an answer), and that a request stops
//! counting a window after it was counted: true of a fixed window, wherever it begins, of a log
//! of the last window's requests and of a token bucket; not of a sliding-window counter that
//! weighs the window before, nor of a quota other hosts spend too. Where it does not hold, the
//! platform throttles a request the bound let go, and that 429 turns the bound off: pacing
//! (`limiter.rs`) decides from then on, as for a platform that never states `r`.
//!
//! Pacing keeps under a quota by never sending faster than its rate, so it leaves unused
//! whatever a window had left when a burst of work began; this bound spends exactly that, and
//! no more. It decides nothing about concurrency or `Retry-After`.

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
    /// Whether the bound let it go (rather than a pace, before `r` was known or once it was
    /// distrusted).
    budgeted: bool,
}

#[derive(Debug)]
pub(super) struct Budget {
    /// The quota the platform last stated `r` for, and the request whose answer stated it;
    /// none until it does.
    quota: Option<(Quota, u64)>,
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
    /// When the last request was settled (answered, or given up on): every request of ours was
    /// counted by then, if nothing is unsettled now.
    last_settled: Option<Instant>,
    /// The platform throttled a request this bound let go: its `r` is not what this bound takes
    /// it for (see the module's note), so it is not used again.
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
            last_settled: None,
            distrusted: false,
        }
    }

    /// Whether the platform states what is left, so that this budget, not a pace, decides.
    pub(super) fn is_known(&self) -> bool {
        self.quota.is_some() && !self.distrusted
    }

    /// Whether a request may go at `now`: `Ok`, or not before the instant given (when an
    /// answer a window old renews the bound, or a request given up on settles), or, with
    /// `None`, not before another answer.
    pub(super) fn allows(&mut self, now: Instant) -> Result<(), Option<Instant>> {
        self.settle(now);
        let Some((quota, _)) = self.quota.filter(|_| !self.distrusted) else {
            return Ok(());
        };
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
        if let Some(settles) = self.unanswered.front() {
            return Err(Some(*settles));
        }
        // Nothing unsettled and no answer left to renew by: every request of ours was counted
        // by the last settling, so a window after it every window that counted one has closed.
        match self.last_settled {
            Some(last) if now < last + quota.window => Err(Some(last + quota.window)),
            _ => {
                self.left = self.left.max(whole(quota));
                Ok(())
            }
        }
    }

    /// A request goes at `now`.
    pub(super) fn send(&mut self) -> Ticket {
        let ticket = Ticket {
            seq: self.sent,
            unsettled: self.unsettled,
            budgeted: self.is_known(),
        };
        self.sent += 1;
        self.unsettled += 1;
        self.left -= 1;
        ticket
    }

    /// `ticket`'s request was answered at `now`; `stated` is its answer's quota and the `r` it
    /// gave for it, when it gave one, and `throttled` whether the answer was a 429.
    pub(super) fn answered(
        &mut self,
        ticket: Ticket,
        now: Instant,
        stated: Option<(Quota, u64)>,
        throttled: bool,
    ) {
        self.unsettled = self.unsettled.saturating_sub(1);
        self.last_settled = Some(self.last_settled.map_or(now, |last| last.max(now)));
        if throttled && ticket.budgeted && !self.distrusted {
            self.distrusted = true;
            self.renewals.clear();
        }
        let Some((quota, remaining)) = stated.filter(|_| !self.distrusted) else {
            return;
        };
        let bound = self.bound(ticket, remaining);
        match self.quota {
            Some((known, _)) if known == quota => self.left = self.left.max(bound),
            // An answer to a request older than the one that stated the current quota speaks
            // of a quota since replaced.
            Some((_, stated_by)) if ticket.seq < stated_by => return,
            // A first statement, or a changed quota: what was known of the old one says
            // nothing about the new.
            _ => {
                self.quota = Some((quota, ticket.seq));
                self.left = bound;
                self.renewals.clear();
            }
        }
        self.renewals.push_back((now + quota.window, ticket));
    }

    /// A request failed at `now` without an answer: it may still arrive.
    pub(super) fn unanswered(&mut self, now: Instant) {
        self.unanswered.push_back(now + UNANSWERED);
    }

    /// What `remaining`, said in answer to `ticket`'s request, proves is left now.
    fn bound(&self, ticket: Ticket, remaining: u64) -> i64 {
        let after = self.sent - ticket.seq - 1;
        saturating(remaining) - saturating(after) - saturating(ticket.unsettled)
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
        while let Some(at) = self.unanswered.front().copied() {
            if at > now {
                break;
            }
            self.unanswered.pop_front();
            self.unsettled = self.unsettled.saturating_sub(1);
            self.last_settled = Some(self.last_settled.map_or(at, |last| last.max(at)));
        }
    }
}

/// The whole quota, as a bound.
fn whole(quota: Quota) -> i64 {
    saturating(quota.requests)
}

fn saturating(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
