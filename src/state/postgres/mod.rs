//! The state store on PostgreSQL, for rollouts run from several hosts (`--state postgres://…`).
//!
//! `location.rs` reads the URL (a password in it is refused), `connect.rs` opens the session
//! (password from `PGPASSWORD` or a password file, TLS per `sslmode` in `tls.rs`, a pooler in
//! transaction mode refused), `schema.rs` creates and upgrades the `cutover` schema,
//! `mirror.rs` keeps the in-memory working copy that every [`super::Store`] method runs on in
//! step with PostgreSQL, `fence.rs` is the run lock with its fencing epoch, and `open.rs` puts
//! them together for one rollout (plan name and target).

mod connect;
mod fence;
mod location;
mod mirror;
mod open;
mod schema;
mod tls;

pub(crate) use connect::ConnectError;
pub(crate) use fence::check as check_fence;
pub(crate) use location::{LocationError, PgLocation};
pub(crate) use mirror::{MirrorError, Remote};
pub(crate) use schema::SchemaError;
