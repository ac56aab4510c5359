//! Durable state of a rollout: the state database and what it holds.
//!
//! [`Store`] is the one handle on the state file (`store.rs`: opening, errors); its methods are
//! spread over a file per concept: `schema.rs` (tables, format, migrations), `run_lock.rs` (the
//! run lock), `load.rs` (reading the [`RunState`]), `journal.rs` (intents and outcomes) and
//! `journal_moves.rs` (the users each write touched), `rollout.rs` (the rollout's and its steps'
//! progress), `approvals.rs` (approvals and holds), `audit.rs` (the audit trail) and
//! `audit_chain.rs` (its hash chain), `mailbox_records.rs` (the pre-check's verdicts),
//! `skipped_users.rs` (who a step left out on the pre-check's word), `exceptions.rs` and
//! `acceptances.rs` (a gate's exceptions, and the users the board accepted), `runs.rs` (how each
//! run ended) and `notifications.rs` (the notification ledger, its rows `delivery_record.rs`).
//! `run_state.rs` is the plain-data snapshot the planner reads; `lock.rs` knows who holds the
//! run lock; `audit_kind.rs` and `journal_action.rs` name what the trail and the journal record.

mod acceptances;
mod approvals;
mod audit;
mod audit_chain;
mod audit_kind;
#[cfg(test)]
mod conformance;
mod delivery_record;
mod exceptions;
mod frozen_members;
mod journal;
mod journal_action;
mod journal_moves;
mod load;
mod lock;
mod mailbox_access;
mod mailbox_records;
mod migrate;
mod notifications;
mod parsed_plans;
mod postgres;
mod read_version;
mod rollout;
mod run_lock;
mod run_state;
mod runs;
mod schema;
mod skipped_users;
mod state_location;
mod store;

pub(crate) use acceptances::NewAcceptance;
pub(crate) use approvals::NewApproval;
pub(crate) use audit::AuditEntry;
// The rest of the chain's types (`AuditHead`, `BrokenRecord`, …) are reached through these.
pub(crate) use audit_chain::{ChainHash, ChainVerdict, HeadCheck};
pub(crate) use audit_kind::AuditKind;
pub(crate) use delivery_record::{DeliveryAttempt, DeliveryRecord};
pub(crate) use journal_action::JournalAction;
#[cfg(test)]
pub(crate) use journal_moves::MoveResult;
pub(crate) use journal_moves::UserMove;
pub(crate) use lock::{Holder, host_name, is_stale as lock_is_stale, os_user};
pub(crate) use mailbox_access::{Access, MailboxAccess, Verdict};
pub(crate) use run_state::{
    Acceptance, Approval, Countable, Discounted, Exception, FailingUser, Hold, RunState, Signed,
    StepPhase, StepRecord,
};
pub(crate) use runs::{RunEnd, RunRecord};
pub(crate) use skipped_users::SkippedUser;
pub(crate) use state_location::{StateLocation, target_key};
pub(crate) use store::{Store, StoreError};
