use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::super::limiter::{Admit, State};
use super::*;

const QUOTA: Quota = Quota {
    requests: 200,
    window: Duration::from_secs(1),
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn an_answer_proves_what_it_said_less_what_went_after_and_what_was_unsettled() {
    let start = Instant::now();
    let mut budget = Budget::new();
    assert_eq!(budget.allows(start), Ok(()), "nothing stated: no limit");
    let first = budget.send(start);
    let second = budget.send(start);
    let third = budget.send(start + ms(1));
    // `second` went while `first` was unsettled; `third` went after it.
    budget.answered(second, start + ms(40), Some((QUOTA, 150)));
    assert!(budget.is_known());
    assert_eq!(budget.left, 150 - 1 - 1);
    // An older answer that proves less changes nothing; one that proves more raises the bound.
    budget.answered(first, start + ms(41), Some((QUOTA, 100)));
    assert_eq!(budget.left, 148);
    budget.answered(third, start + ms(42), Some((QUOTA, 190)));
    // `third` went after `second` and `first`, both unsettled then, and nothing went after it.
    assert_eq!(budget.left, 190 - 2);
    let fourth = budget.send(start + ms(50));
    assert_eq!(budget.left, 187, "each request sent costs one");
    budget.answered(fourth, start + ms(90), None);
    assert_eq!(budget.left, 187, "an answer without `r` proves nothing");
}

#[test]
fn a_spent_budget_waits_for_a_window_to_pass_since_an_answer() {
    let start = Instant::now();
    let mut budget = Budget::new();
    let first = budget.send(start);
    budget.answered(first, start + ms(30), Some((QUOTA, 2)));
    assert_eq!(budget.allows(start + ms(30)), Ok(()));
    budget.send(start + ms(30));
    // One is kept in reserve, for a platform that states `r` before counting the request.
    assert_eq!(budget.allows(start + ms(31)), Err(Some(start + ms(1_030))));
    // A window after the first answer, its window has closed: the whole quota, less the one
    // that went after it and is still unanswered.
    assert_eq!(budget.allows(start + ms(1_030)), Ok(()));
    assert_eq!(budget.left, 199);
}

#[test]
fn a_spent_budget_with_nothing_in_flight_waits_a_window_after_the_last_request() {
    let start = Instant::now();
    let mut budget = Budget::new();
    let first = budget.send(start);
    budget.answered(first, start + ms(20), Some((QUOTA, 1)));
    budget.send(start + ms(20));
    budget.unanswered(start + ms(60));
    // The answer's renewal comes first; it proves 200 less the lost request, still unsettled.
    assert_eq!(budget.allows(start + ms(61)), Err(Some(start + ms(1_020))));
    assert_eq!(budget.allows(start + ms(1_020)), Ok(()));
    assert_eq!(budget.left, 199);
    // Spent without answers: nothing to renew by, so a window after the last request went.
    for _ in 0..198 {
        budget.send(start + ms(1_021));
        budget.unanswered(start + ms(1_022));
    }
    assert_eq!(
        budget.allows(start + ms(1_023)),
        Err(Some(start + ms(2_021)))
    );
    // By then the first lost one has settled; the 198 lost a moment later have not.
    assert_eq!(budget.allows(start + ms(2_061)), Ok(()));
    assert_eq!(budget.left, 200 - 198);
}

#[test]
fn a_changed_quota_starts_over_from_what_is_said_of_it() {
    let start = Instant::now();
    let mut budget = Budget::new();
    let first = budget.send(start);
    budget.answered(first, start, Some((QUOTA, 199)));
    let second = budget.send(start);
    let lowered = Quota {
        requests: 20,
        ..QUOTA
    };
    budget.answered(second, start, Some((lowered, 10)));
    assert_eq!(budget.left, 10);
    assert_eq!(budget.renewals.len(), 1);
}

#[test]
fn a_quota_of_one_is_still_used() {
    let start = Instant::now();
    let mut budget = Budget::new();
    let one = Quota {
        requests: 1,
        ..QUOTA
    };
    let first = budget.send(start);
    budget.answered(first, start + ms(10), Some((one, 0)));
    assert_eq!(budget.allows(start + ms(10)), Err(Some(start + ms(1_010))));
    assert_eq!(budget.allows(start + ms(1_010)), Ok(()));
}

/// A platform whose `r` proved wrong (it throttled a request the budget let go: its quota is
/// shared, or its nodes count apart) is paced from then on, as one that never stated `r`.
#[test]
fn a_throttle_the_budget_let_happen_puts_the_pace_back_in_charge() {
    let start = Instant::now();
    let mut state = State::new(32, 32, start);
    state.advertise(QUOTA.safe_rate());
    let Admit::Go(first) = state.admit(start) else {
        panic!("the first request goes");
    };
    state.release();
    state.answered(first, start + ms(20), Some((QUOTA, 199)));
    // Spending what is left: back to back, no pace.
    let now = start + ms(20);
    for _ in 0..5 {
        assert!(matches!(state.admit(now), Admit::Go(_)));
        state.release();
    }
    state.throttled(now, Duration::ZERO);
    // Paced again, at the quota's safe rate: one more at once (the pacer's tolerance), then
    // one every 1/192 s.
    let go = |state: &mut State| matches!(state.admit(now), Admit::Go(_));
    let sent = (0..5).filter(|_| go(&mut state)).count();
    assert!(sent <= 2, "{sent} went at once after the throttle");
}

/// A rate limiter as platforms keep one, in simulated time.
enum Server {
    /// `sandbox serve`'s: a window opens with the first request after the last one closed.
    OpensOnArrival {
        opened: Option<Instant>,
        served: u64,
    },
    /// Windows on a fixed grid, the first beginning `phase` into the run.
    Grid {
        origin: Instant,
        index: u64,
        served: u64,
    },
    /// The last second's requests, whenever they came.
    Sliding { served: VecDeque<Instant> },
}

impl Server {
    /// Counts a request arriving at `at`: what is left once it is, or `None` if throttled.
    fn count(&mut self, at: Instant) -> Option<u64> {
        let limit = QUOTA.requests;
        let served = match self {
            Server::OpensOnArrival { opened, served } => {
                if opened.is_none_or(|o| at.duration_since(o) >= QUOTA.window) {
                    *opened = Some(at);
                    *served = 0;
                }
                served
            }
            Server::Grid {
                origin,
                index,
                served,
            } => {
                let now = at.duration_since(*origin).as_millis() as u64 / 1_000;
                if now != *index {
                    *index = now;
                    *served = 0;
                }
                served
            }
            Server::Sliding { served } => {
                while served
                    .front()
                    .is_some_and(|t| at.duration_since(*t) >= QUOTA.window)
                {
                    served.pop_front();
                }
                if served.len() as u64 >= limit {
                    return None;
                }
                served.push_back(at);
                return Some(limit - served.len() as u64);
            }
        };
        if *served >= limit {
            return None;
        }
        *served += 1;
        Some(limit - *served)
    }
}

struct Run {
    throttled: usize,
    took: Duration,
}

/// `requests` sent as fast as the limiter lets them, each counted 5–45 ms after it went (so
/// the network reorders them) and answered 0–20 ms after that, one in a hundred answers lost
/// (and the request sent again), against
/// `server`, which states `r` on each answer. The limiter's concurrency bound starts at 4 and
/// grows to 32.
fn simulate(server: &mut Server, requests: usize, start: Instant, seed: u64) -> Run {
    let mut state = State::new(4, 32, start);
    state.advertise(QUOTA.safe_rate());
    let mut random = seed | 1;
    let mut next = |most: u64| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random % most
    };
    // (when, what, which): 0 counted, 1 answered.
    let mut events = BinaryHeap::new();
    let mut tickets = Vec::new();
    let mut left_at_count = Vec::new();
    let (mut now, mut sent, mut done, mut throttled) = (start, 0, 0, 0);
    while done < requests {
        let mut wake = None;
        while sent < requests {
            match state.admit(now) {
                Admit::Go(ticket) => {
                    let counted = now + Duration::from_micros(5_000 + next(40_000));
                    events.push(Reverse((counted, 0u8, tickets.len())));
                    tickets.push(ticket);
                    left_at_count.push(None);
                    sent += 1;
                }
                Admit::Until(at) => {
                    wake = Some(at);
                    break;
                }
                Admit::Slot => break,
            }
        }
        let Some(Reverse((at, what, which))) = events.peek().copied() else {
            now = wake.expect("a limiter with nothing in flight names when it will go");
            continue;
        };
        if let Some(wake) = wake.filter(|w| *w < at) {
            now = wake;
            continue;
        }
        events.pop();
        now = now.max(at);
        if what == 0 {
            left_at_count[which] = Some(server.count(at));
            // One in a hundred answers is lost on the way back: counted, never answered.
            let answered = at + Duration::from_micros(next(20_000));
            events.push(Reverse((
                answered,
                if next(100) == 0 { 2 } else { 1 },
                which,
            )));
            continue;
        }
        state.release();
        let Some(counted) = left_at_count[which] else {
            unreachable!("answered before counted");
        };
        if what == 2 {
            // Lost: the request is sent again, as `HttpTarget::call` would.
            state.unanswered(now);
            sent -= 1;
            continue;
        }
        match counted {
            Some(left) => {
                state.answered(tickets[which], now, Some((QUOTA, left)));
                state.succeeded(now);
                done += 1;
            }
            None => {
                throttled += 1;
                state.answered(tickets[which], now, Some((QUOTA, 0)));
                state.throttled(now, Duration::from_secs(1));
                sent -= 1;
            }
        }
    }
    Run {
        throttled,
        took: now.duration_since(start),
    }
}

/// The property the budget exists for: spending what the platform says is left never draws a
/// 429, wherever its windows fall, however it counts them, and however the network reorders
/// requests and loses answers; and it keeps the quota busy. 900 requests (and the few sent
/// again for lost answers) at 200 a window need five windows, so a little over 4 s; even
/// pacing at the quota's safe rate would take 4.7 s.
#[test]
fn spending_what_is_left_never_throttles_wherever_the_windows_fall() {
    let start = Instant::now();
    for seed in 1..=24u64 {
        let phase = ms(seed * 41 % 1_000);
        let servers = [
            Server::OpensOnArrival {
                opened: None,
                served: 0,
            },
            Server::Grid {
                origin: start.checked_sub(phase).unwrap_or(start),
                index: 0,
                served: 0,
            },
            Server::Sliding {
                served: VecDeque::new(),
            },
        ];
        for (kind, mut server) in servers.into_iter().enumerate() {
            let run = simulate(&mut server, 900, start, seed * 7 + kind as u64);
            assert_eq!(run.throttled, 0, "seed {seed}, server {kind}");
            assert!(
                run.took < ms(4_600),
                "seed {seed}, server {kind}: {:?}",
                run.took
            );
        }
    }
}

/// And the first window's unused quota is spent at once: 190 requests in a fresh window go in
/// well under the 0.99 s even pacing at the quota's safe rate takes.
#[test]
fn what_a_window_has_left_is_spent_without_waiting_for_a_pace() {
    let start = Instant::now();
    let mut server = Server::OpensOnArrival {
        opened: None,
        served: 0,
    };
    let run = simulate(&mut server, 190, start, 3);
    assert_eq!(run.throttled, 0);
    assert!(run.took < ms(500), "{:?}", run.took);
}
