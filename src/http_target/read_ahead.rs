//! Reading every page of users at once instead of one after another.
//!
//! `GET /users` pages by cursor (the email a page follows), so a client that knows only the
//! current page must wait for it before asking for the next: a full read of a large tenant is
//! then a chain of round trips that leaves the rate limit mostly unused. Two sources of cursors
//! break the chain:
//!
//! - a platform that offers it says, with the first page (`cursors=true`), where every later
//!   page begins;
//! - otherwise the tenant changes little between two full reads, so the cursors the last
//!   complete read used are good guesses for this one, asked for while the first page is.
//!
//! Either way a cursor is only a hint: a prefetched page is the platform's exact answer to "the
//! page after this email" as of a moment during the read, so a cursor that no longer fits (users
//! added or removed) costs one request, never a wrong reading — a page asked for that was not
//! prefetched is fetched then. Pages prefetched and not used are dropped with the read.
//!
//! At most [`WINDOW`] pages are in flight ahead of the reader, taken in page order: a large
//! tenant's read neither holds its whole tenant in unread answers nor queues hundreds of
//! requests ahead of every other caller of a shared budget (`cutover fleet`).
//!
//! This module owns the cursors and the pages in flight; the requests are `http_target.rs`'s.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::task::JoinHandle;

use crate::target::{TargetError, UserPage};

type PageTask = JoinHandle<Result<UserPage, TargetError>>;

/// Pages asked for ahead of the one being read, at most.
pub(super) const WINDOW: usize = 16;

#[derive(Default)]
pub(super) struct ReadAhead {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The cursors of the last complete read, in page order (the first page has none).
    last: Vec<String>,
    /// The cursors of the read under way.
    current: Vec<String>,
    /// The page size of the read under way: a prefetched page answers only the same question.
    limit: usize,
    /// Cursors to ask for once the window has room, in page order.
    queued: VecDeque<String>,
    /// Pages asked for ahead, by cursor.
    pending: HashMap<String, PageTask>,
}

impl ReadAhead {
    /// A full read begins with pages of `limit` users: drops what an earlier read left, and
    /// queues the last read's cursors as guesses.
    pub(super) fn begin(&self, limit: usize) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.drop_pending();
        state.current.clear();
        state.limit = limit;
        state.queued = state.last.iter().cloned().collect();
    }

    /// The platform said where this read's later pages begin: they replace the guesses. A
    /// guess already asked for is kept if it is one of them, and dropped if not.
    pub(super) fn cursors(&self, cursors: Vec<String>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let wanted: std::collections::HashSet<&str> = cursors.iter().map(String::as_str).collect();
        state.pending.retain(|cursor, task| {
            let keep = wanted.contains(cursor.as_str());
            if !keep {
                task.abort();
            }
            keep
        });
        let pending = &state.pending;
        let queued = cursors
            .iter()
            .filter(|c| !pending.contains_key(c.as_str()))
            .cloned()
            .collect();
        state.queued = queued;
    }

    /// The next cursors to ask for: as many as the window has room for.
    pub(super) fn due(&self) -> Vec<String> {
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        let room = WINDOW.saturating_sub(state.pending.len());
        let n = room.min(state.queued.len());
        state.queued.drain(..n).collect()
    }

    /// Keeps a page asked for ahead.
    pub(super) fn prefetched(&self, after: String, task: PageTask) {
        match self.state.lock() {
            Ok(mut state) => {
                if let Some(earlier) = state.pending.insert(after, task) {
                    earlier.abort();
                }
            }
            Err(_) => task.abort(),
        }
    }

    /// The page after `after` of `limit` users, if it was asked for ahead.
    pub(super) fn take(&self, after: &str, limit: usize) -> Option<PageTask> {
        let mut state = self.state.lock().ok()?;
        if state.limit != limit {
            return None;
        }
        state.pending.remove(after)
    }

    /// Notes the page the read was answered with: its cursor, and at the last page, the whole
    /// read's cursors for the next one.
    pub(super) fn answered(&self, after: Option<&str>, page: &UserPage) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some(after) = after {
            state.current.push(after.to_owned());
        }
        if !page.more || page.users.is_empty() {
            state.last = std::mem::take(&mut state.current);
            state.drop_pending();
        }
    }
}

impl State {
    fn drop_pending(&mut self) {
        for (_, task) in self.pending.drain() {
            task.abort();
        }
        self.queued.clear();
    }
}
