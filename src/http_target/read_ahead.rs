//! Reading every page of users at once instead of one after another.
//!
//! `GET /users` pages by cursor (the email a page follows), so a client that knows only the
//! current page must wait for it before asking for the next: a full read of a large tenant is
//! then a chain of round trips that leaves the rate limit mostly unused. The tenant changes little
//! between two full reads, so the cursors the last complete read used are good guesses for this
//! one: when a read begins, every page after those cursors is asked for together, and the
//! engine's page-by-page calls are answered from them. A prefetched page is the platform's exact
//! answer to "the page after this email" as of a moment during the read, so a guess that no
//! longer fits (users added or removed) costs one request, never a wrong reading: a page asked
//! for that was not prefetched is fetched then. Pages prefetched and not used are dropped with
//! the read.
//!
//! This module owns the cursors and the pages in flight; the requests are `http_target.rs`'s.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::task::JoinHandle;

use crate::target::{TargetError, UserPage};

type PageTask = JoinHandle<Result<UserPage, TargetError>>;

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
    /// Pages asked for ahead, by cursor.
    pending: HashMap<String, PageTask>,
}

impl ReadAhead {
    /// A full read begins with pages of `limit` users: drops what an earlier read left, and
    /// returns the cursors worth asking for now.
    pub(super) fn begin(&self, limit: usize) -> Vec<String> {
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        for (_, task) in state.pending.drain() {
            task.abort();
        }
        state.current.clear();
        state.limit = limit;
        state.last.clone()
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
            for (_, task) in state.pending.drain() {
                task.abort();
            }
        }
    }
}
