//! Durable state of a rollout: the state database and what it holds.
//!
//! `store.rs` owns the SQLite file (journal, lock, approvals, holds, audit); `run_state.rs` is
//! the plain-data snapshot the planner reads; `lock.rs` knows who holds the run lock.

mod lock;
mod mailbox_access;
mod run_state;
mod store;

pub(crate) use lock::{host_name, os_user};
pub(crate) use mailbox_access::{Access, MailboxAccess};
pub(crate) use run_state::{Approval, FailingUser, Hold, RunState, StepPhase, StepRecord};
pub(crate) use store::{Store, StoreError};
