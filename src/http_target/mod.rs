//! The `http` target: the platform's admin REST API, spoken with reqwest.
//!
//! Reliable under the conditions real APIs have: connection reuse, timeouts, retries with
//! jittered exponential backoff (every call of the contract is idempotent), `Retry-After`
//! honoured, a concurrency bound that halves when throttled and creeps back up, and errors that
//! say which credential was refused.

mod http_target;
mod http_target_error;
mod limiter;
mod limiters;

pub(crate) use http_target::HttpTarget;
pub(crate) use http_target_error::HttpTargetError;
pub(crate) use limiters::Limiters;
