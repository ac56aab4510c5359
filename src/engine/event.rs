//! What the engine tells whoever watches. The engine never prints: it emits [`Event`]s into an
//! [`EventSink`], and reporters (bars, plain lines, JSON) or tests render them.

use jiff::Timestamp;
use serde::Serialize;

use crate::plan::grammar::Email;
use crate::planner::{Side, WaitReason};
use crate::state::FailingUser;

/// Where the engine's events go.
pub(crate) trait EventSink {
    fn event(&mut self, event: &Event);
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
    RunStarted {
        plan: String,
        target: String,
        account: String,
        resumed: bool,
    },
    /// An intent left without an outcome by an interrupted run, settled by reading the platform.
    Reconciled {
        step: Option<String>,
        action: String,
        users: usize,
    },
    /// The steps of the rollout and their sizes, for progress displays.
    Planned {
        steps: Vec<StepSize>,
    },
    ConfigurationCreated {
        name: String,
    },
    Authorized {
        name: String,
        account: Option<String>,
    },
    /// `to` waits for an admin to sign in at `url` as `account` (the plan's service account).
    AuthorizationPending {
        name: String,
        url: Option<String>,
        account: Option<String>,
    },
    /// The mailbox pre-check ran for a step's members.
    MailboxesChecked {
        step: String,
        checked: usize,
        /// Those whose verdict is not `ok`, in Graph's words.
        uncleared: Vec<FailingUser>,
    },
    /// Something the operator should know that changes nothing.
    Notice {
        message: String,
    },
    StepStarted {
        step: String,
        members: Vec<Email>,
        preexisting: usize,
        /// Members left out on the mailbox pre-check's word (`on_denied` or `on_not_found =
        /// "skip"`); they stay on `from`.
        skipped: Vec<Email>,
    },
    /// One bulk write.
    UsersSwitched {
        step: String,
        side: Side,
        enabled: bool,
        changed: usize,
        unchanged: usize,
        total: usize,
    },
    SwitchCompleted {
        step: String,
    },
    GateReading {
        step: String,
        verified: usize,
        counted: usize,
        failing: usize,
        pending: usize,
        soak_until: Timestamp,
        timeout_at: Timestamp,
    },
    /// The gate passed; `exceptions` are the members it passed without (their OAuth sync
    /// failed within `max_errors`): they keep both configurations until it is clean.
    GatePassed {
        step: String,
        exceptions: Vec<FailingUser>,
    },
    /// This run asked the platform to re-check the users with open exceptions.
    ExceptionsRechecked {
        users: usize,
    },
    /// These exceptions' OAuth sync came clean: `from` is off for them, and they are closed.
    ExceptionsClosed {
        step: String,
        users: Vec<Email>,
    },
    GateFailed {
        step: String,
        on_failure: String,
        failures: Vec<FailingUser>,
    },
    Reopened {
        step: String,
        rechecked: usize,
    },
    Restarted {
        step: String,
    },
    Waiting {
        reason: WaitReason,
        step: String,
        detail: String,
        until: Option<Timestamp>,
    },
    /// `from` is disconnected, excepting users already failing before their step (listed
    /// with the platform's words) and the users the board accepted (now on `to` alone).
    Disconnected {
        name: String,
        preexisting: Vec<FailingUser>,
        accepted: Vec<Email>,
    },
    Done,
    Halted {
        step: String,
        reason: String,
        failures: Vec<FailingUser>,
    },
    Interrupted,
    /// The run's cost: how long it took, how much of that was waiting, and its platform calls;
    /// and the audit chain's head as the run leaves it (emitted by the command line, which
    /// reads it from the store).
    RunEnded {
        elapsed_ms: u64,
        waiting_ms: u64,
        calls: std::collections::BTreeMap<String, u64>,
        chain_head: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepSize {
    pub(crate) step: String,
    pub(crate) users: usize,
    /// Members already on `to` alone (a resumed run's earlier work).
    pub(crate) switched: usize,
    /// Where a started step stands.
    pub(crate) phase: Option<crate::state::StepPhase>,
}
