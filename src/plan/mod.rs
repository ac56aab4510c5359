//! The plan language: reading a plan file, validating it, and its JSON Schema.
//!
//! The pipeline is syntax → literal secrets → structure (against the schema) → meaning, and
//! every pass reports all it finds. Only [`load`] produces a [`Plan`]; the rest of cutover never
//! sees raw input.

mod change_control;
mod credentials;
mod gate;
pub(crate) mod grammar;
mod load;
mod notify;
mod plan;
mod precheck;
#[cfg(test)]
mod proptests;
mod raw;
mod schema;
mod secret_ref;
mod secrets;
mod selector;
mod step;
mod structure;
mod target;
mod user_file;
mod validate;

pub(crate) use change_control::ChangeControl;
pub(crate) use credentials::{
    ApiAuth, AssertionAlgorithm, CertificateCredential, ClientCredential, ClientCredentials,
};
pub(crate) use gate::{Gate, OnFailure, Threshold};
#[cfg(test)]
pub(crate) use load::load_text;
pub(crate) use load::{LoadError, load};
pub(crate) use notify::{
    ChannelKind, EmailChannel, NotifyChannel, NotifyEvent, SmtpTls, WebhookFormat, is_loopback_host,
};
pub(crate) use plan::Plan;
pub(crate) use precheck::{MailboxPolicy, Precheck};
pub(crate) use schema::plan_schema_text;
pub(crate) use secret_ref::SecretRef;
pub(crate) use selector::Selector;
pub(crate) use step::{Step, StepKind};
pub(crate) use target::{SandboxRef, TargetSpec};
