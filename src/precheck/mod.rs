//! The mailbox-access pre-check: before a step is switched, can the OAuth app open each member's
//! mailbox? The most common reason a switched user then fails is an application access policy
//! (or RBAC scope) that leaves their mailbox out; Microsoft Graph answers such a mailbox with
//! 403 `ErrorAccessDenied`, so asking first catches it before anyone is switched.
//!
//! [`MailboxAccess`] is what was seen, and when (the planner reads it); [`MailboxCheck`] asks
//! Graph, with an app token by client credentials.

mod mailbox_access;
mod mailbox_check;

pub(crate) use mailbox_access::{Access, MailboxAccess};
pub(crate) use mailbox_check::MailboxCheck;
