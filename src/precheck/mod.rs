//! The mailbox-access pre-check: before a step is switched, can the OAuth app open each member's
//! mailbox? The most common reason a switched user then fails is an application access policy
//! (or an RBAC for Applications management scope) that leaves their mailbox out; Microsoft Graph
//! answers such a mailbox with 403 `ErrorAccessDenied`, so asking first catches it before anyone
//! is switched. A mailbox Graph cannot find (404 `MailboxNotEnabledForRESTAPI` for one on
//! premises in a hybrid tenant, `ErrorInvalidUser`, `ResourceNotFound`) would fail just as
//! surely, and an answer nobody can read verifies nothing: each is a verdict of its own.
//!
//! [`MailboxCheck`] asks Graph, with an app token by client credentials, and records verdicts
//! into [`MailboxAccess`](crate::state::MailboxAccess), which lives with the state it is stored
//! in. What an answer means ([`read`]) is kept apart from how it travels ([`GraphClient`],
//! [`HttpGraph`]), so the engine and the command line depend on the check, not on reqwest.

mod app_tokens;
mod graph_client;
mod http_graph;
mod mailbox_check;
mod precheck_error;
mod reading;

use app_tokens::AppTokens;
use graph_client::{GraphAnswer, GraphClient, GraphUnreachable};
use http_graph::HttpGraph;
pub(crate) use mailbox_check::MailboxCheck;
pub(crate) use precheck_error::PrecheckError;
use reading::{Reading, read};
